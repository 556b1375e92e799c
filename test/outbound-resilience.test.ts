import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildServer } from '../src/api/server.ts';
import { closeQueues, createQueues } from '../src/jobs/queues.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { eventually, freePort, SANDBOX_HOSTS, SANDBOX_HOSTS_ENV, startSandboxes } from './support/sync.ts';
import { spawnReaped } from './support/children.ts';

// Bodies read back from the sandboxes' control API.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const cli = new URL('../src/cli.ts', import.meta.url).pathname;
const key = randomBytes(32);

// A Redis of this test's own: FLUSHALL here must not wipe other test files' keys.
let redisServer: ChildProcess;
let redisUrl: string;
let redis: Redis;
let database: TestDatabase;
let api: TestApi;
let queues: ReturnType<typeof createQueues>;
let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
let client: Client;
let pipedriveKey: string;
let connectionIds: string[];
const workers: ChildProcess[] = [];
/** A HubSpot portal and a Pipedrive company are connected once in the whole database: new ones per test. */
let seed = 4100;

function startWorker(): ChildProcess {
  const child = spawnReaped(process.execPath, [cli, 'work', '--no-migrate'], {
    env: { ...process.env, DATABASE_URL: database.url, REDIS_URL: redisUrl, ENCRYPTION_KEY: key.toString('hex'), ...SANDBOX_HOSTS_ENV, LOG_LEVEL: 'error', OUTBOUND_LEASE_SECONDS: '2', SWEEP_SECONDS: '1' },
    stdio: 'ignore',
  });
  workers.push(child);
  return child;
}

beforeAll(async () => {
  const port = await freePort();
  redisServer = spawnReaped('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  redisUrl = `redis://127.0.0.1:${port}`;
  redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {}); // refused until redis-server is up; the ping below waits for it
  await eventually(async () => (await redis.ping().catch(() => '')) === 'PONG', 'the test Redis answers', 10_000);
  database = await createTestDatabase();
  const deps = { db: database.db, redis, prefix: 'crm-sync', keyring: { current: key }, publicUrl: 'http://127.0.0.1:9', crmBaseUrlHosts: SANDBOX_HOSTS };
  queues = createQueues(redis, 'crm-sync');
  const app = await buildServer({ db: database.db, logger: false, sync: { setup: deps, outbound: queues.outbound, inbound: queues.inbound, reconcile: queues.reconcile } });
  api = { database, app, close: async () => {} };
});

afterAll(async () => {
  await api.app.close();
  await closeQueues(queues);
  await redis.quit();
  redisServer.kill('SIGKILL');
  await database.drop();
});

const exited = (child: ChildProcess) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve([child.exitCode, child.signalCode]) : once(child, 'exit'));

// Every test gets an account and CRMs of its own, and starts the workers it needs: none runs
// before it, and after it every worker it started is killed and its connections deleted.
beforeEach(async () => {
  sandboxes = await startSandboxes(seed++);
  client = await newAccount(api, 'Resilience');
  connectionIds = [];
  for (const body of [
    { provider: 'hubspot', credentials: { accessToken: sandboxes.hubspot.token, clientSecret: sandboxes.hubspot.clientSecret }, baseUrl: sandboxes.hubspot.baseUrl, settings: { limits: { perWindow: 250 } } },
    { provider: 'pipedrive', credentials: { apiToken: sandboxes.pipedrive.token }, baseUrl: sandboxes.pipedrive.baseUrl, settings: { limits: { perWindow: 480 } } },
  ]) {
    const response = await client.request('POST', '/v1/connections', body);
    expect(response.statusCode, response.body).toBe(201);
    connectionIds.push(response.json().id);
    if (body.provider === 'pipedrive') pipedriveKey = response.json().settings.canonicalIdField;
  }
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => (worker.kill('SIGKILL'), exited(worker))));
  for (const id of connectionIds) await client.request('DELETE', `/v1/connections/${id}`);
  await sandboxes.close();
});

const state = async (baseUrl: string): Promise<Json> => (await fetch(`${baseUrl}/_sandbox/state`)).json();
const outboxCount = async (ids = connectionIds) => (await database.sql`SELECT count(*)::int AS n FROM outbox WHERE connection_id IN ${database.sql(ids)}`)[0]!.n as number;
const hubspotUsage = async () => Object.values((await state(sandboxes.hubspot.baseUrl)).usage as Record<string, number>)[0]!;

