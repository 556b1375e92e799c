import { Client } from '@hubspot/api-client';
import { v2 } from 'pipedrive';
import { CrmError } from '../providers/errors.ts';
import { hubspotError } from '../providers/hubspot/errors.ts';
import { pipedriveError } from '../providers/pipedrive/errors.ts';
import { connectionForWorker, updateCredentials, type ConnectionRow } from '../model/connections/connections.ts';
import type { Provider } from '../model/store/schema.ts';
import { open, seal } from '../model/store/secrets.ts';
import type { Credentials, OAuthCredentials } from './connectors.ts';
import { realApi } from './connectors.ts';
import { requireKeyring, type SyncDeps } from './flush.ts';

export interface OAuthApp {
  clientId: string;
  clientSecret: string;
}

/** Refresh 5 minutes before expiry (or in the last fifth of a shorter-lived token). */
const REFRESH_MARGIN_MS = 5 * 60_000;
const refreshMargin = (c: OAuthCredentials) => Math.min(REFRESH_MARGIN_MS, (c.expiresAt - c.issuedAt) / 5);
const LOCK_MS = 30_000;
const oauthHost: Record<Provider, string> = { hubspot: realApi.hubspot, pipedrive: 'https://oauth.pipedrive.com' };

function requireApp(provider: Provider, app: OAuthApp | undefined): OAuthApp {
  if (!app) throw new CrmError(provider, 'validation', `no ${provider} OAuth app is configured (${provider.toUpperCase()}_CLIENT_ID / _CLIENT_SECRET)`);
  return app;
}

/** Trades an authorization code (or a refresh token) for tokens at the CRM's token endpoint, through its SDK. */
export async function grantTokens(
  provider: Provider,
  app: OAuthApp | undefined,
  grant: { code: string; redirectUri: string } | { refreshToken: string },
  baseUrl: string | undefined,
): Promise<OAuthCredentials> {
  const { clientId, clientSecret } = requireApp(provider, app);
  const host = baseUrl ?? oauthHost[provider];
  if (provider === 'hubspot') {
    const client = new Client({ basePath: host, numberOfApiCallRetries: 0 });
    const tokens = await ('code' in grant
      ? client.oauth.tokensApi.create('authorization_code', grant.code, grant.redirectUri, clientId, clientSecret)
      : client.oauth.tokensApi.create('refresh_token', undefined, undefined, clientId, clientSecret, grant.refreshToken)
    ).catch((error: unknown) => Promise.reject(hubspotError(error)));
    return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, issuedAt: Date.now(), expiresAt: Date.now() + tokens.expiresIn * 1000 };
  }
  const oauth = new v2.OAuth2Configuration({ clientId, clientSecret, redirectUri: 'code' in grant ? grant.redirectUri : 'http://localhost', host });
  if ('refreshToken' in grant) oauth.updateToken({ access_token: '', refresh_token: grant.refreshToken } as never);
  const tokens = await ('code' in grant ? oauth.authorize(grant.code) : oauth.tokenRefresh()).catch((error: unknown) => Promise.reject(tokenEndpointError(error)));
  return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token, issuedAt: Date.now(), expiresAt: Date.now() + tokens.expires_in * 1000, apiDomain: tokens.api_domain };
}

/**
 * The SDK's OAuth client has its own HTTP client, which we cannot give our status-keeping
 * transform: it rejects with the error body alone. A body means the endpoint answered and refused
 * the grant (its 400/401); no body means it was not reached.
 */
function tokenEndpointError(error: unknown): CrmError {
  const body = error as { error?: unknown; message?: unknown } | undefined;
  if (body && typeof body === 'object' && !(error instanceof Error) && (body.error || body.message)) {
    return new CrmError('pipedrive', 'validation', `Pipedrive token endpoint refused the grant: ${String(body.error ?? body.message)}`);
  }
  return pipedriveError(error);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The connection's credentials, refreshed first when an OAuth token is about to expire. One worker
 * refreshes (a Redis lock); the others wait for it and read the new token from the database, so a
 * hundred busy workers make one refresh, not a hundred.
 */
export async function freshCredentials(
  deps: SyncDeps & { oauthApps?: Partial<Record<Provider, OAuthApp>> },
  connectionId: string,
  current?: ConnectionRow,
): Promise<Credentials> {
  const keyring = requireKeyring(deps);
  const read = async () => {
    const row = await connectionForWorker(deps.db, connectionId);
    if (!row) throw new CrmError('hubspot', 'not_found', `connection ${connectionId} is gone`);
    return { row, credentials: JSON.parse(open(row.credentials, keyring)) as Credentials };
  };
  const stale = (c: Credentials) => 'refreshToken' in c && c.expiresAt - Date.now() < refreshMargin(c);
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
    const oauth = credentials as OAuthCredentials;
    const baseUrl = (row.settings as { baseUrl?: string }).baseUrl;
    const renewed = await grantTokens(row.provider, deps.oauthApps?.[row.provider], { refreshToken: oauth.refreshToken }, baseUrl);
    const sealed = seal(JSON.stringify(renewed), keyring);
    await updateCredentials(deps.db, connectionId, sealed.sealed, sealed.keyId);
    return renewed;
  } finally {
    await deps.redis.del(lock);
  }
}
