import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;
let a: Client;
let b: Client;
const mine: { contact: string; user: string; opportunity: string; closable: string } = {} as never;

beforeAll(async () => {
  api = await startTestApi();
  a = await newAccount(api, 'A');
  b = await newAccount(api, 'B');
  mine.contact = (await a.request('POST', '/v1/contacts', { name: 'A contact', email: 'c@a.test' })).json().id;
  mine.user = (await a.request('POST', '/v1/users', { name: 'A user', email: 'u@a.test' })).json().id;
  await a.request('POST', '/v1/attributes', { key: 'a_only', label: 'A only', type: 'text' });
  mine.opportunity = (
    await a.request('POST', '/v1/opportunities', {
      title: 'A deal',
      amount: '100.00',
      externalRef: 'SHARED-REF',
      contactId: mine.contact,
      assigneeId: mine.user,
      attributes: { a_only: 'secret' },
    })
  ).json().id;
  mine.closable = (await a.request('POST', '/v1/opportunities', { title: 'A closable' })).json().id;
});
afterAll(() => api.close());

async function accountAState() {
  return {
    opportunities: await api.database.sql`SELECT * FROM opportunities WHERE account_id = ${a.accountId} ORDER BY id`,
    contacts: await api.database.sql`SELECT * FROM contacts WHERE account_id = ${a.accountId} ORDER BY id`,
    users: await api.database.sql`SELECT * FROM users WHERE account_id = ${a.accountId} ORDER BY id`,
    attributes: await api.database.sql`SELECT * FROM attribute_definitions WHERE account_id = ${a.accountId} ORDER BY id`,
    links: await api.database.sql`SELECT * FROM opportunity_contacts WHERE account_id = ${a.accountId} ORDER BY 2, 3`,
  };
}

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
const foreignRoutes: [Method, () => string, unknown?][] = [
  ['GET', () => `/v1/opportunities/${mine.opportunity}`],
  ['PATCH', () => `/v1/opportunities/${mine.opportunity}`, { title: 'hijacked' }],
  ['DELETE', () => `/v1/opportunities/${mine.opportunity}`],
  ['POST', () => `/v1/opportunities/${mine.closable}/close`, { state: 'lost', reason: 'sabotage' }],
  ['POST', () => `/v1/opportunities/${mine.closable}/reopen`],
  ['GET', () => `/v1/contacts/${mine.contact}`],
  ['PATCH', () => `/v1/contacts/${mine.contact}`, { name: 'hijacked' }],
  ['DELETE', () => `/v1/contacts/${mine.contact}`],
  ['GET', () => `/v1/contacts/${mine.contact}/opportunities`],
  ['DELETE', () => '/v1/attributes/a_only'],
];

describe('tenant isolation', () => {
  it.each(foreignRoutes)('%s %s on another account’s record is a 404 that changes nothing', async (method, url, body) => {
    const before = await accountAState();
    const response = await b.request(method, url(), body);
    expect(response.statusCode, response.body).toBe(404);
    expect(response.body).not.toContain('A deal');
    expect(response.body).not.toContain('A contact');
    expect(await accountAState()).toEqual(before);
  });

  it('lists and metrics show nothing of the other account', async () => {
    for (const url of ['/v1/opportunities', '/v1/contacts', '/v1/users', '/v1/attributes', `/v1/opportunities?contactId=${mine.contact}`]) {
      const response = await b.request('GET', url);
      expect(response.statusCode, url).toBe(200);
      expect(response.json().data, url).toEqual([]);
    }
    const metrics = (await b.request('GET', '/v1/metrics/opportunities')).json();
    expect(metrics.countsByState).toEqual({ open: 0, won: 0, lost: 0, abandoned: 0 });
    expect(metrics.averageValue).toEqual({});
    expect(metrics.topContacts).toEqual([]);
  });

  it('external references are unique per account, and lookups stay in the account', async () => {
    expect((await b.request('GET', '/v1/opportunities/by-external-ref/SHARED-REF')).statusCode).toBe(404);
    const created = await b.request('PUT', '/v1/opportunities/by-external-ref/SHARED-REF', { title: 'B deal' });
    expect(created.statusCode).toBe(201);
    expect(created.json().id).not.toBe(mine.opportunity);
    const again = await b.request('POST', '/v1/opportunities', { title: 'B dup', externalRef: 'SHARED-REF' });
    expect(again.statusCode).toBe(409);
    expect(again.json().existingId).toBe(created.json().id);
    expect((await a.request('GET', '/v1/opportunities/by-external-ref/SHARED-REF')).json()).toMatchObject({
      id: mine.opportunity,
      title: 'A deal',
    });
  });

  it.each([
    [{ contactId: 'contact' }, 'contactId'],
    [{ contactIds: ['contact'] }, 'contactIds.0'],
    [{ assigneeId: 'user' }, 'assigneeId'],
  ])('refuses to attach the other account’s %j', async (template, field) => {
    const body = Object.fromEntries(
      Object.entries(template).map(([key, value]) => [
        key,
        JSON.parse(JSON.stringify(value).replace('"contact"', `"${mine.contact}"`).replace('"user"', `"${mine.user}"`)),
      ]),
    );
    const create = await b.request('POST', '/v1/opportunities', { title: 'B attach', ...body });
    expect(create.statusCode).toBe(400);
    expect(create.json().errors).toEqual([{ field, message: expect.any(String) }]);
    const [{ n }] = await api.database.sql`SELECT count(*)::int AS n FROM contacts WHERE id = ${mine.contact} AND opportunity_count = 1`;
    expect(n).toBe(1);
  });

  it('refuses the other account’s user as closedBy', async () => {
    const own = (await b.request('POST', '/v1/opportunities', { title: 'B closable' })).json();
    const response = await b.request('POST', `/v1/opportunities/${own.id}/close`, { state: 'won', closedById: mine.user });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([{ field: 'closedById', message: 'no such user' }]);
  });

  it('an Idempotency-Key is per account: the same key never replays another account’s response', async () => {
    const headers = { 'idempotency-key': 'same-key' };
    const fromA = await a.request('POST', '/v1/contacts', { name: 'Keyed' }, headers);
    const fromB = await b.request('POST', '/v1/contacts', { name: 'Keyed' }, headers);
    expect(fromA.statusCode).toBe(201);
    expect(fromB.statusCode).toBe(201);
    expect(fromB.headers['idempotent-replayed']).toBeUndefined();
    expect(fromB.json().id).not.toBe(fromA.json().id);
  });

  it('the database refuses a cross-account contact link even if code forgot to check', async () => {
    const own = (await b.request('POST', '/v1/opportunities', { title: 'B raw' })).json();
    await expect(
      api.database.sql`INSERT INTO opportunity_contacts (account_id, opportunity_id, contact_id) VALUES (${b.accountId}, ${own.id}, ${mine.contact})`,
    ).rejects.toThrow(/foreign key/);
  });
});
