import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

async function opportunity(client: Client, body: Record<string, unknown>, close?: string) {
  const created = (await client.request('POST', '/v1/opportunities', body)).json();
  if (close) await client.request('POST', `/v1/opportunities/${created.id}/close`, { state: close, reason: close === 'won' ? undefined : 'r' });
  return created;
}
const metrics = async (client: Client, query = '') => {
  const response = await client.request('GET', `/v1/metrics/opportunities${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
};

describe('opportunity metrics', () => {
  it('answers zeros and a null conversion rate for an empty account', async () => {
    const client = await newAccount(api, 'empty');
    expect(await metrics(client)).toEqual({
      countsByState: { open: 0, won: 0, lost: 0, abandoned: 0 },
      wonValue: {},
      averageValue: {},
      conversionRate: null,
      stages: [],
      topContacts: [],
    });
  });

  it('sums and averages decimals exactly, per currency', async () => {
    const client = await newAccount(api, 'decimals');
    await opportunity(client, { title: 'a', amount: '0.10', currency: 'EUR', stage: 'proposal' }, 'won');
    await opportunity(client, { title: 'b', amount: '0.20', currency: 'EUR', stage: 'proposal' }, 'won');
    await opportunity(client, { title: 'c', amount: '12345678901234567.89', currency: 'USD' }, 'won');
    await opportunity(client, { title: 'd', amount: '0.01', currency: 'USD' }, 'won');
    await opportunity(client, { title: 'e', amount: '5.00', currency: 'EUR' }, 'lost');
    await opportunity(client, { title: 'f', currency: 'EUR', stage: 'proposal' });
    const result = await metrics(client);
    expect(result.countsByState).toEqual({ open: 1, won: 4, lost: 1, abandoned: 0 });
    expect(result.wonValue).toEqual({ EUR: '0.30', USD: '12345678901234567.90' });
    expect(result.averageValue).toEqual({ EUR: '1.77', USD: '6172839450617283.95' });
    expect(result.conversionRate).toBe(0.8);
    expect(result.stages).toEqual([
      { stage: 'proposal', count: 3, value: { EUR: '0.30' } },
      { stage: null, count: 3, value: { EUR: '5.00', USD: '12345678901234567.90' } },
    ]);
  });

  it('keeps the scale of the amounts in averages', async () => {
    const client = await newAccount(api, 'scale');
    await opportunity(client, { title: 'a', amount: '0.10' });
    await opportunity(client, { title: 'b', amount: '0.20' });
    expect((await metrics(client)).averageValue).toEqual({ USD: '0.15' });
  });

  it('ranks contacts by opportunities, top N', async () => {
    const client = await newAccount(api, 'contacts');
    const names = ['one', 'two', 'three'];
    const ids: string[] = [];
    for (const name of names) ids.push((await client.request('POST', '/v1/contacts', { name })).json().id);
    await opportunity(client, { title: 'x', contactId: ids[2], contactIds: [ids[1]] });
    await opportunity(client, { title: 'y', contactId: ids[2] });
    await opportunity(client, { title: 'z', contactId: ids[0] });
    await opportunity(client, { title: 'w', contactId: ids[2] });
    await opportunity(client, { title: 'v', contactId: ids[1] });
    const result = await metrics(client, '?top=2');
    expect(result.topContacts).toEqual([
      { contactId: ids[2], name: 'three', opportunityCount: 3 },
      { contactId: ids[1], name: 'two', opportunityCount: 2 },
    ]);
  });

  it('restricts to opportunities closed within [from, to)', async () => {
    const client = await newAccount(api, 'window');
    const january = await opportunity(client, { title: 'jan', amount: '100.00' }, 'won');
    const february = await opportunity(client, { title: 'feb', amount: '40.00' }, 'lost');
    await opportunity(client, { title: 'recent', amount: '1.00' }, 'won');
    await opportunity(client, { title: 'open', amount: '7.00' });
    await api.database.sql`UPDATE opportunities SET closed_at = '2025-01-15T00:00:00Z' WHERE id = ${january.id}`;
    await api.database.sql`UPDATE opportunities SET closed_at = '2025-02-15T00:00:00Z' WHERE id = ${february.id}`;

    const q1 = await metrics(client, '?from=2025-01-01T00:00:00Z&to=2025-04-01T00:00:00Z');
    expect(q1.countsByState).toEqual({ open: 0, won: 1, lost: 1, abandoned: 0 });
    expect(q1.wonValue).toEqual({ USD: '100.00' });
    expect(q1.conversionRate).toBe(0.5);
    const january2025 = await metrics(client, '?from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z');
    expect(january2025.countsByState.won).toBe(1);
    expect(january2025.countsByState.lost).toBe(0);
    const everything = await metrics(client);
    expect(everything.countsByState).toEqual({ open: 1, won: 2, lost: 1, abandoned: 0 });
  });

  it.each([['?from=yesterday', 'from'], ['?top=0', 'top'], ['?top=101', 'top'], ['?colour=red', 'colour']])(
    'refuses %s naming the parameter',
    async (query, field) => {
      const client = await newAccount(api, 'bad query');
      const response = await client.request('GET', `/v1/metrics/opportunities${query}`);
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json().errors.map((e: { field: string }) => e.field)).toEqual([`querystring.${field}`]);
    },
  );
});
