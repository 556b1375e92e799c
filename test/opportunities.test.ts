import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;
let client: Client;

beforeAll(async () => {
  api = await startTestApi();
  client = await newAccount(api);
});
afterAll(() => api.close());

async function create(body: Record<string, unknown>) {
  const response = await client.request('POST', '/v1/opportunities', body);
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

describe('opportunities', () => {
  it('creates an open opportunity with server-set fields', async () => {
    const created = await create({ title: 'Renewal', amount: '1234.50', currency: 'EUR', closeDate: '2027-01-31' });
    expect(created).toMatchObject({
      title: 'Renewal',
      amount: '1234.50',
      currency: 'EUR',
      closeDate: '2027-01-31',
      state: 'open',
      version: 1,
      closedAt: null,
      closedById: null,
    });
    expect(created.createdAt).toBe(created.updatedAt);
    const fetched = await client.request('GET', `/v1/opportunities/${created.id}`);
    expect(fetched.json()).toEqual(created);
    expect(fetched.headers.etag).toBe('"1"');
  });

  it('accepts a JSON number amount only when it converts exactly', async () => {
    expect((await create({ title: 'n', amount: 99.95 })).amount).toBe('99.95');
    const rounded = await client.request('POST', '/v1/opportunities', '{"title":"x","amount":12345678901234567.89}');
    expect(rounded.statusCode).toBe(400);
    expect(rounded.json().errors).toEqual([{ field: 'amount', message: expect.stringContaining('exactly') }]);
    expect((await create({ title: 'big', amount: '12345678901234567.89' })).amount).toBe('12345678901234567.89');
  });

  it('refuses a second opportunity with the same externalRef and names the first', async () => {
    const first = await create({ title: 'A', externalRef: 'INV-1' });
    const second = await client.request('POST', '/v1/opportunities', { title: 'B', externalRef: 'INV-1' });
    expect(second.statusCode).toBe(409);
    expect(second.headers['content-type']).toContain('application/problem+json');
    expect(second.json()).toMatchObject({ existingId: first.id, errors: [{ field: 'externalRef' }] });
    expect(second.json().detail).toContain(first.id);
  });

  it('patches only what differs and bumps the version once per real change', async () => {
    const created = await create({ title: 'Patch me', amount: '10.00' });
    const same = await client.request('PATCH', `/v1/opportunities/${created.id}`, { amount: '10' });
    expect(same.json().version).toBe(1);
    const changed = await client.request('PATCH', `/v1/opportunities/${created.id}`, { title: 'Patched', stage: 'qualified' });
    expect(changed.json()).toMatchObject({ title: 'Patched', stage: 'qualified', version: 2 });
    const cleared = await client.request('PATCH', `/v1/opportunities/${created.id}`, { stage: null });
    expect(cleared.json()).toMatchObject({ stage: null, version: 3 });
  });

  it('answers 412 to a stale If-Match and applies a current one', async () => {
    const created = await create({ title: 'Versioned' });
    await client.request('PATCH', `/v1/opportunities/${created.id}`, { title: 'v2' });
    const stale = await client.request('PATCH', `/v1/opportunities/${created.id}`, { title: 'lost update' }, { 'if-match': '1' });
    expect(stale.statusCode).toBe(412);
    expect(stale.json().currentVersion).toBe(2);
    const current = await client.request('PATCH', `/v1/opportunities/${created.id}`, { title: 'v3' }, { 'if-match': '"2"' });
    expect(current.json()).toMatchObject({ title: 'v3', version: 3 });
  });

  it('deletes with 204, then answers 404 and frees the external reference', async () => {
    const created = await create({ title: 'Doomed', externalRef: 'DEL-1' });
    expect((await client.request('DELETE', `/v1/opportunities/${created.id}`)).statusCode).toBe(204);
    expect((await client.request('GET', `/v1/opportunities/${created.id}`)).statusCode).toBe(404);
    expect((await client.request('DELETE', `/v1/opportunities/${created.id}`)).statusCode).toBe(404);
    expect((await client.request('GET', '/v1/opportunities/by-external-ref/DEL-1')).statusCode).toBe(404);
    await create({ title: 'Reborn', externalRef: 'DEL-1' });
  });
});

describe('ETag', () => {
  it('comes with every response that returns one opportunity, and is the ETag a GET then returns', async () => {
    const byRef = '/v1/opportunities/by-external-ref/ETAG-1';
    const created = await client.request('POST', '/v1/opportunities', { title: 'Tagged' });
    const id = created.json().id;
    const responses = [
      ['POST create', created],
      ['POST create, replayed', await client.request('POST', '/v1/opportunities', { title: 'Replayed' }, { 'idempotency-key': 'etag-1' })],
      ['POST create, replay', await client.request('POST', '/v1/opportunities', { title: 'Replayed' }, { 'idempotency-key': 'etag-1' })],
      ['PATCH', await client.request('PATCH', `/v1/opportunities/${id}`, { title: 'Tagged 2' })],
      ['PATCH, no change', await client.request('PATCH', `/v1/opportunities/${id}`, { title: 'Tagged 2' })],
      ['close', await client.request('POST', `/v1/opportunities/${id}/close`, { state: 'won' })],
      ['reopen', await client.request('POST', `/v1/opportunities/${id}/reopen`)],
      ['PUT by ref, created', await client.request('PUT', byRef, { title: 'By ref' })],
      ['PUT by ref, updated', await client.request('PUT', byRef, { amount: '4.00' })],
      ['GET by ref', await client.request('GET', byRef)],
      ['GET', await client.request('GET', `/v1/opportunities/${id}`)],
    ] as const;
    for (const [name, response] of responses) {
      expect(response.statusCode, `${name}: ${response.body}`).toBeLessThan(300);
      const body = response.json();
      expect(response.headers.etag, name).toBe(`"${body.version}"`);
      // The same ETag a GET of it answers now, unless a later step above changed it again.
      const now = await client.request('GET', `/v1/opportunities/${body.id}`);
      if (now.json().version === body.version) expect(now.headers.etag, name).toBe(response.headers.etag);
    }
    // The last PATCH's ETag, given back as If-Match, is current.
    const reopened = responses[6][1];
    const next = await client.request('PATCH', `/v1/opportunities/${id}`, { title: 'Tagged 3' }, { 'if-match': String(reopened.headers.etag) });
    expect(next.statusCode, next.body).toBe(200);
    expect(next.headers.etag).toBe(`"${reopened.json().version + 1}"`);
  });

  it('is not sent with a problem', async () => {
    const missing = await client.request('PATCH', '/v1/opportunities/00000000-0000-4000-8000-000000000000', { title: 'x' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers.etag).toBeUndefined();
  });
});

describe('closing and reopening', () => {
  it('records closedAt and closedBy on close and clears them on reopen', async () => {
    const user = (await client.request('POST', '/v1/users', { name: 'Closer', email: 'closer@example.com' })).json();
    const created = await create({ title: 'Closable' });
    const won = await client.request('POST', `/v1/opportunities/${created.id}/close`, { state: 'won', closedById: user.id });
    expect(won.statusCode).toBe(200);
    expect(won.json()).toMatchObject({ state: 'won', closedById: user.id, warnings: [], version: 2 });
    expect(Date.parse(won.json().closedAt)).toBeGreaterThanOrEqual(Date.parse(created.createdAt));

    const again = await client.request('POST', `/v1/opportunities/${created.id}/close`, { state: 'won' });
    expect(again.json()).toMatchObject({ closedAt: won.json().closedAt, closedById: user.id, version: 2 });

    const reopened = await client.request('POST', `/v1/opportunities/${created.id}/reopen`);
    expect(reopened.json()).toMatchObject({ state: 'open', closedAt: null, closedById: null, lostReason: null, version: 3 });
  });

  it('allows lost without a reason but flags it', async () => {
    const created = await create({ title: 'Lost cause' });
    const lost = await client.request('POST', `/v1/opportunities/${created.id}/close`, { state: 'lost' });
    expect(lost.json()).toMatchObject({ state: 'lost', lostReason: null, warnings: [{ code: 'lost_without_reason' }] });
    const reasoned = await create({ title: 'Lost with reason' });
    const withReason = await client.request('POST', `/v1/opportunities/${reasoned.id}/close`, { state: 'lost', reason: 'price' });
    expect(withReason.json()).toMatchObject({ lostReason: 'price', warnings: [] });
  });

  it('refuses a closedById that is not a user of the account', async () => {
    const created = await create({ title: 'Nobody closes' });
    const response = await client.request('POST', `/v1/opportunities/${created.id}/close`, {
      state: 'won',
      closedById: '00000000-0000-4000-8000-000000000000',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([{ field: 'closedById', message: 'no such user' }]);
    expect((await client.request('GET', `/v1/opportunities/${created.id}`)).json().state).toBe('open');
  });

  it('lists recently won within the window and not after it', async () => {
    const fresh = await create({ title: 'Fresh win' });
    const old = await create({ title: 'Old win' });
    for (const { id } of [fresh, old]) await client.request('POST', `/v1/opportunities/${id}/close`, { state: 'won' });
    await api.database.sql`UPDATE opportunities SET closed_at = now() - interval '10 minutes' WHERE id = ${old.id}`;

    const ids = async (query: string) =>
      (await client.request('GET', `/v1/opportunities?${query}`)).json().data.map((o: { id: string }) => o.id);
    expect(await ids('filter=recently_won')).toContain(fresh.id);
    expect(await ids('filter=recently_won')).not.toContain(old.id);
    expect(await ids('filter=recently_won&within=3600')).toEqual(expect.arrayContaining([fresh.id, old.id]));
    expect(await ids('filter=recently_lost')).not.toContain(fresh.id);
  });
});

describe('upsert by external reference', () => {
  it('makes exactly one opportunity from 50 concurrent PUTs of a new ref', async () => {
    const url = `/v1/opportunities/by-external-ref/${encodeURIComponent('ERP/42 ü?&#')}`;
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.request('PUT', url, { title: 'Concurrent', amount: '5.00', source: `w${i % 2}` })),
    );
    const codes = responses.map((r) => r.statusCode).sort();
    expect(codes.filter((c) => c === 201)).toHaveLength(1);
    expect(codes.filter((c) => c === 200)).toHaveLength(49);
    expect(new Set(responses.map((r) => r.json().id)).size).toBe(1);
    const [{ count }] = await api.database.sql`SELECT count(*)::int AS count FROM opportunities WHERE external_ref = 'ERP/42 ü?&#'`;
    expect(count).toBe(1);
    const found = await client.request('GET', url);
    expect(found.json()).toMatchObject({ externalRef: 'ERP/42 ü?&#', title: 'Concurrent' });
  });

  it('makes exactly one opportunity and answers every caller 200 or 201: 10 rounds of 12 concurrent PUTs of a new ref', async () => {
    const contactId = (await client.request('POST', '/v1/contacts', { name: 'Upsert contact' })).json().id;
    for (let round = 0; round < 10; round++) {
      const ref = `race-${round}`;
      const responses = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          client.request('PUT', `/v1/opportunities/by-external-ref/${ref}`, { title: `Race ${i % 3}`, amount: `${i}.00`, contactIds: [contactId] }),
        ),
      );
      expect(responses.filter((r) => r.statusCode !== 200 && r.statusCode !== 201).map((r) => `${r.statusCode} ${r.body}`)).toEqual([]);
      expect(responses.filter((r) => r.statusCode === 201)).toHaveLength(1);
      expect(new Set(responses.map((r) => r.json().id)).size).toBe(1);
      const [{ count }] = await api.database.sql`SELECT count(*)::int AS count FROM opportunities WHERE external_ref = ${ref}`;
      expect(count).toBe(1);
    }
  });

  it('updates an existing ref without a title, keeping it; asks for a title only to create', async () => {
    const url = '/v1/opportunities/by-external-ref/SO-no-title';
    const missing = await client.request('PUT', url, { amount: '3.00' });
    expect(missing.statusCode, missing.body).toBe(400);
    expect(missing.json().errors).toEqual([{ field: 'title', message: 'is required to create an opportunity' }]);
    const [{ count }] = await api.database.sql`SELECT count(*)::int AS count FROM opportunities WHERE external_ref = 'SO-no-title'`;
    expect(count).toBe(0);

    expect((await client.request('PUT', url, { title: 'Kept', amount: '1.00' })).statusCode).toBe(201);
    const updated = await client.request('PUT', url, { amount: '2.00' });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toMatchObject({ title: 'Kept', amount: '2.00', version: 2 });
    const cleared = await client.request('PUT', url, { title: null });
    expect(cleared.statusCode).toBe(400);
  });

  it('updates an existing ref with 200 and leaves the version alone when nothing changed', async () => {
    const url = '/v1/opportunities/by-external-ref/SO-7';
    expect((await client.request('PUT', url, { title: 'First' })).statusCode).toBe(201);
    const same = await client.request('PUT', url, { title: 'First' });
    expect(same.statusCode).toBe(200);
    expect(same.json().version).toBe(1);
    const changed = await client.request('PUT', url, { title: 'Second', amount: '7.00' });
    expect(changed.json()).toMatchObject({ title: 'Second', amount: '7.00', version: 2 });
  });

  it('answers 404 for an unknown ref and accepts refs up to 255 characters', async () => {
    expect((await client.request('GET', '/v1/opportunities/by-external-ref/nope')).statusCode).toBe(404);
    const long = 'r'.repeat(255);
    expect((await client.request('PUT', `/v1/opportunities/by-external-ref/${long}`, { title: 'Long' })).statusCode).toBe(201);
    expect((await client.request('PUT', `/v1/opportunities/by-external-ref/${long}x`, { title: 'Too long' })).statusCode).toBe(400);
  });
});

