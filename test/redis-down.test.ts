import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/api/server.ts';
import { closeQueues, createQueues, type Queues } from '../src/jobs/queues.ts';
import { connectRedis, reconnectDelayMs } from '../src/jobs/redis.ts';
import { startWorkers, type Workers } from '../src/jobs/worker.ts';
import { createLogger } from '../src/log.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { privateRedis, type PrivateRedis } from './support/private-redis.ts';
import { eventually, freePort, SANDBOX_HOSTS } from './support/sync.ts';
import { spawnReaped } from './support/children.ts';

// Bodies the API answers, and the log's lines.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const PUBLIC_URL = 'http://127.0.0.1:9';
const cli = new URL('../src/cli.ts', import.meta.url).pathname;

let database: TestDatabase;
let redisServer: PrivateRedis;
let redis: Redis;
let queues: Queues;
let app: FastifyInstance;
let workers: Workers;
let hubspot: HubSpotSandbox;
let client: Client;
/** Every line the server's pino logger wrote, as the process would print it. */
const logged: string[] = [];
/** What reached console.error meanwhile: ioredis prints its unheard errors there, with their stacks. */
const printed: string[] = [];
const consoleError = console.error;

function signedDelivery(eventId: number) {
  const body = JSON.stringify([{ portalId: Number(hubspot.portalId), objectId: 1, subscriptionType: 'deal.creation', eventId, occurredAt: Date.now() }]);
  const timestamp = Date.now();
  const signature = createHmac('sha256', hubspot.clientSecret).update(`POST${PUBLIC_URL}/webhooks/hubspot${body}${timestamp}`).digest('base64');
  return { body, headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': String(timestamp) } };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: Math.round(performance.now() - started) };
}

/** The HubSpot event ids waiting in the inbox. */
const inboxEventIds = async () => (await database.sql<{ events: { eventId: number }[] }[]>`SELECT events FROM inbox`).flatMap((r) => r.events.map((e) => e.eventId));

const deliver = (eventId: number) => {
  const { body, headers } = signedDelivery(eventId);
  return app.inject({ method: 'POST', url: '/webhooks/hubspot', payload: body, headers });
};

beforeAll(async () => {
  console.error = (...args: unknown[]) => {
    printed.push(args.map(String).join(' '));
    consoleError(...args);
  };
  database = await createTestDatabase();
  redisServer = await privateRedis();
  await redisServer.start();
  const logger = createLogger('info', { write: (line: string) => void logged.push(line) });
  redis = connectRedis(redisServer.url, { role: 'producer', logger, name: 'main' });
  const prefix = `test-${randomBytes(6).toString('hex')}`;
  const deps = { db: database.db, redis, prefix, keyring: { current: randomBytes(32) }, publicUrl: PUBLIC_URL, crmBaseUrlHosts: SANDBOX_HOSTS };
  queues = createQueues(redis, prefix, logger);
  app = await buildServer({ db: database.db, logger, sync: { setup: deps, outbound: queues.outbound, inbound: queues.inbound, reconcile: queues.reconcile, events: queues.events } });
  await app.ready();
  workers = await startWorkers(deps, { concurrency: 1, sweepEveryMs: 1000, logger, readyWithinMs: 5000 });
  hubspot = await startHubSpotSandbox({ seed: 7300 });
  client = await newAccount({ database, app, close: async () => {} } as TestApi, 'Redis down');
  const created = await client.request('POST', '/v1/connections', { provider: 'hubspot', credentials: { accessToken: hubspot.token, clientSecret: hubspot.clientSecret }, baseUrl: hubspot.baseUrl });
  expect(created.statusCode, created.body).toBe(201);
});

afterAll(async () => {
  console.error = consoleError;
  await app?.close();
  await workers?.close();
  await closeQueues(queues);
  redis?.disconnect();
  await redisServer?.stop();
  await hubspot?.close();
  await database?.drop();
});

describe('with Redis killed under a running server', () => {
  it('receivers acknowledge from Postgres at once, budgets read unknown, /readyz says not ready; all recover when Redis is back, and what was acknowledged meanwhile is applied', async () => {
    expect((await deliver(1)).statusCode).toBe(200);
    const before = (await client.request('GET', '/v1/connections')).json() as Json;
    expect(before.data[0].budget).toMatchObject({ state: 'ok', limit: expect.any(Number) });

    await redisServer.stop();
    await eventually(async () => redis.status !== 'ready', 'the client sees Redis go', 10_000);

    const webhook = await timed(() => deliver(2));
    console.log(`Redis down: webhook receiver answered ${webhook.value.statusCode} in ${webhook.ms} ms`);
    // The webhook is in the inbox: acknowledged, although nothing could be queued to wake a worker.
    expect(webhook.value.statusCode).toBe(200);
    expect(await inboxEventIds()).toContain(2);
    // The bound is generous for a loaded 2-core machine; it only catches a hang.
    expect(webhook.ms).toBeLessThan(3000);

    const listed = await timed(() => client.request('GET', '/v1/connections'));
    console.log(`Redis down: GET /v1/connections answered ${listed.value.statusCode} in ${listed.ms} ms`);
    expect(listed.value.statusCode).toBe(200);
    expect((listed.value.json() as Json).data[0].budget).toMatchObject({ state: 'unknown', used: null });
    expect(listed.ms).toBeLessThan(3000);

    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect((ready.json() as Json).checks.postgres).toBe('ok');
    expect((ready.json() as Json).checks.redis).not.toBe('ok');

    // Back empty (no persistence): the workers restore the sweep schedule themselves, and the
    // sweeper wakes the connection whose webhook was acknowledged while Redis was away.
    await redisServer.start();
    await eventually(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200, '/readyz is ready again', 30_000);
    await eventually(async () => !(await inboxEventIds()).includes(2), 'the webhook acknowledged while Redis was down is applied', 30_000);
    expect(logged.some((line) => line.includes('sweep schedule was missing from Redis'))).toBe(true);
    expect((await deliver(3)).statusCode).toBe(200);
    const after = (await client.request('GET', '/v1/connections')).json() as Json;
    expect(after.data[0].budget.state).toBe('ok');
  });

  it('logged one structured line per reconnect attempt, with exponential backoff, and printed no stack traces', () => {
    const lines = logged.map((line) => JSON.parse(line) as Json);
    const attempts = lines.filter((line) => line.msg === 'Redis unreachable: reconnecting' && line.redis === 'main');
    console.log(`reconnect lines of the main connection while Redis was down: ${attempts.length}`);
    expect(attempts.length).toBeGreaterThan(0);
    // One line per attempt of a connection: 1, 2, 3 … each with the delay the backoff gives it.
    expect(attempts.map((line) => line.attempt)).toEqual(attempts.map((_, i) => i + 1));
    for (const line of attempts) expect(line.delayMs).toBe(reconnectDelayMs(line.attempt));
    expect(attempts.filter((line) => /ECONNREFUSED/.test(line.error)).length).toBeGreaterThan(0);
    const stacks = [...logged, ...printed].filter((line) => /\n\s+at |\\n\s+at /.test(line));
    expect(stacks).toEqual([]);
    expect(printed.filter((line) => line.includes('[ioredis]'))).toEqual([]);
  });
});

describe('crm-sync start with Redis down', () => {
  it('listens, says not ready on /readyz, logs reconnects as JSON lines only, and is ready once Redis comes up', async () => {
    const redisLater = await privateRedis();
    const port = await freePort();
    const child = spawnReaped(process.execPath, [cli, 'start', '--no-migrate'], {
      env: { ...process.env, DATABASE_URL: database.url, REDIS_URL: redisLater.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', QUEUE_PREFIX: `test-${randomBytes(6).toString('hex')}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    try {
      const started = performance.now();
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`start exited: ${stdout}${stderr}`);
        return stdout.includes('Server listening');
      }, 'crm-sync start listens', 60_000);
      console.log(`Redis down: crm-sync start listened after ${Math.round(performance.now() - started)} ms`);
      const notReady = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(notReady.status).toBe(503);
      expect(((await notReady.json()) as Json).checks.redis).not.toBe('ok');

      // "workers started" (what scripts wait for) only once they reach Redis.
      expect(stdout).toContain('workers waiting for Redis');
      expect(stdout).not.toContain('"workers started"');

      await redisLater.start();
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, '/readyz is ready once Redis is up', 60_000);
      await eventually(async () => stdout.includes('"workers started"'), 'the workers reach Redis', 60_000);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
      await redisLater.stop();
    }
    const lines = stdout.trim().split('\n');
    // Everything printed is pino's JSON, one object a line: no ioredis "Unhandled error event" with its stack.
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(stderr).not.toMatch(/\n\s+at /);
    const attempts = lines.map((line) => JSON.parse(line) as Json).filter((line) => line.msg === 'Redis unreachable: reconnecting' && line.redis === 'main');
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.map((line) => line.attempt)).toEqual(attempts.map((_, i) => i + 1));
    console.log(`crm-sync start: ${lines.length} log lines, ${attempts.length} reconnect lines of the main connection, stderr ${stderr.length} bytes`);
  });
});
