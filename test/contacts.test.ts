import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;
let client: Client;

beforeAll(async () => {
  api = await startTestApi();
  client = await newAccount(api);
});
afterAll(() => api.close());

const nobody = '00000000-0000-4000-8000-000000000000';

async function post(url: string, body: unknown, as: Client = client) {
  const response = await as.request('POST', url, body);
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}
async function patch(url: string, body: unknown) {
  const response = await client.request('PATCH', url, body);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}
const contact = (name: string) => post('/v1/contacts', { name });
const count = async (id: string): Promise<number> => {
  const response = await client.request('GET', `/v1/contacts/${id}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json().opportunityCount;
};
const counts = (...ids: string[]) => Promise.all(ids.map(count));
/** The count the triggers should maintain, computed from the source rows. */
const countInSql = async (id: string): Promise<number> => {
  const [row] = await api.database.sql`
    SELECT count(*)::int AS n FROM opportunity_contacts oc JOIN opportunities o ON o.id = oc.opportunity_id
     WHERE oc.contact_id = ${id} AND o.deleted_at IS NULL`;
  return row!.n;
};
const opportunityIds = async (contactId: string, query = '') => {
  const response = await client.request('GET', `/v1/contacts/${contactId}/opportunities${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json().data.map((o: { id: string }) => o.id);
};
/** contactIds come back sorted by id. */
const sorted = (...ids: string[]) => [...ids].sort();

describe('contacts', () => {
  it('creates a contact with 201, opportunityCount 0 and a lowercased email, and reads it back', async () => {
    const response = await client.request('POST', '/v1/contacts', { name: '  Eve  ', email: 'Eve@Example.COM', phone: '+44 20 7946 0000' });
    expect(response.statusCode, response.body).toBe(201);
    const created = response.json();
    expect(created).toEqual({
      id: expect.any(String),
      name: 'Eve',
      email: 'eve@example.com',
      phone: '+44 20 7946 0000',
      opportunityCount: 0,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const fetched = await client.request('GET', `/v1/contacts/${created.id}`);
    expect(fetched.statusCode).toBe(200);
    expect(fetched.json()).toEqual(created);
  });

  it('patches only the given fields, lowercases a new email and clears a field given null', async () => {
    const created = await post('/v1/contacts', { name: 'Frank', email: 'frank@example.com', phone: '555' });
    const patched = await patch(`/v1/contacts/${created.id}`, { email: 'Frank.B@Example.ORG', phone: null });
    expect(patched).toMatchObject({ id: created.id, name: 'Frank', email: 'frank.b@example.org', phone: null, opportunityCount: 0 });
    expect(Date.parse(patched.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
    const renamed = await patch(`/v1/contacts/${created.id}`, { name: 'Frank B' });
    expect(renamed).toMatchObject({ name: 'Frank B', email: 'frank.b@example.org', phone: null });
    expect((await client.request('GET', `/v1/contacts/${created.id}`)).json()).toEqual(renamed);
  });

  it('refuses a malformed email with a problem naming the field and stores nothing', async () => {
    const response = await client.request('POST', '/v1/contacts', { name: 'Bad email', email: 'not-an-email' });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().errors.map((e: { field: string }) => e.field)).toEqual(['email']);
    const [{ n }] = await api.database.sql`SELECT count(*)::int AS n FROM contacts WHERE name = 'Bad email'`;
    expect(n).toBe(0);
  });

  it('answers 404 for a contact that does not exist or belongs to another account', async () => {
    const foreign = await post('/v1/contacts', { name: 'Foreign' }, await newAccount(api, 'other'));
    for (const id of [nobody, foreign.id]) {
      expect((await client.request('GET', `/v1/contacts/${id}`)).statusCode).toBe(404);
      expect((await client.request('PATCH', `/v1/contacts/${id}`, { name: 'x' })).statusCode).toBe(404);
      expect((await client.request('GET', `/v1/contacts/${id}/opportunities`)).statusCode).toBe(404);
      expect((await client.request('DELETE', `/v1/contacts/${id}`)).statusCode).toBe(404);
    }
    const attach = await client.request('POST', '/v1/opportunities', { title: 'foreign contact', contactIds: [foreign.id] });
    expect(attach.statusCode).toBe(400);
    expect(attach.json().errors).toEqual([{ field: 'contactIds.0', message: 'no such contact' }]);
  });

  it('lists contacts in creation order, paged by cursor without skipping or repeating', async () => {
    const other = await newAccount(api, 'contact pager');
    for (const name of ['a', 'b', 'c', 'd', 'e']) await post('/v1/contacts', { name }, other);
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `limit=2&cursor=${cursor}` : 'limit=2';
      const response = await other.request('GET', `/v1/contacts?${query}`);
      expect(response.statusCode, response.body).toBe(200);
      const page = response.json();
      pages.push(page.data.map((c: { name: string }) => c.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    const all = (await other.request('GET', '/v1/contacts')).json();
    expect(all.data).toHaveLength(5);
    expect(all.nextCursor).toBeNull();
  });
});

describe('a contact’s opportunities', () => {
  it('lists the opportunities where the contact is primary or additional, live ones only', async () => {
    const c = await contact('both ways');
    const someone = await contact('someone else');
    const primary = await post('/v1/opportunities', { title: 'primary', contactId: c.id });
    const additional = await post('/v1/opportunities', { title: 'additional', contactId: someone.id, contactIds: [c.id] });
    const deleted = await post('/v1/opportunities', { title: 'deleted', contactIds: [c.id] });
    await post('/v1/opportunities', { title: 'unrelated', contactId: someone.id });
    expect((await client.request('DELETE', `/v1/opportunities/${deleted.id}`)).statusCode).toBe(204);

    expect(await opportunityIds(c.id)).toEqual([primary.id, additional.id]);
    const page1 = (await client.request('GET', `/v1/contacts/${c.id}/opportunities?limit=1`)).json();
    expect(page1.data.map((o: { id: string }) => o.id)).toEqual([primary.id]);
    expect(await opportunityIds(c.id, `?limit=1&cursor=${page1.nextCursor}`)).toEqual([additional.id]);
    const listed = (await client.request('GET', `/v1/contacts/${c.id}/opportunities`)).json().data;
    expect(listed[1]).toMatchObject({ contactId: someone.id, contactIds: [c.id] });
  });
});

describe('opportunityCount', () => {
  it('counts opportunities created with contactId and with contactIds', async () => {
    const [x, y, z] = [await contact('x'), await contact('y'), await contact('z')];
    await post('/v1/opportunities', { title: 'x only', contactId: x.id });
    await post('/v1/opportunities', { title: 'x and y', contactId: x.id, contactIds: [y.id] });
    await post('/v1/opportunities', { title: 'y and z', contactIds: [y.id, z.id] });
    await post('/v1/opportunities', { title: 'nobody' });
    expect(await counts(x.id, y.id, z.id)).toEqual([2, 2, 1]);
    for (const id of [x.id, y.id, z.id]) expect(await count(id)).toBe(await countInSql(id));
  });

  it('never lists the primary among the other contacts, on create or on patch', async () => {
    const [x, y, z] = [await contact('x'), await contact('y'), await contact('z')];
    const created = await post('/v1/opportunities', { title: 'dup', contactId: x.id, contactIds: [x.id, y.id, y.id] });
    expect(created).toMatchObject({ contactId: x.id, contactIds: [y.id] });
    expect((await client.request('GET', `/v1/opportunities/${created.id}`)).json()).toMatchObject({ contactId: x.id, contactIds: [y.id] });
    const [{ n }] = await api.database.sql`SELECT count(*)::int AS n FROM opportunity_contacts WHERE opportunity_id = ${created.id}`;
    expect(n).toBe(2);
    expect(await counts(x.id, y.id)).toEqual([1, 1]);

    // Promoting an additional contact to primary takes it out of contactIds.
    const promoted = await patch(`/v1/opportunities/${created.id}`, { contactId: y.id, contactIds: [y.id, z.id] });
    expect(promoted).toMatchObject({ contactId: y.id, contactIds: [z.id] });
    expect(await counts(x.id, y.id, z.id)).toEqual([0, 1, 1]);
    const promotedAlone = await patch(`/v1/opportunities/${created.id}`, { contactId: z.id });
    expect(promotedAlone).toMatchObject({ contactId: z.id, contactIds: [] });
    expect(await counts(x.id, y.id, z.id)).toEqual([0, 0, 1]);
  });

  it('moves the count from the old primary contact to the new one', async () => {
    const [x, y, z] = [await contact('from'), await contact('to'), await contact('stays')];
    const moved = await post('/v1/opportunities', { title: 'moving', contactId: x.id, contactIds: [z.id] });
    await post('/v1/opportunities', { title: 'staying', contactId: x.id });
    expect(await counts(x.id, y.id, z.id)).toEqual([2, 0, 1]);

    const response = await patch(`/v1/opportunities/${moved.id}`, { contactId: y.id });
    expect(response).toMatchObject({ contactId: y.id, contactIds: [z.id], version: 2 });
    expect(await counts(x.id, y.id, z.id)).toEqual([1, 1, 1]);
    expect(await opportunityIds(x.id)).not.toContain(moved.id);
    expect(await opportunityIds(y.id)).toEqual([moved.id]);

    await patch(`/v1/opportunities/${moved.id}`, { contactIds: [] });
    expect(await counts(x.id, y.id, z.id)).toEqual([1, 1, 0]);
    await patch(`/v1/opportunities/${moved.id}`, { contactId: null, contactIds: [x.id] });
    expect(await counts(x.id, y.id, z.id)).toEqual([2, 0, 0]);
    for (const id of [x.id, y.id, z.id]) expect(await count(id)).toBe(await countInSql(id));
  });

  it('leaves the counts alone when an opportunity is closed or reopened', async () => {
    const [x, y] = [await contact('closer x'), await contact('closer y')];
    const won = await post('/v1/opportunities', { title: 'won', contactId: x.id, contactIds: [y.id] });
    const lost = await post('/v1/opportunities', { title: 'lost', contactId: x.id });
    const abandoned = await post('/v1/opportunities', { title: 'abandoned', contactIds: [y.id] });
    expect(await counts(x.id, y.id)).toEqual([2, 2]);
    for (const [opportunity, state] of [[won, 'won'], [lost, 'lost'], [abandoned, 'abandoned']] as const) {
      const closed = await client.request('POST', `/v1/opportunities/${opportunity.id}/close`, { state });
      expect(closed.statusCode, closed.body).toBe(200);
    }
    expect(await counts(x.id, y.id)).toEqual([2, 2]);
    expect((await client.request('POST', `/v1/opportunities/${won.id}/reopen`)).statusCode).toBe(200);
    expect(await counts(x.id, y.id)).toEqual([2, 2]);
  });

  it('drops the count of every contact of a deleted opportunity', async () => {
    const [x, y, z] = [await contact('del x'), await contact('del y'), await contact('del z')];
    const doomed = await post('/v1/opportunities', { title: 'doomed', contactId: x.id, contactIds: [y.id, z.id] });
    await post('/v1/opportunities', { title: 'survivor', contactId: x.id });
    expect(await counts(x.id, y.id, z.id)).toEqual([2, 1, 1]);
    expect((await client.request('DELETE', `/v1/opportunities/${doomed.id}`)).statusCode).toBe(204);
    expect(await counts(x.id, y.id, z.id)).toEqual([1, 0, 0]);
    expect(await opportunityIds(y.id)).toEqual([]);
  });

  it('counts exactly 20 after 20 concurrent creates for one contact', async () => {
    const busy = await contact('busy');
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.request('POST', '/v1/opportunities', { title: `concurrent ${i}`, contactId: busy.id })),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(201));
    expect(await count(busy.id)).toBe(20);
    expect(await countInSql(busy.id)).toBe(20);
    const [{ n }] = await api.database.sql`SELECT count(*)::int AS n FROM opportunity_contacts WHERE contact_id = ${busy.id} AND is_primary`;
    expect(n).toBe(20);
  });

  it('answers 200 and keeps the counts right when concurrent patches swap primary contacts', async () => {
    // Twenty pairs: in each, one opportunity moves x → y while the other moves y → x, all at once.
    const pairs = [];
    for (let i = 0; i < 20; i++) {
      const [x, y] = [await contact(`swap x${i}`), await contact(`swap y${i}`)];
      const a = await post('/v1/opportunities', { title: `swap a${i}`, contactId: x.id });
      const b = await post('/v1/opportunities', { title: `swap b${i}`, contactId: y.id });
      pairs.push({ x, y, a, b });
    }
    const responses = await Promise.all(
      pairs.flatMap(({ x, y, a, b }) => [
        client.request('PATCH', `/v1/opportunities/${a.id}`, { contactId: y.id }),
        client.request('PATCH', `/v1/opportunities/${b.id}`, { contactId: x.id }),
      ]),
    );
    expect(responses).toHaveLength(40);
    expect(responses.filter((r) => r.statusCode !== 200).map((r) => `${r.statusCode} ${r.body}`)).toEqual([]);
    for (const { x, y, a, b } of pairs) {
      expect(await counts(x.id, y.id)).toEqual([1, 1]);
      expect(await opportunityIds(x.id)).toEqual([b.id]);
      expect(await opportunityIds(y.id)).toEqual([a.id]);
    }
  });
});

describe('deleting a contact', () => {
  it('deletes its primary opportunities, detaches it from the others and recounts the rest', async () => {
    const [doomed, keeper, bystander] = [await contact('doomed'), await contact('keeper'), await contact('bystander')];
    const owned = await post('/v1/opportunities', { title: 'owned', contactId: doomed.id, contactIds: [keeper.id, bystander.id] });
    const shared = await post('/v1/opportunities', { title: 'shared', contactId: keeper.id, contactIds: [doomed.id, bystander.id] });
    const extra = await post('/v1/opportunities', { title: 'extra', contactId: bystander.id, contactIds: [doomed.id] });
    const detached = await post('/v1/opportunities', { title: 'detached', contactIds: [doomed.id] });
    expect(await counts(doomed.id, keeper.id, bystander.id)).toEqual([4, 2, 3]);

    expect((await client.request('DELETE', `/v1/contacts/${doomed.id}`)).statusCode).toBe(204);
    expect((await client.request('GET', `/v1/contacts/${doomed.id}`)).statusCode).toBe(404);
    expect((await client.request('GET', `/v1/contacts/${doomed.id}/opportunities`)).statusCode).toBe(404);

    expect((await client.request('GET', `/v1/opportunities/${owned.id}`)).statusCode).toBe(404);
    const remaining = async (id: string) => {
      const response = await client.request('GET', `/v1/opportunities/${id}`);
      expect(response.statusCode, response.body).toBe(200);
      return response.json();
    };
    expect(await remaining(shared.id)).toMatchObject({ contactId: keeper.id, contactIds: [bystander.id] });
    expect(await remaining(extra.id)).toMatchObject({ contactId: bystander.id, contactIds: [] });
    expect(await remaining(detached.id)).toMatchObject({ contactId: null, contactIds: [] });

    expect(await counts(keeper.id, bystander.id)).toEqual([1, 2]);
    expect(await opportunityIds(keeper.id)).toEqual([shared.id]);
    expect(await opportunityIds(bystander.id)).toEqual([shared.id, extra.id]);
    const [{ n }] = await api.database.sql`SELECT count(*)::int AS n FROM opportunity_contacts WHERE contact_id = ${doomed.id}`;
    expect(n).toBe(0);
    const listed = (await client.request('GET', '/v1/opportunities?limit=500')).json().data.map((o: { id: string }) => o.id);
    expect(listed).not.toContain(owned.id);
    expect(listed).toEqual(expect.arrayContaining([shared.id, extra.id, detached.id]));
  });

  it('detaches a deleted additional contact and keeps the others, sorted', async () => {
    const [p, a, b, c] = [await contact('p'), await contact('a'), await contact('b'), await contact('c')];
    const opportunity = await post('/v1/opportunities', { title: 'many', contactId: p.id, contactIds: [c.id, b.id, a.id] });
    expect(opportunity.contactIds).toEqual(sorted(a.id, b.id, c.id));
    expect((await client.request('DELETE', `/v1/contacts/${b.id}`)).statusCode).toBe(204);
    const after = (await client.request('GET', `/v1/opportunities/${opportunity.id}`)).json();
    expect(after).toMatchObject({ contactId: p.id, contactIds: sorted(a.id, c.id) });
    expect(await counts(p.id, a.id, c.id)).toEqual([1, 1, 1]);
  });
});

describe('deleting a contact while opportunities are patched to include it', () => {
  it('answers each of 50 concurrent patches 200, or 409 naming contactIds (400 once the contact is gone), never 5xx, and leaves the store consistent', async () => {
    for (let round = 0; round < 3; round++) {
      const [keeper, doomed] = [await contact(`keeper ${round}`), await contact(`doomed ${round}`)];
      const targets = [];
      for (let i = 0; i < 50; i++) targets.push(await post('/v1/opportunities', { title: `race ${round}.${i}`, contactIds: [keeper.id] }));
      const patches = targets.map((o) => client.request('PATCH', `/v1/opportunities/${o.id}`, { contactIds: [keeper.id, doomed.id] }));
      const deletion = client.request('DELETE', `/v1/contacts/${doomed.id}`);
      const responses = await Promise.all(patches);
      expect((await deletion).statusCode).toBe(204);

      // 200: patched before the deletion (which then detached it); 409: waited for the deletion;
      // 400: began after it had committed, so the contact was already unknown (as for any other id).
      const unexpected = responses.filter((r) => ![200, 400, 409].includes(r.statusCode));
      expect(unexpected.map((r) => `${r.statusCode} ${r.body}`)).toEqual([]);
      for (const late of responses.filter((r) => r.statusCode === 400)) {
        expect(late.json().errors).toEqual([{ field: 'contactIds.1', message: 'no such contact' }]);
      }
      for (const refused of responses.filter((r) => r.statusCode === 409)) {
        expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(refused.json().errors).toEqual([{ field: 'contactIds', message: `contact ${doomed.id} was deleted while this request ran` }]);
      }
      // Whatever the order: the deleted contact is on no opportunity, the keeper on all of them, counts right.
      for (const target of targets) {
        const stored = (await client.request('GET', `/v1/opportunities/${target.id}`)).json();
        expect(stored).toMatchObject({ contactId: null, contactIds: [keeper.id] });
      }
      const [{ n }] = await api.database.sql`SELECT count(*)::int AS n FROM opportunity_contacts WHERE contact_id = ${doomed.id}`;
      expect(n).toBe(0);
      expect(await count(keeper.id)).toBe(50);
      expect(await countInSql(keeper.id)).toBe(50);
    }
  });
});

describe('deleting a contact while its primary opportunities are patched', () => {
  it('never deadlocks: each patch 200, 404 or 409, the deletion 204, every opportunity of it deleted', async () => {
    for (let round = 0; round < 3; round++) {
      const [keeper, doomed] = [await contact(`primary keeper ${round}`), await contact(`primary doomed ${round}`)];
      const targets = [];
      for (let i = 0; i < 30; i++) targets.push(await post('/v1/opportunities', { title: `primary race ${round}.${i}`, contactId: doomed.id }));
      const patch = (o: { id: string }) => client.request('PATCH', `/v1/opportunities/${o.id}`, { contactIds: [keeper.id] });
      const before = targets.slice(0, round * 10).map(patch);
      const deletion = client.request('DELETE', `/v1/contacts/${doomed.id}`);
      const responses = await Promise.all([...before, ...targets.slice(round * 10).map(patch)]);
      const deleted = await deletion;
      expect(deleted.statusCode, deleted.body).toBe(204);
      expect(responses.filter((r) => ![200, 404, 409].includes(r.statusCode)).map((r) => `${r.statusCode} ${r.body}`)).toEqual([]);
      for (const target of targets) expect((await client.request('GET', `/v1/opportunities/${target.id}`)).statusCode).toBe(404);
      expect(await count(keeper.id)).toBe(0);
      expect(await countInSql(keeper.id)).toBe(0);
    }
  });
});
