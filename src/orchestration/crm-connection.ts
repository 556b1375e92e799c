import { recordConnectionOutcome, type ConnectionRow } from '../model/connections/connections.ts';
import { CrmError } from '../providers/errors.ts';
import type { CrmConnector, Pacer } from '../providers/types.ts';
import type { ConnectionSettings } from '../sync/settings.ts';
import { connectorFor, crmReach } from './connectors.ts';
import { freshCredentials } from './credentials.ts';
import type { SyncDeps } from './deps.ts';

/**
 * A stored connection's connector, its credentials fresh. What makes the connection unusable
 * before any deal is touched (a refresh token refused, a baseUrl its credentials may not go to)
 * stops the connection at once and shows on it, instead of failing every job unseen.
 */
export async function connectionConnector(deps: SyncDeps, connection: ConnectionRow, settings: Pick<ConnectionSettings, 'baseUrl'>, pacer: Pacer): Promise<CrmConnector> {
  try {
    const credentials = await freshCredentials(deps, connection.id, connection);
    return connectorFor(connection.provider, credentials, settings.baseUrl, pacer, crmReach(deps));
  } catch (error) {
    if (error instanceof CrmError && error.scope === 'connection') {
      await recordConnectionOutcome(deps.db, connection.id, { error: { code: error.code, message: error.message }, fatal: true });
    }
    throw error;
  }
}
