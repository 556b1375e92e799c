import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../src/model/accounts.ts';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;
let client: Client;
let revokedKey: string;
let opportunityId: string;

beforeAll(async () => {
  api = await startTestApi();
  client = await newAccount(api);
  const contact = (await client.request('POST', '/v1/contacts', { name: 'Seed' })).json();
  await client.request('POST', '/v1/users', { name: 'Seed user', email: 'seed@example.com' });
  await client.request('POST', '/v1/attributes', { key: 'region', label: 'Region', type: 'enum', options: ['emea'] });
  opportunityId = (
    await client.request('POST', '/v1/opportunities', {
      title: 'Seed',
      amount: '10.00',
      contactId: contact.id,
      externalRef: 'SEED-1',
      attributes: { region: 'emea' },
    })
  ).json().id;
  const revoked = await createApiKey(api.database.db, client.accountId);
  await revokeApiKey(api.database.db, revoked.keyId);
  revokedKey = revoked.apiKey;
});
afterAll(() => api.close());

const tables = ['opportunities', 'contacts', 'opportunity_contacts', 'users', 'attribute_definitions', 'api_keys', 'idempotency_keys'];

async function snapshot() {
  const state: Record<string, unknown> = {};
  for (const table of tables) state[table] = await api.database.sql.unsafe(`SELECT * FROM ${table} ORDER BY 1, 2`);
  return state;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
interface Case {
  name: string;
  method: Method;
  url: string | (() => string);
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  fields: string[];
}

const opp = () => `/v1/opportunities/${opportunityId}`;
const nobody = '00000000-0000-4000-8000-000000000000';

const cases: Case[] = [
  { name: 'title of the wrong type', method: 'POST', url: '/v1/opportunities', body: { title: 5 }, status: 400, fields: ['title'] },
  { name: 'probability as text', method: 'POST', url: '/v1/opportunities', body: { title: 't', probability: 'high' }, status: 400, fields: ['probability'] },
  { name: 'contactIds not a list', method: 'POST', url: '/v1/opportunities', body: { title: 't', contactIds: 'x' }, status: 400, fields: ['contactIds'] },
  { name: 'an unknown field', method: 'POST', url: '/v1/opportunities', body: { title: 't', bogus: 1 }, status: 400, fields: ['bogus'] },
  { name: 'title over 255 characters', method: 'POST', url: '/v1/opportunities', body: { title: 't'.repeat(256) }, status: 400, fields: ['title'] },
  { name: 'externalRef over 255 characters', method: 'POST', url: '/v1/opportunities', body: { title: 't', externalRef: 'r'.repeat(256) }, status: 400, fields: ['externalRef'] },
  { name: 'description over 10000 characters', method: 'POST', url: '/v1/opportunities', body: { title: 't', description: 'd'.repeat(10_001) }, status: 400, fields: ['description'] },
  { name: 'a four-letter currency', method: 'POST', url: '/v1/opportunities', body: { title: 't', currency: 'EURO' }, status: 400, fields: ['currency'] },
  { name: 'a currency that is not ISO 4217', method: 'POST', url: '/v1/opportunities', body: { title: 't', currency: 'XXY' }, status: 400, fields: ['currency'] },
  { name: 'probability 101', method: 'POST', url: '/v1/opportunities', body: { title: 't', probability: 101 }, status: 400, fields: ['probability'] },
  { name: 'probability -1', method: 'POST', url: '/v1/opportunities', body: { title: 't', probability: -1 }, status: 400, fields: ['probability'] },
  { name: 'probability 50.5', method: 'POST', url: '/v1/opportunities', body: { title: 't', probability: 50.5 }, status: 400, fields: ['probability'] },
  { name: 'a negative amount', method: 'POST', url: '/v1/opportunities', body: { title: 't', amount: '-1.00' }, status: 400, fields: ['amount'] },
  { name: 'an amount with a comma', method: 'POST', url: '/v1/opportunities', body: { title: 't', amount: '1,5' }, status: 400, fields: ['amount'] },
  { name: 'an amount that is not a number', method: 'POST', url: '/v1/opportunities', body: { title: 't', amount: 'abc' }, status: 400, fields: ['amount'] },
  { name: 'an amount a double would round', method: 'POST', url: '/v1/opportunities', body: '{"title":"t","amount":12345678901234567.89}', status: 400, fields: ['amount'] },
  { name: 'an impossible closeDate', method: 'POST', url: '/v1/opportunities', body: { title: 't', closeDate: '2026-02-30' }, status: 400, fields: ['closeDate'] },
  { name: 'malformed JSON', method: 'POST', url: '/v1/opportunities', body: '{"title": "t",', status: 400, fields: ['body'] },
  { name: 'an empty body', method: 'POST', url: '/v1/opportunities', body: '', status: 400, fields: ['body'] },
  { name: 'a contact that does not exist', method: 'POST', url: '/v1/opportunities', body: { title: 't', contactId: nobody }, status: 400, fields: ['contactId'] },
  { name: 'an assignee that does not exist', method: 'POST', url: '/v1/opportunities', body: { title: 't', assigneeId: nobody }, status: 400, fields: ['assigneeId'] },
  { name: 'an unknown attribute', method: 'POST', url: '/v1/opportunities', body: { title: 't', attributes: { nope: 1 } }, status: 400, fields: ['attributes.nope'] },
  { name: 'an enum value not in the options', method: 'PATCH', url: opp, body: { attributes: { region: 'apac' } }, status: 400, fields: ['attributes.region'] },
  { name: 'PATCH of state', method: 'PATCH', url: opp, body: { state: 'won' }, status: 400, fields: ['state'] },
  { name: 'PATCH of version and id', method: 'PATCH', url: opp, body: { version: 9, id: nobody }, status: 400, fields: ['version', 'id'] },
  { name: 'PATCH with a bad amount', method: 'PATCH', url: opp, body: { amount: '1e5' }, status: 400, fields: ['amount'] },
  { name: 'PATCH with a null title', method: 'PATCH', url: opp, body: { title: null }, status: 400, fields: ['title'] },
  { name: 'PATCH taking another opportunity’s ref', method: 'PATCH', url: opp, body: { externalRef: 'OTHER-1' }, status: 409, fields: ['externalRef'] },
  { name: 'a malformed If-Match', method: 'PATCH', url: opp, body: { title: 'x' }, headers: { 'if-match': 'abc' }, status: 400, fields: ['If-Match'] },
  { name: 'a stale If-Match', method: 'PATCH', url: opp, body: { title: 'x' }, headers: { 'if-match': '99' }, status: 412, fields: [] },
  { name: 'a stale If-Match on DELETE', method: 'DELETE', url: opp, headers: { 'if-match': '99' }, status: 412, fields: [] },
  { name: 'closing to open', method: 'POST', url: () => `${opp()}/close`, body: { state: 'open' }, status: 400, fields: ['state'] },
  { name: 'closing won with a reason', method: 'POST', url: () => `${opp()}/close`, body: { state: 'won', reason: 'x' }, status: 400, fields: ['reason'] },
  { name: 'an unknown field in close', method: 'POST', url: () => `${opp()}/close`, body: { state: 'lost', why: 'x' }, status: 400, fields: ['why'] },
  { name: 'PUT by ref with an unknown field', method: 'PUT', url: '/v1/opportunities/by-external-ref/NEW-1', body: { title: 't', externalRef: 'x' }, status: 400, fields: ['externalRef'] },
  { name: 'PUT by ref without a title', method: 'PUT', url: '/v1/opportunities/by-external-ref/NEW-2', body: {}, status: 400, fields: ['title'] },
  { name: 'a path id that is not a UUID', method: 'GET', url: '/v1/opportunities/42', status: 400, fields: ['params.id'] },
  { name: 'a bad cursor', method: 'GET', url: '/v1/opportunities?cursor=garbage', status: 400, fields: ['cursor'] },
  { name: 'limit 0', method: 'GET', url: '/v1/opportunities?limit=0', status: 400, fields: ['querystring.limit'] },
  { name: 'limit 501', method: 'GET', url: '/v1/opportunities?limit=501', status: 400, fields: ['querystring.limit'] },
  { name: 'an unknown state filter', method: 'GET', url: '/v1/opportunities?state=pending', status: 400, fields: ['querystring.state'] },
  { name: 'a contact without a name', method: 'POST', url: '/v1/contacts', body: { email: 'a@example.com' }, status: 400, fields: ['name'] },
  { name: 'a contact with a bad email', method: 'POST', url: '/v1/contacts', body: { name: 'n', email: 'not-an-email' }, status: 400, fields: ['email'] },
  { name: 'a user with a taken email', method: 'POST', url: '/v1/users', body: { name: 'n', email: 'SEED@example.com' }, status: 409, fields: ['email'] },
  { name: 'a body over 1 MiB', method: 'POST', url: '/v1/contacts', body: JSON.stringify({ name: 'x'.repeat(1_100_000) }), status: 413, fields: [] },
  { name: 'a missing API key', method: 'GET', url: '/v1/opportunities', headers: { authorization: '' }, status: 401, fields: ['Authorization'] },
  { name: 'a wrong API key', method: 'POST', url: '/v1/contacts', body: { name: 'n' }, headers: { authorization: 'Bearer crm_wrong' }, status: 401, fields: ['Authorization'] },
  { name: 'a revoked API key', method: 'POST', url: '/v1/contacts', body: { name: 'n' }, headers: { authorization: 'Bearer REVOKED' }, status: 401, fields: ['Authorization'] },
];

describe('bad input', () => {
  beforeAll(async () => {
    // The ref the "taking another opportunity's ref" case collides with.
    await client.request('POST', '/v1/opportunities', { title: 'Other', externalRef: 'OTHER-1' });
  });

  it.each(cases)('$name → $status, naming $fields, and nothing stored changes', async (c) => {
    const before = await snapshot();
    const headers = Object.fromEntries(
      Object.entries(c.headers ?? {}).map(([name, value]) => [name, value.replace('REVOKED', revokedKey)]),
    );
    const url = typeof c.url === 'function' ? c.url() : c.url;
    const response = await client.request(c.method, url, c.body, headers);

    expect(response.statusCode, response.body).toBe(c.status);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const problem = response.json();
    expect(problem).toMatchObject({ status: c.status, title: expect.any(String), detail: expect.any(String) });
    expect(problem.errors.map((e: { field: string }) => e.field)).toEqual(c.fields);
    expect(await snapshot()).toEqual(before);
  });
});
