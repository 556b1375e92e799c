import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open } from '../src/model/store/secrets.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { freePort, inboxRows, startSandboxes, startSyncStack, type SyncStack } from './support/sync.ts';

// Bodies read back from the API and the inbox.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/**
 * Webhook deliveries that are signed but must still be refused: events of another tenant's portal
 * in a batch signed with one tenant's secret, and bodies nested deep enough to overflow a stack.
 */

const ADMIN_TOKEN = 'webhook-edges-admin-token';
let stack: SyncStack;
let publicUrl: string;
let sandboxesA: Awaited<ReturnType<typeof startSandboxes>>;
let sandboxesB: Awaited<ReturnType<typeof startSandboxes>>;
let clientA: Client;
let clientB: Client;
let hubspotA: Json;
let hubspotB: Json;
let pipedriveA: Json;

// No workers run here: what the receivers stored stays in the inbox.
const queued = () => inboxRows(stack.database);
const ofEvent = async (eventId: number) => (await queued()).filter((d) => d.events.some((e: Json) => e.eventId === eventId));

function sign(secret: string, body: string, timestamp = Date.now()) {
  const signature = createHmac('sha256', secret).update(`POST${publicUrl}/webhooks/hubspot${body}${timestamp}`).digest('base64');
  return { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': String(timestamp) };
}
const post = (path: string, body: string, headers: Record<string, string>) => fetch(`${publicUrl}${path}`, { method: 'POST', body, headers });
const event = (portalId: number, eventId: number) => ({ portalId, objectId: 100 + eventId, subscriptionType: 'deal.propertyChange', propertyName: 'amount', eventId });

const connectHubSpot = async (client: Client, hs: typeof sandboxesA.hubspot) =>
  (await client.request('POST', '/v1/connections', { provider: 'hubspot', credentials: { accessToken: hs.token, clientSecret: hs.clientSecret }, baseUrl: hs.baseUrl })).json();

beforeAll(async () => {
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  stack = await startSyncStack({ publicUrl, adminToken: ADMIN_TOKEN, workers: false });
  await stack.app.listen({ port, host: '127.0.0.1' });
  // Two tenants, each with a HubSpot portal of its own (its own app client secret).
  [sandboxesA, sandboxesB] = await Promise.all([startSandboxes(7301), startSandboxes(7302)]);
  const api = { database: stack.database, app: stack.app, close: stack.close } as TestApi;
  clientA = await newAccount(api, 'Tenant A');
  clientB = await newAccount(api, 'Tenant B');
  hubspotA = await connectHubSpot(clientA, sandboxesA.hubspot);
  hubspotB = await connectHubSpot(clientB, sandboxesB.hubspot);
  pipedriveA = (await clientA.request('POST', '/v1/connections', { provider: 'pipedrive', credentials: { apiToken: sandboxesA.pipedrive.token }, baseUrl: sandboxesA.pipedrive.baseUrl })).json();
  expect(sandboxesA.hubspot.clientSecret).not.toBe(sandboxesB.hubspot.clientSecret);
  expect([hubspotA.id, hubspotB.id, pipedriveA.id].every(Boolean)).toBe(true);
});
afterAll(async () => {
  await stack.close();
  await Promise.all([sandboxesA.close(), sandboxesB.close()]);
});

describe('a HubSpot batch naming another tenant’s portal', () => {
  it('keeps the events of the portal whose secret signed it and refuses the others, never routing them to that tenant', async () => {
    const a = sandboxesA.hubspot.portalId;
    const b = sandboxesB.hubspot.portalId;
    const body = JSON.stringify([event(a, 1), event(b, 2), event(b, 3)]);
    const response = await post('/webhooks/hubspot', body, sign(sandboxesA.hubspot.clientSecret, body));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: 1 });
    expect(await ofEvent(1)).toMatchObject([{ connectionId: hubspotA.id, events: [{ eventId: 1, portalId: a }] }]);
    expect(await ofEvent(2)).toEqual([]);
    expect(await ofEvent(3)).toEqual([]);
    expect((await queued()).filter((d) => d.connectionId === hubspotB.id)).toEqual([]);
    // Refused, logged and counted where an admin sees them.
    const metrics = await fetch(`${publicUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(await metrics.text()).toContain('crm_sync_webhook_events_refused_total{provider="hubspot",reason="portal_not_signed"} 2');
  });

  it('answers 401 when no event of the batch is for a connection whose secret signed it', async () => {
    const body = JSON.stringify([event(sandboxesB.hubspot.portalId, 4)]);
    const response = await post('/webhooks/hubspot', body, sign(sandboxesA.hubspot.clientSecret, body));
    expect(response.status).toBe(401);
    expect(await ofEvent(4)).toEqual([]);
  });

  it('still takes each tenant’s own events signed with its own secret', async () => {
    const body = JSON.stringify([event(sandboxesB.hubspot.portalId, 5)]);
    const response = await post('/webhooks/hubspot', body, sign(sandboxesB.hubspot.clientSecret, body));
    expect(response.status).toBe(200);
    expect(await ofEvent(5)).toMatchObject([{ connectionId: hubspotB.id }]);
  });
});

/** `{"deep": [[[…]]]}` with `levels` arrays, as a string built without recursion. */
const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

describe('deeply nested JSON', () => {
  it('a validly signed HubSpot batch 20,000 levels deep is refused with 400, not 503 on every retry', async () => {
    const body = `[{"portalId":${sandboxesA.hubspot.portalId},"objectId":1,"subscriptionType":"deal.creation","eventId":20,"deep":${nested(20_000)}}]`;
    const response = await post('/webhooks/hubspot', body, sign(sandboxesA.hubspot.clientSecret, body));
    expect(response.status).toBe(400);
    expect(((await response.json()) as Json).message).toMatch(/nested deeper than/);
    expect(await ofEvent(20)).toEqual([]);
  });

  it('so is a Pipedrive delivery, with its valid basic auth', async () => {
    // The connection's own basic-auth credentials, as setup registered them with Pipedrive.
    const [row] = await stack.database.sql`SELECT webhook_secret FROM connections WHERE id = ${pipedriveA.id}`;
    const { user, password } = JSON.parse(open(row!.webhook_secret, stack.deps.keyring)) as { user: string; password: string };
    const auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const body = `{"meta":{"action":"change","entity":"deal","id":"deep"},"data":{"id":1,"deep":${nested(20_000)}},"previous":{}}`;
    const response = await post(`/webhooks/pipedrive/${pipedriveA.id}`, body, { 'content-type': 'application/json', authorization: auth });
    expect(response.status).toBe(400);
    expect(((await response.json()) as Json).message).toMatch(/nested deeper than/);
    expect((await queued()).filter((d) => d.events.some((e: Json) => e.meta?.id === 'deep'))).toEqual([]);
  });

  it('a /v1 body 20,000 levels deep is a 400 problem naming the body', async () => {
    const response = await clientA.request('POST', '/v1/opportunities', `{"title":"Deep","attributes":{"x":${nested(20_000)}}}`);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().errors).toEqual([{ field: 'body', message: expect.stringMatching(/nested deeper than/) }]);
  });

  it('a body at the limit is read as before', async () => {
    const response = await clientA.request('POST', '/v1/opportunities', { title: 'Shallow', attributes: {} });
    expect(response.statusCode).toBe(201);
  });
});
