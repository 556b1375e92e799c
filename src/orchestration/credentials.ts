import { connectionForWorker, updateCredentials, type ConnectionRow } from '../model/connections/connections.ts';
import type { Provider } from '../model/store/schema.ts';
import { open, seal } from '../model/store/secrets.ts';
import { CrmError } from '../providers/errors.ts';
import { providerModule } from '../providers/index.ts';
import type { CrmReach, OAuthApp, OAuthCredentials, OAuthGrant } from '../providers/types.ts';
import { crmReach, isOAuth, type Credentials } from './connectors.ts';
import { requireKeyring, type SyncDeps } from './deps.ts';

/** Refresh 5 minutes before expiry (or in the last fifth of a shorter-lived token). */
const REFRESH_MARGIN_MS = 5 * 60_000;
const refreshMargin = (c: OAuthCredentials) => Math.min(REFRESH_MARGIN_MS, (c.expiresAt - c.issuedAt) / 5);
const LOCK_MS = 30_000;

/** Trades an authorization code (or a refresh token) for tokens with the CRM's OAuth app. */
export async function grantTokens(provider: Provider, app: OAuthApp | undefined, grant: OAuthGrant, baseUrl: string | undefined, reach: CrmReach): Promise<OAuthCredentials> {
  const module = providerModule(provider);
  if (!app) throw new CrmError(provider, 'validation', `no ${module.label} OAuth app is configured (${provider.toUpperCase()}_CLIENT_ID / _CLIENT_SECRET)`);
  // The app's secret and the refresh token go only where the connection's access token may go.
  return module.grantTokens(app, grant, baseUrl, reach);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The connection's credentials, refreshed first when an OAuth token is about to expire. One worker
 * refreshes (a Redis lock); the others wait for it and read the new token from the database, so a
 * hundred busy workers make one refresh, not a hundred.
 */
export async function freshCredentials(
  deps: SyncDeps,
  connectionId: string,
  current?: ConnectionRow,
): Promise<Credentials> {
  const keyring = requireKeyring(deps);
  const read = async () => {
    const row = await connectionForWorker(deps.db, connectionId);
    if (!row) throw new CrmError(current?.provider, 'not_found', `connection ${connectionId} is gone`);
    return { row, credentials: JSON.parse(open(row.credentials, keyring)) as Credentials };
  };
  const stale = (c: Credentials) => isOAuth(c) && c.expiresAt - Date.now() < refreshMargin(c);
  // The caller usually has the row already: only a refresh needs to read it again.
  const first = current ? { row: current, credentials: JSON.parse(open(current.credentials, keyring)) as Credentials } : await read();
  if (!stale(first.credentials)) return first.credentials;
  const lock = `${deps.prefix}:refresh:${connectionId}`;
  while (!(await deps.redis.set(lock, '1', 'PX', LOCK_MS, 'NX'))) {
    await sleep(100);
    const { credentials } = await read();
    if (!stale(credentials)) return credentials;
  }
  try {
    const { row, credentials } = await read(); // another worker may have refreshed just before we locked
    if (!stale(credentials)) return credentials;
    const oauth = credentials as Credentials & OAuthCredentials;
    const baseUrl = (row.settings as { baseUrl?: string }).baseUrl;
    const renewed = await grantTokens(row.provider, deps.oauthApps?.[row.provider], { refreshToken: oauth.refreshToken }, baseUrl, crmReach(deps));
    const sealed = seal(JSON.stringify(renewed), keyring);
    await updateCredentials(deps.db, connectionId, sealed.sealed, sealed.keyId);
    return renewed;
  } finally {
    await deps.redis.del(lock);
  }
}
