import { createHmac } from 'node:crypto';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/api/server.ts';
import { closeQueues, createQueues } from '../src/jobs/queues.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { testRedis } from './support/redis.ts';
import { freePort } from './support/sync.ts';

// Bodies read back from the API.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const TOKEN = 'admin-token-for-auth-tests-0123456789';
const LIMIT = 3;
const SESSION_HOURS = 2;

let database: TestDatabase;
let redisHandle: ReturnType<typeof testRedis>;
let queues: ReturnType<typeof createQueues>;
let deps: Json;
/** Two `serve` processes on one Postgres and one Redis: nothing is shared between them but those. */
let one: FastifyInstance;
let two: FastifyInstance;
const extra: FastifyInstance[] = [];
/** Each test is a client of its own (its own address), so no test sees another's failures. */
let clientNumber = 1;
const nextClient = () => `127.0.${Math.floor(clientNumber / 250) + 1}.${(clientNumber++ % 250) + 1}`;

async function adminServer(options: { sessionHours?: number; redis?: Redis } = {}) {
  const setup = options.redis ? { ...deps, redis: options.redis } : deps;
  const app = await buildServer({
    db: database.db,
    logger: false,
    sync: { setup, outbound: queues.outbound, inbound: queues.inbound, reconcile: queues.reconcile },
    admin: { token: TOKEN, queues: Object.values(queues), sessionHours: options.sessionHours ?? SESSION_HOURS, loginFailuresPerMinute: LIMIT },
  });
  await app.ready();
  return app;
}

const loginAs = (app: FastifyInstance, client: string, token: string) =>
  app.inject({ method: 'POST', url: '/admin/login', remoteAddress: client, payload: { token } });
const asAdmin = (app: FastifyInstance, client: string, token: string, url = '/admin/api/conflicts') =>
  app.inject({ method: 'GET', url, remoteAddress: client, headers: { authorization: `Bearer ${token}` } });
const withCookie = (app: FastifyInstance, cookie: string, options: Partial<InjectOptions> = {}) =>
  app.inject({ method: 'GET', url: '/admin/api/conflicts', ...options, headers: { cookie, ...(options.headers as object) } });

async function sessionCookie(app: FastifyInstance, client = nextClient()): Promise<{ cookie: string; setCookie: string }> {
  const response = await loginAs(app, client, TOKEN);
  expect(response.statusCode, response.body).toBe(204);
  const setCookie = String(response.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0]!, setCookie };
}

