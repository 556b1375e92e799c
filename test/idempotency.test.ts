import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;
let client: Client;

beforeAll(async () => {
  api = await startTestApi();
  client = await newAccount(api);
});
afterAll(() => api.close());

const key = (value: string) => ({ 'idempotency-key': value });
const nobody = '00000000-0000-4000-8000-000000000000';

const opportunityRows = async (title: string) =>
  (await api.database.sql`SELECT count(*)::int AS n FROM opportunities WHERE title = ${title}`)[0]!.n;
const contactRows = async (name: string) =>
  (await api.database.sql`SELECT count(*)::int AS n FROM contacts WHERE name = ${name}`)[0]!.n;
const storedKeys = async (value: string) =>
  (await api.database.sql`SELECT count(*)::int AS n FROM idempotency_keys WHERE key = ${value}`)[0]!.n;

async function create(title: string) {
  const response = await client.request('POST', '/v1/opportunities', { title });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

describe('a repeat with the same key and body', () => {
  it('POST /v1/opportunities: replays the first 201 with the same id, and one opportunity exists', async () => {
    const body = { title: 'idem-opportunity', amount: '10.50', currency: 'EUR' };
    const first = await client.request('POST', '/v1/opportunities', body, key('opp-1'));
    const second = await client.request('POST', '/v1/opportunities', body, key('opp-1'));
    expect(first.statusCode, first.body).toBe(201);
    expect(second.statusCode).toBe(201);
    expect(second.json()).toEqual(first.json());
    expect(second.json().id).toBe(first.json().id);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await opportunityRows('idem-opportunity')).toBe(1);
    expect((await client.request('GET', `/v1/opportunities/${first.json().id}`)).json()).toEqual(first.json());
  });

  it('POST /v1/contacts: replays the first 201 with the same id, and one contact exists', async () => {
    const body = { name: 'idem-contact', email: 'idem@example.com' };
    const first = await client.request('POST', '/v1/contacts', body, key('contact-1'));
    const second = await client.request('POST', '/v1/contacts', body, key('contact-1'));
    expect(first.statusCode, first.body).toBe(201);
    expect(second.statusCode).toBe(201);
    expect(second.json()).toEqual(first.json());
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await contactRows('idem-contact')).toBe(1);
  });

  it('POST /v1/opportunities/{id}/close: replays the first 200 and does not close again', async () => {
    const target = await create('idem-close');
    const url = `/v1/opportunities/${target.id}/close`;
    const first = await client.request('POST', url, { state: 'lost', reason: 'price' }, key('close-1'));
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ id: target.id, state: 'lost', lostReason: 'price', version: 2, warnings: [] });

    // Reopen in between: a close that really ran again would close it once more.
    const reopened = await client.request('POST', `/v1/opportunities/${target.id}/reopen`);
    expect(reopened.json()).toMatchObject({ state: 'open', version: 3 });

    const second = await client.request('POST', url, { state: 'lost', reason: 'price' }, key('close-1'));
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual(first.json());
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect((await client.request('GET', `/v1/opportunities/${target.id}`)).json()).toMatchObject({ state: 'open', closedAt: null, version: 3 });
  });

  it('is the same body whatever the order of its keys', async () => {
    const first = await client.request('POST', '/v1/opportunities', { title: 'idem-order', stage: 'demo' }, key('order-1'));
    const second = await client.request('POST', '/v1/opportunities', { stage: 'demo', title: 'idem-order' }, key('order-1'));
    expect(first.statusCode, first.body).toBe(201);
    expect(second.statusCode, second.body).toBe(201);
    expect(second.json().id).toBe(first.json().id);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await opportunityRows('idem-order')).toBe(1);
  });
});

