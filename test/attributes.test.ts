import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;
let client: Client;

beforeAll(async () => {
  api = await startTestApi();
  client = await newAccount(api);
  const definitions = [
    { key: 'notes', label: 'Notes', type: 'text' },
    { key: 'seats', label: 'Seats', type: 'number' },
    { key: 'renewal', label: 'Renewal', type: 'boolean' },
    { key: 'signed_on', label: 'Signed on', type: 'date' },
    { key: 'region', label: 'Region', type: 'enum', options: ['emea', 'amer'] },
  ];
  for (const definition of definitions) {
    const response = await client.request('POST', '/v1/attributes', definition);
    expect(response.statusCode, response.body).toBe(201);
  }
});
afterAll(() => api.close());

const good = { notes: 'call back', seats: 25, renewal: true, signed_on: '2026-03-01', region: 'emea' };
const bad: [string, unknown][] = [
  ['notes', 42],
  ['seats', '25'],
  ['renewal', 'yes'],
  ['signed_on', '2026-13-45'],
  ['region', 'apac'],
  ['unknown_key', 'x'],
];

describe('attribute definitions', () => {
  it('lists the definitions', async () => {
    const listed = (await client.request('GET', '/v1/attributes')).json();
    expect(listed.data.map((d: { key: string }) => d.key)).toEqual(['notes', 'seats', 'renewal', 'signed_on', 'region']);
    expect(listed.data[4]).toMatchObject({ type: 'enum', options: ['emea', 'amer'] });
  });

  it.each([
    [{ key: 'tier', label: 'Tier', type: 'enum' }, 'options'],
    [{ key: 'tier', label: 'Tier', type: 'text', options: ['a'] }, 'options'],
    [{ key: 'Tier!', label: 'Tier', type: 'text' }, 'key'],
    [{ key: 'tier', label: 'Tier', type: 'colour' }, 'type'],
  ])('refuses an invalid definition %j naming %s', async (body, field) => {
    const response = await client.request('POST', '/v1/attributes', body);
    expect(response.statusCode).toBe(400);
    expect(response.json().errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('refuses a duplicate key with 409', async () => {
    const response = await client.request('POST', '/v1/attributes', { key: 'seats', label: 'Again', type: 'number' });
    expect(response.statusCode).toBe(409);
  });
});

describe('opportunity attributes', () => {
  it('accepts a value of the right type for every type', async () => {
    const created = await client.request('POST', '/v1/opportunities', { title: 'typed', attributes: good });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().attributes).toEqual(good);
  });

  it.each(bad)('refuses %s = %j on create and on patch, naming it', async (key, value) => {
    const create = await client.request('POST', '/v1/opportunities', { title: 'bad', attributes: { [key]: value } });
    expect(create.statusCode).toBe(400);
    expect(create.json().errors).toEqual([{ field: `attributes.${key}`, message: expect.any(String) }]);

    const target = (await client.request('POST', '/v1/opportunities', { title: 'target', attributes: { notes: 'keep' } })).json();
    const patch = await client.request('PATCH', `/v1/opportunities/${target.id}`, { attributes: { [key]: value } });
    expect(patch.statusCode).toBe(400);
    expect(patch.json().errors[0].field).toBe(`attributes.${key}`);
    const after = (await client.request('GET', `/v1/opportunities/${target.id}`)).json();
    expect(after).toMatchObject({ attributes: { notes: 'keep' }, version: 1 });
  });

  it('merges attributes on patch and removes a key given null', async () => {
    const created = (await client.request('POST', '/v1/opportunities', { title: 'merge', attributes: { notes: 'a', seats: 3 } })).json();
    const merged = await client.request('PATCH', `/v1/opportunities/${created.id}`, { attributes: { region: 'amer' } });
    expect(merged.json().attributes).toEqual({ notes: 'a', seats: 3, region: 'amer' });
    const removed = await client.request('PATCH', `/v1/opportunities/${created.id}`, { attributes: { seats: null } });
    expect(removed.json().attributes).toEqual({ notes: 'a', region: 'amer' });
  });

  it('deleting a definition removes its values everywhere and then refuses the key', async () => {
    const other = await newAccount(api, 'deleting');
    await other.request('POST', '/v1/attributes', { key: 'colour', label: 'Colour', type: 'text' });
    await other.request('POST', '/v1/attributes', { key: 'size', label: 'Size', type: 'number' });
    const a = (await other.request('POST', '/v1/opportunities', { title: 'a', attributes: { colour: 'red', size: 2 } })).json();
    const b = (await other.request('POST', '/v1/opportunities', { title: 'b', attributes: { size: 3 } })).json();

    expect((await other.request('DELETE', '/v1/attributes/colour')).statusCode).toBe(204);
    const afterA = (await other.request('GET', `/v1/opportunities/${a.id}`)).json();
    expect(afterA).toMatchObject({ attributes: { size: 2 }, version: 2 });
    expect((await other.request('GET', `/v1/opportunities/${b.id}`)).json()).toMatchObject({ attributes: { size: 3 }, version: 1 });

    expect((await other.request('DELETE', '/v1/attributes/colour')).statusCode).toBe(404);
    const reuse = await other.request('PATCH', `/v1/opportunities/${b.id}`, { attributes: { colour: 'blue' } });
    expect(reuse.statusCode).toBe(400);
    expect(reuse.json().errors[0].field).toBe('attributes.colour');
  });
});