async function expectEverythingOnceAndCurrent({ pipedrive = true } = {}) {
  const opportunities = await database.sql`SELECT id, title, amount FROM opportunities WHERE account_id = ${client.accountId} AND deleted_at IS NULL`;
  const hs = (await state(sandboxes.hubspot.baseUrl)).deals as Json[];
  const pd = ((await state(sandboxes.pipedrive.baseUrl)).deals as Json[]).filter((d) => d.status !== 'deleted');
  for (const o of opportunities) {
    const inHubSpot = hs.filter((d) => d.properties.crm_sync_id === o.id);
    expect(inHubSpot, `${o.title} in HubSpot`).toHaveLength(1);
    expect(inHubSpot[0].properties.dealname).toBe(o.title);
    if (!pipedrive) continue;
    const inPipedrive = pd.filter((d) => d.custom_fields[pipedriveKey] === o.id);
    expect(inPipedrive, `${o.title} in Pipedrive`).toHaveLength(1);
    expect(inPipedrive[0].title).toBe(o.title);
    expect(Number(inPipedrive[0].value)).toBe(Number(o.amount ?? 0));
  }
  return opportunities.length;
}

describe('outbound resilience', () => {
  it('sends 1,000 new opportunities to HubSpot in batch calls of 100', { timeout: 120_000 }, async () => {
    // Pipedrive stays paused: this is about HubSpot's batches, and 1,000 single Pipedrive creates
    // at its rate limit were most of this test's time (the other tests here cover both CRMs).
    const [hubspotId, pipedriveId] = connectionIds as [string, string];
    for (const id of connectionIds) await client.request('POST', `/v1/connections/${id}/pause`);
    // No worker runs yet, so the order they are made in does not matter: 20 at a time.
    for (let i = 0; i < 1000; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => client.request('POST', '/v1/opportunities', { title: `Bulk ${i + j}`, amount: `${i + j}.00` })));
    }
    const before = await hubspotUsage();
    startWorker();
    await client.request('POST', `/v1/connections/${hubspotId}/resume`);
    await eventually(async () => (await outboxCount([hubspotId])) === 0, 'every opportunity is pushed to HubSpot', 110_000);
    expect(await hubspotUsage()).toBe(before + 10);
    expect(await expectEverythingOnceAndCurrent({ pipedrive: false })).toBe(1000);
    expect(await outboxCount([pipedriveId])).toBeGreaterThan(0);
  });

  it('loses and duplicates nothing when a worker is killed mid-flush and Redis is flushed', { timeout: 120_000 }, async () => {
    // A worker already at work when the opportunities come, as it would be in production.
    startWorker();
    await eventually(async () => (await queues.outbound.getWorkers()).length > 0, 'the worker is up', 60_000);
    // Slow CRMs, so that the kill lands while pushes are in flight.
    for (const sandbox of [sandboxes.hubspot, sandboxes.pipedrive]) {
      await fetch(`${sandbox.baseUrl}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs: 40 }) });
    }
    const created: Json[] = [];
    for (let i = 0; i < 150; i++) created.push((await client.request('POST', '/v1/opportunities', { title: `Crash ${i}`, amount: '5.00' })).json());
    await eventually(async () => (await outboxCount()) < 300, 'the flush is under way', 60_000);
    for (const worker of workers) worker.kill('SIGKILL');
    await redis.flushall();
    for (const o of created.slice(0, 20)) await client.request('PATCH', `/v1/opportunities/${o.id}`, { title: `${o.title} edited`, amount: '7.00' });
    startWorker();
    startWorker();
    await eventually(async () => (await outboxCount()) === 0, 'everything is pushed after the crash', 110_000);
    expect(await expectEverythingOnceAndCurrent()).toBe(150);
  });

  it('drains on SIGTERM during a busy flush: stops taking jobs, finishes the active ones, exits 0, loses and duplicates nothing', { timeout: 120_000 }, async () => {
    for (const sandbox of [sandboxes.hubspot, sandboxes.pipedrive]) {
      await fetch(`${sandbox.baseUrl}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs: 40 }) });
    }
    const before = await outboxCount();
    for (let i = 0; i < 100; i++) await client.request('POST', '/v1/opportunities', { title: `Drain ${i}`, amount: '9.00' });
    const worker = startWorker();
    await eventually(async () => (await outboxCount()) < before + 190, 'the flush is under way', 60_000);
    worker.kill('SIGTERM');
    const [code, signal] = await exited(worker);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    // Nothing left leased: the active flush finished or gave its rows back before the exit.
    expect((await database.sql`SELECT count(*)::int AS n FROM outbox WHERE connection_id IN ${database.sql(connectionIds)} AND claimed_until > now()`)[0]!.n).toBe(0);
    startWorker();
    await eventually(async () => (await outboxCount()) === 0, 'everything is pushed after the restart', 110_000);
    expect(await expectEverythingOnceAndCurrent()).toBe(100);
  });
});
