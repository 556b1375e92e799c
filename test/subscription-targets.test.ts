import { once } from 'node:events';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.ts';
import { createSubscription } from '../src/model/events/subscriptions.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { eventually, startSyncStack, type SyncStack } from './support/sync.ts';

// Bodies of our own API, read back as JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/**
 * Subscriptions may not reach internal addresses (SSRF) unless the operator admits them with
 * EVENT_TARGET_ALLOWED. End to end with loopback only: a receiver on 127.0.0.1 stands for every
 * internal service, and counts the connections it is offered, so "nothing was sent" is seen, not
 * assumed. The other ranges are the unit's (test/unit/event-targets.test.ts).
 */

async function startReceiver() {
  const bodies: Json[] = [];
  let connections = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      response.writeHead(200).end('ok');
    });
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    bodies,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const asApi = (s: SyncStack) => ({ database: s.database, app: s.app, close: s.close }) as TestApi;
const allEvents: ('opportunity.created' | 'opportunity.updated')[] = ['opportunity.created', 'opportunity.updated'];

async function deliveries(client: Client, subscriptionId: string): Promise<Json[]> {
  const response = await client.request('GET', `/v1/subscriptions/${subscriptionId}/deliveries?limit=100`);
  expect(response.statusCode).toBe(200);
  return response.json().data.reverse();
}

describe('without EVENT_TARGET_ALLOWED', () => {
  let stack: SyncStack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    stack = await startSyncStack({ eventRetryBaseMs: 50 });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await stack.close();
    await receiver.close();
  });

  it('a loopback URL is refused at creation and in a PATCH, with a 400 naming url, and nothing is stored', async () => {
    const a = await newAccount(asApi(stack), 'Refused at creation');
    for (const url of [receiver.url, 'http://[::1]:9/hooks', 'http://2130706433:9/hooks']) {
      const response = await a.request('POST', '/v1/subscriptions', { url, events: allEvents });
      expect(response.statusCode, url).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json().errors).toEqual([{ field: 'url', message: expect.stringMatching(/is not a public address \(loopback\)/) }]);
    }
    expect((await a.request('GET', '/v1/subscriptions')).json().data).toEqual([]);
    // A public address written as such (nothing is sent to it: the subscription is inactive and no event happens).
    const created = (await a.request('POST', '/v1/subscriptions', { url: 'https://93.184.215.14/crm', events: allEvents })).json();
    await a.request('PATCH', `/v1/subscriptions/${created.id}`, { active: false });
    const patched = await a.request('PATCH', `/v1/subscriptions/${created.id}`, { url: receiver.url });
    expect(patched.statusCode).toBe(400);
    expect(patched.json().errors[0].field).toBe('url');
    expect((await a.request('GET', `/v1/subscriptions/${created.id}`)).json().url).toBe('https://93.184.215.14/crm');
    expect(receiver.connections()).toBe(0);
  });

  it('a loopback subscription stored before is refused at send time: no connection, the delivery fails at once with the reason', async () => {
    const a = await newAccount(asApi(stack), 'Refused at send');
    // As an install upgraded from a version without the check holds it: stored, never checked.
    const { id } = await createSubscription(stack.database.db, stack.deps.keyring, a.accountId, { url: receiver.url, events: allEvents });
    expect((await a.request('POST', '/v1/opportunities', { title: 'First' })).statusCode).toBe(201);
    expect((await a.request('POST', '/v1/opportunities', { title: 'Second' })).statusCode).toBe(201);
    const failed = await eventually(async () => {
      const list = await deliveries(a, id);
      return list.length === 2 && list.every((d) => d.status === 'failed') && list;
    }, 'both deliveries failed');
    for (const delivery of failed) {
      expect(delivery).toMatchObject({ attempts: 1, lastStatusCode: null, nextAttemptAt: null, deliveredAt: null, lastError: expect.stringMatching(/^not sent: 127\.0\.0\.1 is not a public address \(loopback\)/) });
    }
    // A replay is checked again, and refused again.
    expect((await a.request('POST', `/v1/subscriptions/${id}/deliveries/${failed[0].id}/replay`)).statusCode).toBe(202);
    await eventually(async () => (await deliveries(a, id))[0].status === 'failed', 'the replay failed');
    expect(receiver.connections()).toBe(0);
    expect(receiver.bodies).toEqual([]);
  });
});

describe('with EVENT_TARGET_ALLOWED=127.0.0.1', () => {
  it('a loopback subscription is created and delivered', async () => {
    const { EVENT_TARGET_ALLOWED } = parseConfig({ EVENT_TARGET_ALLOWED: '127.0.0.1' });
    const stack = await startSyncStack({ eventRetryBaseMs: 50, eventTargetsAllowed: EVENT_TARGET_ALLOWED });
    const receiver = await startReceiver();
    try {
      const a = await newAccount(asApi(stack), 'Allowed');
      const created = await a.request('POST', '/v1/subscriptions', { url: receiver.url, events: allEvents });
      expect(created.statusCode).toBe(201);
      expect((await a.request('POST', '/v1/opportunities', { title: 'Internal' })).statusCode).toBe(201);
      await eventually(async () => receiver.bodies.length === 1, 'the event reached the receiver');
      expect(receiver.bodies[0]).toMatchObject({ type: 'opportunity.created', data: { opportunity: { title: 'Internal' } } });
      expect((await deliveries(a, created.json().id))[0]).toMatchObject({ status: 'delivered', lastStatusCode: 200 });
    } finally {
      await stack.close();
      await receiver.close();
    }
  });
});
