import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../store/db.ts';
import { conflict, invalid, notFound, type FieldError } from '../store/errors.ts';
import { recordOpportunityEvents } from '../events/events.ts';
import { isoDate } from '../store/fields.ts';
import { loadContactSets } from '../opportunities/opportunity-contacts.ts';
import { toView } from '../opportunities/opportunity-view.ts';
import { markDirty } from '../sync-state/outbox.ts';
import { afterCursor, toPage, type Page } from '../store/pagination.ts';
import { attributeDefinitions, attributeTypes, opportunities, type AttributeType } from '../store/schema.ts';

export const attributeCreateSchema = z
  .strictObject({
    key: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must start with a lowercase letter and contain only a-z, 0-9 and "_" (max 64)'),
    label: z.string().trim().min(1).max(200),
    type: z.enum(attributeTypes),
    options: z.array(z.string().trim().min(1).max(200)).min(1).max(500).optional(),
  })
  .superRefine((value, ctx) => {
    if (value.type === 'enum' && !value.options) {
      ctx.addIssue({ code: 'custom', path: ['options'], message: 'is required for an enum attribute' });
    }
    if (value.type !== 'enum' && value.options) {
      ctx.addIssue({ code: 'custom', path: ['options'], message: 'is only allowed for an enum attribute' });
    }
    if (value.options && new Set(value.options).size !== value.options.length) {
      ctx.addIssue({ code: 'custom', path: ['options'], message: 'must not repeat a value' });
    }
  });
export type AttributeCreate = z.output<typeof attributeCreateSchema>;

/** A change of a definition: its label, or an enum's whole list of options. The type stays. */
export const attributePatchSchema = z
  .strictObject({
    label: z.string().trim().min(1).max(200).optional(),
    options: z.array(z.string().trim().min(1).max(200)).min(1).max(500).optional().describe('The enum\'s complete list of options, in order'),
    type: z.enum(attributeTypes).optional().describe('Only the current type is accepted: a type cannot be changed'),
  })
  .superRefine((value, ctx) => {
    if (value.options && new Set(value.options).size !== value.options.length) {
      ctx.addIssue({ code: 'custom', path: ['options'], message: 'must not repeat a value' });
    }
  });
export type AttributePatch = z.output<typeof attributePatchSchema>;

export const attributeView = z
  .object({
    key: z.string(),
    label: z.string(),
    type: z.enum(attributeTypes),
    options: z.array(z.string()).nullable(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'AttributeDefinition' });

type Definition = typeof attributeDefinitions.$inferSelect;

export function toAttributeView(row: Definition): z.infer<typeof attributeView> {
  return { key: row.key, label: row.label, type: row.type, options: row.options, createdAt: row.createdAt.toISOString() };
}

export async function createAttribute(db: Executor, accountId: string, input: AttributeCreate) {
  const [row] = await db
    .insert(attributeDefinitions)
    .values({ accountId, ...input, options: input.options ?? null })
    .onConflictDoNothing()
    .returning();
  if (!row) throw conflict(`attribute "${input.key}" already exists`, {}, [{ field: 'key', message: 'already exists' }]);
  return row;
}

export async function listAttributes(db: Executor, accountId: string, page: Page) {
  const rows = await db
    .select()
    .from(attributeDefinitions)
    .where(and(eq(attributeDefinitions.accountId, accountId), afterCursor(attributeDefinitions, page.cursor)))
    .orderBy(asc(attributeDefinitions.createdAt), asc(attributeDefinitions.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit);
}

/** How many live opportunities hold each of these values of an attribute. */
async function valuesInUse(tx: Executor, accountId: string, key: string, values: string[]): Promise<Map<string, number>> {
  if (values.length === 0) return new Map();
  const rows = await tx
    .select({ value: sql<string>`${opportunities.attributes} ->> ${key}`, n: sql<number>`count(*)::int` })
    .from(opportunities)
    .where(and(
      eq(opportunities.accountId, accountId),
      isNull(opportunities.deletedAt),
      sql`${opportunities.attributes} ->> ${key} IN (${sql.join(values.map((v) => sql`${v}`), sql`, `)})`,
    ))
    .groupBy(sql`1`);
  return new Map(rows.map((r) => [r.value, r.n]));
}

/**
 * Changes a definition's label or an enum's options. Stored values stay as they are, so an option
 * removed while an opportunity still holds it is refused (409 naming it); the type never changes.
 */
export async function patchAttribute(db: Executor, accountId: string, key: string, input: AttributePatch) {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(attributeDefinitions)
      .where(and(eq(attributeDefinitions.accountId, accountId), eq(attributeDefinitions.key, key)))
      .for('update');
    if (!row) throw notFound(`attribute "${key}"`);
    if (input.type !== undefined && input.type !== row.type) {
      throw invalid([{ field: 'type', message: `cannot be changed (it is ${row.type}): define a new attribute instead` }]);
    }
    if (input.options && row.type !== 'enum') throw invalid([{ field: 'options', message: 'is only allowed for an enum attribute' }]);
    if (input.options) {
      const removed = (row.options ?? []).filter((option) => !input.options!.includes(option));
      const inUse = await valuesInUse(tx, accountId, key, removed);
      const errors = removed.flatMap((option) => {
        const n = inUse.get(option);
        return n ? [{ field: 'options', message: `"${option}" is still the value of ${n} opportunities` }] : [];
      });
      if (errors.length) throw conflict(errors.map((e) => e.message).join('; '), { optionsInUse: Object.fromEntries(inUse) }, errors);
    }
    const [updated] = await tx
      .update(attributeDefinitions)
      .set({ ...(input.label ? { label: input.label } : {}), ...(input.options ? { options: input.options } : {}) })
      .where(eq(attributeDefinitions.id, row.id))
      .returning();
    return updated!;
  });
}

