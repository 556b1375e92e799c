import type { FastifyInstance, InjectOptions } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildServer } from '../src/api/server.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { eventually, freePort, startSandboxes, startSyncStack, type SyncStack } from './support/sync.ts';

// Bodies read back from the API and the sandboxes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const TOKEN = 'admin-token-for-tests-0123456789';
const bearer = { authorization: `Bearer ${TOKEN}` };

let stack: SyncStack;
let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
let app: FastifyInstance;
let api: TestApi;
let client: Client;
let other: Client;
let connections: { hubspot: Json; pipedrive: Json };
/** A HubSpot portal and a Pipedrive company are connected once in the whole database: new ones per test. */
let seed = 7100;

const syncOptions = (s: SyncStack) => ({ setup: s.deps, outbound: s.queues.outbound, inbound: s.queues.inbound, reconcile: s.queues.reconcile });
const request = (options: InjectOptions) => app.inject(options);
const state = async (baseUrl: string): Promise<Json> => (await fetch(`${baseUrl}/_sandbox/state`)).json();

async function connect(who: Client) {
  const { hubspot: hs, pipedrive: pd } = sandboxes;
  const hubspot = await who.request('POST', '/v1/connections', { provider: 'hubspot', credentials: { accessToken: hs.token, clientSecret: hs.clientSecret }, baseUrl: hs.baseUrl, settings: { limits: { perWindow: 250 } } });
  expect(hubspot.statusCode, hubspot.body).toBe(201);
  const pipedrive = await who.request('POST', '/v1/connections', { provider: 'pipedrive', credentials: { apiToken: pd.token }, baseUrl: pd.baseUrl, settings: { limits: { perWindow: 480 } } });
  expect(pipedrive.statusCode, pipedrive.body).toBe(201);
  return { hubspot: hubspot.json(), pipedrive: pipedrive.json() };
}

