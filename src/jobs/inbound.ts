import type { RemoteState } from '../connectors/types.ts';
import { connectionSettingsSchema, type ConnectionSettings } from '../model/connection-settings.ts';
import { connectionForWorker, type ConnectionRow } from '../model/connections.ts';
import type { Executor } from '../model/db.ts';
import { recordSyncEvents, syncFieldsOf, type SyncEvent } from '../model/links.ts';
import { markDirty } from '../model/outbox.ts';
import { applyRemoteFields, createFromRemote, lockLinkByRemoteId, lockOpportunityRow, savePulledLink, softDeleteOpportunity } from '../model/remote-changes.ts';
import type { SyncFields } from '../model/sync-fields.ts';
import { mergeDeal } from '../sync/merge.ts';
import { connectorFor, pacerFor } from './connectors.ts';
import { freshCredentials } from './oauth.ts';
import type { SyncDeps } from './outbound.ts';
import type { InboundDelivery } from './queues.ts';

/** The deal ids a delivery speaks about: HubSpot thin events, Pipedrive v2 (and v1) bodies. */
export function dealIdsOf(delivery: InboundDelivery): string[] {
  const ids = delivery.events.flatMap((raw) => {
    const event = raw as Record<string, unknown> & { meta?: Record<string, unknown> };
    if (delivery.provider === 'hubspot') {
      const type = String(event.subscriptionType ?? '');
      if (!type.startsWith('deal.')) return [];
      return [event.newObjectId ?? event.objectId, ...((event.mergedObjectIds as unknown[]) ?? [])].filter((id) => id !== undefined).map(String);
    }
    const meta = event.meta ?? {};
    const entity = meta.entity ?? meta.object;
    return entity === 'deal' && (meta.entity_id ?? meta.id) !== undefined ? [String(meta.entity_id ?? meta.id)] : [];
  });
  return [...new Set(ids)];
}

export interface InboundOutcome {
  accountId: string;
  applied: number;
  created: number;
  echoes: number;
  stale: number;
  deleted: number;
}

/**
 * One webhook delivery: read the deals as they are now (batched), then merge each one in its own
 * transaction, under a lock on its link, so one deal's deliveries queue behind each other.
 */
export async function processDelivery(deps: SyncDeps, delivery: InboundDelivery): Promise<InboundOutcome | 'paused' | 'gone'> {
  const connection = await connectionForWorker(deps.db, delivery.connectionId);
  if (!connection) return 'gone';
  if (connection.status !== 'active') return 'paused';
  const settings = connectionSettingsSchema.parse(connection.settings);
  const credentials = await freshCredentials(deps, connection.id, connection);
  const connector = connectorFor(connection.provider, credentials, settings.baseUrl, pacerFor(deps.redis, deps.prefix, connection.id, connection.provider, settings));
  const states = await connector.read(dealIdsOf(delivery), settings);
  const outcome: InboundOutcome = { accountId: connection.accountId, applied: 0, created: 0, echoes: 0, stale: 0, deleted: 0 };
  for (const state of states) {
    const result = await deps.db.transaction((tx) => mergeOne(tx, connection, settings, state));
    outcome[result]++;
  }
  return outcome;
}

type Result = Exclude<keyof InboundOutcome, 'accountId'>;

async function mergeOne(tx: Executor, connection: ConnectionRow, settings: ConnectionSettings, state: RemoteState): Promise<Result> {
  const link = await lockLinkByRemoteId(tx, connection.id, state.remoteId);
  const events: SyncEvent[] = [];
  const event = (opportunityId: string, kind: string, extra: Partial<SyncEvent> = {}) =>
    events.push({ accountId: connection.accountId, opportunityId, connectionId: connection.id, kind, ...extra });
  const finish = async (result: Result) => {
    await recordSyncEvents(tx, events);
    return result;
  };

  if (!link) {
    if (state.deleted) return 'stale';
    const opportunityId = await adoptOrCreate(tx, connection.accountId, state);
    // The base records whether the deal carries our id; if not, the next flush writes it there.
    const base = { ...state.fields, ...(state.canonicalId === opportunityId.id ? { canonicalId: opportunityId.id } : {}) };
    await savePulledLink(tx, { connectionId: connection.id, opportunityId: opportunityId.id, remoteId: state.remoteId }, { base, remoteVersion: state.version });
    event(opportunityId.id, opportunityId.created ? 'pull_create' : 'link_adopted', { after: state.fields, detail: { remoteId: state.remoteId } });
    return finish(opportunityId.created ? 'created' : 'applied');
  }
  const keys = { connectionId: connection.id, opportunityId: link.opportunityId, remoteId: link.remoteId };
  if (state.deleted) {
    if (link.remoteDeletedAt) return finish('stale');
    await savePulledLink(tx, keys, { base: link.baseSnapshot, remoteVersion: link.remoteVersion ?? new Date(0), remoteDeletedAt: new Date() });
    // unlink (the default) keeps the opportunity; propagate deletes it, and so from the other CRMs per their policy.
    if (settings.deletePolicy === 'propagate') await softDeleteOpportunity(tx, connection.accountId, link.opportunityId);
    event(link.opportunityId, 'remote_delete', { rule: settings.deletePolicy, detail: { remoteId: link.remoteId } });
    return finish('deleted');
  }
  // Webhooks come late, twice and out of order: a state older than the one we have never wins.
  if (link.remoteVersion && state.version < link.remoteVersion) return finish('stale');
  const row = await lockOpportunityRow(tx, connection.accountId, link.opportunityId);
  if (!row) return finish('stale');
  const merged = mergeDeal({
    base: link.baseSnapshot as Partial<SyncFields>,
    local: syncFieldsOf(row),
    remote: state.fields,
    localChangedAt: row.fieldChangedAt,
    remoteChangedAt: state.version,
    policy: settings.conflictPolicy,
    directions: settings.directions,
  });
  // A live deal whose link was marked deleted has been restored (HubSpot's recycle bin): relinked.
  if (link.remoteDeletedAt) event(row.id, 'remote_restore', { detail: { remoteId: link.remoteId } });
  await savePulledLink(tx, keys, { base: merged.base, remoteVersion: state.version, remoteDeletedAt: null, lastError: state.problems.length ? { mapping: state.problems } : null });
  if (merged.echo) return finish('echoes');
  if (Object.keys(merged.toCanonical).length) await applyRemoteFields(tx, row, merged.toCanonical);
  for (const c of merged.conflicts) event(row.id, 'conflict', { field: c.field, before: c.local, after: c.remote, rule: c.rule, detail: { winner: c.winner } });
  event(row.id, 'pull_update', { after: merged.toCanonical, detail: { remoteId: state.remoteId, version: state.version.toISOString() } });
  return finish('applied');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A deal carrying our canonical id is one of ours (relinked); any other is new to the account. */
async function adoptOrCreate(tx: Executor, accountId: string, state: RemoteState): Promise<{ id: string; created: boolean }> {
  if (state.canonicalId && UUID.test(state.canonicalId)) {
    const row = await lockOpportunityRow(tx, accountId, state.canonicalId);
    if (row) {
      // The canonical side wins a relink: mark it so the flush sends what the CRM lacks.
      await markDirty(tx, accountId, [row.id]);
      return { id: row.id, created: false };
    }
  }
  return { id: await createFromRemote(tx, accountId, state.fields), created: true };
}
