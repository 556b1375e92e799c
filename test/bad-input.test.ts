import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../src/model/accounts/accounts.ts';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;
let client: Client;
let revokedKey: string;
let opportunityId: string;
let contactId: string;

beforeAll(async () => {
  api = await startTestApi();
  client = await newAccount(api);
  const seed = async (url: string, body: unknown, headers?: Record<string, string>) => {
    const response = await client.request('POST', url, body, headers);
    expect(response.statusCode, `${url} ${response.body}`).toBe(201);
    return response.json();
  };
  contactId = (await seed('/v1/contacts', { name: 'Seed contact', email: 'contact@example.com' })).id;
  await seed('/v1/users', { name: 'Seed user', email: 'seed@example.com' });
  for (const definition of [
    { key: 'region', label: 'Region', type: 'enum', options: ['emea', 'amer'] },
    { key: 'note', label: 'Note', type: 'text' },
    { key: 'score', label: 'Score', type: 'number' },
    { key: 'signed_on', label: 'Signed on', type: 'date' },
    { key: 'vip', label: 'VIP', type: 'boolean' },
  ]) {
    await seed('/v1/attributes', definition);
  }
  opportunityId = (
    await seed('/v1/opportunities', {
      title: 'Seed',
      amount: '10.00',
      currency: 'EUR',
      probability: 40,
      contactId,
      externalRef: 'SEED-1',
      attributes: { region: 'emea', note: 'hello', score: 3, signed_on: '2026-03-01', vip: false },
    })
  ).id;
  // The ref a PATCH collides with, and an Idempotency-Key already used with another body.
  await seed('/v1/opportunities', { title: 'Other', externalRef: 'OTHER-1' });
  await seed('/v1/contacts', { name: 'Keyed' }, { 'idempotency-key': 'seed-key' });
  const revoked = await createApiKey(api.database.db, client.accountId);
  await revokeApiKey(api.database.db, revoked.keyId);
  revokedKey = revoked.apiKey;
});
afterAll(() => api.close());

const snapshotQueries: Record<string, string> = {
  accounts: 'SELECT * FROM accounts ORDER BY id',
  api_keys: 'SELECT * FROM api_keys ORDER BY id',
  users: 'SELECT * FROM users ORDER BY id',
  contacts: 'SELECT * FROM contacts ORDER BY id',
  attribute_definitions: 'SELECT * FROM attribute_definitions ORDER BY id',
  opportunities: 'SELECT * FROM opportunities ORDER BY id',
  opportunity_contacts: 'SELECT * FROM opportunity_contacts ORDER BY opportunity_id, contact_id',
  idempotency_keys: 'SELECT * FROM idempotency_keys ORDER BY account_id, key',
  outbox: 'SELECT * FROM outbox ORDER BY id',
};

