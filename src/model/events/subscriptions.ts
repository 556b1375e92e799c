import { randomBytes } from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../store/db.ts';
import { notFound } from '../store/errors.ts';
import { afterCursor, toPage, type Page } from '../store/pagination.ts';
import { eventTypes, subscriptions } from '../store/schema.ts';
import { seal, type Keyring } from '../store/secrets.ts';

const webhookUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
  .max(2048)
  .describe('Where the events are POSTed');
const eventList = z
  .array(z.enum(eventTypes))
  .min(1, 'must name at least one event type')
  .max(50)
  .transform((types) => [...new Set(types)])
  .describe('The event types to receive');

export const subscriptionCreateSchema = z.strictObject({ url: webhookUrl, events: eventList });
export const subscriptionPatchSchema = z.strictObject({ url: webhookUrl, events: eventList, active: z.boolean() }).partial();
export type SubscriptionCreate = z.output<typeof subscriptionCreateSchema>;
export type SubscriptionPatch = z.output<typeof subscriptionPatchSchema>;

export const subscriptionView = z
  .object({
    id: z.uuid(),
    url: z.string(),
    events: z.array(z.enum(eventTypes)),
    active: z.boolean().describe('An inactive subscription records no new events and sends none; its pending deliveries wait'),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Subscription' });
export const newSubscriptionView = subscriptionView
  .extend({ secret: z.string().describe('whsec_…: the signing secret, shown only in this response') })
  .meta({ id: 'NewSubscription' });
export type SubscriptionView = z.infer<typeof subscriptionView>;

type Row = typeof subscriptions.$inferSelect;

/** Never the secret: it leaves the database only to the worker that signs with it. */
function toView(row: Row): SubscriptionView {
  return {
    id: row.id,
    url: row.url,
    events: row.eventTypes,
    active: row.active,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Standard Webhooks: a random key of 24 to 64 bytes, shown base64-encoded behind "whsec_". */
function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

const owned = (accountId: string, id: string) => and(eq(subscriptions.accountId, accountId), eq(subscriptions.id, id));

export async function createSubscription(db: Executor, keyring: Keyring, accountId: string, input: SubscriptionCreate) {
  const secret = newSigningSecret();
  const sealed = seal(secret, keyring);
  const [row] = await db
    .insert(subscriptions)
    .values({ accountId, url: input.url, eventTypes: input.events, secret: sealed.sealed, secretKeyId: sealed.keyId })
    .returning();
  return { ...toView(row!), secret };
}

export async function getSubscription(db: Executor, accountId: string, id: string): Promise<SubscriptionView> {
  const [row] = await db.select().from(subscriptions).where(owned(accountId, id));
  if (!row) throw notFound('subscription');
  return toView(row);
}

export async function listSubscriptions(db: Executor, accountId: string, page: Page) {
  const rows = await db
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.accountId, accountId), afterCursor(subscriptions, page.cursor)))
    .orderBy(asc(subscriptions.createdAt), asc(subscriptions.id))
    .limit(page.limit + 1);
  const { rows: kept, nextCursor } = toPage(rows, page.limit);
  return { data: kept.map(toView), nextCursor };
}

export async function updateSubscription(db: Executor, accountId: string, id: string, patch: SubscriptionPatch) {
  const { events, ...rest } = patch;
  const [row] = await db
    .update(subscriptions)
    .set({ ...rest, ...(events ? { eventTypes: events } : {}), updatedAt: new Date() })
    .where(owned(accountId, id))
    .returning();
  if (!row) throw notFound('subscription');
  return toView(row);
}

/** Its deliveries go with it (foreign key): nothing is left to send to a URL nobody wants called. */
export async function deleteSubscription(db: Executor, accountId: string, id: string): Promise<void> {
  const [row] = await db.delete(subscriptions).where(owned(accountId, id)).returning({ id: subscriptions.id });
  if (!row) throw notFound('subscription');
}

/** A receiver that answers 410 Gone wants no more (Standard Webhooks): stop until someone reactivates it. */
export async function deactivateSubscription(db: Executor, id: string): Promise<void> {
  await db.update(subscriptions).set({ active: false, updatedAt: new Date() }).where(eq(subscriptions.id, id));
}
