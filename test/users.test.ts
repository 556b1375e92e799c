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

async function ok(method: 'POST' | 'PATCH' | 'GET', url: string, body?: unknown, status = method === 'POST' ? 201 : 200) {
  const response = await client.request(method, url, body);
  expect(response.statusCode, response.body).toBe(status);
  return response.json();
}
const user = (name: string) => ok('POST', '/v1/users', { name, email: `${name.toLowerCase().replace(/\W/g, '.')}@example.com` });
const listed = async () => (await ok('GET', '/v1/users?limit=500')).data.map((u: { id: string }) => u.id);

/** A connection row whose owner map names the given users (no CRM needed: the store alone). */
async function connectionMapping(userIds: string[]) {
  const owners = userIds.map((userId, i) => ({ userId, ownerId: `owner-${i}` }));
  const [row] = await api.database.sql`
    INSERT INTO connections (account_id, provider, credentials, credentials_key_id, settings)
    VALUES (${client.accountId}, 'hubspot', 'sealed', 'k1', ${api.database.sql.json({ owners, canonicalIdField: 'crm_sync_id' })})
    RETURNING id`;
  return row!.id as string;
}
const ownersOf = async (connectionId: string) =>
  (await api.database.sql`SELECT settings->'owners' AS owners FROM connections WHERE id = ${connectionId}`)[0]!.owners;

describe('PATCH /v1/users/{id}', () => {
  it('renames a user and changes their email, lowercased, leaving what was left out', async () => {
    const ana = await user('Ana Patch');
    const renamed = await ok('PATCH', `/v1/users/${ana.id}`, { name: 'Ana Renamed' });
    expect(renamed).toEqual({ ...ana, name: 'Ana Renamed' });
    const moved = await ok('PATCH', `/v1/users/${ana.id}`, { email: 'Ana.New@Example.COM' });
    expect(moved).toEqual({ ...ana, name: 'Ana Renamed', email: 'ana.new@example.com' });
    expect((await ok('GET', '/v1/users?limit=500')).data).toContainEqual(moved);
  });

  it('refuses an email another user has with 409 naming email, an empty name with 400, and an unknown user with 404', async () => {
    const [a, b] = [await user('Clash A'), await user('Clash B')];
    const taken = await client.request('PATCH', `/v1/users/${a.id}`, { email: b.email.toUpperCase() });
    expect(taken.statusCode, taken.body).toBe(409);
    expect(taken.json().errors).toEqual([{ field: 'email', message: 'already used' }]);
    expect((await client.request('PATCH', `/v1/users/${a.id}`, { name: '' })).json().errors).toEqual([{ field: 'name', message: 'must not be empty' }]);
    expect((await client.request('PATCH', `/v1/users/${nobody}`, { name: 'x' })).statusCode).toBe(404);
    const other = await newAccount(api, 'Other account');
    expect((await other.request('PATCH', `/v1/users/${a.id}`, { name: 'stolen' })).statusCode).toBe(404);
    expect((await ok('GET', '/v1/users?limit=500')).data).toContainEqual(a);
  });
});

