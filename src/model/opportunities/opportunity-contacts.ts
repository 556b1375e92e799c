import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from '../store/db.ts';
import { conflict, invalid, type FieldError } from '../store/errors.ts';
import { contacts, opportunityContacts, users } from '../store/schema.ts';

export interface ContactSet {
  contactId: string | null;
  contactIds: string[];
}

/** Primary contact and the others, per opportunity, for a page of opportunities in one query. */
export async function loadContactSets(db: Executor, opportunityIds: string[]): Promise<Map<string, ContactSet>> {
  const sets = new Map<string, ContactSet>(opportunityIds.map((id) => [id, { contactId: null, contactIds: [] }]));
  if (opportunityIds.length === 0) return sets;
  const rows = await db
    .select()
    .from(opportunityContacts)
    .where(inArray(opportunityContacts.opportunityId, opportunityIds))
    .orderBy(asc(opportunityContacts.contactId));
  for (const row of rows) {
    const set = sets.get(row.opportunityId)!;
    if (row.isPrimary) set.contactId = row.contactId;
    else set.contactIds.push(row.contactId);
  }
  return sets;
}

/** The primary contact is never also listed among the others. */
export function normaliseContactSet(set: ContactSet): ContactSet {
  const others = [...new Set(set.contactIds)].filter((id) => id !== set.contactId).sort();
  return { contactId: set.contactId, contactIds: others };
}

/**
 * Replaces an opportunity's contacts. The count triggers lock each contact they touch, old ones
 * (on delete) before new ones (on insert); two writers swapping contacts would take those locks in
 * opposite orders and deadlock. So every contact involved is locked first, in id order.
 */
export async function writeContactSet(db: Executor, accountId: string, opportunityId: string, set: ContactSet) {
  const previous = await db
    .select({ id: opportunityContacts.contactId })
    .from(opportunityContacts)
    .where(eq(opportunityContacts.opportunityId, opportunityId));
  const involved = [...new Set([...previous.map((p) => p.id), ...(set.contactId ? [set.contactId] : []), ...set.contactIds])].sort();
  const locked = new Set<string>();
  if (involved.length) {
    const rows = await db.execute<{ id: string }>(
      sql`SELECT id FROM contacts WHERE id IN (${sql.join(involved.map((id) => sql`${id}`), sql`, `)}) ORDER BY id FOR NO KEY UPDATE`,
    );
    for (const row of rows) locked.add(row.id);
  }
  assertStillThere(set, locked);
  await db.delete(opportunityContacts).where(eq(opportunityContacts.opportunityId, opportunityId));
  const rows = [
    ...(set.contactId ? [{ contactId: set.contactId, isPrimary: true }] : []),
    ...set.contactIds.map((contactId) => ({ contactId, isPrimary: false })),
  ]
    .sort((a, b) => a.contactId.localeCompare(b.contactId))
    .map((row) => ({ ...row, accountId, opportunityId }));
  if (rows.length) await db.insert(opportunityContacts).values(rows);
}

/**
 * The references were checked before the locks were taken: a contact deleted in between (its
 * deletion held the lock we waited for) is a conflict with that deletion, not a foreign-key error.
 */
function assertStillThere(set: ContactSet, locked: Set<string>) {
  const errors: FieldError[] = [];
  const gone = (id: string) => `contact ${id} was deleted while this request ran`;
  if (set.contactId && !locked.has(set.contactId)) errors.push({ field: 'contactId', message: gone(set.contactId) });
  for (const id of set.contactIds) if (!locked.has(id)) errors.push({ field: 'contactIds', message: gone(id) });
  if (errors.length) throw conflict(errors.map((e) => `${e.field}: ${e.message}`).join('; '), {}, errors);
}

/** Every referenced contact and user must belong to the account: a 400 naming the field otherwise. */
export async function assertReferences(
  db: Executor,
  accountId: string,
  refs: { contactId?: string | null; contactIds?: string[]; assigneeId?: string | null; closedById?: string | null },
): Promise<void> {
  const errors: FieldError[] = [];
  const wantedContacts = [...(refs.contactId ? [refs.contactId] : []), ...(refs.contactIds ?? [])];
  if (wantedContacts.length) {
    const found = await db
      .select({ id: contacts.id })
      .from(contacts)
      .where(and(eq(contacts.accountId, accountId), inArray(contacts.id, wantedContacts)));
    const known = new Set(found.map((row) => row.id));
    if (refs.contactId && !known.has(refs.contactId)) errors.push({ field: 'contactId', message: 'no such contact' });
    refs.contactIds?.forEach((id, index) => {
      if (!known.has(id)) errors.push({ field: `contactIds.${index}`, message: 'no such contact' });
    });
  }
  for (const field of ['assigneeId', 'closedById'] as const) {
    const userId = refs[field];
    if (!userId) continue;
    const [user] = await db
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.accountId, accountId), eq(users.id, userId)));
    if (!user) errors.push({ field, message: 'no such user' });
  }
  if (errors.length) throw invalid(errors);
}
