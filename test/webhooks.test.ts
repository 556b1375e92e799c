import { createHmac } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildServer } from '../src/api/server.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { eventually, freePort, inboxRows, startSandboxes, startSyncStack, type SyncStack } from './support/sync.ts';

// Bodies read back from the sandboxes and the inbox.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let stack: SyncStack;
let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
let client: Client;
let publicUrl: string;
let hubspotConnection: Json;
let pipedriveConnection: Json;
/** A HubSpot portal and a Pipedrive company are connected once in the whole database: new ones per test. */
let seed = 6100;

// No workers run here: what the receivers stored stays in the inbox.
const queued = () => inboxRows(stack.database);
const control = (baseUrl: string, path: string, body: unknown = {}) =>
  fetch(`${baseUrl}/_sandbox${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<Json>);

function sign(secret: string, body: string, timestamp = Date.now(), url = `${publicUrl}/webhooks/hubspot`) {
  const signature = createHmac('sha256', secret).update(`POST${url}${body}${timestamp}`).digest('base64');
  return { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': String(timestamp) };
}
const post = (path: string, body: string, headers: Record<string, string>) => fetch(`${publicUrl}${path}`, { method: 'POST', body, headers });

beforeAll(async () => {
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  stack = await startSyncStack({ publicUrl, workers: false });
  await stack.app.listen({ port, host: '127.0.0.1' });
});
afterAll(async () => {
  await stack.close();
});

// Every test gets an account and CRMs of its own, connected, their webhooks pointed at us; the
// connections are deleted after it.
beforeEach(async () => {
  sandboxes = await startSandboxes(seed++);
  client = await newAccount({ database: stack.database, app: stack.app, close: stack.close } as TestApi, 'Webhooks');
  hubspotConnection = (await client.request('POST', '/v1/connections', { provider: 'hubspot', credentials: { accessToken: sandboxes.hubspot.token, clientSecret: sandboxes.hubspot.clientSecret }, baseUrl: sandboxes.hubspot.baseUrl })).json();
  pipedriveConnection = (await client.request('POST', '/v1/connections', { provider: 'pipedrive', credentials: { apiToken: sandboxes.pipedrive.token }, baseUrl: sandboxes.pipedrive.baseUrl })).json();
  // The HubSpot app's webhook settings, made the real way with the developer key.
  const developer = { 'content-type': 'application/json' };
  await fetch(`${sandboxes.hubspot.baseUrl}/webhooks/v3/${sandboxes.hubspot.appId}/settings?hapikey=${sandboxes.hubspot.developerApiKey}`, { method: 'PUT', headers: developer, body: JSON.stringify({ targetUrl: hubspotConnection.webhook.url }) });
  for (const [eventType, propertyName] of [['deal.creation'], ['deal.propertyChange', 'amount']]) {
    await fetch(`${sandboxes.hubspot.baseUrl}/webhooks/v3/${sandboxes.hubspot.appId}/subscriptions?hapikey=${sandboxes.hubspot.developerApiKey}`, { method: 'POST', headers: developer, body: JSON.stringify({ eventType, propertyName, active: true }) });
  }
});
afterEach(async () => {
  for (const connection of [hubspotConnection, pipedriveConnection]) await client.request('DELETE', `/v1/connections/${connection.id}`);
  await sandboxes.close();
});

describe('webhook receivers', () => {
  it('store HubSpot’s signed deliveries for their connection, routed by portalId', async () => {
    const deal = await control(sandboxes.hubspot.baseUrl, '/ui/deals', { dealname: 'From HubSpot', amount: '10' });
    // The inbox holds the deliveries of the tests before too: find this portal's.
    const delivery = await eventually(async () => (await queued()).find((d) => d.events.some((e: Json) => e.portalId === sandboxes.hubspot.portalId)), 'a HubSpot delivery is stored', 10_000);
    expect(delivery).toMatchObject({ connectionId: hubspotConnection.id, events: [{ subscriptionType: 'deal.creation', objectId: Number(deal.id), portalId: sandboxes.hubspot.portalId }] });
    const state = (await (await fetch(`${sandboxes.hubspot.baseUrl}/_sandbox/state`)).json()) as Json;
    expect(state.webhooks.deliveries.every((d: Json) => d.status === 200)).toBe(true);
  });

  it('store Pipedrive’s deliveries, checked with the connection’s own basic-auth credentials', async () => {
    await control(sandboxes.pipedrive.baseUrl, '/ui/deals', { title: 'From Pipedrive' });
    const delivery = await eventually(async () => (await queued()).find((d) => d.connectionId === pipedriveConnection.id && d.events[0].data?.title === 'From Pipedrive' && d.events[0].meta?.action === 'create'), 'a Pipedrive delivery is stored', 10_000);
    expect(delivery).toMatchObject({ connectionId: pipedriveConnection.id, events: [{ meta: { action: 'create', entity: 'deal', change_source: 'app' } }] });
  });

  it('refuse what they cannot trust or read, and store nothing then', async () => {
    // The sync of the earlier tests may still bring deliveries: count only ours, marked by eventId 9.
    const ours = async () => (await queued()).filter((d) => d.events.some((e: Json) => e.eventId === 9 || e.meta?.id === 'refused')).length;
    const body = JSON.stringify([{ portalId: sandboxes.hubspot.portalId, objectId: 1, subscriptionType: 'deal.creation', eventId: 9 }]);
    const secret = sandboxes.hubspot.clientSecret;
    expect((await post('/webhooks/hubspot', body, sign('wrong-secret', body))).status).toBe(401);
    expect((await post('/webhooks/hubspot', body, sign(secret, body, Date.now() - 6 * 60_000))).status).toBe(401);
    expect((await post('/webhooks/hubspot', body, sign(secret, body, Date.now(), `${publicUrl}/webhooks/other`))).status).toBe(401);
    const tampered = body.replace('"objectId":1', '"objectId":2');
    expect((await post('/webhooks/hubspot', tampered, sign(secret, body))).status).toBe(401);
    expect((await post('/webhooks/hubspot', '{not json', sign(secret, '{not json'))).status).toBe(400);
    const tooMany = JSON.stringify(Array.from({ length: 101 }, (_, i) => ({ portalId: sandboxes.hubspot.portalId, objectId: i, eventId: 9 })));
    expect((await post('/webhooks/hubspot', tooMany, sign(secret, tooMany))).status).toBe(400);
    const huge = JSON.stringify([{ portalId: sandboxes.hubspot.portalId, eventId: 9, pad: 'x'.repeat(1_100_000) }]);
    expect((await post('/webhooks/hubspot', huge, sign(secret, huge))).status).toBe(413);
    const pd = `/webhooks/pipedrive/${pipedriveConnection.id}`;
    const pdBody = JSON.stringify({ meta: { action: 'change', id: 'refused' }, data: {}, previous: {} });
    const basic = (user: string, password: string) => ({ 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    expect((await post(pd, pdBody, basic('crm', 'guess'))).status).toBe(401);
    expect((await post('/webhooks/pipedrive/00000000-0000-4000-8000-000000000000', pdBody, basic('crm', 'guess'))).status).toBe(401);
    expect((await post('/webhooks/pipedrive/not-a-uuid', pdBody, {})).status).toBe(401);
    expect(await ours()).toBe(0);
  });

  it('accept and keep the events of a paused connection', async () => {
    await client.request('POST', `/v1/connections/${hubspotConnection.id}/pause`);
    const body = JSON.stringify([{ portalId: sandboxes.hubspot.portalId, objectId: 5, subscriptionType: 'deal.propertyChange', eventId: 10 }]);
    const response = await post('/webhooks/hubspot', body, sign(sandboxes.hubspot.clientSecret, body));
    expect(response.status).toBe(200);
    expect((await queued()).filter((d) => d.events.some((e: Json) => e.eventId === 10))).toHaveLength(1);
    await client.request('POST', `/v1/connections/${hubspotConnection.id}/resume`);
  });

  it('acknowledge once Postgres has the events, even while Redis is unreachable (the sweeper wakes the workers later)', async () => {
    const deadPort = await freePort();
    const dead = new Redis(`redis://127.0.0.1:${deadPort}`, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
    dead.on('error', () => {});
    const deadQueue = new Queue('inbound', { connection: dead, prefix: 'dead' });
    deadQueue.on('error', () => {}); // the refused connection is the point of this test
    const app = await buildServer({ db: stack.database.db, logger: false, sync: { setup: stack.deps, outbound: stack.queues.outbound, inbound: deadQueue } });
    const body = JSON.stringify([{ portalId: sandboxes.hubspot.portalId, objectId: 6, subscriptionType: 'deal.creation', eventId: 11 }]);
    const response = await app.inject({ method: 'POST', url: '/webhooks/hubspot', payload: body, headers: sign(sandboxes.hubspot.clientSecret, body) });
    expect(response.statusCode).toBe(200);
    expect((await queued()).filter((d) => d.events.some((e: Json) => e.eventId === 11))).toMatchObject([{ connectionId: hubspotConnection.id }]);
    await app.close();
    await deadQueue.close().catch(() => {});
    dead.disconnect();
  });

  it('answer 503 with Retry-After, never 200, when Postgres does not take the events in time', async () => {
    // Another session holds the inbox locked: the receiver's INSERT waits, and gives up after 3 s.
    const locker = postgres(stack.database.url, { max: 1, onnotice: () => {} });
    const locked = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const holding = locker.begin(async (tx) => {
      await tx`LOCK TABLE inbox IN ACCESS EXCLUSIVE MODE`;
      locked.resolve();
      await release.promise;
    });
    await locked.promise;
    const body = JSON.stringify([{ portalId: sandboxes.hubspot.portalId, objectId: 7, subscriptionType: 'deal.creation', eventId: 12 }]);
    const response = await post('/webhooks/hubspot', body, sign(sandboxes.hubspot.clientSecret, body)).finally(() => release.resolve());
    await holding;
    await locker.end();
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
  });
});
