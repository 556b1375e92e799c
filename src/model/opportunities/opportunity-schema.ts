import { z } from 'zod';
import { amountSchema } from '../store/decimal.ts';
import { currency, externalRef, id, isoDate, key } from '../store/fields.ts';
import { opportunityStates } from '../store/schema.ts';

/** The writable fields of an opportunity; `null` clears a field on update. */
const writable = {
  title: z.string().trim().min(1, 'must not be empty').max(255),
  description: z.string().max(10_000).nullable(),
  amount: amountSchema.nullable(),
  currency,
  closeDate: isoDate.nullable(),
  stage: key.nullable(),
  pipeline: key.nullable(),
  probability: z.number().int('must be a whole number').min(0).max(100).nullable(),
  source: z.string().trim().max(100).nullable(),
  assigneeId: id.nullable(),
  contactId: id.nullable(),
  contactIds: z.array(id).max(100),
  externalRef: externalRef.nullable(),
  attributes: z.record(z.string(), z.unknown()),
};

export const opportunityCreateSchema = z.strictObject({
  ...z.object(writable).partial().shape,
  title: writable.title,
});
export type OpportunityCreate = z.output<typeof opportunityCreateSchema>;

export const opportunityPatchSchema = z.strictObject(z.object(writable).partial().shape);
export type OpportunityPatch = z.output<typeof opportunityPatchSchema>;

/**
 * PUT by external reference: the reference is in the path. Creating needs a title; updating an
 * existing opportunity is a patch, so fields left out (the title too) keep their values.
 */
export const opportunityUpsertSchema = z.strictObject({
  ...opportunityPatchSchema.omit({ externalRef: true }).shape,
  title: writable.title.optional().describe('Required when the reference is new'),
});
export type OpportunityUpsert = z.output<typeof opportunityUpsertSchema>;

export const closeStates = ['won', 'lost', 'abandoned'] as const;
export const opportunityCloseSchema = z.strictObject({
  state: z.enum(closeStates),
  reason: z.string().trim().min(1).max(500).optional(),
  closedById: id.optional(),
});
export type OpportunityClose = z.output<typeof opportunityCloseSchema>;

export const opportunityView = z
  .object({
    id: z.uuid(),
    externalRef: z.string().nullable(),
    title: z.string(),
    description: z.string().nullable(),
    amount: z.string().nullable(),
    currency: z.string(),
    closeDate: z.string().nullable(),
    state: z.enum(opportunityStates),
    stage: z.string().nullable(),
    pipeline: z.string().nullable(),
    probability: z.number().nullable(),
    source: z.string().nullable(),
    lostReason: z.string().nullable(),
    assigneeId: z.uuid().nullable(),
    contactId: z.uuid().nullable(),
    contactIds: z.array(z.uuid()),
    attributes: z.record(z.string(), z.unknown()),
    version: z.number().int(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    closedAt: z.iso.datetime().nullable(),
    closedById: z.uuid().nullable(),
  })
  .meta({ id: 'Opportunity' });
export type OpportunityView = z.infer<typeof opportunityView>;
