import { and, asc, eq, gte, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import { assertAttributes } from '../accounts/attributes.ts';
import type { Executor } from '../store/db.ts';
import { sameDecimal } from '../store/decimal.ts';
import { conflict, invalid, notFound, preconditionFailed } from '../store/errors.ts';
import { recordOpportunityEvents } from '../events/events.ts';
import {
  assertReferences,
  loadContactSets,
  normaliseContactSet,
  writeContactSet,
  type ContactSet,
} from './opportunity-contacts.ts';
import type { OpportunityClose, OpportunityCreate, OpportunityPatch, OpportunityUpsert, OpportunityView } from './opportunity-schema.ts';
import { toView } from './opportunity-view.ts';
import { markDirty } from '../sync-state/outbox.ts';
import { afterCursor, toPage, type Page } from '../store/pagination.ts';
import { accounts, opportunities, opportunityContacts, type OpportunityState } from '../store/schema.ts';

type Row = typeof opportunities.$inferSelect;

export { toView };

/** The columns a change may touch; everything else (ids, version, times) is the store's business. */
export type FieldChanges = Partial<
  Pick<
    Row,
    | 'title'
    | 'description'
    | 'amount'
    | 'currency'
    | 'closeDate'
    | 'stage'
    | 'pipeline'
    | 'probability'
    | 'source'
    | 'lostReason'
    | 'assigneeId'
    | 'closedById'
    | 'closedAt'
    | 'state'
    | 'externalRef'
    | 'attributes'
  >
>;

async function viewOf(db: Executor, row: Row): Promise<OpportunityView> {
  const sets = await loadContactSets(db, [row.id]);
  return toView(row, sets.get(row.id)!);
}

const live = (accountId: string) => and(eq(opportunities.accountId, accountId), isNull(opportunities.deletedAt));

async function lockOpportunity(tx: Executor, accountId: string, where: SQL): Promise<Row> {
  const [row] = await tx
    .select()
    .from(opportunities)
    .where(and(live(accountId), where))
    .for('update');
  if (!row) throw notFound('opportunity');
  return row;
}

function checkVersion(row: Row, expectedVersion: number | undefined) {
  if (expectedVersion !== undefined && expectedVersion !== row.version) throw preconditionFailed(row.version);
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const cause = (error as { cause?: { code?: string; constraint_name?: string } }).cause ?? error;
  const pg = cause as { code?: string; constraint_name?: string };
  return pg.code === '23505' && pg.constraint_name === constraint;
}

/** The user foreign keys, by the field that sets them. */
const userForeignKeys: Record<string, 'assigneeId' | 'closedById'> = {
  opportunities_assignee_id_users_id_fk: 'assigneeId',
  opportunities_closed_by_id_users_id_fk: 'closedById',
};

/**
 * The user was checked before the write, then deleted by a transaction the write's foreign-key
 * check waited for: a conflict with that deletion (409 naming the field), not a server error.
 */
function userDeletedMeanwhile(error: unknown) {
  const pg = ((error as { cause?: unknown }).cause ?? error) as { code?: string; constraint_name?: string };
  const field = pg.code === '23503' ? userForeignKeys[pg.constraint_name ?? ''] : undefined;
  if (!field) return error;
  const message = 'the user was deleted while this request ran';
  return conflict(`${field}: ${message}`, {}, [{ field, message }]);
}

async function externalRefTaken(db: Executor, accountId: string, externalRef: string) {
  const [existing] = await db
    .select({ id: opportunities.id })
    .from(opportunities)
    .where(and(live(accountId), eq(opportunities.externalRef, externalRef)));
  return conflict(
    `an opportunity with externalRef "${externalRef}" already exists: ${existing?.id ?? 'unknown'}`,
    { existingId: existing?.id ?? null },
    [{ field: 'externalRef', message: 'already used by another opportunity' }],
  );
}

function sameValue(field: keyof FieldChanges, before: unknown, after: unknown): boolean {
  if (field === 'amount') return sameDecimal(before as string | null, after as string | null);
  if (before instanceof Date || after instanceof Date) {
    return (before as Date | null)?.getTime() === (after as Date | null)?.getTime();
  }
  if (field === 'attributes') return JSON.stringify(before) === JSON.stringify(after);
  return before === after;
}

/** Names of the attribute keys whose values differ, as `attributes.<key>` change-time entries. */
function changedAttributeKeys(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys]
    .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
    .map((key) => `attributes.${key}`);
}

