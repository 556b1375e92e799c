import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/api/server.ts';
import { createQueues } from '../src/jobs/queues.ts';
import { connectionSettingsSchema } from '../src/sync/settings.ts';
import { insertConnection } from '../src/model/connections/connections.ts';
import { seal } from '../src/model/store/secrets.ts';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';
import { testRedis } from './support/redis.ts';
import { SANDBOX_HOSTS } from './support/sync.ts';

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

let api: TestApi;
let a: Client;
let b: Client;
// The connection routes exist only on a server with sync: the same database, served with them.
let redis: ReturnType<typeof testRedis>;
let queues: ReturnType<typeof createQueues>;
let syncApp: FastifyInstance;

/** A's records. */
const mine = {} as {
  contact: string;
  otherContact: string;
  user: string;
  deal: string;
  open: string;
  won: string;
  connection: string;
};
/** B's own records. */
let theirs = {} as { contact: string; user: string; deal: string };

/** Strings that appear only in A's data: none may ever reach B. */
const secrets = ['A deal', 'A open deal', 'A won deal', 'A contact', 'A other contact', 'A user', 'a-user@a.test', 'c@a.test', 'A secret', 'a_stage', 'JPY', 'north', 'A-ONLY-REF', 'a-remote'];

async function ok(client: Client, method: Method, url: string, body?: unknown, status = 201) {
  const response = await client.request(method, url, body);
  expect(response.statusCode, `${method} ${url} ${response.body}`).toBe(status);
  return response.statusCode === 204 ? undefined : response.json();
}

beforeAll(async () => {
  api = await startTestApi();
  a = await newAccount(api, 'A');

  mine.contact = (await ok(a, 'POST', '/v1/contacts', { name: 'A contact', email: 'c@a.test' })).id;
  mine.otherContact = (await ok(a, 'POST', '/v1/contacts', { name: 'A other contact' })).id;
  mine.user = (await ok(a, 'POST', '/v1/users', { name: 'A user', email: 'a-user@a.test' })).id;
  await ok(a, 'POST', '/v1/attributes', { key: 'a_only', label: 'A only', type: 'text' });
  await ok(a, 'POST', '/v1/attributes', { key: 'region', label: 'Region', type: 'enum', options: ['north', 'south'] });
  mine.deal = (
    await ok(a, 'POST', '/v1/opportunities', {
      title: 'A deal',
      amount: '100',
      currency: 'JPY',
      stage: 'a_stage',
      externalRef: 'SHARED-REF',
      contactId: mine.contact,
      contactIds: [mine.otherContact],
      assigneeId: mine.user,
      attributes: { a_only: 'A secret', region: 'north' },
    })
  ).id;
  mine.open = (await ok(a, 'POST', '/v1/opportunities', { title: 'A open deal', currency: 'JPY', externalRef: 'A-ONLY-REF', contactId: mine.otherContact })).id;
  mine.won = (await ok(a, 'POST', '/v1/opportunities', { title: 'A won deal', amount: '7', currency: 'JPY', contactIds: [mine.contact] })).id;
  await ok(a, 'POST', `/v1/opportunities/${mine.won}/close`, { state: 'won', closedById: mine.user }, 200);
  const keyed = await a.request('POST', '/v1/contacts', { name: 'A contact' }, { 'idempotency-key': 'a-key' });
  expect(keyed.statusCode).toBe(201);

  const keyring = { current: randomBytes(32) };
  const credentials = seal(JSON.stringify({ apiToken: 'a-token' }), keyring);
  mine.connection = (
    await insertConnection(api.database.db, {
      accountId: a.accountId,
      provider: 'pipedrive',
      credentials: credentials.sealed,
      credentialsKeyId: credentials.keyId,
      webhookSecret: null,
      remoteAccountId: 'a-remote',
      settings: connectionSettingsSchema.parse({}),
    })
  ).id;

  ({ b, theirs } = await accountB());

  redis = testRedis();
  const connection = redis.connect();
  queues = createQueues(connection, redis.prefix);
  const setup = { db: api.database.db, redis: connection, prefix: redis.prefix, keyring, publicUrl: 'http://127.0.0.1:9', crmBaseUrlHosts: SANDBOX_HOSTS };
  syncApp = await buildServer({ db: api.database.db, logger: false, sync: { setup, outbound: queues.outbound, inbound: queues.inbound, reconcile: queues.reconcile } });
  await syncApp.ready();
});