describe('DELETE /v1/users/{id}', () => {
  it('deletes a user nothing names with 204', async () => {
    const idle = await user('Idle');
    expect((await client.request('DELETE', `/v1/users/${idle.id}`)).statusCode).toBe(204);
    expect(await listed()).not.toContain(idle.id);
    expect((await client.request('DELETE', `/v1/users/${idle.id}`)).statusCode).toBe(404);
  });

  it('refuses with 409 naming the assigned and closed opportunities and the owner map, and changes nothing', async () => {
    const [rep, other] = [await user('Busy Rep'), await user('Bystander')];
    const assigned = await ok('POST', '/v1/opportunities', { title: 'Assigned', assigneeId: rep.id });
    const closed = await ok('POST', '/v1/opportunities', { title: 'Closed', assigneeId: other.id });
    await ok('POST', `/v1/opportunities/${closed.id}/close`, { state: 'won', closedById: rep.id }, 200);
    const connectionId = await connectionMapping([rep.id, other.id]);

    const refused = await client.request('DELETE', `/v1/users/${rep.id}`);
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({
      errors: [
        { field: 'assigneeId', message: '1 opportunities are assigned to this user' },
        { field: 'closedById', message: '1 opportunities were closed by this user' },
        { field: `connections.${connectionId}.settings.owners`, message: 'maps a CRM owner to this user' },
      ],
      references: { assignedOpportunities: 1, closedOpportunities: 1, connectionIds: [connectionId] },
    });
    expect(refused.json().detail).toContain('reassignTo');
    expect(await listed()).toContain(rep.id);
    expect(await ok('GET', `/v1/opportunities/${assigned.id}`)).toMatchObject({ assigneeId: rep.id, version: 1 });
    expect((await ok('GET', `/v1/opportunities/${closed.id}`)).closedById).toBe(rep.id);
    expect(await ownersOf(connectionId)).toEqual([{ userId: rep.id, ownerId: 'owner-0' }, { userId: other.id, ownerId: 'owner-1' }]);
    await api.database.sql`DELETE FROM connections WHERE id = ${connectionId}`;
  });

  it('with reassignTo hands the opportunities and owner-map entries over, clears closedBy, then deletes', async () => {
    const [leaver, heir] = [await user('Leaver'), await user('Heir')];
    const assigned = await ok('POST', '/v1/opportunities', { title: 'Handed over', assigneeId: leaver.id });
    const closed = await ok('POST', '/v1/opportunities', { title: 'Closed by leaver', assigneeId: leaver.id });
    const won = await ok('POST', `/v1/opportunities/${closed.id}/close`, { state: 'won', closedById: leaver.id }, 200);
    const connectionId = await connectionMapping([leaver.id]);

    expect((await client.request('DELETE', `/v1/users/${leaver.id}?reassignTo=${nobody}`)).json().errors).toEqual([{ field: 'reassignTo', message: 'no such user' }]);
    expect((await client.request('DELETE', `/v1/users/${leaver.id}?reassignTo=${leaver.id}`)).json().errors).toEqual([{ field: 'reassignTo', message: 'must be another user' }]);
    expect(await listed()).toContain(leaver.id);

    const done = await client.request('DELETE', `/v1/users/${leaver.id}?reassignTo=${heir.id}`);
    expect(done.statusCode, done.body).toBe(204);
    expect(await listed()).not.toContain(leaver.id);
    expect(await ok('GET', `/v1/opportunities/${assigned.id}`)).toMatchObject({ assigneeId: heir.id, version: assigned.version + 1 });
    expect(await ok('GET', `/v1/opportunities/${closed.id}`)).toMatchObject({ assigneeId: heir.id, closedById: null, state: 'won', version: won.version + 1 });
    expect(await ownersOf(connectionId)).toEqual([{ userId: heir.id, ownerId: 'owner-0' }]);
    // The change is an ordinary one: it is queued for the connection like any other.
    const [{ n }] = await api.database.sql`SELECT count(*)::int AS n FROM outbox WHERE connection_id = ${connectionId} AND opportunity_id IN ${api.database.sql([assigned.id, closed.id])}`;
    expect(n).toBe(2);
  });
});

describe('deleting a user while opportunities are assigned to them', () => {
  it('answers every request 2xx, 400 or 409, never 5xx, and leaves no opportunity naming a deleted user', async () => {
    for (let round = 0; round < 3; round++) {
      const rep = await user(`Racing Rep ${round}`);
      const targets = [];
      for (let i = 0; i < 30; i++) targets.push(await ok('POST', '/v1/opportunities', { title: `race ${round}.${i}` }));
      // The deletion starts first, amid the patches, or last.
      const patch = (o: { id: string }) => client.request('PATCH', `/v1/opportunities/${o.id}`, { assigneeId: rep.id });
      const before = targets.slice(0, round * 15).map(patch);
      const deletion = client.request('DELETE', `/v1/users/${rep.id}`);
      const patches = [...before, ...targets.slice(round * 15).map(patch)];
      const responses = [...(await Promise.all(patches)), await deletion];
      const unexpected = responses.filter((r) => ![200, 204, 400, 409].includes(r.statusCode));
      expect(unexpected.map((r) => `${r.statusCode} ${r.body}`)).toEqual([]);
      for (const refused of responses.slice(0, -1).filter((r) => r.statusCode === 409)) {
        expect(refused.json().errors).toEqual([{ field: 'assigneeId', message: 'the user was deleted while this request ran' }]);
      }
      const deleted = responses.at(-1)!.statusCode === 204;
      const assigned = (await Promise.all(targets.map((o) => ok('GET', `/v1/opportunities/${o.id}`)))).filter((o) => o.assigneeId === rep.id);
      if (deleted) expect(assigned).toEqual([]);
      else expect(responses.at(-1)!.json().references.assignedOpportunities).toBeGreaterThan(0);
    }
  });
});

describe('the OpenAPI document', () => {
  it('describes the new routes: PATCH and DELETE of a user (with reassignTo), PATCH of an attribute, ETag on opportunities', async () => {
    const spec = (await api.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(Object.keys(spec.paths['/v1/users/{id}'])).toEqual(expect.arrayContaining(['patch', 'delete']));
    expect(spec.paths['/v1/users/{id}'].delete.parameters.map((p: { name: string }) => p.name)).toContain('reassignTo');
    expect(Object.keys(spec.paths['/v1/users/{id}'].delete.responses)).toEqual(expect.arrayContaining(['204', '409']));
    expect(Object.keys(spec.paths['/v1/attributes/{key}'])).toEqual(expect.arrayContaining(['patch', 'delete']));
    const upsert = spec.paths['/v1/opportunities/by-external-ref/{ref}'].put.requestBody.content['application/json'].schema;
    expect(upsert.required ?? []).not.toContain('title');
    expect(JSON.stringify(spec.tags)).toContain('ETag');
  });
});
