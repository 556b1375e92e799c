import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;
let client: Client;

beforeAll(async () => {
  api = await startTestApi();
  client = await newAccount(api);
});
afterAll(() => api.close());

const rows = async (title: string) =>
  (await api.database.sql`SELECT count(*)::int AS n FROM opportunities WHERE title = ${title}`)[0]!.n;

describe('Idempotency-Key on POST', () => {
  it('replays the first response for a repeat with the same key and body', async () => {
    const headers = { 'idempotency-key': 'order-1' };
    const first = await client.request('POST', '/v1/opportunities', { title: 'idem-1' }, headers);
    const second = await client.request('POST', '/v1/opportunities', { title: 'idem-1' }, headers);
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(201);
    expect(second.json()).toEqual(first.json());
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(await rows('idem-1')).toBe(1);
  });

  it('refuses the same key with a different body with 422', async () => {
    const headers = { 'idempotency-key': 'order-2' };
    await client.request('POST', '/v1/opportunities', { title: 'idem-2' }, headers);
    const other = await client.request('POST', '/v1/opportunities', { title: 'idem-2b' }, headers);
    expect(other.statusCode).toBe(422);
    expect(other.headers['content-type']).toContain('application/problem+json');
    expect(other.json().errors[0].field).toBe('Idempotency-Key');
    expect(await rows('idem-2b')).toBe(0);
  });

  it('runs ten concurrent requests with one key once', async () => {
    const headers = { 'idempotency-key': 'order-3' };
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => client.request('POST', '/v1/contacts', { name: 'idem-contact' }, headers)),
    );
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect(responses.every((r) => r.statusCode === 201)).toBe(true);
    const [{ n }] = await api.database.sql`SELECT count(*)::int AS n FROM contacts WHERE name = 'idem-contact'`;
    expect(n).toBe(1);
  });

  it('does not remember a failed request, so a corrected retry with the same key runs', async () => {
    const headers = { 'idempotency-key': 'order-4' };
    const failed = await client.request('POST', '/v1/opportunities', { title: 'idem-4', probability: 101 }, headers);
    expect(failed.statusCode).toBe(400);
    const target = (await client.request('POST', '/v1/opportunities', { title: 'idem-4-target' })).json();
    const refused = await client.request('POST', `/v1/opportunities/${target.id}/close`, { state: 'won', reason: 'no' }, headers);
    expect(refused.statusCode).toBe(400);
    const retried = await client.request('POST', `/v1/opportunities/${target.id}/close`, { state: 'won' }, headers);
    expect(retried.statusCode).toBe(200);
    expect(retried.json().state).toBe('won');
    const replay = await client.request('POST', `/v1/opportunities/${target.id}/close`, { state: 'won' }, headers);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(retried.json());
  });

  it('treats different keys as different requests', async () => {
    await client.request('POST', '/v1/opportunities', { title: 'idem-5' }, { 'idempotency-key': 'a' });
    await client.request('POST', '/v1/opportunities', { title: 'idem-5' }, { 'idempotency-key': 'b' });
    expect(await rows('idem-5')).toBe(2);
  });

  it('refuses an oversized key', async () => {
    const response = await client.request('POST', '/v1/contacts', { name: 'x' }, { 'idempotency-key': 'k'.repeat(256) });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors[0].field).toBe('Idempotency-Key');
  });
});
