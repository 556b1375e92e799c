import { attributeFromRemote, type MappingProblem, type MappingSettings, type SyncFields } from '../../model/sync-state/sync-fields.ts';

/** The writable part of a Pipedrive v2 deal. */
export interface PipedriveDealInput {
  title?: string;
  value?: number;
  currency?: string;
  expected_close_date?: string | null;
  stage_id?: number;
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
 * Pipedrive has no deal description field: description does not sync to Pipedrive.
 * `value` is a JSON number there: amounts beyond 15 significant digits lose precision in Pipedrive,
 * and a deal always has one (0 by default), so 0 and "no amount" are the same thing there.
 */
export const ABANDONED_REASON = 'abandoned';

function stageInput(fields: Partial<SyncFields>, settings: MappingSettings, problems: MappingProblem[]): PipedriveDealInput {
  const input: PipedriveDealInput = {};
  if (fields.state !== undefined) input.status = fields.state === 'abandoned' ? 'lost' : fields.state;
  if (fields.state === 'abandoned') input.lost_reason = fields.lostReason ?? ABANDONED_REASON;
  if (fields.stage) {
    const mapped = settings.stages.find((s) => s.stage === fields.stage);
    if (mapped) input.stage_id = Number(mapped.stageId);
    else problems.push({ field: 'stage', value: fields.stage, message: 'no Pipedrive stage is mapped to this stage' });
  }
  return input;
}

/** Canonical fields (all, or only the changed ones) → a Pipedrive deal body. */
export function toPipedrive(canonicalId: string, fields: Partial<SyncFields>, settings: MappingSettings) {
  const problems: MappingProblem[] = [];
  const input: PipedriveDealInput = { custom_fields: { [settings.canonicalIdField]: canonicalId } };
  if (fields.title !== undefined) input.title = fields.title;
  if (fields.amount !== undefined) input.value = fields.amount === null ? 0 : Number(fields.amount);
  if (fields.currency !== undefined) input.currency = fields.currency;
  if (fields.closeDate !== undefined) input.expected_close_date = fields.closeDate;
  if (fields.probability !== undefined) input.probability = fields.probability;
  if (fields.lostReason !== undefined) input.lost_reason = fields.lostReason;
  Object.assign(input, stageInput(fields, settings, problems));
  if (fields.assigneeId) {
    const owner = settings.owners.find((o) => o.userId === fields.assigneeId);
    if (owner) input.owner_id = Number(owner.ownerId);
    else problems.push({ field: 'assigneeId', value: fields.assigneeId, message: 'no Pipedrive user is mapped to this user' });
  }
  for (const { key, remote } of settings.attributes) {
    if (fields.attributes && key in fields.attributes) input.custom_fields![remote] = fields.attributes[key] ?? null;
  }
  return { input, problems };
}

/** A Pipedrive deal → canonical fields, with what could not be mapped. */
export function fromPipedrive(deal: PipedriveDeal, settings: MappingSettings) {
  const problems: MappingProblem[] = [];
  const fields: Partial<SyncFields> = {};
  if (deal.title !== undefined) fields.title = deal.title;
  if (deal.value !== undefined) fields.amount = deal.value === 0 ? null : String(deal.value);
  if (deal.currency !== undefined) fields.currency = deal.currency;
  if (deal.expected_close_date !== undefined) fields.closeDate = deal.expected_close_date;
  if (deal.probability !== undefined) fields.probability = deal.probability;
  if (deal.lost_reason !== undefined) fields.lostReason = deal.lost_reason;
  if (deal.status !== undefined) fields.state = deal.status;
  if (deal.stage_id !== undefined) {
    const mapped = settings.stages.find((s) => s.stageId === String(deal.stage_id));
    if (mapped) fields.stage = mapped.stage;
    else problems.push({ field: 'stage_id', value: String(deal.stage_id), message: 'this Pipedrive stage is not mapped to a canonical stage' });
  }
  if (deal.owner_id !== undefined) {
    const owner = settings.owners.find((o) => o.ownerId === String(deal.owner_id));
    if (owner) fields.assigneeId = owner.userId;
    else problems.push({ field: 'owner_id', value: String(deal.owner_id), message: 'this Pipedrive user is not mapped to a user' });
  }
  const custom = deal.custom_fields ?? {};
  const attributes: Record<string, unknown> = {};
  for (const { key, remote, type } of settings.attributes) if (remote in custom) attributes[key] = attributeFromRemote(type, custom[remote]);
  if (Object.keys(attributes).length) fields.attributes = attributes;
  const canonicalId = custom[settings.canonicalIdField];
  return { fields, canonicalId: typeof canonicalId === 'string' ? canonicalId : undefined, problems };
}
