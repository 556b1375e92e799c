import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../store/db.ts';
import { notFound } from '../store/errors.ts';
import { recordOpportunityEvents } from '../events/events.ts';
import { email, name, phone } from '../store/fields.ts';
import { listOpportunities } from './opportunities.ts';
import { loadContactSets } from './opportunity-contacts.ts';
import { toView } from './opportunity-view.ts';
import { markDirty } from '../sync-state/outbox.ts';
import { afterCursor, toPage, type Page } from '../store/pagination.ts';
import { contacts, opportunities, opportunityContacts } from '../store/schema.ts';

export const contactCreateSchema = z.strictObject({
  name,
  email: email.nullable().optional(),
  phone: phone.nullable().optional(),
});
export const contactPatchSchema = contactCreateSchema.partial();
export type ContactCreate = z.output<typeof contactCreateSchema>;
export type ContactPatch = z.output<typeof contactPatchSchema>;

export const contactView = z
  .object({
    id: z.uuid(),
    name: z.string(),
    email: z.string().nullable(),
    phone: z.string().nullable(),
    opportunityCount: z.number().int(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Contact' });

type Row = typeof contacts.$inferSelect;

export function toContactView(row: Row): z.infer<typeof contactView> {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    phone: row.phone,
    opportunityCount: row.opportunityCount,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

const owned = (accountId: string, id: string) => and(eq(contacts.accountId, accountId), eq(contacts.id, id));

export async function createContact(db: Executor, accountId: string, input: ContactCreate) {
  const [row] = await db.insert(contacts).values({ accountId, ...input }).returning();
  return toContactView(row!);
}

/**
 * A person a CRM names on a deal: the account's contact with that email, or a new one. Under a
 * transaction lock on (account, email), so two deliveries naming one person make one contact.
 */
export async function findOrCreateContactByEmail(tx: Executor, accountId: string, person: { email: string; name: string }): Promise<string> {
  const email = person.email.toLowerCase();
  await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`contact:${accountId}:${email}`}, 0))`);
  const [found] = await tx
    .select({ id: contacts.id })
    .from(contacts)
    .where(and(eq(contacts.accountId, accountId), eq(sql`lower(${contacts.email})`, email)))
    .orderBy(asc(contacts.createdAt))
    .limit(1);
  return found?.id ?? (await createContact(tx, accountId, { name: person.name, email })).id;
}

export async function getContact(db: Executor, accountId: string, id: string) {
  const [row] = await db.select().from(contacts).where(owned(accountId, id));
  if (!row) throw notFound('contact');
  return toContactView(row);
}

export async function patchContact(db: Executor, accountId: string, id: string, input: ContactPatch) {
  const [row] = await db
    .update(contacts)
    .set({ ...input, updatedAt: new Date() })
    .where(owned(accountId, id))
    .returning();
  if (!row) throw notFound('contact');
  return toContactView(row);
}

export async function listContacts(db: Executor, accountId: string, page: Page) {
  const rows = await db
    .select()
    .from(contacts)
    .where(and(eq(contacts.accountId, accountId), afterCursor(contacts, page.cursor)))
    .orderBy(asc(contacts.createdAt), asc(contacts.id))
    .limit(page.limit + 1);
  const { rows: kept, nextCursor } = toPage(rows, page.limit);
  return { data: kept.map(toContactView), nextCursor };
}

/**
 * Deletes a contact: the opportunities whose primary contact it is are deleted with it (soft, so
 * sync can still propagate the deletion), and it is detached from the others by the foreign key.
 */
export async function deleteContact(db: Executor, accountId: string, id: string): Promise<void> {
  await db.transaction(async (tx) => {
    const primaryOf = tx
      .select({ id: opportunityContacts.opportunityId })
      .from(opportunityContacts)
      .where(and(eq(opportunityContacts.contactId, id), eq(opportunityContacts.isPrimary, true)));
    // The opportunities first, then the contact: the order a PATCH takes them in (its opportunity,
    // then its contacts). The other order deadlocked with a PATCH of one of these opportunities.
    await tx
      .select({ id: opportunities.id })
      .from(opportunities)
      .where(and(eq(opportunities.accountId, accountId), isNull(opportunities.deletedAt), inArray(opportunities.id, primaryOf)))
      .orderBy(asc(opportunities.id))
      .for('update');
    const [row] = await tx.select({ id: contacts.id }).from(contacts).where(owned(accountId, id)).for('update');
    if (!row) throw notFound('contact');
    const now = new Date();
    const deleted = await tx
      .update(opportunities)
      .set({ deletedAt: now, updatedAt: now, version: sql`${opportunities.version} + 1` })
      .where(and(eq(opportunities.accountId, accountId), isNull(opportunities.deletedAt), inArray(opportunities.id, primaryOf)))
      .returning();
    await markDirty(tx, accountId, deleted.map((o) => o.id));
    // Their contacts as they were: the foreign keys detach this one below.
    const sets = await loadContactSets(tx, deleted.map((o) => o.id));
    await recordOpportunityEvents(tx, accountId, deleted.map((o) => ({ before: toView(o, sets.get(o.id)!), after: null })));
    await tx.delete(contacts).where(eq(contacts.id, id));
  });
}

export async function listContactOpportunities(db: Executor, accountId: string, id: string, page: Page) {
  await getContact(db, accountId, id);
  return listOpportunities(db, accountId, { contactId: id }, page);
}
