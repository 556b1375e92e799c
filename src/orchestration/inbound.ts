import { connectionSettingsSchema } from '../model/connections/connection-settings.ts';
import { connectionForWorker } from '../model/connections/connections.ts';
import { recordSyncEvents } from '../model/sync-state/links.ts';
import { resolveAliases } from '../model/sync-state/remote-changes.ts';
import { addContactsOfNewDeals, applyRemoteState, type ApplyResult } from './apply-remote.ts';
import { connectorFor, pacerFor } from './connectors.ts';
import { freshCredentials } from './credentials.ts';
import type { SyncDeps } from './flush.ts';
import type { InboundDelivery } from '../jobs/queues.ts';

const REMOTE_ID = /^\d{1,30}$/;

/** The deal ids one event speaks about; undefined when it is a deal event we cannot read. */
function idsOfEvent(provider: InboundDelivery['provider'], raw: unknown): string[] | undefined {
  const event = (raw ?? {}) as Record<string, unknown> & { meta?: Record<string, unknown> };
  if (provider === 'hubspot') {
    const type = String(event.subscriptionType ?? '');
    if (!type.startsWith('deal.')) return []; // contacts, companies: not ours to sync
    const ids = [event.newObjectId ?? event.objectId, ...(Array.isArray(event.mergedObjectIds) ? event.mergedObjectIds : [])].map(String);
    return ids.every((id) => REMOTE_ID.test(id)) ? ids : undefined;
  }
  const meta = event.meta ?? {};
  const entity = meta.entity ?? meta.object;
  if (entity !== undefined && entity !== 'deal') return [];
  const id = String(meta.entity_id ?? meta.id);
  return entity === 'deal' && REMOTE_ID.test(id) ? [id] : undefined;
}

/**
 * Who closed a deal, where an event says so: a Pipedrive event whose status moved (v2 `data` and
 * `previous`, v1 `current`) names its user. Only that event: the deal read now may have been closed
 * by someone else than the user of a later, unrelated event in the same stream.
 */
function closersOf(delivery: InboundDelivery): Map<string, string> {
  const closers = new Map<string, string>();
  if (delivery.provider !== 'pipedrive') return closers;
  for (const raw of delivery.events) {
    const event = (raw ?? {}) as { meta?: Record<string, unknown>; data?: { status?: unknown }; current?: { status?: unknown }; previous?: { status?: unknown } | null };
    const meta = event.meta ?? {};
    const status = (event.data ?? event.current)?.status;
    const moved = event.previous?.status !== undefined && status !== event.previous.status;
    if (moved && meta.user_id !== undefined) closers.set(String(meta.entity_id ?? meta.id), String(meta.user_id));
  }
  return closers;
}

/** The deal ids a delivery speaks about (HubSpot thin events, Pipedrive v2 and v1 bodies), and the events it could not read. */
export function dealIdsOf(delivery: InboundDelivery): { ids: string[]; unreadable: unknown[] } {
  const ids = new Set<string>();
  const unreadable: unknown[] = [];
  for (const event of delivery.events) {
    const found = idsOfEvent(delivery.provider, event);
    if (found) for (const id of found) ids.add(id);
    else unreadable.push(event);
  }
  return { ids: [...ids], unreadable };
}

export type InboundOutcome = { accountId: string } & Record<ApplyResult, number>;

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
  const connector = connectorFor(connection.provider, credentials, settings.baseUrl, pacerFor(deps.redis, deps.prefix, connection.id, connection.provider, settings, deps.maxPaceWaitMs));
  const { ids, unreadable } = dealIdsOf(delivery);
  // Never dropped silently: what could not be read is on the connection's timeline for admins.
  const kept = unreadable.map((event) => ({ accountId: connection.accountId, opportunityId: null, connectionId: connection.id, kind: 'unreadable_event', detail: { event } }));
  await recordSyncEvents(deps.db, kept);
  // A late event about a deal merged away is about its survivor now.
  const remoteIds = await resolveAliases(deps.db, connection.id, ids);
  const states = await connector.read(remoteIds, settings);
  await addContactsOfNewDeals(deps.db, connector, connection.id, states);
  const closers = closersOf(delivery);
  for (const state of states) state.changedBy = closers.get(state.remoteId);
  const outcome: InboundOutcome = { accountId: connection.accountId, applied: 0, created: 0, echoes: 0, stale: 0, deleted: 0 };
  for (const state of states) {
    const result = await deps.db.transaction((tx) => applyRemoteState(tx, connection, settings, state));
    outcome[result]++;
  }
  return outcome;
}
