import { checkedCrmUrl } from '../base-url.ts';
import type { ProviderModule } from '../types.ts';
import { HubSpotConnector } from './connector.ts';
import { hubspotStoredCredentials, hubspotTokenInput } from './credentials.ts';
import { grantHubSpotTokens } from './oauth.ts';
import { hubspotSubscriptions, registerHubSpotSubscriptions } from './webhook-subscriptions.ts';
import { parseHubSpotEvents, receiveHubSpot, setUpHubSpotWebhooks } from './webhooks.ts';

const apiRoot = 'https://api.hubapi.com';
/** HubSpot's API hosts: the global root and the EU data centre's. */
const API_HOSTS = new Set(['api.hubapi.com', 'api-eu1.hubapi.com']);

/** HubSpot deals through @hubspot/api-client. */
export const hubspot: ProviderModule = {
  id: 'hubspot',
  label: 'HubSpot',
  apiRoot,
  ownsUrl: (url) => url.protocol === 'https:' && API_HOSTS.has(url.hostname.toLowerCase()),
  // The lowest tier: 100 requests per rolling 10 s, 250,000 a day; search 5 per second.
  rateLimits: { windowMs: 10_000, perWindow: 100, daily: 250_000, searchPerSecond: 5 },
  credentialInput: hubspotTokenInput,
  connector({ credentials, baseUrl, pacer, allowedHosts, timeouts }) {
    const { accessToken } = hubspotStoredCredentials.parse(credentials);
    return new HubSpotConnector({ baseUrl: checkedCrmUrl(hubspot, baseUrl ?? apiRoot, allowedHosts), accessToken, pacer, timeouts });
  },
  grantTokens: (app, grant, baseUrl, { allowedHosts, timeouts }) => grantHubSpotTokens(app, grant, checkedCrmUrl(hubspot, baseUrl ?? apiRoot, allowedHosts), timeouts),
  // A private app signs its webhooks with its client secret; a public app with the operator's.
  webhooks: {
    routedBy: 'account',
    secretField: 'clientSecret',
    receive: receiveHubSpot,
    parse: parseHubSpotEvents,
    setup: setUpHubSpotWebhooks,
    subscriptions: hubspotSubscriptions,
    registerSubscriptions: (input) => registerHubSpotSubscriptions({ ...input, baseUrl: checkedCrmUrl(hubspot, input.baseUrl ?? apiRoot, input.allowedHosts) }),
  },
};