function expectTooMany(response: Awaited<ReturnType<FastifyInstance['inject']>>) {
  expect(response.statusCode, response.body).toBe(429);
  expect(response.headers['content-type']).toContain('application/problem+json');
  const retryAfter = Number(response.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(response.json()).toMatchObject({ status: 429 });
}

beforeAll(async () => {
  database = await createTestDatabase();
  redisHandle = testRedis();
  const redis = redisHandle.connect();
  deps = { db: database.db, redis, prefix: redisHandle.prefix, keyring: undefined, publicUrl: 'http://127.0.0.1:9' };
  queues = createQueues(redis, redisHandle.prefix);
  one = await adminServer();
  two = await adminServer();
});
afterAll(async () => {
  for (const app of [one, two, ...extra]) await app.close();
  await closeQueues(queues);
  await redisHandle.close();
  await database.drop();
});

describe('failed admin logins and bearer tokens are limited per client', () => {
  it(`after ${LIMIT} failed logins the client gets 429 with Retry-After, even with the right token, on login and bearer alike`, async () => {
    const client = nextClient();
    for (let i = 0; i < LIMIT; i += 1) expect((await loginAs(one, client, `wrong-${i}`)).statusCode).toBe(401);
    expectTooMany(await loginAs(one, client, TOKEN));
    expectTooMany(await asAdmin(one, client, TOKEN));
    expectTooMany(await asAdmin(one, client, TOKEN, '/metrics'));
    expectTooMany(await loginAs(one, client, 'wrong-again'));
    // Another client is not held back.
    expect((await loginAs(one, nextClient(), TOKEN)).statusCode).toBe(204);
    expect((await asAdmin(one, nextClient(), TOKEN)).statusCode).toBe(200);
  });

  it('counts wrong bearer tokens too, and the limit holds on every serve process sharing the database', async () => {
    const client = nextClient();
    expect((await asAdmin(one, client, `${TOKEN}x`)).statusCode).toBe(401);
    expect((await asAdmin(two, client, 'not-it', '/metrics')).statusCode).toBe(401);
    expect((await loginAs(one, client, 'nor-this')).statusCode).toBe(401);
    expectTooMany(await asAdmin(two, client, TOKEN));
    expectTooMany(await loginAs(one, client, TOKEN));
  });

  it('lets no concurrent guess slip in under the limit', async () => {
    const client = nextClient();
    const guesses = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? loginAs(one, client, `wrong-${i}`) : asAdmin(two, client, `wrong-${i}`))));
    const statuses = guesses.map((g) => g.statusCode);
    expect(statuses.filter((s) => s === 401)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40 - LIMIT);
    expectTooMany(await loginAs(two, client, TOKEN));
  });

  it('does not count successes', async () => {
    const client = nextClient();
    for (let i = 0; i < LIMIT * 3; i += 1) {
      expect((await loginAs(one, client, TOKEN)).statusCode).toBe(204);
      expect((await asAdmin(two, client, TOKEN)).statusCode).toBe(200);
    }
    for (let i = 0; i < LIMIT - 1; i += 1) expect((await loginAs(one, client, 'wrong')).statusCode).toBe(401);
    expect((await loginAs(one, client, TOKEN)).statusCode).toBe(204);
  });

  it('lets the client in again once the minute has passed, and keeps no expired counters', async () => {
    const client = nextClient();
    for (let i = 0; i < LIMIT; i += 1) await loginAs(one, client, 'wrong');
    expectTooMany(await asAdmin(one, client, TOKEN));
    // A minute passes (the window is Postgres's clock: move the client's window back).
    await database.sql`UPDATE admin_login_failures SET window_started_at = window_started_at - interval '61 seconds'`;
    expect((await asAdmin(one, client, TOKEN)).statusCode).toBe(200);
    // The next failure starts a new window and prunes the expired ones.
    expect((await loginAs(one, nextClient(), 'wrong')).statusCode).toBe(401);
    const [expired] = await database.sql`SELECT count(*)::int AS n FROM admin_login_failures WHERE window_started_at < now() - interval '1 minute'`;
    expect(expired!.n).toBe(0);
  });

  it('holds with Redis down: the counters live in Postgres', async () => {
    const dead = new Redis(`redis://127.0.0.1:${await freePort()}`, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
    dead.on('error', () => {}); // the refused connection is the point of this test
    const app = await adminServer({ redis: dead });
    extra.push(app);
    const client = nextClient();
    for (let i = 0; i < LIMIT; i += 1) expect((await loginAs(app, client, 'wrong')).statusCode).toBe(401);
    expectTooMany(await loginAs(app, client, TOKEN));
    expectTooMany(await loginAs(one, client, TOKEN));
    dead.disconnect();
  });
});

