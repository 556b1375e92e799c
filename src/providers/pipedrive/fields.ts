import { attributeFromRemote, type SyncFields } from '../../sync/fields.ts';
import { notMapped, type FieldContext, type FieldMap } from '../field-map.ts';

/** The writable part of a Pipedrive v2 deal. */
export interface PipedriveDealInput {
  title?: string;
  value?: number;
  currency?: string;
  expected_close_date?: string | null;
  stage_id?: number;
  pipeline_id?: number;
  status?: 'open' | 'won' | 'lost';
  lost_reason?: string | null;
  probability?: number | null;
  owner_id?: number;
  person_id?: number | null;
  custom_fields?: Record<string, unknown>;
}

/** A Pipedrive deal as read (API v2 or a webhook v2 `data`, custom fields already unwrapped). */
export interface PipedriveDeal extends PipedriveDealInput {
  id: number;
  update_time?: string;
  is_deleted?: boolean;
}

/**
 * Pipedrive has no "abandoned": an abandoned opportunity is a lost deal whose lost reason is the
 * given reason or "abandoned" (see the HubSpot mapping for how the merge keeps it abandoned).
 */
export const ABANDONED_REASON = 'abandoned';

const custom = (into: PipedriveDealInput) => (into.custom_fields ??= {});

/** Status and lost reason go together: abandoned is lost with a reason. */
function writeStatus(fields: Partial<SyncFields>, into: PipedriveDealInput) {
  if (fields.lostReason !== undefined) into.lost_reason = fields.lostReason;
  if (fields.state !== undefined) into.status = fields.state === 'abandoned' ? 'lost' : fields.state;
  if (fields.state === 'abandoned') into.lost_reason = fields.lostReason ?? ABANDONED_REASON;
}

function owner(id: number | undefined, { settings, problems }: FieldContext) {
  if (id === undefined) return undefined;
  const mapped = settings.owners.find((o) => o.ownerId === String(id));
  if (!mapped) problems.push({ field: 'assigneeId', value: String(id), message: 'this Pipedrive user is not mapped to a user' });
  return mapped?.userId;
}

/**
 * Every registered field, as a Pipedrive deal holds it. `value` is a JSON number there: amounts
 * beyond 15 significant digits lose precision in Pipedrive, and a deal always has one (0 by
 * default), so 0 and "no amount" are the same thing there.
 */
export const pipedriveFields: FieldMap<PipedriveDeal, PipedriveDealInput> = {
  title: { read: (d) => d.title, write: (f, into) => void (into.title = f.title) },
  description: notMapped('Pipedrive deals have no description field'),
  amount: {
    read: (d) => (d.value === undefined ? undefined : d.value === 0 ? null : String(d.value)),
    write: (f, into) => void (into.value = f.amount === null ? 0 : Number(f.amount)),
  },
  currency: { read: (d) => d.currency, write: (f, into) => void (into.currency = f.currency) },
  closeDate: { read: (d) => d.expected_close_date, write: (f, into) => void (into.expected_close_date = f.closeDate) },
  // Pipedrive closes deals by status, not by stage.
  state: { read: (d) => d.status, write: writeStatus },
  stage: {
    read(d, { settings, problems }) {
      if (d.stage_id === undefined) return undefined;
      const mapped = settings.stages.find((s) => s.stageId === String(d.stage_id));
      if (!mapped) problems.push({ field: 'stage', value: String(d.stage_id), message: 'this Pipedrive stage is not mapped to a canonical stage' });
      return mapped?.stage;
    },
    write(f, into, { settings, problems }) {
      if (!f.stage) return;
      const mapped = settings.stages.find((s) => s.stage === f.stage);
      if (mapped) into.stage_id = Number(mapped.stageId);
      else problems.push({ field: 'stage', value: f.stage, message: 'no Pipedrive stage is mapped to this stage; the Pipedrive deal keeps its stage' });
    },
  },
  pipeline: {
    read(d, { settings, problems }) {
      // A connection without a pipeline map (made before pipelines synced) says nothing about them.
      if (d.pipeline_id === undefined || settings.pipelines.length === 0) return undefined;
      const mapped = settings.pipelines.find((p) => p.pipelineId === String(d.pipeline_id));
      if (!mapped) problems.push({ field: 'pipeline', value: String(d.pipeline_id), message: 'this Pipedrive pipeline is not mapped to a canonical pipeline' });
      return mapped?.pipeline;
    },
    write(f, into, { settings, problems, creating }) {
      // A stage belongs to one pipeline: Pipedrive moves the deal with its stage. A stage it has no
      // counterpart for leaves an existing deal where it is: a pipeline move alone would put it in
      // that pipeline's first stage, a guess in place of the person's choice.
      if (!f.pipeline || into.stage_id !== undefined || settings.pipelines.length === 0) return;
      if (f.stage && !creating) return;
      const mapped = settings.pipelines.find((p) => p.pipeline === f.pipeline);
      if (mapped) into.pipeline_id = Number(mapped.pipelineId);
      else problems.push({ field: 'pipeline', value: f.pipeline, message: 'no Pipedrive pipeline is mapped to this pipeline' });
    },
  },
  probability: { read: (d) => d.probability, write: (f, into) => void (into.probability = f.probability) },
  source: {
    read: (d, { settings }) => {
      const value = settings.sourceField ? d.custom_fields?.[settings.sourceField] : undefined;
      return value === undefined ? undefined : value === null || value === '' ? null : String(value);
    },
    write: (f, into, { settings }) => void (settings.sourceField && (custom(into)[settings.sourceField] = f.source)),
  },
  lostReason: { read: (d) => d.lost_reason, write: writeStatus },
  assigneeId: {
    read: (d, context) => owner(d.owner_id, context),
    write(f, into, { settings, problems }) {
      // Every Pipedrive deal has an owner: no assignee leaves it with the one it has.
      if (!f.assigneeId) return;
      const mapped = settings.owners.find((o) => o.userId === f.assigneeId);
      if (mapped) into.owner_id = Number(mapped.ownerId);
      else problems.push({ field: 'assigneeId', value: f.assigneeId, message: 'no Pipedrive user is mapped to this user' });
    },
  },
  attributes: {
    read(d, { settings }) {
      const fields = d.custom_fields ?? {};
      const present = settings.attributes.filter((a) => a.remote in fields);
      return present.length ? Object.fromEntries(present.map((a) => [a.key, attributeFromRemote(a.type, fields[a.remote])])) : undefined;
    },
    write(f, into, { settings }) {
      for (const { key, remote } of settings.attributes) if (key in f.attributes!) custom(into)[remote] = f.attributes![key] ?? null;
    },
  },
  contact: notMapped('the connector finds or creates the person and sets person_id (connector.ts)'),
};
