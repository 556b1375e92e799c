import { connectionSettingsSchema } from '../model/connection-settings.ts';
import { connectionForWorker } from '../model/connections.ts';
import { resolveAliases } from '../model/remote-changes.ts';
import { addContactsOfNewDeals, applyRemoteState, type ApplyResult } from './apply-remote.ts';
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
  const connector = connectorFor(connection.provider, credentials, settings.baseUrl, pacerFor(deps.redis, deps.prefix, connection.id, connection.provider, settings));
  // A late event about a deal merged away is about its survivor now.
  const remoteIds = await resolveAliases(deps.db, connection.id, dealIdsOf(delivery));
  const states = await connector.read(remoteIds, settings);
  await addContactsOfNewDeals(deps.db, connector, connection.id, states);
  const outcome: InboundOutcome = { accountId: connection.accountId, applied: 0, created: 0, echoes: 0, stale: 0, deleted: 0 };
  for (const state of states) {
    const result = await deps.db.transaction((tx) => applyRemoteState(tx, connection, settings, state));
    outcome[result]++;
  }
  return outcome;
}