afterAll(async () => {
  await syncApp?.close();
  await queues?.outbound.close();
  await queues?.maintenance.close();
  await queues?.inbound.close();
  await redis?.close();
  await api.close();
});

/**
 * Account B with a contact, a user and a deal of its own. The tests that change B's data (or give
 * B what only A had) take a B of their own from here, so the others always see B as made here.
 */
async function accountB() {
  const client = await newAccount(api, 'B');
  const contact = (await ok(client, 'POST', '/v1/contacts', { name: 'B contact' })).id;
  const user = (await ok(client, 'POST', '/v1/users', { name: 'B user', email: 'b-user@b.test' })).id;
  const deal = (await ok(client, 'POST', '/v1/opportunities', { title: 'B deal', amount: '5.00', currency: 'EUR', contactId: contact })).id;
  return { b: client, theirs: { contact, user, deal } };
}

/** A request as `client` to the server with connection routes. */
function onSyncApp(client: Client, method: Method, url: string, body?: unknown) {
  return syncApp.inject({
    method,
    url,
    payload: body === undefined ? undefined : JSON.stringify(body),
    headers: { authorization: `Bearer ${client.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
  });
}

/** Every row of A's, in every table that holds account data. */
async function accountState(accountId: string) {
  const sql = api.database.sql;
  return {
    opportunities: await sql`SELECT * FROM opportunities WHERE account_id = ${accountId} ORDER BY id`,
    contacts: await sql`SELECT * FROM contacts WHERE account_id = ${accountId} ORDER BY id`,
    users: await sql`SELECT * FROM users WHERE account_id = ${accountId} ORDER BY id`,
    attributes: await sql`SELECT * FROM attribute_definitions WHERE account_id = ${accountId} ORDER BY id`,
    links: await sql`SELECT * FROM opportunity_contacts WHERE account_id = ${accountId} ORDER BY opportunity_id, contact_id`,
    idempotency: await sql`SELECT * FROM idempotency_keys WHERE account_id = ${accountId} ORDER BY key`,
    apiKeys: await sql`SELECT * FROM api_keys WHERE account_id = ${accountId} ORDER BY id`,
    connections: await sql`SELECT * FROM connections WHERE account_id = ${accountId} ORDER BY id`,
    outbox: await sql`SELECT o.* FROM outbox o JOIN connections c ON c.id = o.connection_id WHERE c.account_id = ${accountId} ORDER BY o.id`,
  };
}

/** Every row of every account table, for requests that must change nothing at all. */
async function wholeState() {
  const sql = api.database.sql;
  const state: Record<string, unknown[]> = {};
  for (const table of ['accounts', 'api_keys', 'users', 'contacts', 'attribute_definitions', 'opportunities', 'idempotency_keys', 'connections', 'outbox']) {
    state[table] = [...(await sql.unsafe(`SELECT * FROM ${table} ORDER BY 1`))];
  }
  state.opportunity_contacts = [...(await sql`SELECT * FROM opportunity_contacts ORDER BY opportunity_id, contact_id`)];
  return state;
}

/** None of A's strings in `body`, but for those the request itself carried (a 404 may echo them back). */
function expectNoLeak(body: string, what: string, sent = '') {
  for (const secret of secrets.filter((s) => !sent.includes(s))) expect(body, `${what} shows "${secret}"`).not.toContain(secret);
}

function expectNoIdsOfA(body: string, what: string) {
  for (const id of Object.values(mine)) expect(body, `${what} shows A's ${id}`).not.toContain(id);
}

interface Foreign {
  name: string;
  method: Method;
  url: () => string;
  body?: () => unknown;
  headers?: Record<string, string>;
  /** Served only with sync (the connection routes). */
  sync?: boolean;
}

const foreign: Foreign[] = [
  // opportunities.ts
  { name: 'GET an opportunity', method: 'GET', url: () => `/v1/opportunities/${mine.deal}` },
  { name: 'PATCH an opportunity', method: 'PATCH', url: () => `/v1/opportunities/${mine.deal}`, body: () => ({ title: 'hijacked' }) },
  { name: 'PATCH an opportunity with its current If-Match', method: 'PATCH', url: () => `/v1/opportunities/${mine.deal}`, body: () => ({ title: 'hijacked' }), headers: { 'if-match': '1' } },
  { name: 'PATCH an opportunity with a stale If-Match (no 412)', method: 'PATCH', url: () => `/v1/opportunities/${mine.deal}`, body: () => ({ title: 'hijacked' }), headers: { 'if-match': '99' } },
  { name: 'PATCH an opportunity attaching A’s own contact', method: 'PATCH', url: () => `/v1/opportunities/${mine.deal}`, body: () => ({ contactIds: [mine.contact] }) },
  { name: 'PATCH an opportunity’s externalRef', method: 'PATCH', url: () => `/v1/opportunities/${mine.open}`, body: () => ({ externalRef: 'B-REF' }) },
  { name: 'DELETE an opportunity', method: 'DELETE', url: () => `/v1/opportunities/${mine.deal}` },
  { name: 'DELETE an opportunity with a stale If-Match (no 412)', method: 'DELETE', url: () => `/v1/opportunities/${mine.deal}`, headers: { 'if-match': '99' } },
  { name: 'close an opportunity', method: 'POST', url: () => `/v1/opportunities/${mine.open}/close`, body: () => ({ state: 'lost', reason: 'sabotage' }) },
  { name: 'close an opportunity with a stale If-Match (no 412)', method: 'POST', url: () => `/v1/opportunities/${mine.open}/close`, body: () => ({ state: 'won' }), headers: { 'if-match': '99' } },
  { name: 'close an opportunity under an Idempotency-Key', method: 'POST', url: () => `/v1/opportunities/${mine.open}/close`, body: () => ({ state: 'abandoned' }), headers: { 'idempotency-key': 'b-close' } },
  { name: 'close a won opportunity as won again', method: 'POST', url: () => `/v1/opportunities/${mine.won}/close`, body: () => ({ state: 'won' }) },
  { name: 'reopen a won opportunity', method: 'POST', url: () => `/v1/opportunities/${mine.won}/reopen` },
  { name: 'reopen a won opportunity under an Idempotency-Key', method: 'POST', url: () => `/v1/opportunities/${mine.won}/reopen`, headers: { 'idempotency-key': 'b-reopen' } },
  { name: 'GET by a ref only A has', method: 'GET', url: () => '/v1/opportunities/by-external-ref/A-ONLY-REF' },
  // contacts.ts
  { name: 'GET a contact', method: 'GET', url: () => `/v1/contacts/${mine.contact}` },
  { name: 'PATCH a contact', method: 'PATCH', url: () => `/v1/contacts/${mine.contact}`, body: () => ({ name: 'hijacked', email: 'evil@b.test' }) },
  { name: 'DELETE a contact', method: 'DELETE', url: () => `/v1/contacts/${mine.contact}` },
  { name: 'DELETE the primary contact of an opportunity', method: 'DELETE', url: () => `/v1/contacts/${mine.otherContact}` },
  { name: 'GET a contact’s opportunities', method: 'GET', url: () => `/v1/contacts/${mine.contact}/opportunities` },
  // attributes.ts
  { name: 'DELETE an attribute only A defined', method: 'DELETE', url: () => '/v1/attributes/a_only' },
  // connections.ts
  { name: 'GET a connection', method: 'GET', url: () => `/v1/connections/${mine.connection}`, sync: true },
  { name: 'PATCH a connection', method: 'PATCH', url: () => `/v1/connections/${mine.connection}`, body: () => ({ deletePolicy: 'propagate' }), sync: true },
  { name: 'pause a connection', method: 'POST', url: () => `/v1/connections/${mine.connection}/pause`, sync: true },
  { name: 'resume a connection', method: 'POST', url: () => `/v1/connections/${mine.connection}/resume`, sync: true },
  { name: 'DELETE a connection', method: 'DELETE', url: () => `/v1/connections/${mine.connection}`, sync: true },
];

describe('another account’s records by id', () => {
  it.each(foreign)('B: $name → 404, nothing shown, nothing of A changed', async (c) => {
    const before = await accountState(a.accountId);
    const beforeB = await accountState(b.accountId);
    const body = c.body?.();
    const response = c.sync ? await onSyncApp(b, c.method, c.url(), body) : await b.request(c.method, c.url(), body, c.headers);
    expect(response.statusCode, response.body).toBe(404);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json()).toMatchObject({ status: 404, title: 'Not Found' });
    expectNoLeak(response.body, c.name, c.url() + JSON.stringify(body ?? null));
    expect(await accountState(a.accountId)).toEqual(before);
    expect(await accountState(b.accountId)).toEqual(beforeB);
  });

  it('A still reads every one of those records unchanged (the 404s were not for want of a route)', async () => {
    expect(await ok(a, 'GET', `/v1/opportunities/${mine.deal}`, undefined, 200)).toMatchObject({
      title: 'A deal',
      version: 1,
      contactId: mine.contact,
      contactIds: [mine.otherContact],
      attributes: { a_only: 'A secret', region: 'north' },
    });
    expect(await ok(a, 'GET', `/v1/opportunities/${mine.open}`, undefined, 200)).toMatchObject({ state: 'open', externalRef: 'A-ONLY-REF', version: 1 });
    expect(await ok(a, 'GET', `/v1/opportunities/${mine.won}`, undefined, 200)).toMatchObject({ state: 'won', closedById: mine.user, version: 2 });
    expect(await ok(a, 'GET', `/v1/contacts/${mine.contact}`, undefined, 200)).toMatchObject({ name: 'A contact', email: 'c@a.test', opportunityCount: 2 });
    expect(await ok(a, 'GET', '/v1/opportunities/by-external-ref/A-ONLY-REF', undefined, 200)).toMatchObject({ id: mine.open });
    expect((await ok(a, 'GET', `/v1/contacts/${mine.contact}/opportunities`, undefined, 200)).data.map((o: { id: string }) => o.id).sort()).toEqual(
      [mine.deal, mine.won].sort(),
    );
    expect((await ok(a, 'GET', '/v1/attributes', undefined, 200)).data.map((d: { key: string }) => d.key)).toEqual(['a_only', 'region']);
    const connection = await onSyncApp(a, 'GET', `/v1/connections/${mine.connection}`);
    expect(connection.statusCode, connection.body).toBe(200);
    expect(connection.json()).toMatchObject({ id: mine.connection, status: 'active', remoteAccountId: 'a-remote' });
  });
});

describe('lists', () => {
  const ids = (body: { data: { id: string }[] }) => body.data.map((item) => item.id).sort();
  const bIds = async (query: string) => (await api.database.sql.unsafe(query, [b.accountId])).map((row) => row.id as string).sort();

  it.each([
    ['/v1/opportunities', 'SELECT id FROM opportunities WHERE account_id = $1 AND deleted_at IS NULL'],
    ['/v1/opportunities?limit=500', 'SELECT id FROM opportunities WHERE account_id = $1 AND deleted_at IS NULL'],
    ['/v1/opportunities?state=won', "SELECT id FROM opportunities WHERE account_id = $1 AND deleted_at IS NULL AND state = 'won'"],
    ['/v1/contacts', 'SELECT id FROM contacts WHERE account_id = $1'],
    ['/v1/users', 'SELECT id FROM users WHERE account_id = $1'],
  ])('B: GET %s lists exactly B’s records', async (url, query) => {
    const response = await b.request('GET', url);
    expect(response.statusCode, response.body).toBe(200);
    expectNoLeak(response.body, url);
    expectNoIdsOfA(response.body, url);
    expect(ids(response.json())).toEqual(await bIds(query));
  });

  it('B: GET /v1/attributes lists none of A’s definitions', async () => {
    const response = await b.request('GET', '/v1/attributes');
    expect(response.statusCode).toBe(200);
    expect(response.json().data).toEqual([]);
    expect(response.body).not.toContain('a_only');
  });

  it('B: GET /v1/contacts/{own}/opportunities lists only B’s', async () => {
    const response = await b.request('GET', `/v1/contacts/${theirs.contact}/opportunities`);
    expect(response.statusCode).toBe(200);
    expectNoLeak(response.body, 'contact opportunities');
    expect(ids(response.json())).toEqual([theirs.deal]);
  });

  it.each([
    ['contactId', () => mine.contact],
    ['contactId', () => mine.otherContact],
    ['assigneeId', () => mine.user],
  ])('B: filtering opportunities by A’s %s finds nothing', async (param, value) => {
    const response = await b.request('GET', `/v1/opportunities?${param}=${value()}`);
    expect(response.statusCode).toBe(200);
    expect(response.json().data).toEqual([]);
  });

  it('B: filtering by A’s stage finds nothing', async () => {
    expect((await ok(b, 'GET', '/v1/opportunities?stage=a_stage', undefined, 200)).data).toEqual([]);
  });

  it('B: GET /v1/metrics/opportunities counts only B’s', async () => {
    const response = await b.request('GET', '/v1/metrics/opportunities');
    expect(response.statusCode).toBe(200);
    expectNoLeak(response.body, 'metrics');
    expectNoIdsOfA(response.body, 'metrics');
    const metrics = response.json();
    const counts = await api.database.sql`
      SELECT state, count(*)::int AS n FROM opportunities WHERE account_id = ${b.accountId} AND deleted_at IS NULL GROUP BY state`;
    const expected = { open: 0, won: 0, lost: 0, abandoned: 0 } as Record<string, number>;
    for (const row of counts) expected[row.state] = row.n;
    expect(metrics.countsByState).toEqual(expected);
    expect(Object.keys(metrics.averageValue)).toEqual(['EUR']);
    expect(metrics.wonValue).toEqual({});
    expect(metrics.topContacts.map((c: { contactId: string }) => c.contactId)).toEqual([theirs.contact]);
    // And A's metrics do see A's data: the check above could fail.
    const ofA = await ok(a, 'GET', '/v1/metrics/opportunities', undefined, 200);
    expect(ofA.wonValue).toEqual({ JPY: '7' });
  });

  it('B: GET /v1/connections lists none of A’s', async () => {
    const response = await onSyncApp(b, 'GET', '/v1/connections');
    expect(response.statusCode).toBe(200);
    expect(response.json().data).toEqual([]);
    const ofA = await onSyncApp(a, 'GET', '/v1/connections');
    expect(ofA.json().data.map((c: { id: string }) => c.id)).toEqual([mine.connection]);
  });
});

describe('references across accounts', () => {
  const attach: [string, () => Record<string, unknown>, string][] = [
    ['contactId', () => ({ contactId: mine.contact }), 'contactId'],
    ['contactIds', () => ({ contactIds: [theirs.contact, mine.contact] }), 'contactIds.1'],
    ['assigneeId', () => ({ assigneeId: mine.user }), 'assigneeId'],
  ];

  it.each(attach)('B: creating an opportunity with A’s %s → 400 naming it, nothing stored', async (_, body, field) => {
    const before = await wholeState();
    const response = await b.request('POST', '/v1/opportunities', { title: 'B attach', ...body() });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().errors).toEqual([{ field, message: expect.any(String) }]);
    expectNoLeak(response.body, 'attach');
    expect(await wholeState()).toEqual(before);
  });

  it.each(attach)('B: patching B’s opportunity with A’s %s → 400 naming it, nothing stored', async (_, body, field) => {
    const before = await wholeState();
    const response = await b.request('PATCH', `/v1/opportunities/${theirs.deal}`, { title: 'B renamed', ...body() });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().errors).toEqual([{ field, message: expect.any(String) }]);
    expect(await wholeState()).toEqual(before);
  });

  it.each(attach)('B: PUT by ref with A’s %s → 400 naming it, nothing stored', async (_, body, field) => {
    const before = await wholeState();
    const response = await b.request('PUT', '/v1/opportunities/by-external-ref/B-ATTACH', { title: 'B attach', ...body() });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().errors).toEqual([{ field, message: expect.any(String) }]);
    expect(await wholeState()).toEqual(before);
  });

  it('B: closing B’s opportunity with A’s user as closedById → 400 naming it, nothing stored', async () => {
    const before = await wholeState();
    const response = await b.request('POST', `/v1/opportunities/${theirs.deal}/close`, { state: 'won', closedById: mine.user });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([{ field: 'closedById', message: 'no such user' }]);
    expect(await wholeState()).toEqual(before);
  });

  it('B: an attribute only A defined is unknown in B', async () => {
    const before = await wholeState();
    const response = await b.request('PATCH', `/v1/opportunities/${theirs.deal}`, { attributes: { a_only: 'x' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([{ field: 'attributes.a_only', message: expect.any(String) }]);
    expect(await wholeState()).toEqual(before);
  });

  it('B may use its own users as assignee and closer (the refusals above were about ownership)', async () => {
    const { b, theirs } = await accountB();
    const own = await ok(b, 'POST', '/v1/opportunities', { title: 'B own refs', assigneeId: theirs.user, contactIds: [theirs.contact] });
    const closed = await ok(b, 'POST', `/v1/opportunities/${own.id}/close`, { state: 'won', closedById: theirs.user }, 200);
    expect(closed).toMatchObject({ assigneeId: theirs.user, closedById: theirs.user, contactIds: [theirs.contact] });
  });
});

describe('keys that are unique per account only', () => {
  it('B gets its own SHARED-REF: by-external-ref GET and PUT only ever see B’s', async () => {
    const { b } = await accountB();
    const stateOfA = await accountState(a.accountId);
    expect((await b.request('GET', '/v1/opportunities/by-external-ref/SHARED-REF')).statusCode).toBe(404);

    const created = await b.request('PUT', '/v1/opportunities/by-external-ref/SHARED-REF', { title: 'B shared' });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().id).not.toBe(mine.deal);
    expectNoLeak(created.body, 'PUT SHARED-REF');

    const updated = await b.request('PUT', '/v1/opportunities/by-external-ref/SHARED-REF', { title: 'B shared 2' });
    expect(updated.statusCode).toBe(200);
    expect(updated.json()).toMatchObject({ id: created.json().id, title: 'B shared 2', version: 2 });

    const fetched = await b.request('GET', '/v1/opportunities/by-external-ref/SHARED-REF');
    expect(fetched.json()).toMatchObject({ id: created.json().id, title: 'B shared 2' });

    const duplicate = await b.request('POST', '/v1/opportunities', { title: 'B dup', externalRef: 'SHARED-REF' });
    expect(duplicate.statusCode).toBe(409);
    expect(duplicate.json().existingId).toBe(created.json().id);
    expect(duplicate.body).not.toContain(mine.deal);

    expect(await accountState(a.accountId)).toEqual(stateOfA);
    expect(await ok(a, 'GET', '/v1/opportunities/by-external-ref/SHARED-REF', undefined, 200)).toMatchObject({ id: mine.deal, title: 'A deal', version: 1 });
  });

  it('B may create an opportunity with a ref only A has, by POST and by PATCH', async () => {
    const { b, theirs } = await accountB();
    const created = await ok(b, 'POST', '/v1/opportunities', { title: 'B posted', externalRef: 'A-ONLY-REF' });
    expect(created.id).not.toBe(mine.open);
    await ok(b, 'DELETE', `/v1/opportunities/${created.id}`, undefined, 204);
    const patched = await ok(b, 'PATCH', `/v1/opportunities/${theirs.deal}`, { externalRef: 'A-ONLY-REF' }, 200);
    expect(patched).toMatchObject({ id: theirs.deal, externalRef: 'A-ONLY-REF' });
    expect(await ok(a, 'GET', '/v1/opportunities/by-external-ref/A-ONLY-REF', undefined, 200)).toMatchObject({ id: mine.open });
  });

  it('B may have a user with A’s user’s email and an attribute with A’s key, and deleting it leaves A’s', async () => {
    const { b, theirs } = await accountB();
    const stateOfA = await accountState(a.accountId);
    await ok(b, 'POST', '/v1/users', { name: 'B twin', email: 'A-USER@a.test' });
    await ok(b, 'POST', '/v1/attributes', { key: 'region', label: 'B region', type: 'enum', options: ['east'] });
    await ok(b, 'PATCH', `/v1/opportunities/${theirs.deal}`, { attributes: { region: 'east' } }, 200);
    const refused = await b.request('PATCH', `/v1/opportunities/${theirs.deal}`, { attributes: { region: 'north' } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().errors).toEqual([{ field: 'attributes.region', message: expect.any(String) }]);
    await ok(b, 'DELETE', '/v1/attributes/region', undefined, 204);
    expect(await accountState(a.accountId)).toEqual(stateOfA);
    expect((await ok(a, 'GET', `/v1/opportunities/${mine.deal}`, undefined, 200)).attributes).toEqual({ a_only: 'A secret', region: 'north' });
  });

  it('the same Idempotency-Key in A and B gives each its own result, never a replay of the other’s', async () => {
    // Accounts of its own: it adds opportunities to both.
    const a = await newAccount(api, 'A');
    const { b } = await accountB();
    const key = { 'idempotency-key': 'same-key' };
    const fromA = await a.request('POST', '/v1/opportunities', { title: 'A keyed' }, key);
    expect(fromA.statusCode).toBe(201);

    // Another body under the same key: in B that is a first use, not a 422 that would reveal A's.
    const fromB = await b.request('POST', '/v1/opportunities', { title: 'B keyed' }, key);
    expect(fromB.statusCode, fromB.body).toBe(201);
    expect(fromB.headers['idempotent-replayed']).toBeUndefined();
    expect(fromB.json()).toMatchObject({ title: 'B keyed' });

    // The very same request as A's: B still gets a new opportunity of its own.
    const sameBody = { 'idempotency-key': 'same-key-2' };
    const firstA = await a.request('POST', '/v1/opportunities', { title: 'Twin' }, sameBody);
    const firstB = await b.request('POST', '/v1/opportunities', { title: 'Twin' }, sameBody);
    expect(firstA.statusCode).toBe(201);
    expect(firstB.statusCode).toBe(201);
    expect(firstB.headers['idempotent-replayed']).toBeUndefined();
    expect(firstB.json().id).not.toBe(firstA.json().id);

    // Replays stay in their account.
    const againA = await a.request('POST', '/v1/opportunities', { title: 'Twin' }, sameBody);
    const againB = await b.request('POST', '/v1/opportunities', { title: 'Twin' }, sameBody);
    expect(againA.headers['idempotent-replayed']).toBe('true');
    expect(againB.headers['idempotent-replayed']).toBe('true');
    expect(againA.json().id).toBe(firstA.json().id);
    expect(againB.json().id).toBe(firstB.json().id);

    const owners = await api.database.sql`SELECT id, account_id FROM opportunities WHERE id IN (${fromA.json().id}, ${fromB.json().id}, ${firstA.json().id}, ${firstB.json().id})`;
    const ownerOf = Object.fromEntries(owners.map((row) => [row.id, row.account_id]));
    expect(ownerOf).toEqual({
      [fromA.json().id]: a.accountId,
      [fromB.json().id]: b.accountId,
      [firstA.json().id]: a.accountId,
      [firstB.json().id]: b.accountId,
    });
  });

  it('the database itself refuses a link from B’s opportunity to A’s contact', async () => {
    await expect(
      api.database.sql`INSERT INTO opportunity_contacts (account_id, opportunity_id, contact_id) VALUES (${b.accountId}, ${theirs.deal}, ${mine.contact})`,
    ).rejects.toThrow(/foreign key/);
  });
});
