import { sql } from 'drizzle-orm';
import type { Executor } from '../store/db.ts';

/**
 * Marks opportunities dirty for every connection of their account, in the caller's transaction:
 * pending outbound work lives in Postgres, so losing Redis or a worker loses none of it. A row
 * that is already dirty gets a new generation, which tells a flush in progress that it must push
 * again. Paused and failing connections keep collecting work for when they come back.
 */
export async function markDirty(db: Executor, accountId: string, opportunityIds: string[]): Promise<void> {
  if (opportunityIds.length === 0) return;
  const ids = sql.join(opportunityIds.map((id) => sql`${id}`), sql`, `);
  await db.execute(sql`
    INSERT INTO outbox (connection_id, opportunity_id)
    SELECT c.id, o.id FROM connections c CROSS JOIN unnest(ARRAY[${ids}]::uuid[]) AS o(id)
     WHERE c.account_id = ${accountId}
    ON CONFLICT (connection_id, opportunity_id)
    DO UPDATE SET generation = outbox.generation + 1`);
}

/** A new connection starts with every live opportunity of its account to push. */
export async function markAllDirty(db: Executor, accountId: string, connectionId: string): Promise<void> {
  await db.execute(sql`
    INSERT INTO outbox (connection_id, opportunity_id)
    SELECT ${connectionId}, id FROM opportunities WHERE account_id = ${accountId} AND deleted_at IS NULL
    ON CONFLICT DO NOTHING`);
}

/** After a backfill: the opportunities it found no deal for go to the CRM. */
export async function markUnlinkedDirty(db: Executor, accountId: string, connectionId: string): Promise<void> {
  await db.execute(sql`
    INSERT INTO outbox (connection_id, opportunity_id)
    SELECT ${connectionId}, o.id FROM opportunities o
    WHERE o.account_id = ${accountId} AND o.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM remote_links l WHERE l.connection_id = ${connectionId} AND l.opportunity_id = o.id)
    ON CONFLICT DO NOTHING`);
}

/**
 * After a connection's settings changed (a stage or owner mapped, an attribute added): the records
 * whose last push to it found a problem are pushed again, so a mapping fixed is a problem cured
 * without waiting for the next edit of each record. Their bases never took the values that could
 * not be written, so the push sends exactly those.
 */
export async function markPushProblemsDirty(db: Executor, connectionId: string): Promise<void> {
  await db.execute(sql`
    INSERT INTO outbox (connection_id, opportunity_id)
    SELECT DISTINCT connection_id, opportunity_id FROM sync_problems WHERE connection_id = ${connectionId} AND direction = 'push'
    ON CONFLICT (connection_id, opportunity_id)
    DO UPDATE SET generation = outbox.generation + 1`);
}

export interface Claim {
  id: number;
  opportunityId: string;
  generation: number;
  /** Claims of this row so far, this one included: above 1, an earlier push may have got through. */
  attempts: number;
}

/**
 * Leases up to `limit` dirty rows of a connection, oldest first. Rows leased by another flush are
 * skipped, not waited for; a lease that expired (its worker died) is taken over.
 */
export async function claimDirty(db: Executor, connectionId: string, limit: number, leaseMs: number): Promise<Claim[]> {
  const rows = await db.execute<{ id: number; opportunity_id: string; generation: number; attempts: number }>(sql`
    UPDATE outbox SET claimed_until = now() + make_interval(secs => ${leaseMs / 1000}), attempts = attempts + 1
     WHERE id IN (
       SELECT id FROM outbox
        WHERE connection_id = ${connectionId} AND (claimed_until IS NULL OR claimed_until < now())
        ORDER BY dirty_since, id LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
    RETURNING id, opportunity_id, generation, attempts`);
  return [...rows].map((r) => ({ id: Number(r.id), opportunityId: r.opportunity_id, generation: r.generation, attempts: r.attempts }));
}

/**
 * Done rows go; a row whose generation moved on (an edit during the push) stays dirty and is
 * released. Its create, if it made one, has its link saved now: the write-ahead goes.
 */
