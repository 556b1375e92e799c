import { sql } from 'drizzle-orm';
import type { Executor } from '../store/db.ts';
import { notFound } from '../store/errors.ts';
import { markDirty } from './outbox.ts';

/**
 * Sends an opportunity's canonical state to every connection of its account again, whatever the
 * bases say: for a CRM that was edited behind our back with its webhooks lost, or restored from a
 * backup. Each live link's base snapshot is emptied, so the next flush finds every field changed
 * (and writes our id again); the opportunity is marked dirty for every connection. The caller
 * enqueues the flushes after commit.
 *
 * The flush still reads before it writes: what the CRM changed since we last saw it is merged
 * first, and with no agreed base left every field where the two differ is decided by the
 * connection's conflict policy. A flush already pushing this opportunity when the replay lands
 * saves its own base afterwards and so sends only a diff: ask for the replay again then.
 */
export async function replayOpportunity(db: Executor, opportunityId: string, options: { accountId?: string } = {}) {
  return db.transaction(async (tx) => {
    const scope = options.accountId ? sql`AND account_id = ${options.accountId}` : sql``;
    const [row] = await tx.execute<{ account_id: string }>(sql`SELECT account_id FROM opportunities WHERE id = ${opportunityId} ${scope}`);
    if (!row) throw notFound('opportunity');
    // A deal deleted or merged away in the CRM stays unlinked: replay never resurrects it.
    const cleared = await tx.execute<{ connection_id: string }>(sql`
      UPDATE remote_links SET base_snapshot = '{}'::jsonb, updated_at = now()
       WHERE opportunity_id = ${opportunityId} AND remote_deleted_at IS NULL
      RETURNING connection_id`);
    await markDirty(tx, row.account_id, [opportunityId]);
    const [counted] = await tx.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM connections WHERE account_id = ${row.account_id}`);
    const outcome = { accountId: row.account_id, opportunityId, connections: counted?.n ?? 0, linksCleared: cleared.length };
    await tx.execute(sql`
      INSERT INTO sync_events (account_id, opportunity_id, kind, detail)
      VALUES (${row.account_id}, ${opportunityId}, 'replay_requested', ${JSON.stringify({ connections: outcome.connections, linksCleared: outcome.linksCleared })}::jsonb)`);
    return outcome;
  });
}