async function login(): Promise<string> {
  const response = await request({ method: 'POST', url: '/admin/login', payload: `token=${encodeURIComponent(TOKEN)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  expect(response.statusCode).toBe(303);
  return String(response.headers['set-cookie']).split(';')[0]!;
}

/** One sample of a series from the Prometheus text, by its labels; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const line = text.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
const scrape = async () => {
  const response = await request({ method: 'GET', url: '/metrics', headers: bearer });
  expect(response.statusCode, response.body).toBe(200);
  return response.body;
};

beforeAll(async () => {
  stack = await startSyncStack();
  app = await buildServer({ db: stack.database.db, logger: false, sync: syncOptions(stack), admin: { token: TOKEN, queues: Object.values(stack.queues) } });
  api = { database: stack.database, app, close: stack.close } as TestApi;
});
afterAll(async () => {
  await app.close();
  await stack.close();
});

// Every test gets accounts and CRMs of its own, connected. Its connections are deleted after it,
// so the figures /metrics gives across accounts (connections by state) count this test's only.
beforeEach(async () => {
  sandboxes = await startSandboxes(seed++);
  client = await newAccount(api, 'Admin');
  other = await newAccount(api, 'Someone else');
  connections = await connect(client);
});
afterEach(async () => {
  for (const connection of Object.values(connections)) await client.request('DELETE', `/v1/connections/${connection.id}`);
  await sandboxes.close();
});

/** A delivery the processor refuses (an unknown provider): it fails on its only attempt. */
async function failedDelivery(): Promise<Json> {
  await stack.queues.inbound.add('delivery', { connectionId: connections.hubspot.id, provider: 'bogus', receivedAt: Date.now(), events: [{}] }, { attempts: 1 });
  return eventually(async () => {
    const list = (await request({ method: 'GET', url: '/admin/api/jobs/failed?queue=inbound', headers: bearer })).json();
    return list.data.find((j: Json) => j.connectionId === connections.hubspot.id);
  }, 'the delivery fails');
}

describe('the admin token', () => {
  it('is required on every admin route, as a bearer token', async () => {
    for (const url of ['/admin/api/conflicts', '/admin/api/jobs/failed', '/admin/queues/api/queues', '/metrics']) {
      const missing = await request({ method: 'GET', url });
      expect(missing.statusCode, url).toBe(401);
      expect(missing.headers['content-type']).toContain('application/problem+json');
      const wrong = await request({ method: 'GET', url, headers: { authorization: `Bearer ${TOKEN}x` } });
      expect(wrong.statusCode, url).toBe(401);
      expect(wrong.json()).toMatchObject({ status: 401, detail: 'the admin token is wrong' });
      expect((await request({ method: 'GET', url, headers: bearer })).statusCode, url).toBe(200);
    }
    // An account's API key is not an admin token.
    expect((await request({ method: 'GET', url: '/admin/api/conflicts', headers: { authorization: `Bearer ${client.apiKey}` } })).statusCode).toBe(401);
  });

  it('sends a browser without a session to the login form', async () => {
    const page = await request({ method: 'GET', url: '/admin/queues', headers: { accept: 'text/html' } });
    expect(page.statusCode).toBe(302);
    expect(page.headers.location).toBe('/admin/login');
    const form = await request({ method: 'GET', url: '/admin/login' });
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('name="token"');
  });

  it('logs a browser in with an HttpOnly, SameSite=Strict cookie that holds no token, and the cookie then works', async () => {
    const wrong = await request({ method: 'POST', url: '/admin/login', payload: 'token=not-the-token', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const response = await request({ method: 'POST', url: '/admin/login', payload: `token=${encodeURIComponent(TOKEN)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/admin/queues');
    const setCookie = String(response.headers['set-cookie']);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0]!;
    const board = await request({ method: 'GET', url: '/admin/queues', headers: { cookie, accept: 'text/html' } });
    expect(board.statusCode).toBe(200);
    const script = /src="(static\/js\/main[^"]+)"/.exec(board.body)?.[1];
    expect(script).toBeDefined();
    expect((await request({ method: 'GET', url: `/admin/queues/${script}`, headers: { cookie } })).statusCode).toBe(200);
    expect((await request({ method: 'GET', url: `/admin/queues/${script}` })).statusCode).toBe(401);
    const queues = await request({ method: 'GET', url: '/admin/queues/api/queues', headers: { cookie } });
    expect(queues.statusCode).toBe(200);
    const names = queues.json().queues.map((q: Json) => q.name).sort();
    expect(names).toEqual(Object.values(stack.queues).map((q) => q.name).sort());
    expect((await request({ method: 'GET', url: '/admin/api/conflicts', headers: { cookie } })).statusCode).toBe(200);
    // Prometheus sends the token; a browser session is not enough for /metrics.
    expect((await request({ method: 'GET', url: '/metrics', headers: { cookie } })).statusCode).toBe(401);
  });

  it('refuses a forged or altered session cookie', async () => {
    const cookie = await login();
    const [name, value] = cookie.split('=') as [string, string];
    const [expires, mac] = value.split('.') as [string, string];
    const later = `${name}=${Number(expires) + 3600}.${mac}`;
    const flipped = `${name}=${expires}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
    for (const forged of [later, flipped, `${name}=${TOKEN}`]) {
      const response = await request({ method: 'GET', url: '/admin/api/conflicts', headers: { cookie: forged } });
      expect(response.statusCode, forged).toBe(401);
      const page = await request({ method: 'GET', url: '/admin/queues', headers: { cookie: forged, accept: 'text/html' } });
      expect(page.statusCode, forged).toBe(302);
    }
  });

  it('without ADMIN_TOKEN, every admin route answers 503 and says why; health stays open', async () => {
    const closed = await buildServer({ db: stack.database.db, logger: false, sync: syncOptions(stack), admin: { token: undefined, queues: Object.values(stack.queues) } });
    try {
      for (const url of ['/admin/queues', '/admin/api/conflicts', '/metrics', '/admin/login']) {
        const response = await closed.inject({ method: 'GET', url, headers: bearer });
        expect(response.statusCode, url).toBe(503);
        expect(response.json().detail).toContain('ADMIN_TOKEN');
      }
      expect((await closed.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await closed.close();
    }
  });
});

describe('health', () => {
  it('/healthz and /readyz answer without a token when all is well', async () => {
    expect((await request({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await request({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('/readyz answers 503 when Redis is down, /healthz still 200', async () => {
    const dead = new Redis(`redis://127.0.0.1:${await freePort()}`, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
    dead.on('error', () => {}); // the refused connection is the point of this test
    const deadServer = await buildServer({ db: stack.database.db, logger: false, sync: { ...syncOptions(stack), setup: { ...stack.deps, redis: dead } } });
    try {
      const ready = await deadServer.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.headers['content-type']).toContain('application/problem+json');
      expect(ready.json().checks.postgres).toBe('ok');
      expect(ready.json().checks.redis).not.toBe('ok');
      expect((await deadServer.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await deadServer.close();
      dead.disconnect();
    }
  });
});

