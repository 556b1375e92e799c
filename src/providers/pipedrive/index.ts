import { checkedCrmUrl, crmUrlAllowed } from '../base-url.ts';
import { CrmError } from '../errors.ts';
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
  // api.pipedrive.com, oauth.pipedrive.com and each company's own <company>.pipedrive.com (OAuth api_domain).
  ownsUrl: (url) => url.protocol === 'https:' && /(^|\.)pipedrive\.com$/.test(url.hostname.toLowerCase()),
  // The lowest plan: 20 requests per 2 s burst window, 30,000 tokens a day; search 10 per 2 s.
  rateLimits: { windowMs: 2_000, perWindow: 20, daily: 30_000, searchPerSecond: 5 },
  credentialInput: pipedriveTokenInput,
  connector({ credentials, baseUrl, pacer, allowedHosts, timeouts }) {
    const stored = pipedriveStoredCredentials.parse(credentials);
    if (stored.apiToken) return new PipedriveConnector({ baseUrl: checkedCrmUrl(pipedrive, baseUrl ?? apiRoot, allowedHosts), apiToken: stored.apiToken, pacer, timeouts });
    // OAuth tokens work only on the account's own API domain.
    return new PipedriveConnector({ baseUrl: checkedCrmUrl(pipedrive, baseUrl ?? stored.apiDomain ?? apiRoot, allowedHosts), accessToken: stored.accessToken!, pacer, timeouts });
  },
  async grantTokens(app, grant, baseUrl, { allowedHosts, timeouts }) {
    const tokens = await grantPipedriveTokens(app, grant, checkedCrmUrl(pipedrive, baseUrl ?? PIPEDRIVE_OAUTH_ROOT, allowedHosts), timeouts);
    // The answer says where the account's API lives: the access token goes there, so it must be Pipedrive's.
    if (tokens.apiDomain !== undefined && !crmUrlAllowed(pipedrive, tokens.apiDomain, allowedHosts)) {
      throw new CrmError('pipedrive', 'forbidden', `Pipedrive's token endpoint named an api_domain that is not a Pipedrive domain (${new URL(tokens.apiDomain, 'https://invalid').host})`);
    }
    return tokens;
  },
  webhooks: { routedBy: 'connection', receive: receivePipedrive, parse: parsePipedriveEvents, setup: setUpPipedriveWebhooks },
};