describe('admin sessions are kept in Postgres', () => {
  it(`a session lasts ADMIN_SESSION_HOURS (${SESSION_HOURS}) from login, on every serve process`, async () => {
    const { cookie, setCookie } = await sessionCookie(one);
    expect(setCookie).toContain(`Max-Age=${SESSION_HOURS * 3600}`);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(TOKEN);
    expect((await withCookie(one, cookie)).statusCode).toBe(200);
    expect((await withCookie(two, cookie)).statusCode).toBe(200);
    const [row] = await database.sql`SELECT expires_at - created_at AS lifetime, ended_at FROM admin_sessions ORDER BY created_at DESC LIMIT 1`;
    expect(row!.ended_at).toBeNull();
    // An expired session is refused even though the browser still sends its cookie.
    await database.sql`UPDATE admin_sessions SET expires_at = now() - interval '1 second'`;
    expect((await withCookie(two, cookie)).statusCode).toBe(401);
  });

  it('logout ends the session: the same cookie stops working at once, everywhere', async () => {
    const { cookie } = await sessionCookie(one);
    expect((await withCookie(two, cookie)).statusCode).toBe(200);
    const logout = await one.inject({ method: 'POST', url: '/admin/logout', headers: { cookie } });
    expect(logout.statusCode).toBe(303);
    expect(String(logout.headers['set-cookie'])).toContain('Max-Age=0');
    for (const app of [one, two]) {
      expect((await withCookie(app, cookie)).statusCode).toBe(401);
      const page = await withCookie(app, cookie, { url: '/admin/queues', headers: { accept: 'text/html' } });
      expect(page.statusCode).toBe(302);
    }
  });

  it('refuses a cookie minted with a ten-year expiry, and one that claims more than the cap', async () => {
    // What a holder of the token could make before: an expiry and its HMAC, no session behind it.
    const expires = Math.floor(Date.now() / 1000) + 10 * 365 * 24 * 3600;
    const mac = createHmac('sha256', TOKEN).update(`crm-sync admin session:${expires}`).digest('base64url');
    expect((await withCookie(one, `crm_sync_admin=${expires}.${mac}`)).statusCode).toBe(401);
    // A real session from a server whose cap is longer, on a server capped at one hour: refused.
    const longer = await adminServer({ sessionHours: 24 });
    const shorter = await adminServer({ sessionHours: 1 });
    extra.push(longer, shorter);
    const { cookie } = await sessionCookie(longer);
    expect((await withCookie(longer, cookie)).statusCode).toBe(200);
    expect((await withCookie(shorter, cookie)).statusCode).toBe(401);
  });
});

describe('the admin API reads any opportunity’s timeline', () => {
  let a: Client;
  let b: Client;

  beforeAll(async () => {
    const api = { database, app: one } as TestApi;
    a = await newAccount(api, 'Timeline A');
    b = await newAccount(api, 'Timeline B');
  });

  async function opportunityWithEvents(client: Client, count: number): Promise<string> {
    const created = await client.request('POST', '/v1/opportunities', { title: 'Followed' });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    for (let i = 0; i < count; i += 1) {
      await database.sql`INSERT INTO sync_events (account_id, opportunity_id, kind, field, after) VALUES (${client.accountId}, ${id}, 'push', 'title', ${JSON.stringify(`v${i}`)}::jsonb)`;
    }
    return id;
  }

  it('answers what /v1/opportunities/{id}/sync answers, page by page, for any account', async () => {
    for (const client of [a, b]) {
      const id = await opportunityWithEvents(client, 5);
      expect((await client.request('GET', `/v1/opportunities/${id}/sync`, undefined, { authorization: `Bearer ${TOKEN}` })).statusCode).toBe(401);
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = `?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
        const mine = await client.request('GET', `/v1/opportunities/${id}/sync${query}`);
        const admin = await asAdmin(one, nextClient(), TOKEN, `/admin/api/opportunities/${id}/sync${query}`);
        expect(admin.statusCode, admin.body).toBe(200);
        expect(admin.json()).toEqual(mine.json());
        cursor = admin.json().events.nextCursor;
        pages += 1;
      } while (cursor && pages < 10);
      expect(pages).toBe(3);
    }
  });

  it('needs the admin token, and says 404 for an unknown opportunity', async () => {
    const id = await opportunityWithEvents(a, 1);
    const anonymous = await one.inject({ method: 'GET', url: `/admin/api/opportunities/${id}/sync` });
    expect(anonymous.statusCode).toBe(401);
    const withKey = await one.inject({ method: 'GET', url: `/admin/api/opportunities/${id}/sync`, headers: { authorization: `Bearer ${a.apiKey}` }, remoteAddress: nextClient() });
    expect(withKey.statusCode).toBe(401);
    const unknown = await asAdmin(one, nextClient(), TOKEN, '/admin/api/opportunities/00000000-0000-4000-8000-000000000000/sync');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toContain('application/problem+json');
  });
});
