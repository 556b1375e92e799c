import type { ProviderModule } from '../types.ts';
import { HubSpotConnector } from './connector.ts';
import { hubspotStoredCredentials, hubspotTokenInput } from './credentials.ts';
import { grantHubSpotTokens } from './oauth.ts';
import { hubspotSubscriptions, registerHubSpotSubscriptions } from './webhook-subscriptions.ts';
import { parseHubSpotEvents, receiveHubSpot, setUpHubSpotWebhooks } from './webhooks.ts';

const apiRoot = 'https://api.hubapi.com';

/** HubSpot deals through @hubspot/api-client. */
export const hubspot: ProviderModule = {
  id: 'hubspot',
  label: 'HubSpot',
  apiRoot,
  // The lowest tier: 100 requests per rolling 10 s, 250,000 a day; search 5 per second.
  rateLimits: { windowMs: 10_000, perWindow: 100, daily: 250_000, searchPerSecond: 5 },
  credentialInput: hubspotTokenInput,
  connector({ credentials, baseUrl, pacer }) {
    const { accessToken } = hubspotStoredCredentials.parse(credentials);
    return new HubSpotConnector({ baseUrl: baseUrl ?? apiRoot, accessToken, pacer });
  },
  grantTokens: (app, grant, baseUrl) => grantHubSpotTokens(app, grant, baseUrl ?? apiRoot),
  webhooks: {
    routedBy: 'account',
    receive: receiveHubSpot,
    parse: parseHubSpotEvents,
    setup: setUpHubSpotWebhooks,
    subscriptions: hubspotSubscriptions,
    registerSubscriptions: registerHubSpotSubscriptions,
  },
};
