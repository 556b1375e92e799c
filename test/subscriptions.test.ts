import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.ts';
import { signatureOf } from '../src/orchestration/event-signature.ts';
import { lockOpportunityRow } from '../src/model/sync-state/remote-changes.ts';
import { applyRemoteFields } from '../src/orchestration/canonical-writes.ts';
import { open } from '../src/model/store/secrets.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { eventually, freePort, startSyncStack, type SyncStack } from './support/sync.ts';

// Bodies of our own API and of the deliveries, read back as JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const allEvents = [
  'opportunity.created',
  'opportunity.updated',
  'opportunity.stage_changed',
  'opportunity.won',
  'opportunity.lost',
  'opportunity.deleted',
  'external_ref.linked',
];

interface Received {
  id: string;
  timestamp: string;
  signature: string;
  raw: Buffer;
  body: Json;
  status: number;
}

/** A workflow tool's endpoint: answers what `answer` says, request by request, and keeps every raw body. */
async function startReceiver(options: { port?: number; answer?: (request: Omit<Received, 'status'>, index: number) => number } = {}) {
  const received: Received[] = [];
  const answer = options.answer ?? (() => 200);
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const header = (name: string) => String(request.headers[name] ?? '');
      const seen = { id: header('webhook-id'), timestamp: header('webhook-timestamp'), signature: header('webhook-signature'), raw, body: JSON.parse(raw.toString('utf8')) };
      const status = answer(seen, received.length);
      received.push({ ...seen, status });
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status >= 300 ? 'receiver says no' : 'ok');
    });
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    delivered: () => received.filter((r) => r.status < 300),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Standard Webhooks verification, written from the spec: HMAC-SHA256 of "id.timestamp." + the raw body bytes. */
function signatureVerifies(secret: string, r: Received): boolean {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(Buffer.concat([Buffer.from(`${r.id}.${r.timestamp}.`), r.raw])).digest();
  return r.signature.split(' ').some((entry) => {
    const [version, value] = entry.split(',');
    const given = Buffer.from(value ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

let stack: SyncStack;
let alwaysOk: Awaited<ReturnType<typeof startReceiver>>;
const asApi = (s: SyncStack) => ({ database: s.database, app: s.app, close: s.close }) as TestApi;
const account = (name: string) => newAccount(asApi(stack), name);

beforeAll(async () => {
  // Retries 50 ms × 2^n apart instead of 5 s × 2^n: the schedule's shape, at test speed. The receivers
  // listen on loopback, which only the operator's allow-list admits (test/subscription-targets.test.ts).
  const { EVENT_TARGET_ALLOWED } = parseConfig({ EVENT_TARGET_ALLOWED: '127.0.0.1' });
  stack = await startSyncStack({ eventRetryBaseMs: 50, eventTargetsAllowed: EVENT_TARGET_ALLOWED });
  alwaysOk = await startReceiver();
});
afterAll(async () => {
  await stack.close();
  await alwaysOk.close();
});

async function ok(client: Client, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: unknown, status = 200) {
  const response = await client.request(method, url, body);
  expect(response.statusCode, `${method} ${url} ${response.body}`).toBe(status);
  return response.statusCode === 204 ? undefined : response.json();
}

const subscribe = (client: Client, url: string, events = allEvents) => ok(client, 'POST', '/v1/subscriptions', { url, events }, 201);

/** Every delivery of a subscription, oldest first. */
async function deliveries(client: Client, subscriptionId: string): Promise<Json[]> {
  const page = await ok(client, 'GET', `/v1/subscriptions/${subscriptionId}/deliveries?limit=500`);
  return page.data.reverse();
}

const eventsOf = async (client: Client, subscriptionId: string) => (await deliveries(client, subscriptionId)).map((d) => d.payload);

describe('signatures', () => {
  it("reproduce the Standard Webhooks specification's published test vector", () => {
    const vector = { secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestamp: '1614265330', body: '{"test": 2432232314}' };
    const signature = signatureOf(vector.secret, vector.id, Number(vector.timestamp), vector.body);
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    const received = { ...vector, signature: `v1,bm90IGl0 ${signature}`, raw: Buffer.from(vector.body), body: {}, status: 200 };
    expect(signatureVerifies(vector.secret, received)).toBe(true);
  });
});

describe('subscriptions', () => {
  it('are created with a secret shown once, read, listed, changed and deleted', async () => {
    const a = await account('CRUD');
    // Public addresses written as such: no name to resolve, nothing is ever sent to them here (no events).
    const created = await subscribe(a, 'https://93.184.215.14/crm', ['opportunity.won', 'opportunity.won', 'opportunity.lost']);
    expect(created).toMatchObject({ url: 'https://93.184.215.14/crm', events: ['opportunity.won', 'opportunity.lost'], active: true });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(created.secret.slice(6), 'base64')).toHaveLength(32);

    const read = await ok(a, 'GET', `/v1/subscriptions/${created.id}`);
    expect(read).not.toHaveProperty('secret');
    expect(JSON.stringify((await ok(a, 'GET', '/v1/subscriptions')).data)).not.toContain(created.secret);
    const [row] = await stack.database.sql`SELECT secret FROM subscriptions WHERE id = ${created.id}`;
    expect(row!.secret).not.toContain(created.secret.slice(6));
    expect(open(row!.secret, stack.deps.keyring)).toBe(created.secret);

    const changed = await ok(a, 'PATCH', `/v1/subscriptions/${created.id}`, { url: 'http://93.184.215.15:8080/x', events: ['opportunity.created'], active: false });
    expect(changed).toMatchObject({ url: 'http://93.184.215.15:8080/x', events: ['opportunity.created'], active: false });
    expect((await ok(a, 'GET', '/v1/subscriptions')).data.map((s: Json) => s.id)).toEqual([created.id]);

    await ok(a, 'DELETE', `/v1/subscriptions/${created.id}`, undefined, 204);
    expect((await a.request('GET', `/v1/subscriptions/${created.id}`)).statusCode).toBe(404);
    expect((await a.request('DELETE', `/v1/subscriptions/${created.id}`)).statusCode).toBe(404);
  });

  it.each([
    ['an ftp URL', { url: 'ftp://hooks.example.com', events: ['opportunity.won'] }, 'url'],
    ['no URL at all', { url: 'hooks', events: ['opportunity.won'] }, 'url'],
    ['an unknown event type', { url: 'https://x.test', events: ['opportunity.won', 'opportunity.exploded'] }, 'events.1'],
    ['no event types', { url: 'https://x.test', events: [] }, 'events'],
    ['an unknown field', { url: 'https://x.test', events: ['opportunity.won'], secret: 'mine' }, 'secret'],
  ])('refuse %s with a 400 naming the field', async (_what, body, field) => {
    const a = await account('Validation');
    const response = await a.request('POST', '/v1/subscriptions', body);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().errors.map((e: Json) => e.field)).toContain(field);
    expect((await ok(a, 'GET', '/v1/subscriptions')).data).toEqual([]);
  });

  it('refuse a bad URL or event type in a PATCH too', async () => {
    const a = await account('Patch validation');
    const { id } = await subscribe(a, alwaysOk.url);
    const badUrl = await a.request('PATCH', `/v1/subscriptions/${id}`, { url: 'mailto:ops@example.com' });
    expect(badUrl.json().errors[0].field).toBe('url');
    const badEvent = await a.request('PATCH', `/v1/subscriptions/${id}`, { events: ['deal.created'] });
    expect(badEvent.json().errors[0].field).toBe('events.0');
    expect((await ok(a, 'GET', `/v1/subscriptions/${id}`)).url).toBe(alwaysOk.url);
  });

  it("belong to their account: another account's id answers 404 and its changes send nothing here", async () => {
    const a = await account('Tenant A');
    const b = await account('Tenant B');
    const { id } = await subscribe(a, alwaysOk.url);
    await ok(a, 'POST', '/v1/opportunities', { title: 'A deal' }, 201);
    const [delivery] = await eventually(async () => {
      const list = await deliveries(a, id);
      return list.length > 0 && list;
    }, 'a delivery for A');
    for (const [method, url, body] of [
      ['GET', `/v1/subscriptions/${id}`],
      ['PATCH', `/v1/subscriptions/${id}`, { active: false }],
      ['GET', `/v1/subscriptions/${id}/deliveries`],
      ['POST', `/v1/subscriptions/${id}/deliveries/${delivery.id}/replay`],
      ['DELETE', `/v1/subscriptions/${id}`],
    ] as const) {
      expect((await b.request(method, url, body)).statusCode, `${method} ${url}`).toBe(404);
    }
    expect((await ok(b, 'GET', '/v1/subscriptions')).data).toEqual([]);
    await ok(b, 'POST', '/v1/opportunities', { title: 'B deal' }, 201);
    const [row] = await stack.database.sql`SELECT count(*)::int AS n FROM event_deliveries WHERE subscription_id = ${id}`;
    expect(row!.n).toBe(1);
    expect((await ok(a, 'GET', `/v1/subscriptions/${id}`)).active).toBe(true);
  });
});

describe('event deliveries', () => {
  it('reach a receiver that fails at first: every event, in order, once it recovers, each signature valid', async () => {
    const a = await account('Recovering receiver');
    const receiver = await startReceiver({ answer: (_r, index) => (index < 4 ? 500 : 200) });
    const { id, secret } = await subscribe(a, receiver.url);

    const x = await ok(a, 'POST', '/v1/opportunities', { title: 'X', externalRef: 'ERP-X', amount: '10.00', currency: 'EUR' }, 201);
    const y = await ok(a, 'POST', '/v1/opportunities', { title: 'Y', stage: 'qualified' }, 201);
    await ok(a, 'PATCH', `/v1/opportunities/${x.id}`, { title: 'X, renamed' });
    await ok(a, 'PATCH', `/v1/opportunities/${y.id}`, { stage: 'proposal', amount: '99' });
    await ok(a, 'POST', `/v1/opportunities/${x.id}/close`, { state: 'won' });
    await ok(a, 'DELETE', `/v1/opportunities/${y.id}`, undefined, 204);

    const recorded = await eventually(async () => {
      const list = await deliveries(a, id);
      return list.length === 9 && list.every((d) => d.status === 'delivered') && list;
    }, 'all nine deliveries delivered');
    const delivered = receiver.delivered();
    // Each delivery arrived once, and in the order the changes were made.
    expect(delivered.map((r) => r.id)).toEqual(recorded.map((d) => d.eventId));
    expect(delivered.map((r) => [r.body.type, r.body.data.opportunity.id])).toEqual([
      ['opportunity.created', x.id], ['external_ref.linked', x.id], ['opportunity.created', y.id],
      ['opportunity.updated', x.id], ['opportunity.updated', y.id], ['opportunity.stage_changed', y.id],
      ['opportunity.updated', x.id], ['opportunity.won', x.id], ['opportunity.deleted', y.id],
    ]);
    for (const opportunity of [x.id, y.id]) {
      const ofIt = delivered.filter((r) => r.body.data.opportunity.id === opportunity).map((r) => r.body.data.opportunity.version);
      expect(ofIt).toEqual([...ofIt].sort((p, q) => p - q));
    }
    // The failed attempts were the first delivery, retried under its one webhook-id.
    expect(receiver.received.slice(0, 5).map((r) => r.id)).toEqual(Array(5).fill(recorded[0].eventId));
    expect(recorded[0]).toMatchObject({ attempts: 5, lastStatusCode: 200, lastError: null });
    for (const r of receiver.received) {
      expect(signatureVerifies(secret, r), `signature of ${r.id}`).toBe(true);
      expect(Math.abs(Number(r.timestamp) - Date.now() / 1000)).toBeLessThan(300);
      expect(Object.keys(r.body)).toEqual(['type', 'timestamp', 'data']);
    }
    expect(signatureVerifies(secret, { ...receiver.received[0]!, raw: Buffer.from(receiver.received[0]!.raw.toString().replace('X', 'Z')) })).toBe(false);
    await receiver.close();
  });

  it('wait for a receiver that is down, and lose nothing', async () => {
    const a = await account('Receiver down');
    const port = await freePort();
    const { id, secret } = await subscribe(a, `http://127.0.0.1:${port}/hooks`);
    const created = await ok(a, 'POST', '/v1/opportunities', { title: 'While down' }, 201);
    await ok(a, 'PATCH', `/v1/opportunities/${created.id}`, { title: 'Still down' });
    const [first] = await eventually(async () => {
      const list = await deliveries(a, id);
      return list[0]?.attempts >= 2 && list;
    }, 'a few failed attempts');
    expect(first).toMatchObject({ status: 'pending', lastStatusCode: null, lastError: expect.stringMatching(/ECONNREFUSED/) });
    expect(first.nextAttemptAt).not.toBeNull();

    const receiver = await startReceiver({ port });
    await eventually(async () => (await deliveries(a, id)).every((d) => d.status === 'delivered'), 'delivered once it is up');
    expect(receiver.delivered().map((r) => r.body.type)).toEqual(['opportunity.created', 'opportunity.updated']);
    expect(receiver.received.every((r) => signatureVerifies(secret, r))).toBe(true);
    await receiver.close();
  });

  it('are listed with their outcomes, newest first, by status and page by page', async () => {
    const a = await account('Outcomes');
    let status = 503;
    const receiver = await startReceiver({ answer: () => status });
    const { id } = await subscribe(a, receiver.url);
    await ok(a, 'POST', '/v1/opportunities', { title: 'One' }, 201);
    await ok(a, 'POST', '/v1/opportunities', { title: 'Two' }, 201);
    await ok(a, 'POST', '/v1/opportunities', { title: 'Three' }, 201);

    const failing = await eventually(async () => {
      const list = await deliveries(a, id);
      return list.length === 3 && list[0].attempts >= 2 && list;
    }, 'failed attempts recorded');
    expect(failing[0]).toMatchObject({ status: 'pending', lastStatusCode: 503, lastError: 'HTTP 503: receiver says no', deliveredAt: null });
    // Held behind the first: never tried while it is failing.
    expect(failing.slice(1).map((d) => d.attempts)).toEqual([0, 0]);

    status = 200;
    await eventually(async () => (await deliveries(a, id)).every((d) => d.status === 'delivered'), 'all delivered');
    const first = await ok(a, 'GET', `/v1/subscriptions/${id}/deliveries?limit=2`);
    expect(first.data.map((d: Json) => d.payload.data.opportunity.title)).toEqual(['Three', 'Two']);
    expect(first.data[0]).toMatchObject({ status: 'delivered', lastStatusCode: 200, lastError: null, nextAttemptAt: null, attempts: 1 });
    expect(first.data[0].deliveredAt).not.toBeNull();
    const second = await ok(a, 'GET', `/v1/subscriptions/${id}/deliveries?limit=2&cursor=${first.nextCursor}`);
    expect(second.data.map((d: Json) => d.payload.data.opportunity.title)).toEqual(['One']);
    expect(second.nextCursor).toBeNull();
    expect((await ok(a, 'GET', `/v1/subscriptions/${id}/deliveries?status=failed`)).data).toEqual([]);
    expect((await ok(a, 'GET', `/v1/subscriptions/${id}/deliveries?status=delivered`)).data).toHaveLength(3);
    const badCursor = await a.request('GET', `/v1/subscriptions/${id}/deliveries?cursor=nope`);
    expect(badCursor.json().errors[0].field).toBe('querystring.cursor');
    const badStatus = await a.request('GET', `/v1/subscriptions/${id}/deliveries?status=lost`);
    expect(badStatus.json().errors[0].field).toBe('querystring.status');
    await receiver.close();
  });

  it('are replayed on request, with the same webhook-id and a new signature', async () => {
    const a = await account('Replay');
    const receiver = await startReceiver();
    const { id, secret } = await subscribe(a, receiver.url);
    await ok(a, 'POST', '/v1/opportunities', { title: 'Replay me' }, 201);
    const [delivery] = await eventually(async () => {
      const list = await deliveries(a, id);
      return list[0]?.status === 'delivered' && list;
    }, 'delivered once');

    const replayed = await ok(a, 'POST', `/v1/subscriptions/${id}/deliveries/${delivery.id}/replay`, undefined, 202);
    expect(replayed).toMatchObject({ id: delivery.id, eventId: delivery.eventId, status: 'pending', attempts: 0 });
    expect(replayed.replayedAt).not.toBeNull();
    await eventually(async () => receiver.received.length === 2, 'sent again');
    const [original, again] = receiver.received;
    expect(again!.id).toBe(original!.id);
    expect(again!.raw.equals(original!.raw)).toBe(true);
    expect(signatureVerifies(secret, again!)).toBe(true);
    await eventually(async () => (await deliveries(a, id))[0].status === 'delivered', 'recorded as delivered again');

    expect((await a.request('POST', `/v1/subscriptions/${id}/deliveries/999999/replay`)).statusCode).toBe(404);
    expect((await a.request('POST', `/v1/subscriptions/${id}/deliveries/abc/replay`)).json().errors[0].field).toBe('params.deliveryId');
    await ok(a, 'PATCH', `/v1/subscriptions/${id}`, { active: false });
    const inactive = await a.request('POST', `/v1/subscriptions/${id}/deliveries/${delivery.id}/replay`);
    expect(inactive.statusCode).toBe(409);
    await receiver.close();
  });

  it('fail for good once the retry window has passed, and then hold nothing back', async () => {
    const a = await account('Give up');
    let refused = '';
    const receiver = await startReceiver({ answer: (r) => (refused === '' || r.id === refused ? 500 : 200) });
    const { id } = await subscribe(a, receiver.url);
    await ok(a, 'POST', '/v1/opportunities', { title: 'Too old' }, 201);
    const [old] = await eventually(async () => {
      const list = await deliveries(a, id);
      return list[0]?.attempts >= 1 && list;
    }, 'a failed attempt');
    // As if the event were three days old: its next failure is past the retry window.
    await stack.database.sql`UPDATE event_deliveries SET created_at = now() - interval '3 days 1 minute' WHERE id = ${old.id}`;
    refused = old.eventId;
    await ok(a, 'POST', '/v1/opportunities', { title: 'Fresh' }, 201);
    const [gaveUp, fresh] = await eventually(async () => {
      const list = await deliveries(a, id);
      return list.length === 2 && list[0].status === 'failed' && list[1].status === 'delivered' && list;
    }, 'the old one failed, the fresh one delivered');
    expect(gaveUp).toMatchObject({ nextAttemptAt: null, lastStatusCode: 500 });
    expect(fresh.payload.data.opportunity.title).toBe('Fresh');
    await receiver.close();
  });

  it('stop for a receiver that answers 410 Gone: the subscription is deactivated, the delivery kept', async () => {
    const a = await account('Gone');
    const receiver = await startReceiver({ answer: () => 410 });
    const { id } = await subscribe(a, receiver.url);
    await ok(a, 'POST', '/v1/opportunities', { title: 'Nobody wants me' }, 201);
    await eventually(async () => (await ok(a, 'GET', `/v1/subscriptions/${id}`)).active === false, 'deactivated');
    const [delivery] = await deliveries(a, id);
    expect(delivery).toMatchObject({ status: 'pending', lastStatusCode: 410, attempts: 1 });
    await ok(a, 'POST', '/v1/opportunities', { title: 'Not recorded' }, 201);
    expect(await deliveries(a, id)).toHaveLength(1);
    await receiver.close();
  });
});

describe('events', () => {
  it('are only the subscribed types', async () => {
    const a = await account('Only won');
    const { id } = await subscribe(a, alwaysOk.url, ['opportunity.won']);
    const lost = await ok(a, 'POST', '/v1/opportunities', { title: 'Lost one' }, 201);
    const won = await ok(a, 'POST', '/v1/opportunities', { title: 'Won one' }, 201);
    await ok(a, 'POST', `/v1/opportunities/${lost.id}/close`, { state: 'lost', reason: 'price' });
    await ok(a, 'POST', `/v1/opportunities/${won.id}/close`, { state: 'won' });
    const events = await eventsOf(a, id);
    expect(events.map((e) => [e.type, e.data.opportunity.id])).toEqual([['opportunity.won', won.id]]);
  });

  it('opportunity.updated carries the changed fields only, each before and after', async () => {
    const a = await account('Updated');
    await ok(a, 'POST', '/v1/attributes', { key: 'region', label: 'Region', type: 'enum', options: ['emea', 'amer'] }, 201);
    await ok(a, 'POST', '/v1/attributes', { key: 'tier', label: 'Tier', type: 'text' }, 201);
    const { id } = await subscribe(a, alwaysOk.url);
    const created = await ok(a, 'POST', '/v1/opportunities', { title: 'Before', amount: '100', currency: 'EUR', attributes: { region: 'emea', tier: 'gold' } }, 201);
    await ok(a, 'PATCH', `/v1/opportunities/${created.id}`, { title: 'After', amount: '100.00', attributes: { region: 'amer' } });
    await ok(a, 'PATCH', `/v1/opportunities/${created.id}`, { title: 'After' }); // nothing changes: no event
    const [first, updated, ...rest] = await eventsOf(a, id);
    expect(first.type).toBe('opportunity.created');
    expect(first.data).toEqual({ opportunity: created });
    expect(updated.type).toBe('opportunity.updated');
    expect(updated.data.changes).toEqual({
      title: { before: 'Before', after: 'After' },
      attributes: { before: { region: 'emea' }, after: { region: 'amer' } },
    });
    expect(updated.data.opportunity).toMatchObject({ id: created.id, title: 'After', version: 2 });
    expect(new Date(updated.timestamp).getTime()).toBeGreaterThanOrEqual(new Date(first.timestamp).getTime());
    expect(rest).toEqual([]);
  });

  it('a won close emits won; a close that moves the stage emits stage_changed too; lost carries its reason', async () => {
    const a = await account('Closing');
    const { id } = await subscribe(a, alwaysOk.url);
    const viaApi = await ok(a, 'POST', '/v1/opportunities', { title: 'Closed here', stage: 'proposal' }, 201);
    const viaCrm = await ok(a, 'POST', '/v1/opportunities', { title: 'Closed in a CRM', stage: 'proposal' }, 201);
    const lost = await ok(a, 'POST', '/v1/opportunities', { title: 'Lost' }, 201);
    await ok(a, 'POST', `/v1/opportunities/${viaApi.id}/close`, { state: 'won' });
    await stack.database.db.transaction(async (tx) => {
      const row = await lockOpportunityRow(tx, a.accountId, viaCrm.id);
      await applyRemoteFields(tx, row!, { state: 'won', stage: 'closedwon' });
    });
    await ok(a, 'POST', `/v1/opportunities/${lost.id}/close`, { state: 'lost', reason: 'budget' });

    const events = (await eventsOf(a, id)).filter((e) => e.type !== 'opportunity.created');
    const of = (opportunityId: string) => events.filter((e) => e.data.opportunity.id === opportunityId);
    expect(of(viaApi.id).map((e) => e.type)).toEqual(['opportunity.updated', 'opportunity.won']);
    expect(of(viaApi.id)[1].data.changes.state).toEqual({ before: 'open', after: 'won' });
    expect(of(viaCrm.id).map((e) => e.type)).toEqual(['opportunity.updated', 'opportunity.stage_changed', 'opportunity.won']);
    expect(of(viaCrm.id)[1].data.changes).toEqual({ stage: { before: 'proposal', after: 'closedwon' } });
    const [, lostEvent] = of(lost.id);
    expect(lostEvent.type).toBe('opportunity.lost');
    expect(lostEvent.data.changes.lostReason).toEqual({ before: null, after: 'budget' });
    expect(lostEvent.data.opportunity).toMatchObject({ state: 'lost', lostReason: 'budget' });
  });

  it('deleting emits deleted, also for the opportunities a deleted contact takes with it', async () => {
    const a = await account('Deleting');
    const { id } = await subscribe(a, alwaysOk.url, ['opportunity.deleted']);
    const contact = await ok(a, 'POST', '/v1/contacts', { name: 'Primary' }, 201);
    const direct = await ok(a, 'POST', '/v1/opportunities', { title: 'Deleted directly', externalRef: 'GONE-1' }, 201);
    const withContact = await ok(a, 'POST', '/v1/opportunities', { title: 'Goes with its contact', contactId: contact.id }, 201);
    await ok(a, 'DELETE', `/v1/opportunities/${direct.id}`, undefined, 204);
    await ok(a, 'DELETE', `/v1/contacts/${contact.id}`, undefined, 204);
    const events = await eventsOf(a, id);
    expect(events.map((e) => [e.type, e.data.opportunity.id])).toEqual([
      ['opportunity.deleted', direct.id],
      ['opportunity.deleted', withContact.id],
    ]);
    expect(events[0].data.opportunity).toMatchObject({ title: 'Deleted directly', externalRef: 'GONE-1' });
    expect(events[1].data.opportunity.contactId).toBe(contact.id);
  });

  it('external_ref.linked comes with a create by PUT of a new reference, not with its updates', async () => {
    const a = await account('Linking');
    const { id } = await subscribe(a, alwaysOk.url);
    const created = await ok(a, 'PUT', '/v1/opportunities/by-external-ref/SO-1001', { title: 'From the ERP' }, 201);
    await ok(a, 'PUT', '/v1/opportunities/by-external-ref/SO-1001', { title: 'From the ERP, again' });
    const plain = await ok(a, 'POST', '/v1/opportunities', { title: 'Linked later' }, 201);
    await ok(a, 'PATCH', `/v1/opportunities/${plain.id}`, { externalRef: 'SO-1002' });
    const events = await eventsOf(a, id);
    expect(events.map((e) => [e.type, e.data.opportunity.id])).toEqual([
      ['opportunity.created', created.id],
      ['external_ref.linked', created.id],
      ['opportunity.updated', created.id],
      ['opportunity.created', plain.id],
      ['opportunity.updated', plain.id],
      ['external_ref.linked', plain.id],
    ]);
    expect(events[1].data.changes).toEqual({ externalRef: { before: null, after: 'SO-1001' } });
    expect(events[5].data.changes).toEqual({ externalRef: { before: null, after: 'SO-1002' } });
  });

  it('deleting an attribute definition emits updated for the opportunities that held a value', async () => {
    const a = await account('Attribute removal');
    await ok(a, 'POST', '/v1/attributes', { key: 'region', label: 'Region', type: 'text' }, 201);
    const holder = await ok(a, 'POST', '/v1/opportunities', { title: 'Holds it', attributes: { region: 'north' } }, 201);
    await ok(a, 'POST', '/v1/opportunities', { title: 'Does not' }, 201);
    const { id } = await subscribe(a, alwaysOk.url, ['opportunity.updated']);
    await ok(a, 'DELETE', '/v1/attributes/region', undefined, 204);
    const events = await eventsOf(a, id);
    expect(events).toHaveLength(1);
    expect(events[0].data.opportunity.id).toBe(holder.id);
    expect(events[0].data.changes).toEqual({ attributes: { before: { region: 'north' }, after: { region: null } } });
  });

  it('are not recorded for an inactive subscription', async () => {
    const a = await account('Inactive');
    const { id } = await subscribe(a, alwaysOk.url);
    await ok(a, 'PATCH', `/v1/subscriptions/${id}`, { active: false });
    await ok(a, 'POST', '/v1/opportunities', { title: 'Unheard' }, 201);
    expect(await deliveries(a, id)).toEqual([]);
  });
});