function sameContacts(a: ContactSet, b: ContactSet): boolean {
  return a.contactId === b.contactId && a.contactIds.join() === b.contactIds.join();
}

/**
 * Writes the fields that really differ. Nothing differing means no write and no new version, so a
 * repeated PUT or an echoed sync update is a no-op. Every changed field gets a change time.
 */
async function applyChanges(
  tx: Executor,
  row: Row,
  changes: FieldChanges,
  contactsAfter?: ContactSet,
): Promise<OpportunityView> {
  const contactsBefore = (await loadContactSets(tx, [row.id])).get(row.id)!;
  const changed = (Object.keys(changes) as (keyof FieldChanges)[]).filter(
    (field) => changes[field] !== undefined && !sameValue(field, row[field], changes[field]),
  );
  const contactsChanged = contactsAfter !== undefined && !sameContacts(contactsBefore, contactsAfter);
  if (changed.length === 0 && !contactsChanged) return toView(row, contactsBefore);

  const now = new Date().toISOString();
  const changedNames = changed.flatMap((field) =>
    field === 'attributes' ? changedAttributeKeys(row.attributes, changes.attributes!) : [field],
  );
  if (contactsChanged) changedNames.push('contacts');
  const values: FieldChanges = Object.fromEntries(changed.map((field) => [field, changes[field]]));
  const fieldChangedAt = { ...row.fieldChangedAt, ...Object.fromEntries(changedNames.map((name) => [name, now])) };
  const updated = await writeFields(tx, row, { ...values, version: row.version + 1, updatedAt: new Date(now), fieldChangedAt });
  if (contactsChanged) await writeContactSet(tx, row.accountId, row.id, contactsAfter);
  await markDirty(tx, row.accountId, [row.id]);
  const after = toView(updated, contactsChanged ? contactsAfter : contactsBefore);
  await recordOpportunityEvents(tx, row.accountId, [{ before: toView(row, contactsBefore), after }]);
  return after;
}

/** Runs in a savepoint so that a taken external reference leaves the transaction usable to name its holder. */
async function writeFields(tx: Executor, row: Row, values: Partial<Row>): Promise<Row> {
  try {
    const [updated] = await tx.transaction((savepoint) =>
      savepoint.update(opportunities).set(values).where(eq(opportunities.id, row.id)).returning(),
    );
    return updated!;
  } catch (error) {
    if (values.externalRef && isUniqueViolation(error, 'opportunities_account_external_ref_uq')) {
      throw await externalRefTaken(tx, row.accountId, values.externalRef);
    }
    throw userDeletedMeanwhile(error);
  }
}

/** Changes that arrive from a CRM (see remote-changes.ts): the same writing path as the API's. */
export function applyFieldChanges(tx: Executor, row: Row, changes: FieldChanges) {
  return applyChanges(tx, row, changes);
}