describe('failed jobs', () => {
  let failed: Json;

  beforeEach(async () => {
    failed = await failedDelivery();
  });

  it('are listed from every queue with their errors, per account or across accounts', async () => {
    expect(failed).toMatchObject({ queue: 'inbound', name: 'delivery', accountId: client.accountId, attemptsMade: 1, failedReason: expect.stringContaining('provider') });
    expect(failed.failedAt).toEqual(expect.any(String));
    const all = (await request({ method: 'GET', url: '/admin/api/jobs/failed', headers: bearer })).json();
    expect(all.data.map((j: Json) => j.jobId)).toContain(failed.jobId);
    const mine = (await request({ method: 'GET', url: `/admin/api/jobs/failed?accountId=${client.accountId}`, headers: bearer })).json();
    expect(mine.data.map((j: Json) => j.jobId)).toContain(failed.jobId);
    const theirs = (await request({ method: 'GET', url: `/admin/api/jobs/failed?accountId=${other.accountId}`, headers: bearer })).json();
    expect(theirs.data).toEqual([]);
  });

  it('can be retried one by one: the job runs again', async () => {
    const notFound = await request({ method: 'POST', url: `/admin/api/jobs/inbound/${failed.jobId}/retry?accountId=${other.accountId}`, headers: bearer });
    expect(notFound.statusCode).toBe(404);
    expect((await request({ method: 'POST', url: '/admin/api/jobs/nope/1/retry', headers: bearer })).statusCode).toBe(404);
    const retried = await request({ method: 'POST', url: `/admin/api/jobs/inbound/${failed.jobId}/retry`, headers: bearer });
    expect(retried.statusCode, retried.body).toBe(200);
    expect(retried.json()).toEqual({ queue: 'inbound', jobId: failed.jobId, retried: 1 });
    // It fails again (its data is still wrong), this time on its second run.
    await eventually(async () => {
      const list = (await request({ method: 'GET', url: '/admin/api/jobs/failed?queue=inbound', headers: bearer })).json();
      return list.data.find((j: Json) => j.jobId === failed.jobId && j.attemptsMade === 2);
    }, 'the retried job runs again');
  });

  it('can be retried all at once per queue', async () => {
    const again = await request({ method: 'POST', url: '/admin/api/jobs/inbound/retry', headers: bearer });
    expect(again.statusCode).toBe(200);
    expect(again.json().retried).toBeGreaterThanOrEqual(1);
    await eventually(async () => {
      const job = await stack.queues.inbound.getJob(failed.jobId);
      return job?.attemptsMade === 2 && (await job.getState()) === 'failed';
    }, 'every failed job of the queue runs again');
    // Only failed jobs are retried.
    const job = await stack.queues.inbound.add('delivery', { connectionId: connections.hubspot.id, provider: 'hubspot', receivedAt: Date.now(), events: [{}] }, { delay: 60_000 });
    expect((await request({ method: 'POST', url: `/admin/api/jobs/inbound/${job.id}/retry`, headers: bearer })).statusCode).toBe(409);
    await job.remove();
  });
});

