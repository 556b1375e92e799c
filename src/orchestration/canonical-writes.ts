import { eq } from 'drizzle-orm';
import { findOrCreateContactByEmail } from '../model/opportunities/contacts.ts';
import { applyFieldChanges, createOpportunity } from '../model/opportunities/opportunities.ts';
import type { OpportunityCreate } from '../model/opportunities/opportunity-schema.ts';
import type { Executor } from '../model/store/db.ts';
import { opportunities } from '../model/store/schema.ts';
import { liveExternalRefTaken } from '../model/sync-state/remote-changes.ts';
import { columnChangesOf, type Closer } from '../sync/field-columns.ts';
import type { SyncFields } from '../sync/fields.ts';

type Row = typeof opportunities.$inferSelect;

/**
 * Writes what a CRM changed to the canonical opportunity (a new version, dirty for every connection),
 * in one write. `closer`: who closed it in the CRM, when the CRM says who and that person is mapped.
 */
export async function applyRemoteFields(tx: Executor, row: Row, fields: Partial<SyncFields>, closer?: Closer) {
  return applyFieldChanges(tx, row, columnChangesOf(row, fields, closer));
}

/**
 * A deal first seen in a CRM becomes a canonical opportunity with every field the registry stores
 * in a column, and with its external reference when no live opportunity holds it. It is created
 * open, then closed as the API would, so closing rules (closed_at) apply.
 */
export async function createFromRemote(tx: Executor, accountId: string, fields: Partial<SyncFields>, externalRef?: string) {
  const { state, lostReason: _closedWith, contact, ...rest } = fields;
  const refFree = externalRef !== undefined && !(await liveExternalRefTaken(tx, accountId, externalRef));
  const contactId = contact?.email ? await findOrCreateContactByEmail(tx, accountId, { email: contact.email, name: contact.name }) : undefined;
  const columns = columnChangesOf(undefined, rest);
  const created = await createOpportunity(tx, accountId, {
    ...columns,
    ...(refFree ? { externalRef } : {}),
    ...(contactId ? { contactId } : {}),
    title: columns.title || 'Untitled deal',
    attributes: columns.attributes ?? {},
  } as OpportunityCreate);
  if (state && state !== 'open') {
    const [row] = await tx.select().from(opportunities).where(eq(opportunities.id, created.id));
    await applyRemoteFields(tx, row!, { state, lostReason: fields.lostReason ?? null });
  }
  return created.id;
}
