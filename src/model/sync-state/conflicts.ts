import { sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../store/db.ts';
import { notFound } from '../store/errors.ts';
import { serialIdOfCursor, toSerialPage } from '../store/pagination.ts';
import { providers } from '../store/schema.ts';

/**
 * Conflicts are decided when they happen (the connection's policy) and recorded as `conflict` sync
 * events; an admin looks at them afterwards. Reviewing one records a `conflict_reviewed` event on the
 * same opportunity's timeline, so the review needs no table of its own and shows in the history.
 */
export const conflictView = z
  .object({
    id: z.number().int(),
    accountId: z.uuid(),
    opportunityId: z.uuid().nullable(),
    connectionId: z.uuid().nullable(),
    provider: z.enum(providers).nullable(),
    field: z.string().nullable(),
    canonicalValue: z.unknown().describe('The canonical value when the conflict was decided'),
    remoteValue: z.unknown().describe('The CRM’s value when the conflict was decided'),
    rule: z.string().nullable().describe('The policy rule that decided: newest, canonical, remote, per field'),
    winner: z.string().nullable().describe('Which side won'),
    reviewedAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Conflict' });
export type ConflictView = z.infer<typeof conflictView>;

export interface ConflictQuery {
  accountId?: string;
  status: 'open' | 'reviewed' | 'all';
  limit: number;
  cursor?: string;
}

type ConflictRow = {
  id: string;
  account_id: string;
  opportunity_id: string | null;
  connection_id: string | null;
  provider: ConflictView['provider'];
  field: string | null;
  before: unknown;
  after: unknown;
  rule: string | null;
  detail: { winner?: string } | null;
  reviewed_at: string | null;
  created_at: string;
};

const iso = (value: string | Date) => new Date(value).toISOString();



function toView(r: ConflictRow): ConflictView {
  return {
    id: Number(r.id),
    accountId: r.account_id,
    opportunityId: r.opportunity_id,
    connectionId: r.connection_id,
    provider: r.provider,
    field: r.field,
    canonicalValue: r.before ?? null,
    remoteValue: r.after ?? null,
    rule: r.rule,
    winner: r.detail?.winner ?? null,
    reviewedAt: r.reviewed_at === null ? null : iso(r.reviewed_at),
    createdAt: iso(r.created_at),
  };
}

async function selectConflicts(db: Executor, conditions: SQL[], limit: number): Promise<ConflictView[]> {
  const rows = await db.execute<ConflictRow>(sql`
    SELECT e.id, e.account_id, e.opportunity_id, e.connection_id, c.provider, e.field, e.before, e.after, e.rule, e.detail,
           r.created_at AS reviewed_at, e.created_at
      FROM sync_events e
      LEFT JOIN connections c ON c.id = e.connection_id
      LEFT JOIN LATERAL (
        SELECT created_at FROM sync_events r
         WHERE r.opportunity_id = e.opportunity_id AND r.kind = 'conflict_reviewed' AND r.detail->>'conflictId' = e.id::text
         LIMIT 1) r ON true
     WHERE e.kind = 'conflict' AND ${sql.join(conditions, sql` AND `)}
     ORDER BY e.id DESC
     LIMIT ${limit}`);
  return [...rows].map(toView);
}

/** Newest first; `open` are those nobody has reviewed yet. */
export async function listConflicts(db: Executor, query: ConflictQuery): Promise<{ data: ConflictView[]; nextCursor: string | null }> {
  const conditions = [sql`true`];
  if (query.accountId) conditions.push(sql`e.account_id = ${query.accountId}`);
  // The cursor every newest-first list of bigserial rows hands out (the sync timeline, deliveries).
  if (query.cursor) conditions.push(sql`e.id < ${serialIdOfCursor(query.cursor)}`);
  if (query.status === 'open') conditions.push(sql`r.created_at IS NULL`);
  if (query.status === 'reviewed') conditions.push(sql`r.created_at IS NOT NULL`);
  const views = await selectConflicts(db, conditions, query.limit + 1);
  const { rows, nextCursor } = toSerialPage(views.map((view) => ({ view, id: view.id, createdAt: new Date(view.createdAt) })), query.limit);
  return { data: rows.map((r) => r.view), nextCursor };
}

/** Marks a conflict reviewed (once; a second review changes nothing) and returns it. */
export async function reviewConflict(db: Executor, id: number, options: { accountId?: string; note?: string }): Promise<ConflictView> {
  return db.transaction(async (tx) => {
    const scope = options.accountId ? sql`AND account_id = ${options.accountId}` : sql``;
    // Locking the conflict's row makes two reviews at once record one event.
    const [found] = await tx.execute<{ account_id: string; opportunity_id: string | null; connection_id: string | null }>(sql`
      SELECT account_id, opportunity_id, connection_id FROM sync_events WHERE id = ${id} AND kind = 'conflict' ${scope} FOR UPDATE`);
    if (!found) throw notFound('conflict');
    await tx.execute(sql`
      INSERT INTO sync_events (account_id, opportunity_id, connection_id, kind, detail)
      SELECT ${found.account_id}, ${found.opportunity_id}, ${found.connection_id}, 'conflict_reviewed', ${JSON.stringify({ conflictId: String(id), note: options.note ?? null })}::jsonb
       WHERE NOT EXISTS (SELECT 1 FROM sync_events WHERE opportunity_id IS NOT DISTINCT FROM ${found.opportunity_id}
                          AND kind = 'conflict_reviewed' AND detail->>'conflictId' = ${String(id)})`);
    const [view] = await selectConflicts(tx, [sql`e.id = ${id}`], 1);
    return view!;
  });
}