describe('the same key with another request', () => {
  it('answers 422 problem+json naming Idempotency-Key for another body, and runs nothing', async () => {
    const first = await client.request('POST', '/v1/opportunities', { title: 'idem-first' }, key('reuse-1'));
    expect(first.statusCode).toBe(201);
    const other = await client.request('POST', '/v1/opportunities', { title: 'idem-other' }, key('reuse-1'));
    expect(other.statusCode).toBe(422);
    expect(other.headers['content-type']).toContain('application/problem+json');
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    expect(other.json()).toMatchObject({ status: 422, errors: [{ field: 'Idempotency-Key', message: expect.any(String) }] });
    expect(await opportunityRows('idem-other')).toBe(0);
    expect(await opportunityRows('idem-first')).toBe(1);
    // The key still replays its own request.
    const replay = await client.request('POST', '/v1/opportunities', { title: 'idem-first' }, key('reuse-1'));
    expect(replay.statusCode).toBe(201);
    expect(replay.json().id).toBe(first.json().id);
  });

  it('answers 422 for the same key and body on another route', async () => {
    const body = { name: 'idem-route', email: 'route@example.com' };
    const contact = await client.request('POST', '/v1/contacts', body, key('route-1'));
    expect(contact.statusCode).toBe(201);
    const user = await client.request('POST', '/v1/users', body, key('route-1'));
    expect(user.statusCode).toBe(422);
    expect(user.json().errors[0].field).toBe('Idempotency-Key');
    const [{ n }] = await api.database.sql`SELECT count(*)::int AS n FROM users WHERE email = 'route@example.com'`;
    expect(n).toBe(0);

    const [a, b] = [await create('idem-route-a'), await create('idem-route-b')];
    const closeA = await client.request('POST', `/v1/opportunities/${a.id}/close`, { state: 'won' }, key('route-2'));
    expect(closeA.statusCode).toBe(200);
    const closeB = await client.request('POST', `/v1/opportunities/${b.id}/close`, { state: 'won' }, key('route-2'));
    expect(closeB.statusCode).toBe(422);
    expect((await client.request('GET', `/v1/opportunities/${b.id}`)).json().state).toBe('open');
  });
});

describe('concurrent requests with one key', () => {
  it('create one opportunity and give all ten the same answer', async () => {
    const body = { title: 'idem-concurrent', amount: '1.00' };
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => client.request('POST', '/v1/opportunities', body, key('concurrent-1'))),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(10).fill(201));
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(9);
    expect(await opportunityRows('idem-concurrent')).toBe(1);
    expect(await storedKeys('concurrent-1')).toBe(1);
  });

  it('create one contact and give all ten the same answer', async () => {
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => client.request('POST', '/v1/contacts', { name: 'idem-concurrent-contact' }, key('concurrent-2'))),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(10).fill(201));
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect(await contactRows('idem-concurrent-contact')).toBe(1);
  });
});