/** Deleting a definition removes its values from every opportunity of the account, in one transaction. */
export async function deleteAttribute(db: Executor, accountId: string, key: string): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = await tx
      .delete(attributeDefinitions)
      .where(and(eq(attributeDefinitions.accountId, accountId), eq(attributeDefinitions.key, key)))
      .returning();
    if (!row) throw notFound(`attribute "${key}"`);
    const holding = and(eq(opportunities.accountId, accountId), sql`${opportunities.attributes} ? ${key}`);
    const values = await tx.select({ id: opportunities.id, value: sql<unknown>`${opportunities.attributes} -> ${key}` }).from(opportunities).where(holding).for('update');
    const changed = await tx
      .update(opportunities)
      .set({
        attributes: sql`${opportunities.attributes} - ${key}`,
        version: sql`${opportunities.version} + 1`,
        updatedAt: sql`now()`,
        fieldChangedAt: sql`${opportunities.fieldChangedAt} || jsonb_build_object(${`attributes.${key}`}::text, now())`,
      })
      .where(holding)
      .returning();
    await markDirty(tx, accountId, changed.map((o) => o.id));
    await recordValueRemovals(tx, accountId, key, new Map(values.map((v) => [v.id, v.value])), changed);
  });
}

/** opportunity.updated for each live opportunity that lost the value: before is after with the value back. */
async function recordValueRemovals(tx: Executor, accountId: string, key: string, removed: Map<string, unknown>, rows: (typeof opportunities.$inferSelect)[]) {
  const live = rows.filter((o) => !o.deletedAt);
  const sets = await loadContactSets(tx, live.map((o) => o.id));
  await recordOpportunityEvents(tx, accountId, live.map((o) => {
    const after = toView(o, sets.get(o.id)!);
    return { before: { ...after, attributes: { ...after.attributes, [key]: removed.get(o.id) } }, after };
  }));
}

const valueCheckers: Record<AttributeType, (value: unknown, options: string[] | null) => string | undefined> = {
  text: (v) => (typeof v === 'string' && v.length <= 2000 ? undefined : 'must be a string of at most 2000 characters'),
  number: (v) => (typeof v === 'number' && Number.isFinite(v) ? undefined : 'must be a number'),
  boolean: (v) => (typeof v === 'boolean' ? undefined : 'must be true or false'),
  date: (v) => (isoDate.safeParse(v).success ? undefined : 'must be a date as YYYY-MM-DD'),
  enum: (v, options) =>
    typeof v === 'string' && options?.includes(v) ? undefined : `must be one of ${JSON.stringify(options)}`,
};

/**
 * Checks attribute values against the account's definitions. `null` means "remove the value".
 * Returns the field errors; the caller decides whether to throw.
 */
export async function checkAttributes(
  db: Executor,
  accountId: string,
  values: Record<string, unknown>,
): Promise<FieldError[]> {
  const keys = Object.keys(values);
  if (keys.length === 0) return [];
  const definitions = await db
    .select()
    .from(attributeDefinitions)
    .where(eq(attributeDefinitions.accountId, accountId));
  const byKey = new Map(definitions.map((d) => [d.key, d]));
  const errors: FieldError[] = [];
  for (const key of keys) {
    const definition = byKey.get(key);
    const value = values[key];
    if (!definition) errors.push({ field: `attributes.${key}`, message: 'is not a defined attribute' });
    else if (value !== null) {
      const problem = valueCheckers[definition.type](value, definition.options);
      if (problem) errors.push({ field: `attributes.${key}`, message: `${problem} (type ${definition.type})` });
    }
  }
  return errors;
}

export async function assertAttributes(db: Executor, accountId: string, values: Record<string, unknown>) {
  const errors = await checkAttributes(db, accountId, values);
  if (errors.length) throw invalid(errors);
}
