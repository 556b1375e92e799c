import { and, desc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../store/db.ts';
import { conflict, notFound } from '../store/errors.ts';
import { olderThanCursor, serialIdOfCursor, toSerialPage, type Page } from '../store/pagination.ts';
import { deliveryStatuses, eventDeliveries, eventTypes, type DeliveryStatus } from '../store/schema.ts';
import { getSubscription } from './subscriptions.ts';

/** One event for one subscription and how its delivery went. */
export const deliveryView = z
  .object({
    id: z.number().int(),
    eventId: z.string().describe('The webhook-id header: the same on every attempt and replay'),
    type: z.enum(eventTypes),
    opportunityId: z.uuid().nullable(),
    status: z.enum(deliveryStatuses),
    attempts: z.number().int().describe('Attempts since the event, or since its last replay'),
    nextAttemptAt: z.iso.datetime().nullable().describe('When it is tried next; null once delivered or failed'),
    lastAttemptAt: z.iso.datetime().nullable(),
    lastStatusCode: z.number().int().nullable().describe("The receiver's last HTTP status; null when it could not be reached"),
    lastError: z.string().nullable(),
    deliveredAt: z.iso.datetime().nullable(),
    replayedAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
    payload: z.object({ type: z.string(), timestamp: z.string(), data: z.record(z.string(), z.unknown()) }).describe('The body as sent'),
  })
  .meta({ id: 'EventDelivery' });
type DeliveryView = z.infer<typeof deliveryView>;
type Row = typeof eventDeliveries.$inferSelect;

const iso = (at: Date | null) => at?.toISOString() ?? null;

function toView(row: Row): DeliveryView {
  return {
    id: row.id,
    eventId: row.eventId,
    type: row.type,
    opportunityId: row.opportunityId,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: iso(row.nextAttemptAt),
    lastAttemptAt: iso(row.lastAttemptAt),
    lastStatusCode: row.lastStatusCode,
    lastError: row.lastError,
    deliveredAt: iso(row.deliveredAt),
    replayedAt: iso(row.replayedAt),
    createdAt: row.createdAt.toISOString(),
    payload: row.payload,
  };
}

/** A subscription's deliveries, newest first. */
export async function listDeliveries(db: Executor, accountId: string, subscriptionId: string, filters: { status?: DeliveryStatus | undefined }, page: Page) {
  // A bad cursor is a bad request whatever the id.
  if (page.cursor) serialIdOfCursor(page.cursor);
  await getSubscription(db, accountId, subscriptionId);
  const rows = await db
    .select()
    .from(eventDeliveries)
    .where(and(
      eq(eventDeliveries.subscriptionId, subscriptionId),
      filters.status ? eq(eventDeliveries.status, filters.status) : undefined,
      olderThanCursor(eventDeliveries.id, page.cursor),
    ))
    .orderBy(desc(eventDeliveries.id))
    .limit(page.limit + 1);
  const { rows: kept, nextCursor } = toSerialPage(rows, page.limit);
  return { data: kept.map(toView), nextCursor };
}

/**
 * Sends a delivery again, whatever its outcome so far: pending and due now, with the same
 * webhook-id, and a fresh round of retries. A send in flight loses its lease, so its outcome is
 * not recorded over the replay.
 */
export async function replayDelivery(db: Executor, accountId: string, subscriptionId: string, deliveryId: number) {
  const subscription = await getSubscription(db, accountId, subscriptionId);
  if (!subscription.active) {
    throw conflict('the subscription is inactive: activate it first, or the replay would wait', {}, [{ field: 'active', message: 'is false' }]);
  }
  const [row] = await db
    .update(eventDeliveries)
    .set({ status: 'pending', attempts: 0, nextAttemptAt: sql`now()`, claimedUntil: null, replayedAt: sql`now()` })
    .where(and(eq(eventDeliveries.subscriptionId, subscriptionId), eq(eventDeliveries.id, deliveryId)))
    .returning();
  if (!row) throw notFound('delivery');
  return toView(row);
}
