import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;
let client: Client;

const definitions = [
  { key: 'notes', label: 'Notes', type: 'text' },
  { key: 'seats', label: 'Seats', type: 'number' },
  { key: 'renewal', label: 'Renewal', type: 'boolean' },
  { key: 'signed_on', label: 'Signed on', type: 'date' },
  { key: 'region', label: 'Region', type: 'enum', options: ['emea', 'amer'] },
];

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

// Every test gets an account of its own with the five definitions, whatever the tests before it
// defined, deleted or created.
beforeEach(async () => {
  client = await newAccount(api);
  for (const definition of definitions) {
    const response = await client.request('POST', '/v1/attributes', definition);
    expect(response.statusCode, response.body).toBe(201);
  }
});

async function create(body: Record<string, unknown>, as: Client = client) {
  const response = await as.request('POST', '/v1/opportunities', body);
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}
async function patch(id: string, body: Record<string, unknown>, as: Client = client) {
  const response = await as.request('PATCH', `/v1/opportunities/${id}`, body);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}
const get = async (id: string, as: Client = client) => {
  const response = await as.request('GET', `/v1/opportunities/${id}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
};
const fields = (body: { errors: { field: string }[] }) => body.errors.map((e) => e.field);

/** For each type: a right value, another right value, and wrong ones. */
const byType: { key: string; type: string; right: unknown; other: unknown; wrong: unknown[] }[] = [
  { key: 'notes', type: 'text', right: 'call back', other: '', wrong: [42, true, ['a'], 'n'.repeat(2001)] },
  { key: 'seats', type: 'number', right: 25, other: 2.5, wrong: ['25', true, { n: 1 }] },
  { key: 'renewal', type: 'boolean', right: true, other: false, wrong: ['yes', 1, 'true'] },
  { key: 'signed_on', type: 'date', right: '2026-03-01', other: '2024-02-29', wrong: ['2026-13-45', '2026-02-30', '2026-03-01T00:00:00Z', 20260301] },
  { key: 'region', type: 'enum', right: 'emea', other: 'amer', wrong: ['apac', 'EMEA', 1] },
];

describe('attribute definitions', () => {
  it('creates a definition with 201 and lists the definitions in creation order', async () => {
    const listed = await client.request('GET', '/v1/attributes');
    expect(listed.statusCode).toBe(200);
    const data = listed.json().data;
    expect(data.map((d: { key: string }) => d.key)).toEqual(definitions.map((d) => d.key));
    expect(data[0]).toEqual({ key: 'notes', label: 'Notes', type: 'text', options: null, createdAt: expect.any(String) });
    expect(data[4]).toMatchObject({ key: 'region', type: 'enum', options: ['emea', 'amer'] });
    expect(listed.json().nextCursor).toBeNull();
    const paged = (await client.request('GET', '/v1/attributes?limit=2')).json();
    expect(paged.data.map((d: { key: string }) => d.key)).toEqual(['notes', 'seats']);
    const next = (await client.request('GET', `/v1/attributes?limit=2&cursor=${paged.nextCursor}`)).json();
    expect(next.data.map((d: { key: string }) => d.key)).toEqual(['renewal', 'signed_on']);
  });

  it('requires options for an enum', async () => {
    for (const body of [
      { key: 'tier', label: 'Tier', type: 'enum' },
      { key: 'tier', label: 'Tier', type: 'enum', options: [] },
      { key: 'tier', label: 'Tier', type: 'enum', options: ['a', 'a'] },
    ]) {
      const response = await client.request('POST', '/v1/attributes', body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(fields(response.json())).toEqual(['options']);
    }
    const created = await client.request('POST', '/v1/attributes', { key: 'tier', label: 'Tier', type: 'enum', options: ['gold'] });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ key: 'tier', type: 'enum', options: ['gold'] });
  });

  it.each(['text', 'number', 'boolean', 'date'])('refuses options for a %s attribute', async (type) => {
    const response = await client.request('POST', '/v1/attributes', { key: `with_options_${type}`, label: 'x', type, options: ['a'] });
    expect(response.statusCode).toBe(400);
    expect(fields(response.json())).toEqual(['options']);
    const listed = (await client.request('GET', '/v1/attributes')).json().data.map((d: { key: string }) => d.key);
    expect(listed).not.toContain(`with_options_${type}`);
  });

  it.each([
    [{ key: 'Tier!', label: 'Tier', type: 'text' }, 'key'],
    [{ key: '9lives', label: 'Lives', type: 'text' }, 'key'],
    [{ key: 'k'.repeat(65), label: 'Long', type: 'text' }, 'key'],
    [{ key: 'colour', label: 'Colour', type: 'colour' }, 'type'],
    [{ key: 'colour', label: ' ', type: 'text' }, 'label'],
    [{ key: 'colour', type: 'text' }, 'label'],
  ])('refuses the invalid definition %j naming %s', async (body, field) => {
    const response = await client.request('POST', '/v1/attributes', body);
    expect(response.statusCode).toBe(400);
    expect(fields(response.json())).toEqual([field]);
  });

  it('refuses a duplicate key with 409 naming key, and allows the same key in another account', async () => {
    const response = await client.request('POST', '/v1/attributes', { key: 'seats', label: 'Again', type: 'text' });
    expect(response.statusCode).toBe(409);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().errors).toEqual([{ field: 'key', message: 'already exists' }]);
    const seats = (await client.request('GET', '/v1/attributes')).json().data.find((d: { key: string }) => d.key === 'seats');
    expect(seats).toMatchObject({ label: 'Seats', type: 'number' });

    const other = await newAccount(api, 'same key elsewhere');
    expect((await other.request('POST', '/v1/attributes', { key: 'seats', label: 'Seats', type: 'text' })).statusCode).toBe(201);
  });
});

describe('opportunity attribute values', () => {
  it('accepts a right value of every type on create and stores it', async () => {
    const good = Object.fromEntries(byType.map((t) => [t.key, t.right]));
    const created = await create({ title: 'typed', attributes: good });
    expect(created.attributes).toEqual(good);
    expect((await get(created.id)).attributes).toEqual(good);
  });

  it.each(byType)('accepts a right $type value on PATCH', async ({ key, right, other }) => {
    const created = await create({ title: `patch ${key}`, attributes: { [key]: right } });
    const patched = await patch(created.id, { attributes: { [key]: other } });
    expect(patched).toMatchObject({ attributes: { [key]: other }, version: 2 });
    expect((await get(created.id)).attributes).toEqual({ [key]: other });
  });

  const wrongValues = byType.flatMap(({ key, type, wrong }) =>
    wrong.map((value) => ({ key, type, value, shown: JSON.stringify(value).slice(0, 30) })),
  );
  it.each(wrongValues)(
    'refuses $type value $shown on create and on PATCH with 400 naming attributes.$key',
    async ({ key, value }) => {
      const created = await client.request('POST', '/v1/opportunities', { title: `bad ${key}`, attributes: { [key]: value } });
      expect(created.statusCode).toBe(400);
      expect(created.headers['content-type']).toContain('application/problem+json');
      expect(created.json().errors).toEqual([{ field: `attributes.${key}`, message: expect.any(String) }]);

      const target = await create({ title: 'target', attributes: { notes: 'keep' } });
      const patched = await client.request('PATCH', `/v1/opportunities/${target.id}`, { title: 'changed', attributes: { [key]: value } });
      expect(patched.statusCode).toBe(400);
      expect(patched.json().errors).toEqual([{ field: `attributes.${key}`, message: expect.any(String) }]);
      expect(await get(target.id)).toMatchObject({ title: 'target', attributes: { notes: 'keep' }, version: 1 });
    },
  );

  it('names every wrong attribute of a request, and refuses a key that is not defined', async () => {
    const response = await client.request('POST', '/v1/opportunities', {
      title: 'two wrongs',
      attributes: { region: 'apac', renewal: 'yes', notes: 'fine', undefined_key: 'x' },
    });
    expect(response.statusCode).toBe(400);
    expect(fields(response.json()).sort()).toEqual(['attributes.region', 'attributes.renewal', 'attributes.undefined_key']);
  });

  it('merges attributes on PATCH: setting one key keeps the others', async () => {
    const created = await create({ title: 'merge', attributes: { notes: 'a', seats: 3 } });
    const merged = await patch(created.id, { attributes: { region: 'amer' } });
    expect(merged).toMatchObject({ attributes: { notes: 'a', seats: 3, region: 'amer' }, version: 2 });
    const replaced = await patch(created.id, { attributes: { seats: 4 } });
    expect(replaced.attributes).toEqual({ notes: 'a', seats: 4, region: 'amer' });
    const untouched = await patch(created.id, { title: 'renamed' });
    expect(untouched.attributes).toEqual({ notes: 'a', seats: 4, region: 'amer' });
    expect((await get(created.id)).attributes).toEqual({ notes: 'a', seats: 4, region: 'amer' });
  });

  it('removes a value given null on PATCH and keeps the others', async () => {
    const created = await create({ title: 'remove', attributes: { notes: 'a', seats: 3, renewal: false } });
    const removed = await patch(created.id, { attributes: { seats: null } });
    expect(removed).toMatchObject({ attributes: { notes: 'a', renewal: false }, version: 2 });
    expect(removed.attributes).not.toHaveProperty('seats');
    expect((await get(created.id)).attributes).toEqual({ notes: 'a', renewal: false });
    const both = await patch(created.id, { attributes: { notes: null, region: 'emea' } });
    expect(both.attributes).toEqual({ renewal: false, region: 'emea' });
    // Removing a value that is not there changes nothing, so no new version.
    const again = await patch(created.id, { attributes: { seats: null } });
    expect(again).toMatchObject({ attributes: { renewal: false, region: 'emea' }, version: 3 });
  });
});

describe('deleting a definition', () => {
  it('removes its values from every opportunity that had it, bumping their version, and leaves the others alone', async () => {
    const other = await newAccount(api, 'deleting');
    for (const body of [
      { key: 'colour', label: 'Colour', type: 'text' },
      { key: 'size', label: 'Size', type: 'number' },
    ]) expect((await other.request('POST', '/v1/attributes', body)).statusCode).toBe(201);
    const a = await create({ title: 'a', attributes: { colour: 'red', size: 2 } }, other);
    const b = await create({ title: 'b', attributes: { colour: 'blue' } }, other);
    const c = await create({ title: 'c', attributes: { size: 3 } }, other);
    const d = await create({ title: 'd' }, other);
    // Another account with the same key keeps its values.
    const bystander = await newAccount(api, 'bystander');
    expect((await bystander.request('POST', '/v1/attributes', { key: 'colour', label: 'Colour', type: 'text' })).statusCode).toBe(201);
    const theirs = await create({ title: 'theirs', attributes: { colour: 'green' } }, bystander);

    const deleted = await other.request('DELETE', '/v1/attributes/colour');
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');

    expect(await get(a.id, other)).toMatchObject({ attributes: { size: 2 }, version: 2 });
    expect(await get(b.id, other)).toMatchObject({ attributes: {}, version: 2 });
    expect(await get(c.id, other)).toMatchObject({ attributes: { size: 3 }, version: 1 });
    expect(await get(d.id, other)).toMatchObject({ attributes: {}, version: 1 });
    expect(await get(theirs.id, bystander)).toMatchObject({ attributes: { colour: 'green' }, version: 1 });
    const [{ n }] = await api.database.sql`SELECT count(*)::int AS n FROM opportunities WHERE account_id = ${other.accountId} AND attributes ? 'colour'`;
    expect(n).toBe(0);
    const keys = (await other.request('GET', '/v1/attributes')).json().data.map((def: { key: string }) => def.key);
    expect(keys).toEqual(['size']);
  });

  it('answers 404 for an unknown key, and for a key already deleted', async () => {
    const other = await newAccount(api, 'unknown key');
    const unknown = await other.request('DELETE', '/v1/attributes/never_defined');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toContain('application/problem+json');
    expect((await other.request('POST', '/v1/attributes', { key: 'once', label: 'Once', type: 'boolean' })).statusCode).toBe(201);
    expect((await other.request('DELETE', '/v1/attributes/once')).statusCode).toBe(204);
    expect((await other.request('DELETE', '/v1/attributes/once')).statusCode).toBe(404);
    // Another account's definition is not this account's to delete.
    expect((await other.request('DELETE', '/v1/attributes/notes')).statusCode).toBe(404);
    expect((await client.request('GET', '/v1/attributes')).json().data.map((def: { key: string }) => def.key)).toContain('notes');
  });

  it('refuses the deleted key on create and on PATCH afterwards, until it is defined again', async () => {
    const other = await newAccount(api, 'reuse');
    expect((await other.request('POST', '/v1/attributes', { key: 'stale', label: 'Stale', type: 'text' })).statusCode).toBe(201);
    const target = await create({ title: 'target', attributes: { stale: 'old' } }, other);
    expect((await other.request('DELETE', '/v1/attributes/stale')).statusCode).toBe(204);

    const created = await other.request('POST', '/v1/opportunities', { title: 'x', attributes: { stale: 'new' } });
    expect(created.statusCode).toBe(400);
    expect(fields(created.json())).toEqual(['attributes.stale']);
    const patched = await other.request('PATCH', `/v1/opportunities/${target.id}`, { attributes: { stale: 'new' } });
    expect(patched.statusCode).toBe(400);
    expect(fields(patched.json())).toEqual(['attributes.stale']);
    expect(await get(target.id, other)).toMatchObject({ attributes: {}, version: 2 });

    expect((await other.request('POST', '/v1/attributes', { key: 'stale', label: 'Stale again', type: 'number' })).statusCode).toBe(201);
    expect((await get(target.id, other)).attributes).toEqual({});
    expect((await patch(target.id, { attributes: { stale: 7 } }, other)).attributes).toEqual({ stale: 7 });
  });
});

describe('PATCH /v1/attributes/{key}', () => {
  const patchDefinition = (key: string, body: unknown) => client.request('PATCH', `/v1/attributes/${key}`, body);
  const definitionOf = async (key: string) => (await client.request('GET', '/v1/attributes')).json().data.find((d: { key: string }) => d.key === key);

  it('adds enum options and changes the label, keeping every stored value', async () => {
    const held = await create({ title: 'EMEA deal', attributes: { region: 'emea', seats: 3 } });
    const response = await patchDefinition('region', { label: 'Sales region', options: ['emea', 'amer', 'apac'] });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ key: 'region', label: 'Sales region', type: 'enum', options: ['emea', 'amer', 'apac'] });
    expect(await definitionOf('region')).toEqual(response.json());
    expect(await get(held.id)).toMatchObject({ attributes: { region: 'emea', seats: 3 }, version: held.version });
    expect((await patch(held.id, { attributes: { region: 'apac' } })).attributes.region).toBe('apac');
    const relabelled = await patchDefinition('notes', { label: 'Internal notes', type: 'text' });
    expect(relabelled.json()).toMatchObject({ key: 'notes', label: 'Internal notes', type: 'text', options: null });
  });

  it('refuses to remove an option still in use with 409 naming it, and removes one nobody holds', async () => {
    await create({ title: 'Americas deal', attributes: { region: 'amer' } });
    const gone = await create({ title: 'Deleted EMEA deal', attributes: { region: 'emea' } });
    expect((await client.request('DELETE', `/v1/opportunities/${gone.id}`)).statusCode).toBe(204);

    const refused = await patchDefinition('region', { options: ['emea'] });
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json().errors).toEqual([{ field: 'options', message: '"amer" is still the value of 1 opportunities' }]);
    expect((await definitionOf('region')).options).toEqual(['emea', 'amer']);

    // Only a deleted opportunity holds "emea": removing it is allowed.
    const narrowed = await patchDefinition('region', { options: ['amer'] });
    expect(narrowed.statusCode, narrowed.body).toBe(200);
    expect(narrowed.json().options).toEqual(['amer']);
    const stale = await client.request('POST', '/v1/opportunities', { title: 'x', attributes: { region: 'emea' } });
    expect(fields(stale.json())).toEqual(['attributes.region']);
  });

  it('refuses a change of type (400 naming type), options on a non-enum, an unknown field and an unknown key', async () => {
    const retyped = await patchDefinition('seats', { type: 'text' });
    expect(retyped.statusCode).toBe(400);
    expect(retyped.json().errors).toEqual([{ field: 'type', message: 'cannot be changed (it is number): define a new attribute instead' }]);
    expect(fields((await patchDefinition('seats', { options: ['a'] })).json())).toEqual(['options']);
    expect(fields((await patchDefinition('region', { options: ['a', 'a'] })).json())).toEqual(['options']);
    expect(fields((await patchDefinition('region', { key: 'other' })).json())).toEqual(['key']);
    expect((await patchDefinition('nope', { label: 'x' })).statusCode).toBe(404);
    expect(await definitionOf('seats')).toMatchObject({ type: 'number', label: 'Seats', options: null });
  });
});
