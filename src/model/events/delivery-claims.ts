import { and, asc, eq, sql } from 'drizzle-orm';
import type { Executor } from '../store/db.ts';
import { eventDeliveries, subscriptions } from '../store/schema.ts';

/**
 * The worker's side of the delivery outbox. A subscription's deliveries go out one at a time, in
 * id order, so a receiver sees each opportunity's events in the order they happened: only the
 * oldest pending delivery (the head) is ever sent, and while it waits for its next attempt the
 * ones behind it wait too. A worker leases the head for one send; a worker that dies mid-send
 * loses its lease and the head is sent again (receivers drop repeats by webhook-id).
 */

export type ClaimedDelivery = typeof eventDeliveries.$inferSelect & { claimedUntil: Date };
export type DeliverySubscription = typeof subscriptions.$inferSelect;

export type HeadClaim =
  | { kind: 'claimed'; delivery: ClaimedDelivery; subscription: DeliverySubscription }
  | { kind: 'idle' }
  | { kind: 'busy' }
  | { kind: 'waiting'; inMs: number }
  | { kind: 'inactive' };

const pendingOf = (subscriptionId: string) => and(eq(eventDeliveries.subscriptionId, subscriptionId), eq(eventDeliveries.status, 'pending'));

async function isActive(tx: Executor, subscriptionId: string): Promise<boolean> {
  const [row] = await tx.select({ active: subscriptions.active }).from(subscriptions).where(eq(subscriptions.id, subscriptionId));
  return row?.active ?? false;
}

/** Times are compared in Postgres, so clocks of worker machines do not matter. */
async function headOf(tx: Executor, subscriptionId: string) {
  const [head] = await tx
    .select({
      id: eventDeliveries.id,
      leased: sql<boolean>`coalesce(${eventDeliveries.claimedUntil} > now(), false)`,
      waitMs: sql<number>`greatest(0, ceil(extract(epoch from ${eventDeliveries.nextAttemptAt} - now()) * 1000))::int`,
    })
    .from(eventDeliveries)
    .where(pendingOf(subscriptionId))
    .orderBy(asc(eventDeliveries.id))
    .limit(1);
  return head;
}

/**
 * Leases the head delivery of a subscription if it is due. The subscription row is locked
 * (FOR NO KEY UPDATE SKIP LOCKED: inserts of new deliveries are not held up) so that two workers
 * never decide about the same head at once; one that finds it locked backs off as "busy".
 */
export async function claimHead(db: Executor, subscriptionId: string, leaseMs: number): Promise<HeadClaim> {
  return db.transaction(async (tx): Promise<HeadClaim> => {
    const [subscription] = await tx
      .select()
      .from(subscriptions)
      .where(and(eq(subscriptions.id, subscriptionId), eq(subscriptions.active, true)))
      .for('no key update', { skipLocked: true });
    if (!subscription) return (await isActive(tx, subscriptionId)) ? { kind: 'busy' } : { kind: 'inactive' };
    const head = await headOf(tx, subscriptionId);
    if (!head) return { kind: 'idle' };
    if (head.leased) return { kind: 'busy' };
    if (head.waitMs > 0) return { kind: 'waiting', inMs: head.waitMs };
    const [delivery] = await tx
      .update(eventDeliveries)
      .set({ claimedUntil: sql`now() + make_interval(secs => ${leaseMs / 1000})`, attempts: sql`${eventDeliveries.attempts} + 1` })
      .where(eq(eventDeliveries.id, head.id))
      .returning();
    return { kind: 'claimed', delivery: delivery as ClaimedDelivery, subscription };
  });
}

/** Only the holder of the lease records an outcome: a replay or a takeover voids it. */
const stillLeased = (claim: ClaimedDelivery) => and(eq(eventDeliveries.id, claim.id), eq(eventDeliveries.claimedUntil, claim.claimedUntil));

export async function recordDelivered(db: Executor, claim: ClaimedDelivery, statusCode: number): Promise<void> {
  await db
    .update(eventDeliveries)
    .set({ status: 'delivered', deliveredAt: sql`now()`, lastAttemptAt: sql`now()`, lastStatusCode: statusCode, lastError: null, nextAttemptAt: null, claimedUntil: null })
    .where(stillLeased(claim));
}

export interface FailedAttempt {
  statusCode: number | null;
  error: string;
  retryInMs: number;
  /** How long after the event (or its replay) retries may go on; a retry later than that fails the delivery. */
  retryWindowMs: number;
}

/** The delivery waits for its next attempt, or fails for good once that would fall outside its window. */
export async function recordFailure(db: Executor, claim: ClaimedDelivery, attempt: FailedAttempt): Promise<'pending' | 'failed' | 'voided'> {
  const nextAt = sql`now() + make_interval(secs => ${attempt.retryInMs / 1000})`;
  const outOfTime = sql`${nextAt} > coalesce(${eventDeliveries.replayedAt}, ${eventDeliveries.createdAt}) + make_interval(secs => ${attempt.retryWindowMs / 1000})`;
  const [row] = await db
    .update(eventDeliveries)
    .set({
      status: sql`CASE WHEN ${outOfTime} THEN 'failed' ELSE 'pending' END`,
      nextAttemptAt: sql`CASE WHEN ${outOfTime} THEN NULL ELSE ${nextAt} END`,
      lastAttemptAt: sql`now()`,
      lastStatusCode: attempt.statusCode,
      lastError: attempt.error.slice(0, 1000),
      claimedUntil: null,
    })
    .where(stillLeased(claim))
    .returning({ status: eventDeliveries.status });
  return row ? (row.status as 'pending' | 'failed') : 'voided';
}

/**
 * Subscriptions whose head delivery is due and not being sent: for the sweeper (every account)
 * and for the notification after a change (one account). One index probe per subscription.
 */
export async function subscriptionsWithDueDeliveries(db: Executor, accountId?: string): Promise<string[]> {
  const ofAccount = accountId ? sql`AND s.account_id = ${accountId}` : sql``;
  const rows = await db.execute<{ id: string }>(sql`
    SELECT s.id FROM subscriptions s
    CROSS JOIN LATERAL (
      SELECT d.next_attempt_at, d.claimed_until FROM event_deliveries d
       WHERE d.subscription_id = s.id AND d.status = 'pending'
       ORDER BY d.id LIMIT 1) head
     WHERE s.active ${ofAccount}
       AND head.next_attempt_at <= now() AND (head.claimed_until IS NULL OR head.claimed_until <= now())`);
  return [...rows].map((row) => row.id);
}
