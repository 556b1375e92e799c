import { attributeFromRemote, type MappingSettings, type SyncFields } from '../../sync/fields.ts';
import { notMapped, type FieldCodec, type FieldContext, type FieldMap } from '../field-map.ts';

/** A HubSpot deal's properties: every value is text (or null). */
export type Properties = Record<string, string | null>;

/**
 * HubSpot has no "abandoned": an abandoned opportunity is a closed-lost deal whose lost reason is
 * the given reason or "abandoned". It reads back as lost; the three-way merge keeps the canonical
 * "abandoned" as long as HubSpot's side of the state did not move.
 */
export const ABANDONED_REASON = 'abandoned';

/** HubSpot dates are midnight UTC datetimes. */
const toDateTime = (date: string | null) => (date ? `${date}T00:00:00.000Z` : null);
const toDate = (value: string | null | undefined) => (value ? new Date(value).toISOString().slice(0, 10) : null);

/** One property, read and written as it is (text, or null for empty). */
function property<K extends 'title' | 'description' | 'amount' | 'lostReason'>(key: K, name: string, empty: SyncFields[K]): FieldCodec<Properties, Properties, SyncFields[K]> {
  return {
    reads: () => [name],
    read: (p) => (name in p ? ((p[name] || empty) as SyncFields[K]) : undefined),
    write: (f, out) => void (out[name] = f[key] as string | null),
  };
}

/** The canonical stage's HubSpot stage, if one is mapped (an open deal's stage problem is recorded by the caller). */
const mappedStage = (fields: Partial<SyncFields>, settings: MappingSettings) => (fields.stage ? settings.stages.find((s) => s.stage === fields.stage) : undefined);

/**
 * The HubSpot pipeline the deal belongs in: its stage's, else its canonical pipeline's, else (no
 * pipeline said, or a create, which must go somewhere) the default. An unmapped canonical pipeline
 * on an update gives none: the deal stays where it is rather than moving to a guess.
 */
function pipelineIdFor(fields: Partial<SyncFields>, stage: MappingSettings['stages'][number] | undefined, context: FieldContext) {
  const { settings, problems } = context;
  const pipeline = fields.pipeline && settings.pipelines.length ? settings.pipelines.find((p) => p.pipeline === fields.pipeline) : undefined;
  const unmapped = Boolean(fields.pipeline && settings.pipelines.length && !pipeline);
  if (unmapped) problems.push({ field: 'pipeline', value: fields.pipeline!, message: 'no HubSpot pipeline is mapped to this pipeline; the HubSpot deal keeps its pipeline' });
  if (stage) return stage.pipelineId;
  if (pipeline) return pipeline.pipelineId;
  return unmapped && !context.creating ? undefined : settings.defaultPipelineId;
}

/**
 * Where pipeline + dealstage put the deal, or undefined to leave them as HubSpot has them. A value
 * with no HubSpot counterpart is never replaced by a guess on an existing deal (DESIGN §4): the
 * problem is recorded and HubSpot keeps its stage. Only a create, which HubSpot must place
 * somewhere, or a deal with no stage at all (a reopen, a pipeline move) takes the pipeline's first
 * mapped stage.
 */
function placement(fields: Partial<SyncFields>, context: FieldContext): { pipeline: string; dealstage: string } | undefined {
  const { settings, problems } = context;
  const stage = mappedStage(fields, settings);
  const pipelineId = pipelineIdFor(fields, stage, context);
  if (fields.state && fields.state !== 'open') {
    const closed = pipelineId ? settings.closedStages[pipelineId] : undefined;
    if (!closed) return void problems.push({ field: 'state', value: fields.state, message: `pipeline ${pipelineId ?? fields.pipeline} has no won/lost stages mapped; the HubSpot deal keeps its stage` });
    return { pipeline: pipelineId!, dealstage: fields.state === 'won' ? closed.won : closed.lost };
  }
  if (stage) return { pipeline: stage.pipelineId, dealstage: stage.stageId };
  if (fields.stage) {
    problems.push({ field: 'stage', value: fields.stage, message: 'no HubSpot stage is mapped to this stage; the HubSpot deal keeps its stage' });
    if (!context.creating) return undefined;
  }
  const first = pipelineId ? settings.stages.find((s) => s.pipelineId === pipelineId) : undefined;
  return first && { pipeline: first.pipelineId, dealstage: first.stageId };
}

/**
 * pipeline + dealstage hold state, stage and pipeline at once: a HubSpot deal is closed exactly
 * when its stage is a closed one. The lost reason goes with them (abandoned is closed-lost).
 */
