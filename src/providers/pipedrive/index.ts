import type { ProviderModule } from '../types.ts';
import { PipedriveConnector } from './connector.ts';
import { pipedriveStoredCredentials, pipedriveTokenInput } from './credentials.ts';
import { grantPipedriveTokens, PIPEDRIVE_OAUTH_ROOT } from './oauth.ts';
import { parsePipedriveEvents, receivePipedrive, setUpPipedriveWebhooks } from './webhooks.ts';

const apiRoot = 'https://api.pipedrive.com';

/** Pipedrive deals through the `pipedrive` SDK (API v2, v1 where v2 has no endpoint yet). */
export const pipedrive: ProviderModule = {
  id: 'pipedrive',
  label: 'Pipedrive',
  apiRoot,
  // The lowest plan: 20 requests per 2 s burst window, 30,000 tokens a day; search 10 per 2 s.
  rateLimits: { windowMs: 2_000, perWindow: 20, daily: 30_000, searchPerSecond: 5 },
  credentialInput: pipedriveTokenInput,
  connector({ credentials, baseUrl, pacer }) {
    const stored = pipedriveStoredCredentials.parse(credentials);
    if (stored.apiToken) return new PipedriveConnector({ baseUrl: baseUrl ?? apiRoot, apiToken: stored.apiToken, pacer });
    // OAuth tokens work only on the account's own API domain.
    return new PipedriveConnector({ baseUrl: baseUrl ?? stored.apiDomain ?? apiRoot, accessToken: stored.accessToken!, pacer });
  },
  grantTokens: (app, grant, baseUrl) => grantPipedriveTokens(app, grant, baseUrl ?? PIPEDRIVE_OAUTH_ROOT),
  webhooks: { routedBy: 'connection', receive: receivePipedrive, parse: parsePipedriveEvents, setup: setUpPipedriveWebhooks },
};