describe('conflicts', () => {
  let opportunityId: string;
  let ids: number[];

  beforeEach(async () => {
    opportunityId = (await client.request('POST', '/v1/opportunities', { title: 'Disputed', amount: '10' })).json().id;
    ids = [];
    for (const [field, canonical, remote] of [['amount', '10', '20'], ['title', 'Disputed', 'Contested'], ['stage', 'qualified', 'won']]) {
      const [row] = await stack.database.sql`
        INSERT INTO sync_events (account_id, opportunity_id, connection_id, kind, field, before, after, rule, detail)
        VALUES (${client.accountId}, ${opportunityId}, ${connections.hubspot.id}, 'conflict', ${field!}, ${stack.database.sql.json(canonical!)}, ${stack.database.sql.json(remote!)}, 'newest', ${stack.database.sql.json({ winner: 'remote' })})
        RETURNING id`;
      ids.push(Number(row!.id));
    }
  });

  it('are listed newest first with both values, the rule and the winner, a page at a time', async () => {
    const first = (await request({ method: 'GET', url: `/admin/api/conflicts?accountId=${client.accountId}&limit=2`, headers: bearer })).json();
    expect(first.data).toHaveLength(2);
    expect(first.data[0]).toMatchObject({ id: ids[2], field: 'stage', canonicalValue: 'qualified', remoteValue: 'won', rule: 'newest', winner: 'remote', provider: 'hubspot', opportunityId, reviewedAt: null });
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = (await request({ method: 'GET', url: `/admin/api/conflicts?accountId=${client.accountId}&limit=2&cursor=${first.nextCursor}`, headers: bearer })).json();
    expect(second.data.map((c: Json) => c.id)).toEqual([ids[0]]);
    expect(second.nextCursor).toBeNull();
    expect((await request({ method: 'GET', url: `/admin/api/conflicts?accountId=${other.accountId}`, headers: bearer })).json().data).toEqual([]);
    expect((await request({ method: 'GET', url: '/admin/api/conflicts?cursor=bogus', headers: bearer })).statusCode).toBe(400);
  });

  it('leave the review list once reviewed, and the review is on the timeline', async () => {
    const reviewed = await request({ method: 'POST', url: `/admin/api/conflicts/${ids[1]}/review`, headers: { ...bearer, 'content-type': 'application/json' }, payload: { note: 'checked with sales' } });
    expect(reviewed.statusCode, reviewed.body).toBe(200);
    expect(reviewed.json()).toMatchObject({ id: ids[1], reviewedAt: expect.any(String) });
    // Twice is once.
    expect((await request({ method: 'POST', url: `/admin/api/conflicts/${ids[1]}/review`, headers: bearer })).statusCode).toBe(200);
    const open = (await request({ method: 'GET', url: `/admin/api/conflicts?accountId=${client.accountId}`, headers: bearer })).json();
    expect(open.data.map((c: Json) => c.id)).toEqual([ids[2], ids[0]]);
    const done = (await request({ method: 'GET', url: `/admin/api/conflicts?accountId=${client.accountId}&status=reviewed`, headers: bearer })).json();
    expect(done.data.map((c: Json) => c.id)).toEqual([ids[1]]);
    const timeline = (await client.request('GET', `/v1/opportunities/${opportunityId}/sync`)).json();
    expect(timeline.events.data.filter((e: Json) => e.kind === 'conflict_reviewed')).toHaveLength(1);
    expect((await request({ method: 'POST', url: `/admin/api/conflicts/${ids[0]}/review?accountId=${other.accountId}`, headers: bearer })).statusCode).toBe(404);
  });
});