/** Attribute values after a change: `null` removes a key, anything else sets it. */
function mergeAttributes(current: Record<string, unknown>, incoming: Record<string, unknown> | undefined) {
  if (!incoming) return undefined;
  const merged = { ...current };
  for (const [key, value] of Object.entries(incoming)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

async function accountCurrency(db: Executor, accountId: string): Promise<string> {
  const [account] = await db
    .select({ currency: accounts.defaultCurrency })
    .from(accounts)
    .where(eq(accounts.id, accountId));
  return account?.currency ?? 'USD';
}

async function validateInput(db: Executor, accountId: string, input: OpportunityPatch) {
  await assertReferences(db, accountId, input);
  if (input.attributes) await assertAttributes(db, accountId, input.attributes);
}

/** Inserts a new opportunity, or returns undefined when its external reference is already taken. */
async function insertOpportunity(tx: Executor, accountId: string, input: OpportunityCreate) {
  const { contactId, contactIds, attributes, currency, ...fields } = input;
  const [row] = await tx
    .insert(opportunities)
    .values({
      ...fields,
      accountId,
      currency: currency ?? (await accountCurrency(tx, accountId)),
      attributes: mergeAttributes({}, attributes) ?? {},
    })
    .onConflictDoNothing({
      target: [opportunities.accountId, opportunities.externalRef],
      where: sql`external_ref IS NOT NULL AND deleted_at IS NULL`,
    })
    .returning()
    .catch((error: unknown) => {
      throw userDeletedMeanwhile(error);
    });
  if (!row) return undefined;
  const set = normaliseContactSet({ contactId: contactId ?? null, contactIds: contactIds ?? [] });
  await writeContactSet(tx, accountId, row.id, set);
  await markDirty(tx, accountId, [row.id]);
  const created = toView(row, set);
  await recordOpportunityEvents(tx, accountId, [{ before: null, after: created }]);
  return created;
}

export async function createOpportunity(db: Executor, accountId: string, input: OpportunityCreate) {
  return db.transaction(async (tx) => {
    await validateInput(tx, accountId, input);
    const created = await insertOpportunity(tx, accountId, input);
    if (!created) throw await externalRefTaken(tx, accountId, input.externalRef!);
    return created;
  });
}

function patchChanges(row: Row, input: OpportunityPatch): { changes: FieldChanges; contacts?: ContactSet } {
  const { contactId, contactIds, attributes, ...fields } = input;
  const changes: FieldChanges = { ...fields, attributes: mergeAttributes(row.attributes, attributes) };
  if (contactId === undefined && contactIds === undefined) return { changes };
  return { changes, contacts: { contactId: contactId ?? null, contactIds: contactIds ?? [] } };
}

/** Contact fields left out of a patch keep their current value. */
async function completeContacts(tx: Executor, row: Row, input: OpportunityPatch, partial?: ContactSet) {
  if (!partial) return undefined;
  const current = (await loadContactSets(tx, [row.id])).get(row.id)!;
  return normaliseContactSet({
    contactId: input.contactId === undefined ? current.contactId : partial.contactId,
    contactIds: input.contactIds === undefined ? current.contactIds : partial.contactIds,
  });
}

async function patchRow(tx: Executor, accountId: string, row: Row, input: OpportunityPatch) {
  await validateInput(tx, accountId, input);
  const { changes, contacts } = patchChanges(row, input);
  return applyChanges(tx, row, changes, await completeContacts(tx, row, input, contacts));
}

export async function patchOpportunity(
  db: Executor,
  accountId: string,
  id: string,
  input: OpportunityPatch,
  expectedVersion?: number,
) {
  return db.transaction(async (tx) => {
    const row = await lockOpportunity(tx, accountId, eq(opportunities.id, id));
    checkVersion(row, expectedVersion);
    return patchRow(tx, accountId, row, input);
  });
}

/**
 * Idempotent upsert by external reference. Every upsert of one (account, reference) first takes a
 * transaction-level advisory lock on it, so concurrent callers run one after another: the first
 * creates, the others find the row and update it; they never wait on each other's locks in two
 * orders (which deadlocked when they met on the unique index first and on the row lock second).
 * A create made another way (POST, a PATCH of externalRef) can still win the unique index: the
 * insert then does nothing and the row it made is updated.
 */
export async function upsertByExternalRef(
  db: Executor,
  accountId: string,
  externalRef: string,
  input: OpportunityUpsert,
): Promise<{ created: boolean; opportunity: OpportunityView }> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`opportunity-ref:${accountId}:${externalRef}`}, 0))`);
    await validateInput(tx, accountId, input);
    const existing = await findLiveByRef(tx, accountId, externalRef);
    if (existing) return { created: false, opportunity: await patchRow(tx, accountId, existing, input) };
    const { title } = input;
    if (title === undefined) throw invalid([{ field: 'title', message: 'is required to create an opportunity' }]);
    const created = await insertOpportunity(tx, accountId, { ...input, title, externalRef });
    if (created) return { created: true, opportunity: created };
    const row = await lockOpportunity(tx, accountId, eq(opportunities.externalRef, externalRef));
    return { created: false, opportunity: await patchRow(tx, accountId, row, input) };
  });
}

async function findLiveByRef(tx: Executor, accountId: string, externalRef: string): Promise<Row | undefined> {
  const [row] = await tx
    .select()
    .from(opportunities)
    .where(and(live(accountId), eq(opportunities.externalRef, externalRef)))
    .for('update');
  return row;
}

export async function getOpportunity(db: Executor, accountId: string, id: string) {
  const [row] = await db
    .select()
    .from(opportunities)
    .where(and(live(accountId), eq(opportunities.id, id)));
  if (!row) throw notFound('opportunity');
  return viewOf(db, row);
}

export async function getByExternalRef(db: Executor, accountId: string, externalRef: string) {
  const [row] = await db
    .select()
    .from(opportunities)
    .where(and(live(accountId), eq(opportunities.externalRef, externalRef)));
  if (!row) throw notFound(`opportunity with externalRef "${externalRef}"`);
  return viewOf(db, row);
}

export async function deleteOpportunity(db: Executor, accountId: string, id: string, expectedVersion?: number) {
  await db.transaction(async (tx) => {
    const row = await lockOpportunity(tx, accountId, eq(opportunities.id, id));
    checkVersion(row, expectedVersion);
    const [tombstone] = await tx
      .update(opportunities)
      .set({ deletedAt: new Date(), version: row.version + 1, updatedAt: new Date() })
      .where(eq(opportunities.id, id))
      .returning();
    await markDirty(tx, accountId, [id]);
    await recordOpportunityEvents(tx, accountId, [{ before: await viewOf(tx, tombstone!), after: null }]);
  });
}

export interface CloseResult {
  opportunity: OpportunityView;
  warnings: { code: string; message: string }[];
}

function closeChanges(row: Row, input: OpportunityClose): FieldChanges {
  const sameState = row.state === input.state;
  return {
    state: input.state,
    // Re-closing in the same state is a no-op, not a new close time.
    closedAt: sameState ? row.closedAt : new Date(),
    closedById: input.closedById ?? (sameState ? row.closedById : null),
    lostReason: input.reason ?? (sameState ? row.lostReason : null),
  };
}

export async function closeOpportunity(
  db: Executor,
  accountId: string,
  id: string,
  input: OpportunityClose,
  expectedVersion?: number,
): Promise<CloseResult> {
  if (input.state === 'won' && input.reason) {
    throw invalid([{ field: 'reason', message: 'applies only to lost or abandoned opportunities' }]);
  }
  return db.transaction(async (tx) => {
    const row = await lockOpportunity(tx, accountId, eq(opportunities.id, id));
    checkVersion(row, expectedVersion);
    await assertReferences(tx, accountId, { closedById: input.closedById });
    const opportunity = await applyChanges(tx, row, closeChanges(row, input));
    const warnings =
      opportunity.state === 'lost' && !opportunity.lostReason
        ? [{ code: 'lost_without_reason', message: 'a lost opportunity should carry a reason' }]
        : [];
    return { opportunity, warnings };
  });
}

export async function reopenOpportunity(db: Executor, accountId: string, id: string, expectedVersion?: number) {
  return db.transaction(async (tx) => {
    const row = await lockOpportunity(tx, accountId, eq(opportunities.id, id));
    checkVersion(row, expectedVersion);
    return applyChanges(tx, row, { state: 'open', closedAt: null, closedById: null, lostReason: null });
  });
}

export interface OpportunityFilters {
  state?: OpportunityState | undefined;
  filter?: 'open' | 'recently_won' | 'recently_lost' | undefined;
  within?: number | undefined;
  stage?: string | undefined;
  assigneeId?: string | undefined;
  contactId?: string | undefined;
  updatedSince?: Date | undefined;
}

function filterConditions(f: OpportunityFilters): (SQL | undefined)[] {
  const recentSince = sql`now() - make_interval(secs => ${f.within ?? 120})`;
  const named = {
    open: eq(opportunities.state, 'open'),
    recently_won: and(eq(opportunities.state, 'won'), gte(opportunities.closedAt, recentSince)),
    recently_lost: and(eq(opportunities.state, 'lost'), gte(opportunities.closedAt, recentSince)),
  };
  return [
    f.state ? eq(opportunities.state, f.state) : undefined,
    f.filter ? named[f.filter] : undefined,
    f.stage ? eq(opportunities.stage, f.stage) : undefined,
    f.assigneeId ? eq(opportunities.assigneeId, f.assigneeId) : undefined,
    f.updatedSince ? gte(opportunities.updatedAt, f.updatedSince) : undefined,
    f.contactId
      ? inArray(
          opportunities.id,
          sql`(SELECT ${opportunityContacts.opportunityId} FROM ${opportunityContacts} WHERE ${opportunityContacts.contactId} = ${f.contactId})`,
        )
      : undefined,
  ];
}

export async function listOpportunities(db: Executor, accountId: string, filters: OpportunityFilters, page: Page) {
  const rows = await db
    .select()
    .from(opportunities)
    .where(and(live(accountId), afterCursor(opportunities, page.cursor), ...filterConditions(filters)))
    .orderBy(asc(opportunities.createdAt), asc(opportunities.id))
    .limit(page.limit + 1);
  const { rows: kept, nextCursor } = toPage(rows, page.limit);
  const sets = await loadContactSets(db, kept.map((row) => row.id));
  return { data: kept.map((row) => toView(row, sets.get(row.id)!)), nextCursor };
}
