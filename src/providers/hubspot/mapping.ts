import { attributeFromRemote, type MappingProblem, type MappingSettings, type SyncFields } from '../../model/sync-state/sync-fields.ts';

type Properties = Record<string, string | null>;

/**
 * HubSpot has no "abandoned": an abandoned opportunity is a closed-lost deal whose lost reason is
 * the given reason or "abandoned". It reads back as lost; the three-way merge keeps the canonical
 * "abandoned" as long as HubSpot's side of the state did not move.
 */
export const ABANDONED_REASON = 'abandoned';

/** HubSpot dates are midnight UTC datetimes. */
const toDateTime = (date: string | null) => (date ? `${date}T00:00:00.000Z` : null);
const toDate = (value: string | null | undefined) => (value ? new Date(value).toISOString().slice(0, 10) : null);

function stageProperties(fields: Partial<SyncFields>, settings: MappingSettings, problems: MappingProblem[]): Properties {
  if (fields.state === undefined && fields.stage === undefined) return {};
  const mapped = fields.stage ? settings.stages.find((s) => s.stage === fields.stage) : undefined;
  if (fields.stage && !mapped) problems.push({ field: 'stage', value: fields.stage, message: 'no HubSpot stage is mapped to this stage' });
  const pipelineId = mapped?.pipelineId ?? settings.defaultPipelineId;
  const closed = settings.closedStages[pipelineId];
  if (fields.state && fields.state !== 'open') {
    if (!closed) {
      problems.push({ field: 'state', value: fields.state, message: `pipeline ${pipelineId} has no won/lost stages mapped` });
      return {};
    }
    return { pipeline: pipelineId, dealstage: fields.state === 'won' ? closed.won : closed.lost };
  }
  if (mapped) return { pipeline: mapped.pipelineId, dealstage: mapped.stageId };
  // Open without a stage HubSpot can hold (a reopen): the pipeline's first mapped stage, since a
  // HubSpot deal is closed exactly when its stage is a closed one.
  const first = fields.state === 'open' ? settings.stages.find((s) => s.pipelineId === pipelineId) : undefined;
  return first ? { pipeline: first.pipelineId, dealstage: first.stageId } : {};
}

function lostReason(fields: Partial<SyncFields>): Properties {
  if (fields.state === 'abandoned') return { closed_lost_reason: fields.lostReason ?? ABANDONED_REASON };
  return fields.lostReason === undefined ? {} : { closed_lost_reason: fields.lostReason };
}

/** Canonical fields (all, or only the changed ones) → HubSpot deal properties. */
export function toHubSpot(canonicalId: string, fields: Partial<SyncFields>, settings: MappingSettings) {
  const problems: MappingProblem[] = [];
  const properties: Properties = { [settings.canonicalIdField]: canonicalId };
  if (fields.title !== undefined) properties.dealname = fields.title;
  if (fields.description !== undefined) properties.description = fields.description;
  if (fields.amount !== undefined) properties.amount = fields.amount;
  if (fields.currency !== undefined) properties.deal_currency_code = fields.currency;
  if (fields.closeDate !== undefined) properties.closedate = toDateTime(fields.closeDate);
  Object.assign(properties, stageProperties(fields, settings, problems), lostReason(fields));
  if (fields.assigneeId !== undefined) {
    const owner = settings.owners.find((o) => o.userId === fields.assigneeId);
    if (fields.assigneeId && !owner) problems.push({ field: 'assigneeId', value: fields.assigneeId, message: 'no HubSpot owner is mapped to this user' });
    else properties.hubspot_owner_id = owner?.ownerId ?? null;
  }
  for (const { key, remote } of settings.attributes) {
    const value = fields.attributes?.[key];
    if (fields.attributes && key in fields.attributes) properties[remote] = value === null || value === undefined ? null : String(value);
  }
  // HubSpot computes the stage probability itself: canonical probability is not written there.
  return { properties, problems };
}

function stateFrom(properties: Properties, settings: MappingSettings): Pick<SyncFields, 'state'> | Record<string, never> {
  const closed = settings.closedStages[properties.pipeline ?? ''];
  if (!properties.dealstage || !closed) return {};
  if (properties.dealstage === closed.won) return { state: 'won' };
  if (properties.dealstage === closed.lost) return { state: 'lost' };
  return { state: 'open' };
}

/** A HubSpot deal's properties → canonical fields, with what could not be mapped. */
export function fromHubSpot(properties: Properties, settings: MappingSettings) {
  const problems: MappingProblem[] = [];
  const fields: Partial<SyncFields> = { ...stateFrom(properties, settings) };
  if ('dealname' in properties) fields.title = properties.dealname ?? '';
  if ('description' in properties) fields.description = properties.description || null;
  if ('amount' in properties) fields.amount = properties.amount || null;
  if (properties.deal_currency_code) fields.currency = properties.deal_currency_code;
  if ('closedate' in properties) fields.closeDate = toDate(properties.closedate);
  if ('closed_lost_reason' in properties) fields.lostReason = properties.closed_lost_reason || null;
  if (properties.dealstage && fields.state === 'open') {
    const mapped = settings.stages.find((s) => s.pipelineId === properties.pipeline && s.stageId === properties.dealstage);
    if (mapped) fields.stage = mapped.stage;
    else problems.push({ field: 'dealstage', value: properties.dealstage, message: 'this HubSpot stage is not mapped to a canonical stage' });
  }
  if ('hubspot_owner_id' in properties) {
    const owner = settings.owners.find((o) => o.ownerId === properties.hubspot_owner_id);
    if (properties.hubspot_owner_id && !owner) problems.push({ field: 'hubspot_owner_id', value: properties.hubspot_owner_id, message: 'this HubSpot owner is not mapped to a user' });
    else fields.assigneeId = owner?.userId ?? null;
  }
  const attributes: Record<string, unknown> = {};
  for (const { key, remote, type } of settings.attributes) {
    if (remote in properties) attributes[key] = attributeFromRemote(type, properties[remote]);
  }
  if (Object.keys(attributes).length) fields.attributes = attributes;
  return { fields, canonicalId: properties[settings.canonicalIdField] ?? undefined, problems };
}
