import { z } from 'zod';
import { attributeTypes } from '../model/store/schema.ts';
import { configurableFieldNames } from './fields.ts';


const direction = z.enum(['both', 'inbound', 'outbound']);
const policy = z.enum(['newest', 'canonical', 'remote']);

/** Everything a connection can be told; defaults make a new connection useful at once. */
export const connectionSettingsSchema = z.strictObject({
  /** The CRM's API root. Only the demo, tests and benchmarks set it (to a sandbox). */
  baseUrl: z.url().optional(),
  canonicalIdField: z.string().min(1).default('crm_sync_id'),
  stages: z.array(z.strictObject({ stage: z.string().min(1), pipelineId: z.string().min(1), stageId: z.string().min(1) })).default([]),
  pipelines: z.array(z.strictObject({ pipeline: z.string().min(1), pipelineId: z.string().min(1) })).default([]),
  defaultPipelineId: z.string().default(''),
  closedStages: z.record(z.string(), z.strictObject({ won: z.string(), lost: z.string() })).default({}),
  owners: z.array(z.strictObject({ userId: z.uuid(), ownerId: z.string().min(1) })).default([]),
  attributes: z.array(z.strictObject({ key: z.string().min(1), remote: z.string().min(1), type: z.enum(attributeTypes) })).default([]),
  /** The CRM property (HubSpot) or custom field key (Pipedrive) that holds the ERP's external reference: backfill and new deals match on it. */
  externalRefField: z.string().min(1).optional(),
  /** The CRM property or custom field key that holds the opportunity's source (e.g. a "lead source" field); unset, source does not sync. */
  sourceField: z.string().min(1).optional(),
  directions: z.partialRecord(z.enum(configurableFieldNames), direction).default({}),
  conflictPolicy: z.strictObject({ default: policy.default('newest'), fields: z.partialRecord(z.enum(configurableFieldNames), policy).default({}) }).default({ default: 'newest', fields: {} }),
  deletePolicy: z.enum(['unlink', 'propagate']).default('unlink'),
  /** Raise these to the CRM account's tier (HubSpot 190 or 250 per 10 s; Pipedrive by plan and seats). */
  limits: z.strictObject({ perWindow: z.number().int().positive().optional(), daily: z.number().int().positive().optional() }).default({}),
  reconcileIntervalSeconds: z.number().int().min(30).default(300),
  reconcileBudgetShare: z.number().min(0.01).max(1).default(0.1),
});
export type ConnectionSettings = z.output<typeof connectionSettingsSchema>;

/** How often a connection's reconciliation is due, from its stored settings. */
export const reconcileIntervalMs = (settings: unknown) => connectionSettingsSchema.parse(settings).reconcileIntervalSeconds * 1000;

/** A PATCH of settings: any subset; the merged result is validated again as a whole. */
export const connectionSettingsPatchSchema = z.record(z.string(), z.unknown());
