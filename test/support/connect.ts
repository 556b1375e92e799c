import type { Client } from './api.ts';
import type { startSandboxes } from './sync.ts';

// Bodies the API answers.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const HUBSPOT_SUBSCRIPTIONS: [string, string?][] = [
  ['deal.creation'],
  ['deal.deletion'],
  ['deal.restore'],
  ['deal.merge'],
  ['deal.propertyChange', 'amount'],
  ['deal.propertyChange', 'dealname'],
  ['deal.propertyChange', 'dealstage'],
];

/**
 * Connects an account to both sandboxes through the API, and points the HubSpot app's webhooks at
 * the receiver the real way, with the developer API key (Pipedrive's connection registers its own).
 */
export async function connectBoth(client: Client, sandboxes: Awaited<ReturnType<typeof startSandboxes>>, extra: { hubspot?: Json; pipedrive?: Json } = {}) {
  const { hubspot: hs, pipedrive: pd } = sandboxes;
  const hubspot = (await client.request('POST', '/v1/connections', { provider: 'hubspot', credentials: { accessToken: hs.token, clientSecret: hs.clientSecret }, baseUrl: hs.baseUrl, ...extra.hubspot })).json();
  const pipedrive = (await client.request('POST', '/v1/connections', { provider: 'pipedrive', credentials: { apiToken: pd.token }, baseUrl: pd.baseUrl, ...extra.pipedrive })).json();
  const headers = { 'content-type': 'application/json' };
  const app = `${hs.baseUrl}/webhooks/v3/${hs.appId}`;
  await fetch(`${app}/settings?hapikey=${hs.developerApiKey}`, { method: 'PUT', headers, body: JSON.stringify({ targetUrl: hubspot.webhook.url }) });
  for (const [eventType, propertyName] of HUBSPOT_SUBSCRIPTIONS) {
    await fetch(`${app}/subscriptions?hapikey=${hs.developerApiKey}`, { method: 'POST', headers, body: JSON.stringify({ eventType, propertyName, active: true }) });
  }
  return { hubspot, pipedrive };
}