describe('replay', () => {
  it('pushes every field of an opportunity to every CRM again, the CRMs see the update', async () => {
    const created = (await client.request('POST', '/v1/opportunities', { title: 'Replayed deal', amount: '500' })).json();
    const hubspotDeal = await eventually(async () => (await state(sandboxes.hubspot.baseUrl)).deals.find((d: Json) => d.properties.crm_sync_id === created.id), 'the deal reaches HubSpot');
    const pipedriveDeal = await eventually(async () => (await state(sandboxes.pipedrive.baseUrl)).deals.find((d: Json) => d.title === 'Replayed deal'), 'the deal reaches Pipedrive');
    await eventually(async () => (await stack.database.sql`SELECT count(*)::int AS n FROM outbox WHERE opportunity_id = ${created.id}`)[0]!.n === 0, 'both pushes are saved');
    const pushes = async () => (await client.request('GET', `/v1/opportunities/${created.id}/sync`)).json().events.data.filter((e: Json) => e.kind === 'push_update');
    expect(await pushes()).toEqual([]);
    // A change that never reached the outbox (a restored database, a hand-made fix): no flush is coming for it.
    await stack.database.sql`UPDATE opportunities SET title = 'Restored title' WHERE id = ${created.id}`;

    expect((await request({ method: 'POST', url: `/admin/api/opportunities/${created.id}/replay?accountId=${other.accountId}`, headers: bearer })).statusCode).toBe(404);
    const replay = await request({ method: 'POST', url: `/admin/api/opportunities/${created.id}/replay`, headers: bearer });
    expect(replay.statusCode, replay.body).toBe(202);
    expect(replay.json()).toEqual({ opportunityId: created.id, accountId: client.accountId, connections: 2, linksCleared: 2 });

    const updates = await eventually(async () => {
      const found = await pushes();
      return found.length === 2 && found;
    }, 'both CRMs are pushed to again');
    // Every field went, not only the one that differs from what the CRM last agreed to.
    for (const update of updates) expect(update.after).toMatchObject({ title: 'Restored title', amount: '500', currency: 'USD', state: 'open' });
    expect((await state(sandboxes.hubspot.baseUrl)).deals.find((d: Json) => d.id === hubspotDeal.id).properties.dealname).toBe('Restored title');
    expect((await state(sandboxes.pipedrive.baseUrl)).deals.find((d: Json) => d.id === pipedriveDeal.id).title).toBe('Restored title');
    const timeline = (await client.request('GET', `/v1/opportunities/${created.id}/sync`)).json();
    expect(timeline.events.data.map((e: Json) => e.kind)).toContain('replay_requested');
    expect(timeline.links.every((l: Json) => l.base.title === 'Restored title' && l.base.canonicalId === created.id)).toBe(true);
  });
});

