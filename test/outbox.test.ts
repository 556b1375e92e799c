import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;
let a: Client;
let b: Client;

const connection = async (accountId: string, provider: string) =>
  (
    await api.database.sql`INSERT INTO connections (account_id, provider, credentials, credentials_key_id)
      VALUES (${accountId}, ${provider}, 'sealed', 'k') RETURNING id`
  )[0]!.id as string;

beforeAll(async () => {
  api = await startTestApi();
  a = await newAccount(api, 'A');
  b = await newAccount(api, 'B');
});
afterAll(() => api.close());

const rows = (opportunityId: string) =>
  api.database.sql`SELECT connection_id, generation FROM outbox WHERE opportunity_id = ${opportunityId} ORDER BY connection_id`;

describe('the outbox', () => {
  it('marks every canonical change dirty for each of the account’s connections, in the same transaction', async () => {
    const [hubspot, pipedrive] = [await connection(a.accountId, 'hubspot'), await connection(a.accountId, 'pipedrive')];
    await connection(b.accountId, 'hubspot');
    const created = (await a.request('POST', '/v1/opportunities', { title: 'dirty' })).json();
    expect((await rows(created.id)).map((r) => r.connection_id).sort()).toEqual([hubspot, pipedrive].sort());

    await a.request('PATCH', `/v1/opportunities/${created.id}`, { title: 'dirtier' });
    expect((await rows(created.id)).map((r) => r.generation)).toEqual([1, 1]);

    await a.request('PATCH', `/v1/opportunities/${created.id}`, { title: 'dirtier' });
    expect((await rows(created.id)).map((r) => r.generation)).toEqual([1, 1]);

    await a.request('POST', `/v1/opportunities/${created.id}/close`, { state: 'won' });
    await a.request('DELETE', `/v1/opportunities/${created.id}`);
    expect((await rows(created.id)).map((r) => r.generation)).toEqual([3, 3]);
  });

  it('writes nothing when a request fails', async () => {
    const before = await api.database.sql`SELECT count(*)::int AS n FROM outbox`;
    await a.request('POST', '/v1/opportunities', { title: 'bad', probability: 101 });
    await a.request('POST', '/v1/opportunities', { title: 'bad', contactId: '00000000-0000-4000-8000-000000000000' });
    expect(await api.database.sql`SELECT count(*)::int AS n FROM outbox`).toEqual(before);
  });
});