function writeClosing(fields: Partial<SyncFields>, out: Properties, context: FieldContext) {
  if (fields.state === 'abandoned') out.closed_lost_reason = fields.lostReason ?? ABANDONED_REASON;
  else if (fields.lostReason !== undefined) out.closed_lost_reason = fields.lostReason;
  if (fields.state === undefined && fields.stage === undefined && fields.pipeline === undefined) return;
  const place = placement(fields, context);
  if (place) Object.assign(out, place);
}

function stateFrom(p: Properties, settings: MappingSettings): SyncFields['state'] | undefined {
  const closed = settings.closedStages[p.pipeline ?? ''];
  if (!p.dealstage || !closed) return undefined;
  if (p.dealstage === closed.won) return 'won';
  if (p.dealstage === closed.lost) return 'lost';
  return 'open';
}

const stageProperties = () => ['pipeline', 'dealstage'];

/** Every registered field, as HubSpot deal properties hold it. */
export const hubspotFields: FieldMap<Properties, Properties> = {
  title: property('title', 'dealname', ''),
  description: property('description', 'description', null),
  amount: property('amount', 'amount', null),
  currency: {
    reads: () => ['deal_currency_code'],
    read: (p) => p.deal_currency_code || undefined,
    write: (f, out) => void (out.deal_currency_code = f.currency!),
  },
  closeDate: {
    reads: () => ['closedate'],
    read: (p) => ('closedate' in p ? toDate(p.closedate) : undefined),
    write: (f, out) => void (out.closedate = toDateTime(f.closeDate!)),
  },
  state: { reads: stageProperties, read: (p, { settings }) => stateFrom(p, settings), write: writeClosing },
  stage: {
    reads: stageProperties,
    read(p, { settings, problems }) {
      if (!p.dealstage || stateFrom(p, settings) !== 'open') return undefined;
      const mapped = settings.stages.find((s) => s.pipelineId === p.pipeline && s.stageId === p.dealstage);
      if (!mapped) problems.push({ field: 'stage', value: p.dealstage, message: 'this HubSpot stage is not mapped to a canonical stage' });
      return mapped?.stage;
    },
    write: writeClosing,
  },
  pipeline: {
    reads: stageProperties,
    read(p, { settings, problems }) {
      // A connection without a pipeline map (made before pipelines synced) says nothing about them.
      if (!p.pipeline || settings.pipelines.length === 0) return undefined;
      const mapped = settings.pipelines.find((m) => m.pipelineId === p.pipeline);
      if (!mapped) problems.push({ field: 'pipeline', value: p.pipeline, message: 'this HubSpot pipeline is not mapped to a canonical pipeline' });
      return mapped?.pipeline;
    },
    write: writeClosing,
  },
  // HubSpot computes the stage probability itself: canonical probability is not written there.
  probability: notMapped('HubSpot derives a deal’s probability from its stage'),
  source: {
    reads: (settings) => (settings.sourceField ? [settings.sourceField] : []),
    read: (p, { settings }) => (settings.sourceField && settings.sourceField in p ? p[settings.sourceField] || null : undefined),
    write: (f, out, { settings }) => void (settings.sourceField && (out[settings.sourceField] = f.source!)),
  },
  lostReason: { reads: () => ['closed_lost_reason'], read: (p) => ('closed_lost_reason' in p ? p.closed_lost_reason || null : undefined), write: writeClosing },
  assigneeId: {
    reads: () => ['hubspot_owner_id'],
    read(p, { settings, problems }) {
      if (!('hubspot_owner_id' in p)) return undefined;
      const owner = settings.owners.find((o) => o.ownerId === p.hubspot_owner_id);
      if (p.hubspot_owner_id && !owner) problems.push({ field: 'assigneeId', value: p.hubspot_owner_id, message: 'this HubSpot owner is not mapped to a user' });
      return p.hubspot_owner_id && !owner ? undefined : (owner?.userId ?? null);
    },
    write(f, out, { settings, problems }) {
      const owner = settings.owners.find((o) => o.userId === f.assigneeId);
      if (f.assigneeId && !owner) problems.push({ field: 'assigneeId', value: f.assigneeId, message: 'no HubSpot owner is mapped to this user' });
      else out.hubspot_owner_id = owner?.ownerId ?? null;
    },
  },
  attributes: {
    reads: (settings) => settings.attributes.map((a) => a.remote),
    read(p, { settings }) {
      const present = settings.attributes.filter((a) => a.remote in p);
      return present.length ? Object.fromEntries(present.map((a) => [a.key, attributeFromRemote(a.type, p[a.remote])])) : undefined;
    },
    write(f, out, { settings }) {
      for (const { key, remote } of settings.attributes) {
        const value = f.attributes![key];
        if (key in f.attributes!) out[remote] = value === null || value === undefined ? null : String(value);
      }
    },
  },
  contact: notMapped('the connector associates the primary contact with the deal (connector.ts)'),
};
