import type { Redis } from 'ioredis';
import type { ConnectionSettings } from '../sync/settings.ts';
import type { Provider } from '../model/store/schema.ts';
import { providerModule } from '../providers/index.ts';
import type { CrmConnector, CrmReach, OAuthCredentials, Pacer } from '../providers/types.ts';
import type { SyncDeps } from './deps.ts';
import { RedisPacer } from './pacer.ts';

/** Decrypted credentials, as stored (sealed) in connections.credentials: each provider parses its own. */
export type Credentials = Record<string, unknown>;

export const isOAuth = (credentials: Credentials): credentials is Credentials & OAuthCredentials =>
  typeof credentials.refreshToken === 'string' && typeof credentials.expiresAt === 'number';

/** The connection's rate limits: the CRM's lowest tier, raised by its settings. */
export const rateLimitsFor = (provider: Provider, settings: Pick<ConnectionSettings, 'limits'>) => ({ ...providerModule(provider).rateLimits, ...settings.limits });

export function pacerFor(redis: Redis, prefix: string, connectionId: string, provider: Provider, settings: Pick<ConnectionSettings, 'limits'>, maxWaitMs?: number) {
  return new RedisPacer(redis, { prefix, connectionId, provider, limits: rateLimitsFor(provider, settings), maxWaitMs });
}

/** The operator's rules for CRM calls, from the deps: where credentials may go, how long a call may take. */
export const crmReach = (deps: Pick<SyncDeps, 'crmBaseUrlHosts' | 'crmTimeouts'>): CrmReach => ({ allowedHosts: deps.crmBaseUrlHosts ?? [], timeouts: deps.crmTimeouts });

/**
 * The CRM's connector. Its credentials go only to the CRM's own API root or to a host on the
 * operator's allow-list (CRM_BASE_URL_HOSTS): any other baseUrl is a fatal connection CrmError here,
 * before a request is made. Every call it makes is bounded by `reach.timeouts`.
 */
export function connectorFor(provider: Provider, credentials: Credentials, baseUrl: string | undefined, pacer: Pacer, reach: CrmReach): CrmConnector {
  return providerModule(provider).connector({ credentials, baseUrl, pacer, ...reach });
}