describe('a request that fails', () => {
  it('is not remembered when the body fails validation: a corrected retry with the same key runs', async () => {
    const failed = await client.request('POST', '/v1/opportunities', { title: 'idem-invalid', probability: 101 }, key('fail-1'));
    expect(failed.statusCode).toBe(400);
    expect(failed.json().errors.map((e: { field: string }) => e.field)).toEqual(['probability']);
    expect(await storedKeys('fail-1')).toBe(0);

    const retried = await client.request('POST', '/v1/opportunities', { title: 'idem-invalid', probability: 100 }, key('fail-1'));
    expect(retried.statusCode, retried.body).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(retried.json()).toMatchObject({ title: 'idem-invalid', probability: 100 });
    const replay = await client.request('POST', '/v1/opportunities', { title: 'idem-invalid', probability: 100 }, key('fail-1'));
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(retried.json());
    expect(await opportunityRows('idem-invalid')).toBe(1);
  });

  it('is not remembered when the work itself refuses it (an unknown contact): a corrected retry runs', async () => {
    const failed = await client.request('POST', '/v1/opportunities', { title: 'idem-unknown', contactId: nobody }, key('fail-2'));
    expect(failed.statusCode).toBe(400);
    expect(failed.json().errors).toEqual([{ field: 'contactId', message: 'no such contact' }]);
    expect(await storedKeys('fail-2')).toBe(0);
    expect(await opportunityRows('idem-unknown')).toBe(0);

    const retried = await client.request('POST', '/v1/opportunities', { title: 'idem-unknown' }, key('fail-2'));
    expect(retried.statusCode, retried.body).toBe(201);
    expect(await opportunityRows('idem-unknown')).toBe(1);
  });

  it('is not remembered when it conflicts (409): the same request runs again once the conflict is gone', async () => {
    const holder = (await client.request('POST', '/v1/opportunities', { title: 'holder', externalRef: 'IDEM-REF' })).json();
    const body = { title: 'idem-conflict', externalRef: 'IDEM-REF' };
    const conflict = await client.request('POST', '/v1/opportunities', body, key('fail-3'));
    expect(conflict.statusCode).toBe(409);
    expect(await storedKeys('fail-3')).toBe(0);
    expect((await client.request('DELETE', `/v1/opportunities/${holder.id}`)).statusCode).toBe(204);
    const retried = await client.request('POST', '/v1/opportunities', body, key('fail-3'));
    expect(retried.statusCode, retried.body).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
  });

  it('is not remembered on close: a refused close (400, 404) and then a corrected close with the same key', async () => {
    const target = await create('idem-close-retry');
    const refused = await client.request('POST', `/v1/opportunities/${target.id}/close`, { state: 'won', reason: 'no' }, key('fail-4'));
    expect(refused.statusCode).toBe(400);
    const missing = await client.request('POST', `/v1/opportunities/${nobody}/close`, { state: 'won' }, key('fail-4'));
    expect(missing.statusCode).toBe(404);
    expect(await storedKeys('fail-4')).toBe(0);

    const retried = await client.request('POST', `/v1/opportunities/${target.id}/close`, { state: 'won' }, key('fail-4'));
    expect(retried.statusCode, retried.body).toBe(200);
    expect(retried.json()).toMatchObject({ state: 'won', version: 2 });
    const replay = await client.request('POST', `/v1/opportunities/${target.id}/close`, { state: 'won' }, key('fail-4'));
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(retried.json());
  });
});

describe('keys', () => {
  it('treat different keys as different requests', async () => {
    const a = await client.request('POST', '/v1/opportunities', { title: 'idem-keys' }, key('k-a'));
    const b = await client.request('POST', '/v1/opportunities', { title: 'idem-keys' }, key('k-b'));
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(a.json().id).not.toBe(b.json().id);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(await opportunityRows('idem-keys')).toBe(2);
  });

  it('belong to one account: the same key in another account runs its own request', async () => {
    const other = await newAccount(api, 'other account');
    const mine = await client.request('POST', '/v1/contacts', { name: 'idem-tenant' }, key('shared-key'));
    const theirs = await other.request('POST', '/v1/contacts', { name: 'idem-tenant' }, key('shared-key'));
    expect([mine.statusCode, theirs.statusCode]).toEqual([201, 201]);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(theirs.json().id).not.toBe(mine.json().id);
    expect((await client.request('GET', `/v1/contacts/${theirs.json().id}`)).statusCode).toBe(404);
    expect(await contactRows('idem-tenant')).toBe(2);
  });

  it('without a key, a repeat runs again', async () => {
    await client.request('POST', '/v1/contacts', { name: 'idem-none' });
    const second = await client.request('POST', '/v1/contacts', { name: 'idem-none' });
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(await contactRows('idem-none')).toBe(2);
  });

  it.each([['empty', ''], ['256 characters', 'k'.repeat(256)]])('refuses a key that is %s with 400 naming Idempotency-Key', async (_label, value) => {
    const response = await client.request('POST', '/v1/contacts', { name: 'idem-bad-key' }, key(value));
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().errors).toEqual([{ field: 'Idempotency-Key', message: expect.any(String) }]);
    expect(await contactRows('idem-bad-key')).toBe(0);
  });

  it('accepts a key of 255 characters', async () => {
    const long = 'k'.repeat(255);
    const first = await client.request('POST', '/v1/contacts', { name: 'idem-long-key' }, key(long));
    const second = await client.request('POST', '/v1/contacts', { name: 'idem-long-key' }, key(long));
    expect([first.statusCode, second.statusCode]).toEqual([201, 201]);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await contactRows('idem-long-key')).toBe(1);
  });
});
