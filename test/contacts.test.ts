import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;
let client: Client;

beforeAll(async () => {
  api = await startTestApi();
  client = await newAccount(api);
});
afterAll(() => api.close());

async function post(url: string, body: unknown) {
  const response = await client.request('POST', url, body);
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}
const contact = (name: string) => post('/v1/contacts', { name });
const count = async (id: string) => (await client.request('GET', `/v1/contacts/${id}`)).json().opportunityCount;

describe('contacts', () => {
  it('creates, reads, patches and lists contacts', async () => {
    const created = await post('/v1/contacts', { name: 'Eve', email: 'Eve@Example.COM', phone: '+44 20 7946 0000' });
    expect(created).toMatchObject({ name: 'Eve', email: 'eve@example.com', opportunityCount: 0 });
    const patched = await client.request('PATCH', `/v1/contacts/${created.id}`, { phone: null, name: 'Eve B' });
    expect(patched.json()).toMatchObject({ name: 'Eve B', phone: null, email: 'eve@example.com' });
    const other = await newAccount(api, 'contact pager');
    for (const name of ['a', 'b', 'c']) await other.request('POST', '/v1/contacts', { name });
    const first = (await other.request('GET', '/v1/contacts?limit=2')).json();
    const second = (await other.request('GET', `/v1/contacts?limit=2&cursor=${first.nextCursor}`)).json();
    expect([...first.data, ...second.data].map((c: { name: string }) => c.name)).toEqual(['a', 'b', 'c']);
    expect(second.nextCursor).toBeNull();
  });

  it('never lists the primary contact among the others', async () => {
    const [x, y] = [await contact('x'), await contact('y')];
    const opportunity = await post('/v1/opportunities', { title: 'dup', contactId: x.id, contactIds: [x.id, y.id, y.id] });
    expect(opportunity).toMatchObject({ contactId: x.id, contactIds: [y.id] });
    expect([await count(x.id), await count(y.id)]).toEqual([1, 1]);
  });

  it('keeps opportunityCount right through create, move, close and delete', async () => {
    const [x, y, z] = [await contact('x'), await contact('y'), await contact('z')];
    const a = await post('/v1/opportunities', { title: 'a', contactId: x.id });
    const b = await post('/v1/opportunities', { title: 'b', contactId: x.id, contactIds: [z.id] });
    expect([await count(x.id), await count(y.id), await count(z.id)]).toEqual([2, 0, 1]);

    await client.request('PATCH', `/v1/opportunities/${a.id}`, { contactId: y.id });
    expect([await count(x.id), await count(y.id)]).toEqual([1, 1]);

    await client.request('POST', `/v1/opportunities/${b.id}/close`, { state: 'won' });
    expect(await count(x.id)).toBe(1);

    await client.request('DELETE', `/v1/opportunities/${b.id}`);
    expect([await count(x.id), await count(z.id)]).toEqual([0, 0]);

    const listed = (await client.request('GET', `/v1/contacts/${y.id}/opportunities`)).json();
    expect(listed.data.map((o: { id: string }) => o.id)).toEqual([a.id]);
  });

  it('lists a contact’s opportunities whether primary or additional', async () => {
    const c = await contact('both');
    const primary = await post('/v1/opportunities', { title: 'primary', contactId: c.id });
    const extra = await post('/v1/opportunities', { title: 'extra', contactIds: [c.id] });
    const listed = (await client.request('GET', `/v1/contacts/${c.id}/opportunities`)).json();
    expect(listed.data.map((o: { id: string }) => o.id)).toEqual([primary.id, extra.id]);
  });

  it('deleting a contact deletes its primary opportunities and detaches it from the rest', async () => {
    const [doomed, keeper] = [await contact('doomed'), await contact('keeper')];
    const owned = await post('/v1/opportunities', { title: 'owned', contactId: doomed.id, contactIds: [keeper.id] });
    const shared = await post('/v1/opportunities', { title: 'shared', contactId: keeper.id, contactIds: [doomed.id] });
    expect(await count(keeper.id)).toBe(2);

    expect((await client.request('DELETE', `/v1/contacts/${doomed.id}`)).statusCode).toBe(204);
    expect((await client.request('GET', `/v1/contacts/${doomed.id}`)).statusCode).toBe(404);
    expect((await client.request('GET', `/v1/opportunities/${owned.id}`)).statusCode).toBe(404);
    const remaining = (await client.request('GET', `/v1/opportunities/${shared.id}`)).json();
    expect(remaining).toMatchObject({ contactId: keeper.id, contactIds: [] });
    expect(await count(keeper.id)).toBe(1);
  });

  it('counts exactly under 20 concurrent creates for one contact', async () => {
    const busy = await contact('busy');
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.request('POST', '/v1/opportunities', { title: `c${i}`, contactId: busy.id })),
    );
    expect(responses.every((r) => r.statusCode === 201)).toBe(true);
    expect(await count(busy.id)).toBe(20);
    const [{ n }] = await api.database.sql`SELECT count(*)::int AS n FROM opportunity_contacts WHERE contact_id = ${busy.id}`;
    expect(n).toBe(20);
  });
});
