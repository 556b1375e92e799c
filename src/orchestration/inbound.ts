import { connectionSettingsSchema } from '../sync/settings.ts';
import { connectionForWorker } from '../model/connections/connections.ts';
import { recordSyncEvents } from '../model/sync-state/links.ts';
import { resolveAliases } from '../model/sync-state/remote-changes.ts';
import { addContactsOfNewDeals, applyRemoteState, type ApplyResult } from './apply-remote.ts';
import { providerModule } from '../providers/index.ts';
import { pacerFor } from './connectors.ts';
import { connectionConnector } from './crm-connection.ts';
import type { SyncDeps } from './deps.ts';

/** One webhook delivery's events for one connection, as received. */
export interface Delivery {
  connectionId: string;
  events: unknown[];
}

export type InboundOutcome = { accountId: string } & Record<ApplyResult, number>;

/**
 * One webhook delivery: read the deals as they are now (batched), then merge each one in its own
 * transaction, under a lock on its link, so one deal's deliveries queue behind each other.
 */
export async function processDelivery(deps: SyncDeps, delivery: Delivery): Promise<InboundOutcome | 'paused' | 'gone'> {
  const connection = await connectionForWorker(deps.db, delivery.connectionId);
  if (!connection) return 'gone';
  if (connection.status !== 'active') return 'paused';
  const settings = connectionSettingsSchema.parse(connection.settings);
  const connector = await connectionConnector(deps, connection, settings, pacerFor(deps.redis, deps.prefix, connection.id, connection.provider, settings, deps.maxPaceWaitMs));
  const { ids, unreadable, closers } = providerModule(connection.provider).webhooks.parse(delivery.events);
  // Never dropped silently: what could not be read is on the connection's timeline for admins.
  const kept = unreadable.map((event) => ({ accountId: connection.accountId, opportunityId: null, connectionId: connection.id, kind: 'unreadable_event', detail: { event } }));
  await recordSyncEvents(deps.db, kept);
  // A late event about a deal merged away is about its survivor now.
  const remoteIds = await resolveAliases(deps.db, connection.id, ids);
  const states = await connector.read(remoteIds, settings);
  await addContactsOfNewDeals(deps.db, connector, connection.id, states);
  for (const state of states) state.changedBy = closers.get(state.remoteId);
  const outcome: InboundOutcome = { accountId: connection.accountId, applied: 0, created: 0, echoes: 0, stale: 0, deleted: 0, ignored: 0 };
  for (const state of states) {
    const result = await deps.db.transaction((tx) => applyRemoteState(tx, connection, settings, state));
    outcome[result]++;
  }
  return outcome;
}
