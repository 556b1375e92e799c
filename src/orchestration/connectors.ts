import type { Redis } from 'ioredis';
import { HubSpotConnector } from '../providers/hubspot/connector.ts';
import { PipedriveConnector } from '../providers/pipedrive/connector.ts';
import type { CrmConnector, Pacer } from '../providers/types.ts';
import type { ConnectionSettings } from '../model/connections/connection-settings.ts';
import type { Provider } from '../model/store/schema.ts';
import { defaultRateLimits, RedisPacer } from './pacer.ts';

/** OAuth tokens; Pipedrive also says which API domain the account lives on. */
export interface OAuthCredentials {
  accessToken: string;
  refreshToken: string;
  issuedAt: number;
  expiresAt: number;
  apiDomain?: string;
}

/** Decrypted credentials, as stored (sealed) in connections.credentials. */
export type Credentials = { accessToken: string; clientSecret?: string } | { apiToken: string } | OAuthCredentials;

export const realApi: Record<Provider, string> = { hubspot: 'https://api.hubapi.com', pipedrive: 'https://api.pipedrive.com' };

/** The connection's rate limits: the CRM's lowest tier, raised by its settings. */
export const rateLimitsFor = (provider: Provider, settings: Pick<ConnectionSettings, 'limits'>) => ({ ...defaultRateLimits[provider], ...settings.limits });

export function pacerFor(redis: Redis, prefix: string, connectionId: string, provider: Provider, settings: Pick<ConnectionSettings, 'limits'>, maxWaitMs?: number) {
  const limits = rateLimitsFor(provider, settings);
  return new RedisPacer(redis, { prefix, connectionId, provider, limits: { ...limits, perWindow: limits.perWindow }, maxWaitMs });
}

/** One provider, one connector: an exhaustive switch on the provider. */
export function connectorFor(provider: Provider, credentials: Credentials, baseUrl: string | undefined, pacer: Pacer): CrmConnector {
  switch (provider) {
    case 'hubspot':
      if (!('accessToken' in credentials)) throw new Error('a HubSpot connection needs an access token');
      return new HubSpotConnector({ baseUrl: baseUrl ?? realApi.hubspot, accessToken: credentials.accessToken, pacer });
    case 'pipedrive':
      if ('apiToken' in credentials) return new PipedriveConnector({ baseUrl: baseUrl ?? realApi.pipedrive, apiToken: credentials.apiToken, pacer });
      return new PipedriveConnector({ baseUrl: baseUrl ?? (credentials as OAuthCredentials).apiDomain ?? realApi.pipedrive, accessToken: credentials.accessToken, pacer });
  }
}
