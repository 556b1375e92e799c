import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newAccount, startTestApi, type Client, type TestApi } from './support/api.ts';

let api: TestApi;
let a: Client;
let b: Client;
let deal: string;
let otherDeal: string;
let hubspot: string;
let pipedrive: string;

// Stored on the connections; none may ever appear in a timeline.
const secrets = ['SEALED-CREDENTIALS-TEXT', 'key-2026-01', 'WEBHOOK-SECRET-TEXT', 'RECONCILE-CURSOR-TEXT'];

const timelineOf = (client: Client, id: string, query = '') => client.request('GET', `/v1/opportunities/${id}/sync${query}`);

async function createOpportunity(client: Client, title: string): Promise<string> {
  const response = await client.request('POST', '/v1/opportunities', { title });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id;
}

async function insertConnection(accountId: string, provider: string, remoteAccountId: string): Promise<string> {
  const [row] = await api.database.sql`
    INSERT INTO connections (account_id, provider, credentials, credentials_key_id, webhook_secret, remote_account_id, reconcile_cursor)
    VALUES (${accountId}, ${provider}, ${secrets[0]!}, ${secrets[1]!}, ${secrets[2]!}, ${remoteAccountId}, ${api.database.sql.json({ after: secrets[3]! })})
    RETURNING id`;
  return row!.id as string;
}

/** One event per statement, so each gets its own, later id. */
async function insertEvent(opportunityId: string, connectionId: string | null, kind: string, extra: Record<string, unknown> = {}): Promise<number> {
  // Serialised here: the driver would send a bare string as JSON text ('1.00' would become the number 1).
  const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
  const [row] = await api.database.sql`
    INSERT INTO sync_events (account_id, opportunity_id, connection_id, kind, field, before, after, rule, detail)
    VALUES (${a.accountId}, ${opportunityId}, ${connectionId}, ${kind}, ${(extra.field as string) ?? null},
            ${json(extra.before)}::jsonb, ${json(extra.after)}::jsonb, ${(extra.rule as string) ?? null}, ${json(extra.detail)}::jsonb)
    RETURNING id`;
  return Number(row!.id);
}

