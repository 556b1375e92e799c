import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

type CloseState = 'won' | 'lost' | 'abandoned';

/** Creates an opportunity and, given a state, closes it. Every metrics test has an account of its own. */
async function opportunity(client: Client, body: Record<string, unknown>, state?: CloseState) {
  const created = await client.request('POST', '/v1/opportunities', body);
  expect(created.statusCode, created.body).toBe(201);
  if (state) {
    const closed = await client.request('POST', `/v1/opportunities/${created.json().id}/close`, state === 'won' ? { state } : { state, reason: 'r' });
    expect(closed.statusCode, closed.body).toBe(200);
  }
  return created.json();
}
async function contact(client: Client, name: string): Promise<string> {
  const response = await client.request('POST', '/v1/contacts', { name });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id;
}
const metrics = async (client: Client, query = '') => {
  const response = await client.request('GET', `/v1/metrics/opportunities${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
};
const closeAt = (id: string, at: string) => api.database.sql`UPDATE opportunities SET closed_at = ${at} WHERE id = ${id}`;

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

  it('counts by state and computes the conversion rate as won / (won + lost), ignoring abandoned and open', async () => {
    const client = await newAccount(api, 'states');
    for (let i = 0; i < 3; i++) await opportunity(client, { title: `won ${i}` }, 'won');
    await opportunity(client, { title: 'lost' }, 'lost');
    for (let i = 0; i < 2; i++) await opportunity(client, { title: `abandoned ${i}` }, 'abandoned');
    for (let i = 0; i < 4; i++) await opportunity(client, { title: `open ${i}` });
    const result = await metrics(client);
    expect(result.countsByState).toEqual({ open: 4, won: 3, lost: 1, abandoned: 2 });
    expect(result.conversionRate).toBe(0.75);
  });

  it('answers a null conversion rate when nothing is won or lost, and 0 when all decided were lost', async () => {
    const client = await newAccount(api, 'undecided');
    await opportunity(client, { title: 'open' });
    await opportunity(client, { title: 'abandoned' }, 'abandoned');
    expect((await metrics(client)).conversionRate).toBeNull();
    await opportunity(client, { title: 'lost' }, 'lost');
    expect((await metrics(client)).conversionRate).toBe(0);
    await opportunity(client, { title: 'won' }, 'won');
    await opportunity(client, { title: 'lost again' }, 'lost');
    expect((await metrics(client)).conversionRate).toBeCloseTo(1 / 3, 4);
  });

  it('sums won values exactly, per currency, without lost or open amounts', async () => {
    const client = await newAccount(api, 'decimals');
    await opportunity(client, { title: 'a', amount: '0.10', currency: 'EUR' }, 'won');
    await opportunity(client, { title: 'b', amount: '0.20', currency: 'EUR' }, 'won');
    await opportunity(client, { title: 'c', amount: '12345678901234567.89', currency: 'USD' }, 'won');
    await opportunity(client, { title: 'd', amount: '0.01', currency: 'USD' }, 'won');
    await opportunity(client, { title: 'no amount', currency: 'GBP' }, 'won');
    await opportunity(client, { title: 'lost', amount: '5.00', currency: 'EUR' }, 'lost');
    await opportunity(client, { title: 'open', amount: '7.00', currency: 'EUR' });
    await opportunity(client, { title: 'lost yen', amount: '300', currency: 'JPY' }, 'lost');
    const result = await metrics(client);
    // 0.1 + 0.2 in floating point is 0.30000000000000004; the sum must be the exact decimal.
    expect(result.wonValue).toEqual({ EUR: '0.30', USD: '12345678901234567.90' });
    expect(result.countsByState).toEqual({ open: 1, won: 5, lost: 2, abandoned: 0 });
  });

  it('averages amounts exactly per currency, keeping the scale the amounts were written with', async () => {
    const client = await newAccount(api, 'averages');
    await opportunity(client, { title: 'a', amount: '0.10', currency: 'EUR' }, 'won');
    await opportunity(client, { title: 'b', amount: '0.20', currency: 'EUR' }, 'won');
    await opportunity(client, { title: 'c', amount: '12345678901234567.89', currency: 'USD' }, 'won');
    await opportunity(client, { title: 'd', amount: '0.01', currency: 'USD' }, 'won');
    await opportunity(client, { title: 'no amount', currency: 'USD' }, 'won');
    expect((await metrics(client)).averageValue).toEqual({ EUR: '0.15', USD: '6172839450617283.95' });
  });

  it('averages the amounts of every opportunity in scope, whatever its state', async () => {
    const client = await newAccount(api, 'average scope');
    await opportunity(client, { title: 'won', amount: '0.10', currency: 'EUR' }, 'won');
    await opportunity(client, { title: 'won too', amount: '0.20', currency: 'EUR' }, 'won');
    await opportunity(client, { title: 'lost', amount: '5.00', currency: 'EUR' }, 'lost');
    await opportunity(client, { title: 'open', amount: '3.00', currency: 'CHF' });
    // (0.10 + 0.20 + 5.00) / 3 = 1.7666… → 1.77 at the amounts' scale of 2.
    expect((await metrics(client)).averageValue).toEqual({ CHF: '3.00', EUR: '1.77' });
  });

  it('reports count and value per currency for every stage, the stage-less last', async () => {
    const client = await newAccount(api, 'stages');
    await opportunity(client, { title: 'p1', amount: '0.10', currency: 'EUR', stage: 'proposal' }, 'won');
    await opportunity(client, { title: 'p2', amount: '0.20', currency: 'EUR', stage: 'proposal' });
    await opportunity(client, { title: 'p3', amount: '100', currency: 'USD', stage: 'proposal' }, 'lost');
    await opportunity(client, { title: 'p4', stage: 'proposal' });
    await opportunity(client, { title: 'd1', stage: 'demo' });
    await opportunity(client, { title: 'n1', amount: '12345678901234567.89', currency: 'USD' });
    await opportunity(client, { title: 'n2', amount: '0.01', currency: 'USD' }, 'won');
    const result = await metrics(client);
    expect(result.stages).toEqual([
      { stage: 'demo', count: 1, value: {} },
      { stage: 'proposal', count: 4, value: { EUR: '0.30', USD: '100' } },
      { stage: null, count: 2, value: { USD: '12345678901234567.90' } },
    ]);
  });

  it('ranks contacts by their opportunities, primary or additional, top N with ?top=', async () => {
    const client = await newAccount(api, 'top contacts');
    const [one, two, three] = [await contact(client, 'one'), await contact(client, 'two'), await contact(client, 'three')];
    await opportunity(client, { title: 'x', contactId: three, contactIds: [two] });
    await opportunity(client, { title: 'y', contactId: three }, 'won');
    await opportunity(client, { title: 'z', contactId: one });
    await opportunity(client, { title: 'w', contactIds: [three] }, 'lost');
    await opportunity(client, { title: 'v', contactId: two });
    const top2 = await metrics(client, '?top=2');
    expect(top2.topContacts).toEqual([
      { contactId: three, name: 'three', opportunityCount: 3 },
      { contactId: two, name: 'two', opportunityCount: 2 },
    ]);
    const top1 = await metrics(client, '?top=1');
    expect(top1.topContacts).toEqual([{ contactId: three, name: 'three', opportunityCount: 3 }]);
    const all = await metrics(client);
    expect(all.topContacts.map((c: { contactId: string }) => c.contactId)).toEqual([three, two, one]);
  });

  it('ranks ten contacts by default', async () => {
    const client = await newAccount(api, 'default top');
    for (let i = 0; i < 11; i++) {
      const id = await contact(client, `contact ${i}`);
      await opportunity(client, { title: `o${i}`, contactId: id });
    }
    expect((await metrics(client)).topContacts).toHaveLength(10);
    expect((await metrics(client, '?top=11')).topContacts).toHaveLength(11);
  });

  it('leaves deleted opportunities out of every figure', async () => {
    const client = await newAccount(api, 'deleted');
    const person = await contact(client, 'person');
    await opportunity(client, { title: 'kept', amount: '1.00', stage: 'demo', contactId: person }, 'won');
    const gone = await opportunity(client, { title: 'gone', amount: '99.00', stage: 'demo', contactId: person }, 'won');
    const goneLost = await opportunity(client, { title: 'gone lost', amount: '5.00', stage: 'other' }, 'lost');
    for (const { id } of [gone, goneLost]) expect((await client.request('DELETE', `/v1/opportunities/${id}`)).statusCode).toBe(204);
    expect(await metrics(client)).toEqual({
      countsByState: { open: 0, won: 1, lost: 0, abandoned: 0 },
      wonValue: { USD: '1.00' },
      averageValue: { USD: '1.00' },
      conversionRate: 1,
      stages: [{ stage: 'demo', count: 1, value: { USD: '1.00' } }],
      topContacts: [{ contactId: person, name: 'person', opportunityCount: 1 }],
    });
  });

  it('counts only the opportunities of its own account', async () => {
    const mine = await newAccount(api, 'mine');
    const theirs = await newAccount(api, 'theirs');
    await opportunity(theirs, { title: 'theirs', amount: '1000.00', stage: 'theirs' }, 'won');
    await contact(theirs, 'their contact');
    await opportunity(mine, { title: 'mine', amount: '1.00' }, 'lost');
    expect(await metrics(mine)).toEqual({
      countsByState: { open: 0, won: 0, lost: 1, abandoned: 0 },
      wonValue: {},
      averageValue: { USD: '1.00' },
      conversionRate: 0,
      stages: [{ stage: null, count: 1, value: { USD: '1.00' } }],
      topContacts: [],
    });
  });
});

describe('the closedAt window', () => {
  let client: Client;
  const ids = {} as Record<'january' | 'february' | 'march' | 'recent' | 'open', string>;
  let buyer: string;

  beforeAll(async () => {
    client = await newAccount(api, 'window');
    buyer = await contact(client, 'buyer');
    ids.january = (await opportunity(client, { title: 'jan', amount: '100.00', stage: 'a', contactId: buyer }, 'won')).id;
    ids.february = (await opportunity(client, { title: 'feb', amount: '40.00', stage: 'b' }, 'lost')).id;
    ids.march = (await opportunity(client, { title: 'mar', amount: '0.10', stage: 'a', contactId: buyer }, 'won')).id;
    ids.recent = (await opportunity(client, { title: 'recent', amount: '1.00', contactId: buyer }, 'won')).id;
    ids.open = (await opportunity(client, { title: 'open', amount: '7.00', contactId: buyer })).id;
    await closeAt(ids.january, '2025-01-15T00:00:00Z');
    await closeAt(ids.february, '2025-02-15T00:00:00Z');
    await closeAt(ids.march, '2025-03-01T00:00:00Z');
  });

  it('counts only opportunities closed in [from, to)', async () => {
    const q1 = await metrics(client, '?from=2025-01-01T00:00:00Z&to=2025-04-01T00:00:00Z');
    expect(q1).toEqual({
      countsByState: { open: 0, won: 2, lost: 1, abandoned: 0 },
      wonValue: { USD: '100.10' },
      averageValue: { USD: '46.70' },
      conversionRate: Number((2 / 3).toFixed(4)),
      stages: [
        { stage: 'a', count: 2, value: { USD: '100.10' } },
        { stage: 'b', count: 1, value: { USD: '40.00' } },
      ],
      topContacts: [{ contactId: buyer, name: 'buyer', opportunityCount: 2 }],
    });
  });

  it('includes an opportunity closed exactly at from and excludes one closed exactly at to', async () => {
    const upToMarch = await metrics(client, '?from=2025-01-15T00:00:00Z&to=2025-03-01T00:00:00Z');
    expect(upToMarch.countsByState).toEqual({ open: 0, won: 1, lost: 1, abandoned: 0 });
    expect(upToMarch.wonValue).toEqual({ USD: '100.00' });
    const fromMarch = await metrics(client, '?from=2025-03-01T00:00:00Z&to=2025-03-01T00:00:01Z');
    expect(fromMarch.countsByState).toEqual({ open: 0, won: 1, lost: 0, abandoned: 0 });
    expect(fromMarch.wonValue).toEqual({ USD: '0.10' });
  });

  it('accepts only from, or only to, and timestamps with an offset', async () => {
    const since = await metrics(client, '?from=2025-02-01T00:00:00Z');
    expect(since.countsByState).toEqual({ open: 0, won: 2, lost: 1, abandoned: 0 });
    expect(since.wonValue).toEqual({ USD: '1.10' });
    const before = await metrics(client, '?to=2025-02-01T00:00:00Z');
    expect(before.countsByState).toEqual({ open: 0, won: 1, lost: 0, abandoned: 0 });
    // 2025-01-15T01:00:00+01:00 is 2025-01-15T00:00:00Z: january is in.
    const offset = await metrics(client, `?from=${encodeURIComponent('2025-01-15T01:00:00+01:00')}&to=2025-01-16T00:00:00Z`);
    expect(offset.countsByState.won).toBe(1);
    const justAfter = await metrics(client, `?from=${encodeURIComponent('2025-01-15T01:00:00.001+01:00')}&to=2025-01-16T00:00:00Z`);
    expect(justAfter.countsByState.won).toBe(0);
  });

  it('answers zeros for a window with nothing closed in it', async () => {
    const empty = await metrics(client, '?from=2024-01-01T00:00:00Z&to=2024-12-31T00:00:00Z');
    expect(empty).toEqual({
      countsByState: { open: 0, won: 0, lost: 0, abandoned: 0 },
      wonValue: {},
      averageValue: {},
      conversionRate: null,
      stages: [],
      topContacts: [],
    });
  });

  it('counts everything, open included, without a window', async () => {
    const everything = await metrics(client);
    expect(everything.countsByState).toEqual({ open: 1, won: 3, lost: 1, abandoned: 0 });
    expect(everything.wonValue).toEqual({ USD: '101.10' });
    expect(everything.topContacts).toEqual([{ contactId: buyer, name: 'buyer', opportunityCount: 4 }]);
  });
});

describe('bad metrics queries', () => {
  it.each([
    ['?from=yesterday', 'from'],
    ['?from=2025-01-01', 'from'],
    ['?to=not-a-date', 'to'],
    ['?top=0', 'top'],
    ['?top=101', 'top'],
    ['?top=2.5', 'top'],
    ['?top=many', 'top'],
    ['?colour=red', 'colour'],
  ])('refuses %s with a problem naming querystring.%s', async (query, field) => {
    const client = await newAccount(api, 'bad query');
    const response = await client.request('GET', `/v1/metrics/opportunities${query}`);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json()).toMatchObject({ status: 400, title: 'Bad Request' });
    expect(response.json().errors.map((e: { field: string }) => e.field)).toEqual([`querystring.${field}`]);
  });
});