export async function completeClaims(db: Executor, claims: Claim[]): Promise<void> {
  if (claims.length === 0) return;
  const pairs = sql.join(claims.map((c) => sql`(${c.id}::bigint, ${c.generation}::int)`), sql`, `);
  await db.execute(sql`DELETE FROM outbox WHERE (id, generation) IN (VALUES ${pairs})`);
  const ids = sql.join(claims.map((c) => sql`${c.id}`), sql`, `);
  await db.execute(sql`UPDATE outbox SET claimed_until = NULL, sent_create = NULL WHERE id IN (${ids})`);
}

/** Write-ahead for creates (schema: outbox.sent_create), in one statement, before the CRM sees them. */
export async function markSentCreates(db: Executor, connectionId: string, creates: { opportunityId: string; fields: unknown }[]) {
  if (creates.length === 0) return;
  const rows = sql.join(creates.map((c) => sql`(${c.opportunityId}::uuid, ${JSON.stringify(c.fields)}::jsonb)`), sql`, `);
  await db.execute(sql`
    UPDATE outbox o SET sent_create = jsonb_build_object('at', now(), 'fields', v.fields)
      FROM (VALUES ${rows}) AS v(opportunity_id, fields)
     WHERE o.connection_id = ${connectionId} AND o.opportunity_id = v.opportunity_id`);
}

export interface SentCreate {
  at: string;
  fields: Record<string, unknown>;
}

/** What an earlier create of this opportunity sent to the connection, if its link was never saved. */
export async function sentCreatesOf(db: Executor, connectionId: string, opportunityIds: string[]): Promise<Map<string, SentCreate>> {
  if (opportunityIds.length === 0) return new Map();
  const ids = sql.join(opportunityIds.map((id) => sql`${id}`), sql`, `);
  const rows = await db.execute<{ opportunity_id: string; sent_create: SentCreate }>(sql`
    SELECT opportunity_id, sent_create FROM outbox
     WHERE connection_id = ${connectionId} AND opportunity_id IN (${ids}) AND sent_create IS NOT NULL`);
  return new Map([...rows].map((r) => [r.opportunity_id, r.sent_create]));
}

export async function releaseClaims(db: Executor, claims: Claim[]): Promise<void> {
  if (claims.length === 0) return;
  const ids = sql.join(claims.map((c) => sql`${c.id}`), sql`, `);
  await db.execute(sql`UPDATE outbox SET claimed_until = NULL WHERE id IN (${ids})`);
}

/** Whether a flush holds this opportunity's row for the connection now: a push of it is on its way. */
export async function isBeingPushed(db: Executor, connectionId: string, opportunityId: string): Promise<boolean> {
  const [row] = await db.execute<{ found: boolean }>(sql`
    SELECT EXISTS (SELECT 1 FROM outbox WHERE connection_id = ${connectionId} AND opportunity_id = ${opportunityId}
                    AND claimed_until > now()) AS found`);
  return Boolean(row?.found);
}

export async function hasClaimableWork(db: Executor, connectionId: string): Promise<boolean> {
  const [row] = await db.execute<{ found: boolean }>(sql`
    SELECT EXISTS (SELECT 1 FROM outbox WHERE connection_id = ${connectionId}
                    AND (claimed_until IS NULL OR claimed_until < now())) AS found`);
  return Boolean(row?.found);
}

/** For the sweeper: connections with dirty rows nobody is working on. */
export async function connectionsWithWork(db: Executor): Promise<string[]> {
  const rows = await db.execute<{ connection_id: string }>(sql`
    SELECT DISTINCT connection_id FROM outbox WHERE claimed_until IS NULL OR claimed_until < now()`);
  return [...rows].map((r) => r.connection_id);
}

/** Keeps a live flush's lease: a worker that dies stops extending it, and its rows become claimable. */
export async function extendClaims(db: Executor, claims: Claim[], leaseMs: number): Promise<void> {
  if (claims.length === 0) return;
  const ids = sql.join(claims.map((c) => sql`${c.id}`), sql`, `);
  await db.execute(sql`UPDATE outbox SET claimed_until = now() + make_interval(secs => ${leaseMs / 1000}) WHERE id IN (${ids})`);
}