describe('listing', () => {
  it('pages with a cursor without skipping or repeating', async () => {
    const other = await newAccount(api, 'Pager');
    for (let i = 0; i < 7; i++) await other.request('POST', '/v1/opportunities', { title: `p${i}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `limit=3&cursor=${cursor}` : 'limit=3';
      const page = (await other.request('GET', `/v1/opportunities?${query}`)).json();
      seen.push(...page.data.map((o: { title: string }) => o.title));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
  });

  it('filters by state, stage, assignee, contact and updatedSince', async () => {
    const other = await newAccount(api, 'Filters');
    const user = (await other.request('POST', '/v1/users', { name: 'U', email: 'u@example.com' })).json();
    const contact = (await other.request('POST', '/v1/contacts', { name: 'C' })).json();
    const a = (await other.request('POST', '/v1/opportunities', { title: 'a', stage: 'demo', assigneeId: user.id })).json();
    const b = (await other.request('POST', '/v1/opportunities', { title: 'b', contactIds: [contact.id] })).json();
    await other.request('POST', `/v1/opportunities/${b.id}/close`, { state: 'abandoned' });
    const titles = async (query: string) =>
      (await other.request('GET', `/v1/opportunities?${query}`)).json().data.map((o: { title: string }) => o.title);
    expect(await titles('stage=demo')).toEqual(['a']);
    expect(await titles(`assigneeId=${user.id}`)).toEqual(['a']);
    expect(await titles(`contactId=${contact.id}`)).toEqual(['b']);
    expect(await titles('state=abandoned')).toEqual(['b']);
    expect(await titles('filter=open')).toEqual(['a']);
    expect(await titles(`updatedSince=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).toEqual([]);
    expect(await titles(`updatedSince=${encodeURIComponent(a.createdAt)}`)).toEqual(['a', 'b']);
  });
});
