import { sql } from 'drizzle-orm';
import type { Executor } from '../store/db.ts';
import { parseReconcileState, type ReconcileState } from './reconcile-state.ts';
import type { Provider } from '../store/schema.ts';

/** What an operator asks of each connection, from Postgres alone (the queues and budgets are in Redis). */
export interface ConnectionOverview {
  connectionId: string;
  accountId: string;
  accountName: string;
  provider: Provider;
  status: 'active' | 'paused' | 'error';
  settings: Record<string, unknown>;
  lastError: unknown;
  pendingOutbound: number;
  /** Records with at least one sync problem (sync_problems). */
  recordsWithProblems: number;
  /** Whether the connection has its own webhook secret (without one, only an operator app secret verifies its webhooks). */
  webhookSecretStored: boolean;
  /** When the oldest dirty row became dirty: the outbound lag. */
  oldestDirtyAt: Date | null;
  /** The newest pull over all its links, when asked for (it reads every link of the connection). */
  lastPulledAt: Date | null;
  reconciliation: ReconcileState;
}

type OverviewRow = {
  id: string;
  account_id: string;
  account_name: string;
  provider: Provider;
  status: ConnectionOverview['status'];
  settings: Record<string, unknown>;
  last_error: unknown;
  reconcile_cursor: unknown;
  pending: number;
  problem_records: number;
  has_webhook_secret: boolean;
  oldest_dirty: string | null;
  last_pull: string | null;
};

const asDate = (value: string | null) => (value === null ? null : new Date(value));

export async function connectionOverview(db: Executor, options: { accountId?: string; withLastPull?: boolean } = {}): Promise<ConnectionOverview[]> {
  const ofAccount = options.accountId ? sql`WHERE c.account_id = ${options.accountId}` : sql``;
  const lastPull = options.withLastPull ? sql`(SELECT max(l.last_pulled_at) FROM remote_links l WHERE l.connection_id = c.id)` : sql`NULL::timestamptz`;
  const rows = await db.execute<OverviewRow>(sql`
    SELECT c.id, c.account_id, a.name AS account_name, c.provider, c.status, c.settings, c.last_error, c.reconcile_cursor,
           o.pending, o.oldest_dirty, ${lastPull} AS last_pull, p.problem_records, c.webhook_secret IS NOT NULL AS has_webhook_secret
      FROM connections c
      JOIN accounts a ON a.id = c.account_id
      CROSS JOIN LATERAL (SELECT count(*)::int AS pending, min(dirty_since) AS oldest_dirty FROM outbox WHERE connection_id = c.id) o
      CROSS JOIN LATERAL (SELECT count(DISTINCT opportunity_id)::int AS problem_records FROM sync_problems WHERE connection_id = c.id) p
      ${ofAccount}
     ORDER BY a.name, a.id, c.created_at, c.id`);
  return [...rows].map((r) => ({
    connectionId: r.id,
    accountId: r.account_id,
    accountName: r.account_name,
    provider: r.provider,
    status: r.status,
    settings: r.settings,
    lastError: r.last_error ?? null,
    pendingOutbound: r.pending,
    recordsWithProblems: r.problem_records,
    webhookSecretStored: r.has_webhook_secret,
    oldestDirtyAt: asDate(r.oldest_dirty),
    lastPulledAt: asDate(r.last_pull),
    reconciliation: parseReconcileState(r.reconcile_cursor),
  }));
}

/**
 * Sync events of the given kinds per connection since a time. A window, not a lifetime total:
 * sync_events is large and pruned by retention, and the created_at index keeps a recent window cheap.
 */
export async function recentEventCounts(db: Executor, kinds: string[], since: Date): Promise<{ connectionId: string; kind: string; count: number }[]> {
  const kindList = sql.join(kinds.map((k) => sql`${k}`), sql`, `);
  const rows = await db.execute<{ connection_id: string; kind: string; n: number }>(sql`
    SELECT connection_id, kind, count(*)::int AS n FROM sync_events
     WHERE created_at >= ${since.toISOString()} AND kind IN (${kindList}) AND connection_id IS NOT NULL
     GROUP BY connection_id, kind`);
  return [...rows].map((r) => ({ connectionId: r.connection_id, kind: r.kind, count: r.n }));
}

/** The account of each connection given; connections since deleted are left out. */
export async function accountsOfConnections(db: Executor, connectionIds: string[]): Promise<Map<string, string>> {
  if (connectionIds.length === 0) return new Map();
  const ids = sql.join(connectionIds.map((id) => sql`${id}`), sql`, `);
  const rows = await db.execute<{ id: string; account_id: string }>(sql`SELECT id, account_id FROM connections WHERE id::text IN (${ids})`);
  return new Map([...rows].map((r) => [r.id, r.account_id]));
}
