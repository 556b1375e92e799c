import { sql } from 'drizzle-orm';
import type { Executor } from '../store/db.ts';
import { inbox } from '../store/schema.ts';

/** One received request's events for one connection, as the receiver parsed them. */
export interface ReceivedDelivery {
  connectionId: string;
  events: unknown[];
}

export interface InboxClaim {
  id: number;
  events: unknown[];
  attempts: number;
  receivedAt: Date;
}

/** Every delivery of a batch in one statement: the receivers' writer groups concurrent requests. */
export async function storeDeliveries(db: Executor, deliveries: ReceivedDelivery[]): Promise<void> {
  if (deliveries.length === 0) return;
  await db.insert(inbox).values(deliveries.map((d) => ({ connectionId: d.connectionId, events: d.events, eventCount: d.events.length })));
}

const claimable = sql`failed_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())`;

/**
 * Leases a connection's oldest claimable rows, up to `maxEvents` events (at least one row). Chosen
 * without locks, then taken by an UPDATE that checks again: of two workers choosing the same rows,
 * each row goes to one of them, and neither waits on the other.
 */
export async function claimInbox(db: Executor, connectionId: string, maxEvents: number, leaseMs: number): Promise<InboxClaim[]> {
  const candidates = await db.execute<{ id: number; event_count: number }>(sql`
    SELECT id, event_count FROM inbox WHERE connection_id = ${connectionId} AND ${claimable} ORDER BY id LIMIT ${maxEvents}`);
  const chosen: number[] = [];
  let events = 0;
  for (const row of candidates) {
    if (chosen.length > 0 && events + row.event_count > maxEvents) break;
    chosen.push(Number(row.id));
    events += row.event_count;
  }
  if (chosen.length === 0) return [];
  const rows = await db.execute<{ id: number; events: unknown[]; attempts: number; received_at: string }>(sql`
    UPDATE inbox SET claimed_until = now() + make_interval(secs => ${leaseMs / 1000})
     WHERE id IN (${sql.join(chosen.map((id) => sql`${id}`), sql`, `)}) AND ${claimable}
    RETURNING id, events, attempts, received_at`);
  return [...rows].map((r) => ({ id: Number(r.id), events: r.events, attempts: r.attempts, receivedAt: new Date(r.received_at) })).sort((a, b) => a.id - b.id);
}

const idList = (claims: InboxClaim[]) => sql.join(claims.map((c) => sql`${c.id}`), sql`, `);

/** Applied rows go. */
export async function completeInbox(db: Executor, claims: InboxClaim[]): Promise<void> {
  if (claims.length === 0) return;
  await db.execute(sql`DELETE FROM inbox WHERE id IN (${idList(claims)})`);
}

/** Keeps a live worker's lease: one that dies stops extending it, and its rows become claimable. */
export async function extendInbox(db: Executor, claims: InboxClaim[], leaseMs: number): Promise<void> {
  if (claims.length === 0) return;
  await db.execute(sql`UPDATE inbox SET claimed_until = now() + make_interval(secs => ${leaseMs / 1000}) WHERE id IN (${idList(claims)}) AND failed_at IS NULL`);
}

export interface Release {
  /** When the rows may be claimed again. */
  retryInMs: number;
  /** False for waits that are no failure (a rate limit, a paused connection). */
  countsAsAttempt: boolean;
  error?: { message: string; code?: string };
  /** Rows that have failed this many times are set aside (failed_at) instead. */
  maxAttempts: number;
}

/** Gives claimed rows back for later; returns those whose retries ran out (now set aside). */
export async function releaseInbox(db: Executor, claims: InboxClaim[], release: Release): Promise<InboxClaim[]> {
  if (claims.length === 0) return [];
  const add = release.countsAsAttempt ? 1 : 0;
  const rows = await db.execute<{ id: number; failed: boolean }>(sql`
    UPDATE inbox SET claimed_until = now() + make_interval(secs => ${release.retryInMs / 1000}),
                     attempts = attempts + ${add},
                     last_error = COALESCE(${release.error ? JSON.stringify(release.error) : null}::jsonb, last_error),
                     failed_at = CASE WHEN attempts + ${add} >= ${release.maxAttempts} THEN now() END
     WHERE id IN (${idList(claims)})
    RETURNING id, failed_at IS NOT NULL AS failed`);
  const failed = new Set([...rows].filter((r) => r.failed).map((r) => Number(r.id)));
  return claims.filter((c) => failed.has(c.id));
}

export async function hasClaimableInbox(db: Executor, connectionId: string): Promise<boolean> {
  const [row] = await db.execute<{ found: boolean }>(sql`SELECT EXISTS (SELECT 1 FROM inbox WHERE connection_id = ${connectionId} AND ${claimable}) AS found`);
  return Boolean(row?.found);
}

/**
 * For the sweeper: active connections with received webhooks nobody is working on (a paused
 * connection's rows wait; once it is resumed, the next sweep wakes them).
 */
export async function connectionsWithInbox(db: Executor): Promise<string[]> {
  const rows = await db.execute<{ id: string }>(sql`
    SELECT c.id FROM connections c
     WHERE c.status = 'active' AND EXISTS (SELECT 1 FROM inbox WHERE connection_id = c.id AND ${claimable})`);
  return [...rows].map((r) => r.id);
}

export interface InboxBacklog {
  /** When the oldest row still to apply arrived. */
  oldestAt: Date;
  deliveries: number;
  events: number;
  /** Rows whose retries ran out (kept for admins; reconciliation covers their deals). */
  failed: number;
}

/** Per connection: what its inbox holds (status, admin views, metrics). */
export async function inboxBacklog(db: Executor, connectionIds?: string[]): Promise<Map<string, InboxBacklog>> {
  if (connectionIds?.length === 0) return new Map();
  const only = connectionIds ? sql`WHERE connection_id IN (${sql.join(connectionIds.map((id) => sql`${id}::uuid`), sql`, `)})` : sql``;
  const rows = await db.execute<{ connection_id: string; oldest_at: string; deliveries: number; events: number; failed: number }>(sql`
    SELECT connection_id, min(received_at) AS oldest_at, count(*)::int AS deliveries, sum(event_count)::int AS events,
           count(*) FILTER (WHERE failed_at IS NOT NULL)::int AS failed
      FROM inbox ${only} GROUP BY connection_id`);
  return new Map([...rows].map((r) => [r.connection_id, { oldestAt: new Date(r.oldest_at), deliveries: r.deliveries, events: r.events, failed: r.failed }]));
}