describe('/metrics', () => {
  it('exposes the named series with the figures of the sync so far', async () => {
    const hubspot = { connection: connections.hubspot.id, provider: 'hubspot', account: client.accountId };
    // The sync so far: an opportunity pushed to both CRMs, and an inbound delivery that failed.
    const pushed = (await client.request('POST', '/v1/opportunities', { title: 'Pushed', amount: '5' })).json();
    await eventually(async () => (await stack.database.sql`SELECT count(*)::int AS n FROM outbox WHERE opportunity_id = ${pushed.id}`)[0]!.n === 0, 'the opportunity is pushed');
    await failedDelivery();
    const conflictsBefore = sample(await scrape(), 'crm_sync_conflicts_last_hour', hubspot)!;
    // A conflict and an echo recorded now; a reconciliation pass that found drift.
    await stack.database.sql`
      INSERT INTO sync_events (account_id, connection_id, kind, field) VALUES
        (${client.accountId}, ${connections.hubspot.id}, 'conflict', 'amount'),
        (${client.accountId}, ${connections.hubspot.id}, 'echo_suppressed', null)`;
    await stack.database.sql`
      UPDATE connections SET reconcile_cursor = reconcile_cursor || ${stack.database.sql.json({ lastPass: { finishedAt: new Date().toISOString(), seen: 12, drift: 3 } })}
       WHERE id = ${connections.hubspot.id}`;
    // A webhook answered (here refused: no signature) is timed.
    const refused = await request({ method: 'POST', url: '/webhooks/hubspot', payload: '[{"portalId":1,"objectId":1}]', headers: { 'content-type': 'application/json' } });
    expect(refused.statusCode).toBe(401);

    const text = await scrape();
    for (const queue of Object.values(stack.queues).map((q) => q.name)) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) expect(sample(text, 'crm_sync_queue_jobs', { queue, state }), `${queue} ${state}`).toBeGreaterThanOrEqual(0);
      expect(sample(text, 'crm_sync_queue_oldest_waiting_age_seconds', { queue })).toBeGreaterThanOrEqual(0);
    }
    expect(sample(text, 'crm_sync_queue_jobs', { queue: 'inbound', state: 'failed' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'crm_sync_jobs_completed_total', { queue: 'outbound' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'crm_sync_jobs_failed_total', { queue: 'inbound' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'crm_sync_crm_api_calls_total', hubspot)).toBeGreaterThan(0);
    expect(sample(text, 'crm_sync_crm_budget_used_today', hubspot)).toBeGreaterThan(0);
    expect(sample(text, 'crm_sync_crm_budget_daily_limit', hubspot)).toBe(250_000);
    expect(sample(text, 'crm_sync_crm_api_rate_limited_total', hubspot)).toBe(0);
    expect(sample(text, 'crm_sync_conflicts_last_hour', hubspot)).toBe(conflictsBefore + 1);
    expect(sample(text, 'crm_sync_echoes_suppressed_last_hour', hubspot)).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'crm_sync_reconcile_drift', hubspot)).toBe(3);
    expect(sample(text, 'crm_sync_outbound_pending', hubspot)).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'crm_sync_outbound_lag_seconds', hubspot)).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'crm_sync_connections', { provider: 'pipedrive', state: 'active' })).toBe(1);
    expect(sample(text, 'crm_sync_webhook_ack_seconds_count', { provider: 'hubspot', status: '401' })).toBe(1);
  });

  it('shows outbound and inbound lag while rows wait, and counts the CRM’s 429s', async () => {
    const pipedrive = { connection: connections.pipedrive.id, provider: 'pipedrive', account: client.accountId };
    // Paused, the Pipedrive connection keeps its dirty rows and its received webhooks: they age.
    await client.request('POST', `/v1/connections/${connections.pipedrive.id}/pause`);
    await client.request('POST', '/v1/opportunities', { title: 'Waiting' });
    const received = [{ meta: { entity: 'deal', action: 'change', entity_id: '1' } }, { meta: { entity: 'deal', action: 'change', entity_id: '2' } }];
    await stack.database.sql`INSERT INTO inbox (connection_id, events, event_count) VALUES (${connections.pipedrive.id}, ${stack.database.sql.json(received)}, 2)`;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const waiting = await scrape();
    expect(sample(waiting, 'crm_sync_outbound_pending', pipedrive)).toBeGreaterThanOrEqual(1);
    expect(sample(waiting, 'crm_sync_outbound_lag_seconds', pipedrive)).toBeGreaterThanOrEqual(1);
    expect(sample(waiting, 'crm_sync_inbound_waiting_events', pipedrive)).toBe(2);
    expect(sample(waiting, 'crm_sync_inbound_lag_seconds', pipedrive)).toBeGreaterThanOrEqual(1);
    expect(sample(waiting, 'crm_sync_inbound_failed_deliveries', pipedrive)).toBe(0);
    expect(sample(waiting, 'crm_sync_connections', { provider: 'pipedrive', state: 'paused' })).toBe(1);

    const hubspot = { connection: connections.hubspot.id, provider: 'hubspot', account: client.accountId };
    await fetch(`${sandboxes.hubspot.baseUrl}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fail429: 1 }) });
    await client.request('POST', '/v1/opportunities', { title: 'Meets a 429' });
    await eventually(async () => sample(await scrape(), 'crm_sync_crm_api_rate_limited_total', hubspot) === 1, 'the 429 is counted');
  });
});

describe('the admin queue view', () => {
  it('holds every queue the workers use', async () => {
    const queues = (await request({ method: 'GET', url: '/admin/queues/api/queues', headers: bearer })).json().queues;
    expect(queues.length).toBe(Object.keys(stack.queues).length);
    expect(queues.every((q: Json) => q.type === 'bullmq')).toBe(true);
  });

  it('is a page of its own for a browser with a session', async () => {
    const cookie = await login();
    const page = await request({ method: 'GET', url: '/admin/queues/queue/inbound', headers: { cookie, accept: 'text/html' } });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
  });
});