/** Every event of the timeline, page by page, and how many pages it took. */
async function readAllPages(id: string, limit: number) {
  const ids: number[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const response = await timelineOf(a, id, `?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(response.statusCode, response.body).toBe(200);
    const { events } = response.json();
    expect(events.data.length).toBeLessThanOrEqual(limit);
    ids.push(...events.data.map((e: { id: number }) => e.id));
    cursor = events.nextCursor;
    pages += 1;
  } while (cursor && pages < 20);
  return { ids, pages };
}

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

// Every test gets accounts, a deal with two links and another deal with an event of their own, so
// no test sees the events another one wrote. A CRM account is connected once in the whole
// database, hence a remote account id of its own each time.
beforeEach(async () => {
  const run = randomBytes(4).toString('hex');
  a = await newAccount(api, 'A');
  b = await newAccount(api, 'B');
  deal = await createOpportunity(a, 'Timeline deal');
  otherDeal = await createOpportunity(a, 'Another deal');
  hubspot = await insertConnection(a.accountId, 'hubspot', `portal-${run}`);
  pipedrive = await insertConnection(a.accountId, 'pipedrive', `company-${run}`);
  await api.database.sql`
    INSERT INTO remote_links (connection_id, opportunity_id, remote_id, remote_version, base_snapshot, last_pulled_at, last_pushed_at, remote_deleted_at, last_error)
    VALUES
      (${hubspot}, ${deal}, 'hs-101', '2026-03-01T10:00:00.000Z', ${api.database.sql.json({ title: 'Timeline deal', amount: '5.00' })},
       '2026-03-01T10:00:01.000Z', '2026-03-01T09:59:00.000Z', NULL, NULL),
      (${pipedrive}, ${deal}, 'pd-7', '2026-03-02T08:00:00.000Z', ${api.database.sql.json({ title: 'Old title' })},
       NULL, '2026-03-02T08:00:05.000Z', '2026-03-03T00:00:00.000Z', ${api.database.sql.json({ mapping: [{ field: 'stage', value: 'x' }] })}),
      (${hubspot}, ${otherDeal}, 'hs-999', NULL, '{}', NULL, NULL, NULL, NULL)`;
  await insertEvent(otherDeal, hubspot, 'pull');
});

describe('GET /v1/opportunities/{id}/sync', () => {
  it('lists one link per connection with provider, versions and times, and no secret', async () => {
    const response = await timelineOf(a, deal);
    expect(response.statusCode, response.body).toBe(200);
    const { links } = response.json();
    expect(links).toEqual([
      {
        connectionId: hubspot,
        provider: 'hubspot',
        remoteId: 'hs-101',
        remoteVersion: '2026-03-01T10:00:00.000Z',
        base: { title: 'Timeline deal', amount: '5.00' },
        lastPulledAt: '2026-03-01T10:00:01.000Z',
        lastPushedAt: '2026-03-01T09:59:00.000Z',
        remoteDeletedAt: null,
        lastError: null,
      },
      {
        connectionId: pipedrive,
        provider: 'pipedrive',
        remoteId: 'pd-7',
        remoteVersion: '2026-03-02T08:00:00.000Z',
        base: { title: 'Old title' },
        lastPulledAt: null,
        lastPushedAt: '2026-03-02T08:00:05.000Z',
        remoteDeletedAt: '2026-03-03T00:00:00.000Z',
        lastError: { mapping: [{ field: 'stage', value: 'x' }] },
      },
    ]);
    for (const secret of secrets) expect(response.body).not.toContain(secret);
  });

  it('shows an opportunity without links or events as empty lists', async () => {
    const fresh = await createOpportunity(a, 'Never synced');
    const response = await timelineOf(a, fresh);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ links: [], problems: [], events: { data: [], nextCursor: null } });
  });

  it('lists the events of this opportunity only, newest first, every column in camelCase', async () => {
    const first = await insertEvent(deal, hubspot, 'pull', { field: 'title', before: 'Old title', after: 'Timeline deal' });
    const second = await insertEvent(deal, pipedrive, 'conflict', { field: 'amount', before: '1.00', after: '5.00', rule: 'newest', detail: { remote: '3.00' } });
    const third = await insertEvent(deal, null, 'push_failed', { detail: { error: 'timeout' } });

    const response = await timelineOf(a, deal);
    expect(response.statusCode, response.body).toBe(200);
    const { data, nextCursor } = response.json().events;
    expect(nextCursor).toBeNull();
    expect(data.map((e: { id: number }) => e.id)).toEqual([third, second, first]);
    expect(data[1]).toEqual({
      id: second,
      kind: 'conflict',
      connectionId: pipedrive,
      field: 'amount',
      before: '1.00',
      after: '5.00',
      rule: 'newest',
      detail: { remote: '3.00' },
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(data[0]).toMatchObject({ kind: 'push_failed', connectionId: null, field: null, before: null, after: null, rule: null });
  });

  it('pages through the events with limit: each exactly once, newest first', async () => {
    const id = await createOpportunity(a, 'Paged deal');
    const inserted: number[] = [];
    for (const kind of ['pull', 'push_update', 'conflict', 'echo', 'push_update']) inserted.push(await insertEvent(id, hubspot, kind));

    const { ids, pages } = await readAllPages(id, 2);
    expect(ids).toEqual([...inserted].reverse());
    expect(pages).toBe(3);
  });

  it('an event written while paging appears at the top, not in the pages still to come', async () => {
    const id = await createOpportunity(a, 'Busy deal');
    const older = [await insertEvent(id, hubspot, 'pull'), await insertEvent(id, hubspot, 'pull'), await insertEvent(id, hubspot, 'pull')];
    const firstPage = (await timelineOf(a, id, '?limit=2')).json().events;
    await insertEvent(id, hubspot, 'push_update');
    const secondPage = (await timelineOf(a, id, `?limit=2&cursor=${firstPage.nextCursor}`)).json().events;
    expect([...firstPage.data, ...secondPage.data].map((e: { id: number }) => e.id)).toEqual([...older].reverse());
    expect(secondPage.nextCursor).toBeNull();
  });

  it('keeps the timeline of a deleted opportunity', async () => {
    const id = await createOpportunity(a, 'Deleted deal');
    const event = await insertEvent(id, pipedrive, 'push_delete');
    expect((await a.request('DELETE', `/v1/opportunities/${id}`)).statusCode).toBe(204);
    expect((await a.request('GET', `/v1/opportunities/${id}`)).statusCode).toBe(404);

    const response = await timelineOf(a, id);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().events.data.map((e: { id: number }) => e.id)).toEqual([event]);
  });

  it('another account’s opportunity answers 404 exactly like GET /v1/opportunities/{id}, and so does an unknown id', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const id of [deal, unknown]) {
      const timeline = await timelineOf(id === deal ? b : a, id);
      const plain = await (id === deal ? b : a).request('GET', `/v1/opportunities/${id}`);
      expect(timeline.statusCode).toBe(404);
      expect(timeline.headers['content-type']).toContain('application/problem+json');
      expect(timeline.json()).toEqual(plain.json());
      for (const secret of [...secrets, 'hs-101', 'Timeline deal']) expect(timeline.body).not.toContain(secret);
    }
  });

  it('the 404 for another account holds with a cursor too', async () => {
    for (const kind of ['pull', 'push_update']) await insertEvent(deal, hubspot, kind);
    const page = (await timelineOf(a, deal, '?limit=1')).json().events;
    expect(page.nextCursor).toEqual(expect.any(String));
    expect((await timelineOf(b, deal, `?cursor=${page.nextCursor}`)).statusCode).toBe(404);
  });
});

describe('bad queries', () => {
  const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it.each([
    ['limit=0', '?limit=0', 'querystring.limit'],
    ['limit=501', '?limit=501', 'querystring.limit'],
    ['limit=abc', '?limit=abc', 'querystring.limit'],
    ['a cursor that is not one', '?cursor=garbage', 'querystring.cursor'],
    ['a cursor whose id is not a number', `?cursor=${cursorOf(['2026-01-01T00:00:00.000Z', 'abc'])}`, 'querystring.cursor'],
    ['a cursor whose id is negative', `?cursor=${cursorOf(['2026-01-01T00:00:00.000Z', '-5'])}`, 'querystring.cursor'],
    ['a cursor whose id is too big to be exact', `?cursor=${cursorOf(['2026-01-01T00:00:00.000Z', '9999999999999999'])}`, 'querystring.cursor'],
    ['a cursor without a time', `?cursor=${cursorOf([null, '5'])}`, 'querystring.cursor'],
    ['an unknown parameter', '?bogus=1', 'querystring.bogus'],
  ])('%s → 400 naming the field', async (_, query, field) => {
    const response = await timelineOf(a, deal, query);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().errors.map((e: { field: string }) => e.field)).toEqual([field]);
  });

  it('a cursor from another list (its id a UUID) → 400 naming querystring.cursor', async () => {
    for (const name of ['c1', 'c2']) expect((await a.request('POST', '/v1/contacts', { name })).statusCode).toBe(201);
    const contactsCursor = (await a.request('GET', '/v1/contacts?limit=1')).json().nextCursor;
    expect(contactsCursor).toEqual(expect.any(String));
    const response = await timelineOf(a, deal, `?cursor=${contactsCursor}`);
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([{ field: 'querystring.cursor', message: 'is not a cursor this API returned' }]);
  });

  it('an id that is not a UUID → 400 naming params.id', async () => {
    const response = await a.request('GET', '/v1/opportunities/not-a-uuid/sync');
    expect(response.statusCode).toBe(400);
    expect(response.json().errors.map((e: { field: string }) => e.field)).toEqual(['params.id']);
  });
});

describe('OpenAPI', () => {
  it('documents the route with its response schema', () => {
    const spec = api.app.swagger() as unknown as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };
    const operation = spec.paths['/v1/opportunities/{id}/sync']?.get;
    expect(operation).toBeDefined();
    expect(Object.keys(operation!.responses)).toEqual(expect.arrayContaining(['200', '400', '404']));
    expect(Object.keys(spec.components.schemas)).toEqual(expect.arrayContaining(['SyncTimeline', 'SyncLink', 'SyncEvent']));
  });
});