/** Every row of every table a request could touch. */
async function snapshot() {
  const state: Record<string, unknown[]> = {};
  for (const [table, query] of Object.entries(snapshotQueries)) state[table] = [...(await api.database.sql.unsafe(query))];
  return state;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
interface Case {
  name: string;
  method: Method;
  url: string | (() => string);
  /** An object is sent as JSON; a string is sent exactly as written. */
  body?: unknown;
  headers?: Record<string, string>;
  /** 'none': no Authorization header at all; 'revoked': the account's revoked key. */
  auth?: 'none' | 'revoked';
  status: number;
  /** The `field` of each entry of `errors`, in order. */
  fields: string[];
}

const opp = () => `/v1/opportunities/${opportunityId}`;
const nobody = '00000000-0000-4000-8000-000000000000';
const O = '/v1/opportunities';
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

const cases: Case[] = [
  // Wrong types
  { name: 'title as a number', method: 'POST', url: O, body: { title: 5 }, status: 400, fields: ['title'] },
  { name: 'probability as text', method: 'POST', url: O, body: { title: 't', probability: 'high' }, status: 400, fields: ['probability'] },
  { name: 'contactIds as a string', method: 'POST', url: O, body: { title: 't', contactIds: 'x' }, status: 400, fields: ['contactIds'] },
  { name: 'contactIds with a non-UUID', method: 'POST', url: O, body: { title: 't', contactIds: ['x'] }, status: 400, fields: ['contactIds.0'] },
  { name: 'contactId not a UUID', method: 'POST', url: O, body: { title: 't', contactId: 'x' }, status: 400, fields: ['contactId'] },
  { name: 'attributes as a string', method: 'POST', url: O, body: { title: 't', attributes: 'x' }, status: 400, fields: ['attributes'] },
  { name: 'currency as a number', method: 'POST', url: O, body: { title: 't', currency: 978 }, status: 400, fields: ['currency'] },
  { name: 'a blank title', method: 'POST', url: O, body: { title: '   ' }, status: 400, fields: ['title'] },
  { name: 'a stage with spaces', method: 'POST', url: O, body: { title: 't', stage: 'has space' }, status: 400, fields: ['stage'] },

  // Unknown fields
  { name: 'an unknown top-level field', method: 'POST', url: O, body: { title: 't', bogus: 1 }, status: 400, fields: ['bogus'] },
  { name: 'two unknown fields', method: 'POST', url: O, body: { title: 't', bogus: 1, other: 2 }, status: 400, fields: ['bogus', 'other'] },
  { name: 'an unknown field in close', method: 'POST', url: () => `${opp()}/close`, body: { state: 'lost', why: 'x' }, status: 400, fields: ['why'] },
  { name: 'PUT by ref with an unknown field', method: 'PUT', url: `${O}/by-external-ref/NEW-1`, body: { title: 't', bogus: 1 }, status: 400, fields: ['bogus'] },
  { name: 'PUT by ref with externalRef in the body', method: 'PUT', url: `${O}/by-external-ref/NEW-1`, body: { title: 't', externalRef: 'x' }, status: 400, fields: ['externalRef'] },

  // Oversized and empty strings
  { name: 'title of 256 characters', method: 'POST', url: O, body: { title: 't'.repeat(256) }, status: 400, fields: ['title'] },
  { name: 'externalRef of 256 characters', method: 'POST', url: O, body: { title: 't', externalRef: 'r'.repeat(256) }, status: 400, fields: ['externalRef'] },
  { name: 'an empty externalRef', method: 'POST', url: O, body: { title: 't', externalRef: '' }, status: 400, fields: ['externalRef'] },
  { name: 'description of 10001 characters', method: 'POST', url: O, body: { title: 't', description: 'd'.repeat(10_001) }, status: 400, fields: ['description'] },
  { name: 'a text attribute of 2001 characters', method: 'POST', url: O, body: { title: 't', attributes: { note: 'n'.repeat(2001) } }, status: 400, fields: ['attributes.note'] },

  // Characters PostgreSQL cannot store must be refused, not turned into a 500
  { name: 'a title with a NUL character', method: 'POST', url: O, body: { title: 'a\u0000b' }, status: 400, fields: ['title'] },
  { name: 'a text attribute with a NUL character', method: 'PATCH', url: opp, body: { attributes: { note: 'a\u0000b' } }, status: 400, fields: ['attributes.note'] },
  { name: 'a contact name with a NUL character', method: 'POST', url: '/v1/contacts', body: { name: 'a\u0000b' }, status: 400, fields: ['name'] },
  { name: 'a GET by a ref with a NUL character', method: 'GET', url: `${O}/by-external-ref/%00`, status: 400, fields: ['params.ref'] },
  { name: 'a PUT by a ref with a NUL character', method: 'PUT', url: `${O}/by-external-ref/a%00b`, body: { title: 't' }, status: 400, fields: ['params.ref'] },
  { name: 'a stage filter with a NUL character', method: 'GET', url: `${O}?stage=%00`, status: 400, fields: ['querystring.stage'] },
  // A lone surrogate is legal JSON syntax but no Unicode text: stored, it would be silently replaced or refused by jsonb
  { name: 'a title with a lone surrogate', method: 'POST', url: O, body: '{"title":"a\\ud800b"}', status: 400, fields: ['title'] },
  { name: 'a text attribute with a lone surrogate', method: 'PATCH', url: opp, body: '{"attributes":{"note":"a\\ud800b"}}', status: 400, fields: ['attributes.note'] },
  { name: 'a path with percent-encoding that is not UTF-8 (refused before routing)', method: 'GET', url: `${O}/by-external-ref/%ED%A0%80`, status: 400, fields: ['url'] },

  // Currency
  { name: 'currency "EURO"', method: 'POST', url: O, body: { title: 't', currency: 'EURO' }, status: 400, fields: ['currency'] },
  { name: 'currency "XXY"', method: 'POST', url: O, body: { title: 't', currency: 'XXY' }, status: 400, fields: ['currency'] },

  // Probability
  { name: 'probability 101', method: 'POST', url: O, body: { title: 't', probability: 101 }, status: 400, fields: ['probability'] },
  { name: 'probability -1', method: 'POST', url: O, body: { title: 't', probability: -1 }, status: 400, fields: ['probability'] },
  { name: 'probability 50.5', method: 'POST', url: O, body: { title: 't', probability: 50.5 }, status: 400, fields: ['probability'] },

  // Amount
  { name: 'a negative amount', method: 'POST', url: O, body: { title: 't', amount: '-1.00' }, status: 400, fields: ['amount'] },
  { name: 'a negative number amount', method: 'POST', url: O, body: { title: 't', amount: -5 }, status: 400, fields: ['amount'] },
  { name: 'amount "1,5"', method: 'POST', url: O, body: { title: 't', amount: '1,5' }, status: 400, fields: ['amount'] },
  { name: 'amount "abc"', method: 'POST', url: O, body: { title: 't', amount: 'abc' }, status: 400, fields: ['amount'] },
  { name: 'the literal 12345678901234567.89', method: 'POST', url: O, body: '{"title":"t","amount":12345678901234567.89}', status: 400, fields: ['amount'] },

  // Dates
  { name: 'closeDate 2026-02-30', method: 'POST', url: O, body: { title: 't', closeDate: '2026-02-30' }, status: 400, fields: ['closeDate'] },
  { name: 'closeDate 2026-13-01', method: 'POST', url: O, body: { title: 't', closeDate: '2026-13-01' }, status: 400, fields: ['closeDate'] },
  { name: 'closeDate in day.month.year', method: 'POST', url: O, body: { title: 't', closeDate: '31.01.2026' }, status: 400, fields: ['closeDate'] },
  { name: 'closeDate in year 0, which PostgreSQL has not', method: 'POST', url: O, body: { title: 't', closeDate: '0000-01-01' }, status: 400, fields: ['closeDate'] },

  // Bodies that are not a JSON object
  { name: 'malformed JSON', method: 'POST', url: O, body: '{"title": "t",', status: 400, fields: ['body'] },
  { name: 'an empty body', method: 'POST', url: O, body: '', status: 400, fields: ['body'] },
  { name: 'no body at all', method: 'POST', url: O, status: 400, fields: ['body'] },
  { name: 'a JSON null body', method: 'POST', url: O, body: 'null', status: 400, fields: ['body'] },
  { name: 'a JSON array body', method: 'POST', url: O, body: '[{"title":"t"}]', status: 400, fields: ['body'] },
  { name: 'a body over 1 MiB', method: 'POST', url: '/v1/contacts', body: JSON.stringify({ name: 'x'.repeat(1_100_000) }), status: 413, fields: ['body'] },
  { name: 'an application/xml body', method: 'POST', url: O, body: '<title>t</title>', headers: { 'content-type': 'application/xml' }, status: 415, fields: ['Content-Type'] },

  // References to records that do not exist
  { name: 'a contactId that does not exist', method: 'POST', url: O, body: { title: 't', contactId: nobody }, status: 400, fields: ['contactId'] },
  { name: 'an assigneeId that does not exist', method: 'POST', url: O, body: { title: 't', assigneeId: nobody }, status: 400, fields: ['assigneeId'] },
  { name: 'contactIds with one that does not exist', method: 'POST', url: O, body: { title: 't', contactIds: [nobody] }, status: 400, fields: ['contactIds.0'] },
  { name: 'a missing contact under an Idempotency-Key (the key is not kept)', method: 'POST', url: O, body: { title: 't', contactId: nobody }, headers: { 'idempotency-key': 'fails-1' }, status: 400, fields: ['contactId'] },

  // Attributes
  { name: 'an attribute with an unknown key', method: 'POST', url: O, body: { title: 't', attributes: { nope: 1 } }, status: 400, fields: ['attributes.nope'] },
  { name: 'an enum value not in the options', method: 'POST', url: O, body: { title: 't', attributes: { region: 'apac' } }, status: 400, fields: ['attributes.region'] },
  { name: 'a number for a text attribute', method: 'POST', url: O, body: { title: 't', attributes: { note: 5 } }, status: 400, fields: ['attributes.note'] },
  { name: 'a string for a number attribute', method: 'POST', url: O, body: { title: 't', attributes: { score: 'ten' } }, status: 400, fields: ['attributes.score'] },
  { name: 'date attribute 2026-13-45', method: 'POST', url: O, body: { title: 't', attributes: { signed_on: '2026-13-45' } }, status: 400, fields: ['attributes.signed_on'] },
  { name: 'boolean attribute "yes"', method: 'POST', url: O, body: { title: 't', attributes: { vip: 'yes' } }, status: 400, fields: ['attributes.vip'] },
  { name: 'two bad attributes at once', method: 'POST', url: O, body: { title: 't', attributes: { region: 'apac', vip: 'yes' } }, status: 400, fields: ['attributes.region', 'attributes.vip'] },

  // PATCH of the seeded opportunity
  { name: 'PATCH of state', method: 'PATCH', url: opp, body: { state: 'won' }, status: 400, fields: ['state'] },
  { name: 'PATCH of version', method: 'PATCH', url: opp, body: { version: 9 }, status: 400, fields: ['version'] },
  { name: 'PATCH of id', method: 'PATCH', url: opp, body: { id: nobody }, status: 400, fields: ['id'] },
  { name: 'PATCH of createdAt', method: 'PATCH', url: opp, body: { createdAt: '2020-01-01T00:00:00Z' }, status: 400, fields: ['createdAt'] },
  { name: 'PATCH of a good title with probability 101', method: 'PATCH', url: opp, body: { title: 'changed', probability: 101 }, status: 400, fields: ['probability'] },
  { name: 'PATCH of a good title with a missing contact', method: 'PATCH', url: opp, body: { title: 'changed', contactId: nobody }, status: 400, fields: ['contactId'] },
  { name: 'PATCH of a good title with a missing assignee', method: 'PATCH', url: opp, body: { title: 'changed', assigneeId: nobody }, status: 400, fields: ['assigneeId'] },
  { name: 'PATCH of a good title with a bad enum value', method: 'PATCH', url: opp, body: { title: 'changed', attributes: { region: 'apac' } }, status: 400, fields: ['attributes.region'] },
  { name: 'PATCH of a bad number attribute', method: 'PATCH', url: opp, body: { attributes: { score: '3' } }, status: 400, fields: ['attributes.score'] },
  { name: 'PATCH of an unknown attribute', method: 'PATCH', url: opp, body: { attributes: { nope: 'x' } }, status: 400, fields: ['attributes.nope'] },
  { name: 'PATCH of amount "1e5"', method: 'PATCH', url: opp, body: { amount: '1e5' }, status: 400, fields: ['amount'] },
  { name: 'PATCH of currency "EURO"', method: 'PATCH', url: opp, body: { currency: 'EURO' }, status: 400, fields: ['currency'] },
  { name: 'PATCH of closeDate 2026-02-30', method: 'PATCH', url: opp, body: { closeDate: '2026-02-30' }, status: 400, fields: ['closeDate'] },
  { name: 'PATCH of title to null', method: 'PATCH', url: opp, body: { title: null }, status: 400, fields: ['title'] },
  { name: 'PATCH with malformed JSON', method: 'PATCH', url: opp, body: '{"title":', status: 400, fields: ['body'] },
  { name: 'PATCH without a body', method: 'PATCH', url: opp, status: 400, fields: ['body'] },
  { name: 'PATCH taking another opportunity’s externalRef', method: 'PATCH', url: opp, body: { externalRef: 'OTHER-1' }, status: 409, fields: ['externalRef'] },
  { name: 'PATCH with If-Match "abc"', method: 'PATCH', url: opp, body: { title: 'changed' }, headers: { 'if-match': 'abc' }, status: 400, fields: ['If-Match'] },
  { name: 'PATCH with a stale If-Match', method: 'PATCH', url: opp, body: { title: 'changed' }, headers: { 'if-match': '99' }, status: 412, fields: ['If-Match'] },
  { name: 'DELETE with If-Match "abc"', method: 'DELETE', url: opp, headers: { 'if-match': 'abc' }, status: 400, fields: ['If-Match'] },
  { name: 'DELETE with a stale If-Match', method: 'DELETE', url: opp, headers: { 'if-match': '99' }, status: 412, fields: ['If-Match'] },

  // Close and reopen
  { name: 'close with state "open"', method: 'POST', url: () => `${opp()}/close`, body: { state: 'open' }, status: 400, fields: ['state'] },
  { name: 'close won with a reason', method: 'POST', url: () => `${opp()}/close`, body: { state: 'won', reason: 'cheap' }, status: 400, fields: ['reason'] },
  { name: 'close without a body', method: 'POST', url: () => `${opp()}/close`, status: 400, fields: ['body'] },
  { name: 'close by a user that does not exist', method: 'POST', url: () => `${opp()}/close`, body: { state: 'won', closedById: nobody }, status: 400, fields: ['closedById'] },
  { name: 'close with If-Match "abc"', method: 'POST', url: () => `${opp()}/close`, body: { state: 'won' }, headers: { 'if-match': 'abc' }, status: 400, fields: ['If-Match'] },
  { name: 'reopen with If-Match "abc"', method: 'POST', url: () => `${opp()}/reopen`, headers: { 'if-match': 'abc' }, status: 400, fields: ['If-Match'] },

  // PUT by external reference
  { name: 'PUT by ref without a title', method: 'PUT', url: `${O}/by-external-ref/NEW-2`, body: {}, status: 400, fields: ['title'] },
  { name: 'PUT of a new ref with a missing contact', method: 'PUT', url: `${O}/by-external-ref/NEW-3`, body: { title: 't', contactId: nobody }, status: 400, fields: ['contactId'] },
  { name: 'PUT of the seeded ref with probability 101', method: 'PUT', url: `${O}/by-external-ref/SEED-1`, body: { title: 'changed', probability: 101 }, status: 400, fields: ['probability'] },
  { name: 'PUT of the seeded ref with a bad attribute', method: 'PUT', url: `${O}/by-external-ref/SEED-1`, body: { title: 'changed', attributes: { vip: 'yes' } }, status: 400, fields: ['attributes.vip'] },
  { name: 'PUT by a ref of 256 characters', method: 'PUT', url: `${O}/by-external-ref/${'r'.repeat(256)}`, body: { title: 't' }, status: 400, fields: ['params.ref'] },

  // Path parameters
  { name: 'GET of an opportunity id that is not a UUID', method: 'GET', url: `${O}/42`, status: 400, fields: ['params.id'] },
  { name: 'PATCH of an opportunity id that is not a UUID', method: 'PATCH', url: `${O}/42`, body: { title: 't' }, status: 400, fields: ['params.id'] },
  { name: 'DELETE of an opportunity id that is not a UUID', method: 'DELETE', url: `${O}/not-a-uuid`, status: 400, fields: ['params.id'] },
  { name: 'close of an opportunity id that is not a UUID', method: 'POST', url: `${O}/42/close`, body: { state: 'won' }, status: 400, fields: ['params.id'] },
  { name: 'GET of a contact id that is not a UUID', method: 'GET', url: '/v1/contacts/42', status: 400, fields: ['params.id'] },
  { name: 'PATCH of a contact id that is not a UUID', method: 'PATCH', url: '/v1/contacts/42', body: { name: 'n' }, status: 400, fields: ['params.id'] },
  { name: 'opportunities of a contact id that is not a UUID', method: 'GET', url: '/v1/contacts/x/opportunities', status: 400, fields: ['params.id'] },
  { name: 'DELETE of an attribute key of 65 characters', method: 'DELETE', url: `/v1/attributes/${'k'.repeat(65)}`, status: 400, fields: ['params.key'] },

  // Query parameters
  { name: 'a cursor that is not one', method: 'GET', url: `${O}?cursor=garbage`, status: 400, fields: ['querystring.cursor'] },
  { name: 'a cursor whose id is not a UUID', method: 'GET', url: `${O}?cursor=${cursorOf(['2026-01-01T00:00:00.000Z', 'not-a-uuid'])}`, status: 400, fields: ['querystring.cursor'] },
  { name: 'a cursor in year 0', method: 'GET', url: `/v1/contacts?cursor=${cursorOf(['0000-01-01T00:00:00.000Z', nobody])}`, status: 400, fields: ['querystring.cursor'] },
  { name: 'a bad cursor for contacts', method: 'GET', url: '/v1/contacts?cursor=garbage', status: 400, fields: ['querystring.cursor'] },
  { name: 'a bad cursor for attributes', method: 'GET', url: '/v1/attributes?cursor=garbage', status: 400, fields: ['querystring.cursor'] },
  { name: 'limit=0', method: 'GET', url: `${O}?limit=0`, status: 400, fields: ['querystring.limit'] },
  { name: 'limit=501', method: 'GET', url: `${O}?limit=501`, status: 400, fields: ['querystring.limit'] },
  { name: 'limit=abc', method: 'GET', url: `${O}?limit=abc`, status: 400, fields: ['querystring.limit'] },
  { name: 'limit=0 on contacts', method: 'GET', url: '/v1/contacts?limit=0', status: 400, fields: ['querystring.limit'] },
  { name: 'limit=501 on users', method: 'GET', url: '/v1/users?limit=501', status: 400, fields: ['querystring.limit'] },
  { name: 'an unknown state filter', method: 'GET', url: `${O}?state=pending`, status: 400, fields: ['querystring.state'] },
  { name: 'an unknown query parameter', method: 'GET', url: `${O}?bogus=1`, status: 400, fields: ['querystring.bogus'] },
  { name: 'an assigneeId filter that is not a UUID', method: 'GET', url: `${O}?assigneeId=x`, status: 400, fields: ['querystring.assigneeId'] },
  { name: 'updatedSince that is not a time', method: 'GET', url: `${O}?updatedSince=yesterday`, status: 400, fields: ['querystring.updatedSince'] },
  { name: 'updatedSince in year 0', method: 'GET', url: `${O}?updatedSince=0000-01-01T00:00:00Z`, status: 400, fields: ['querystring.updatedSince'] },
  { name: 'within=0', method: 'GET', url: `${O}?filter=recently_won&within=0`, status: 400, fields: ['querystring.within'] },
  { name: 'metrics with top=0', method: 'GET', url: '/v1/metrics/opportunities?top=0', status: 400, fields: ['querystring.top'] },
  { name: 'metrics with a from that is not a time', method: 'GET', url: '/v1/metrics/opportunities?from=last-week', status: 400, fields: ['querystring.from'] },
  { name: 'metrics with from in year 0', method: 'GET', url: '/v1/metrics/opportunities?from=0000-01-01T00:00:00Z', status: 400, fields: ['querystring.from'] },

  // Idempotency-Key
  { name: 'an empty Idempotency-Key', method: 'POST', url: '/v1/contacts', body: { name: 'n' }, headers: { 'idempotency-key': '' }, status: 400, fields: ['Idempotency-Key'] },
  { name: 'an Idempotency-Key of 256 characters', method: 'POST', url: '/v1/contacts', body: { name: 'n' }, headers: { 'idempotency-key': 'k'.repeat(256) }, status: 400, fields: ['Idempotency-Key'] },
  { name: 'a used Idempotency-Key with another body', method: 'POST', url: '/v1/contacts', body: { name: 'Not keyed' }, headers: { 'idempotency-key': 'seed-key' }, status: 422, fields: ['Idempotency-Key'] },

  // Contacts, users, attributes
  { name: 'a contact without a name', method: 'POST', url: '/v1/contacts', body: { email: 'a@example.com' }, status: 400, fields: ['name'] },
  { name: 'a contact with a bad email', method: 'POST', url: '/v1/contacts', body: { name: 'n', email: 'not-an-email' }, status: 400, fields: ['email'] },
  { name: 'a contact name of 201 characters', method: 'POST', url: '/v1/contacts', body: { name: 'n'.repeat(201) }, status: 400, fields: ['name'] },
  { name: 'a contact with an unknown field', method: 'POST', url: '/v1/contacts', body: { name: 'n', company: 'x' }, status: 400, fields: ['company'] },
  { name: 'PATCH of a contact with an unknown field', method: 'PATCH', url: () => `/v1/contacts/${contactId}`, body: { bogus: 1 }, status: 400, fields: ['bogus'] },
  { name: 'PATCH of a contact name to ""', method: 'PATCH', url: () => `/v1/contacts/${contactId}`, body: { name: '' }, status: 400, fields: ['name'] },
  { name: 'PATCH of a contact name to null', method: 'PATCH', url: () => `/v1/contacts/${contactId}`, body: { name: null }, status: 400, fields: ['name'] },
  { name: 'a user without an email', method: 'POST', url: '/v1/users', body: { name: 'n' }, status: 400, fields: ['email'] },
  { name: 'a user with a bad email', method: 'POST', url: '/v1/users', body: { name: 'n', email: 'nope' }, status: 400, fields: ['email'] },
  { name: 'a user with a taken email in other case', method: 'POST', url: '/v1/users', body: { name: 'n', email: 'SEED@example.com' }, status: 409, fields: ['email'] },
  { name: 'an attribute key with capitals', method: 'POST', url: '/v1/attributes', body: { key: 'Tier', label: 'Tier', type: 'text' }, status: 400, fields: ['key'] },
  { name: 'an attribute key that exists', method: 'POST', url: '/v1/attributes', body: { key: 'region', label: 'Again', type: 'text' }, status: 409, fields: ['key'] },
  { name: 'an enum attribute without options', method: 'POST', url: '/v1/attributes', body: { key: 'tier', label: 'Tier', type: 'enum' }, status: 400, fields: ['options'] },
  { name: 'an attribute of an unknown type', method: 'POST', url: '/v1/attributes', body: { key: 'tier', label: 'Tier', type: 'colour' }, status: 400, fields: ['type'] },

  // Authentication
  { name: 'no API key on GET', method: 'GET', url: O, auth: 'none', status: 401, fields: ['Authorization'] },
  { name: 'no API key on POST', method: 'POST', url: O, body: { title: 't' }, auth: 'none', status: 401, fields: ['Authorization'] },
  { name: 'an empty Authorization header', method: 'GET', url: O, headers: { authorization: '' }, status: 401, fields: ['Authorization'] },
  { name: 'Basic instead of Bearer', method: 'GET', url: O, headers: { authorization: 'Basic dXNlcjpwYXNz' }, status: 401, fields: ['Authorization'] },
  { name: 'a wrong API key', method: 'POST', url: '/v1/contacts', body: { name: 'n' }, headers: { authorization: 'Bearer crm_wrong' }, status: 401, fields: ['Authorization'] },
  { name: 'a wrong API key on PATCH', method: 'PATCH', url: opp, body: { title: 'changed' }, headers: { authorization: 'Bearer crm_wrong' }, status: 401, fields: ['Authorization'] },
  { name: 'a revoked API key on PATCH', method: 'PATCH', url: opp, body: { title: 'changed' }, auth: 'revoked', status: 401, fields: ['Authorization'] },
  { name: 'a revoked API key on DELETE', method: 'DELETE', url: opp, auth: 'revoked', status: 401, fields: ['Authorization'] },
  { name: 'a revoked API key on GET', method: 'GET', url: '/v1/contacts', auth: 'revoked', status: 401, fields: ['Authorization'] },
];

async function send(c: Case) {
  const url = typeof c.url === 'function' ? c.url() : c.url;
  if (c.auth === 'none') {
    const payload = c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
    const headers = payload === undefined ? {} : { 'content-type': 'application/json' };
    return api.app.inject({ method: c.method, url, payload, headers });
  }
  const headers: Record<string, string> = { ...c.headers };
  if (c.auth === 'revoked') headers.authorization = `Bearer ${revokedKey}`;
  return client.request(c.method, url, c.body, headers);
}

describe('bad input', () => {
  it('starts from a seeded store, so "nothing changed" means something', async () => {
    const state = await snapshot();
    for (const table of ['accounts', 'api_keys', 'users', 'contacts', 'attribute_definitions', 'opportunities', 'opportunity_contacts', 'idempotency_keys']) {
      expect(state[table]!.length, table).toBeGreaterThan(0);
    }
    expect(state.api_keys!.filter((k) => (k as { revoked_at: unknown }).revoked_at !== null)).toHaveLength(1);
  });

  it.each(cases)('$name → $status naming $fields, and nothing stored changes', async (c) => {
    const before = await snapshot();
    const response = await send(c);

    expect(response.statusCode, response.body.slice(0, 500)).toBe(c.status);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const problem = response.json();
    expect(problem).toMatchObject({ status: c.status, title: expect.any(String), detail: expect.any(String) });
    expect(problem.title).not.toBe('');
    expect(problem.detail).not.toBe('');
    expect(problem.errors.map((e: { field: string }) => e.field)).toEqual(c.fields);
    for (const error of problem.errors) expect(error.message).toEqual(expect.any(String));
    expect(await snapshot()).toEqual(before);
  });

  it('a good request after all of them still changes the store (the snapshot sees changes)', async () => {
    const before = await snapshot();
    const response = await client.request('PATCH', opp(), { title: 'changed' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ title: 'changed', version: 2, amount: '10.00', probability: 40, contactId });
    expect(await snapshot()).not.toEqual(before);
  });
});
