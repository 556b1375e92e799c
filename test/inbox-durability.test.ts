import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/api/server.ts';
import { closeQueues, createQueues, type Queues } from '../src/jobs/queues.ts';
import { connectRedis } from '../src/jobs/redis.ts';
import { startWorkers, type Workers } from '../src/jobs/worker.ts';
import { createLogger } from '../src/log.ts';
import { connectionsDueForReconcile } from '../src/model/connections/reconcile-state.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import { reconcileIntervalMs } from '../src/sync/settings.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { privateRedis, type PrivateRedis } from './support/private-redis.ts';
import { eventually, SANDBOX_HOSTS } from './support/sync.ts';

// Bodies the API and the sandbox answer.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/**
 * An acknowledged webhook survives Redis losing everything right after the 200: the workers,
 * never restarted, put the sweep schedule back themselves and the sweeper applies the webhook from
 * the inbox, long before any reconciliation would (the connection's next one is a day away).
 */

const PUBLIC_URL = 'http://127.0.0.1:9';
let database: TestDatabase;
let redisServer: PrivateRedis;
let redis: Redis;
let queues: Queues;
let app: FastifyInstance;
let workers: Workers;
let hubspot: HubSpotSandbox;
let client: Client;
let connectionId: string;
const logged: string[] = [];

function signed(body: string) {
  const timestamp = Date.now();
  const signature = createHmac('sha256', hubspot.clientSecret).update(`POST${PUBLIC_URL}/webhooks/hubspot${body}${timestamp}`).digest('base64');
  return { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': String(timestamp) };
}

beforeAll(async () => {
  database = await createTestDatabase();
  redisServer = await privateRedis();
  await redisServer.start();
  const logger = createLogger('info', { write: (line: string) => void logged.push(line) });
  redis = connectRedis(redisServer.url, { role: 'producer', logger, name: 'main' });
  const prefix = `test-${randomBytes(6).toString('hex')}`;
  const deps = { db: database.db, redis, prefix, keyring: { current: randomBytes(32) }, publicUrl: PUBLIC_URL, crmBaseUrlHosts: SANDBOX_HOSTS };
  queues = createQueues(redis, prefix, logger);
  app = await buildServer({ db: database.db, logger, sync: { setup: deps, outbound: queues.outbound, inbound: queues.inbound, reconcile: queues.reconcile, events: queues.events } });
  workers = await startWorkers(deps, { concurrency: 2, sweepEveryMs: 500, logger });
  hubspot = await startHubSpotSandbox({ seed: 7400 });
  client = await newAccount({ database, app, close: async () => {} } as TestApi, 'Durable');
  const created = await client.request('POST', '/v1/connections', {
    provider: 'hubspot',
    credentials: { accessToken: hubspot.token, clientSecret: hubspot.clientSecret },
    baseUrl: hubspot.baseUrl,
    settings: { reconcileIntervalSeconds: 86_400 },
  });
  expect(created.statusCode, created.body).toBe(201);
  connectionId = created.json().id;
  // The new connection's first reconciliation runs now; after it, none for a day.
  await eventually(async () => !(await connectionsDueForReconcile(database.db, reconcileIntervalMs)).includes(connectionId), 'the first reconciliation ran', 30_000);
});

afterAll(async () => {
  await app?.close();
  await workers?.close();
  await closeQueues(queues);
  redis?.disconnect();
  await redisServer?.stop();
  await hubspot?.close();
  await database?.drop();
});

describe('a webhook acknowledged just before Redis loses everything', () => {
  it('is applied from the inbox once the running workers restore what Redis lost, without a restart or a reconciliation', async () => {
    const deal = (await (await fetch(`${hubspot.baseUrl}/_sandbox/ui/deals`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ dealname: 'Acknowledged', amount: '42' }) })).json()) as Json;
    // Paused, the connection keeps the webhook in its inbox: the round it woke leaves it there.
    await client.request('POST', `/v1/connections/${connectionId}/pause`);
    const body = JSON.stringify([{ portalId: hubspot.portalId, objectId: Number(deal.id), subscriptionType: 'deal.creation', eventId: 1, occurredAt: Date.now() }]);
    const acknowledged = await app.inject({ method: 'POST', url: '/webhooks/hubspot', payload: body, headers: signed(body) });
    expect(acknowledged.statusCode).toBe(200);
    // Redis loses every key: queued jobs, the sweeper's schedule, the rate budgets.
    await redis.flushall();
    expect(await queues.maintenance.getJobScheduler('sweep')).toBeUndefined();
    // Resuming queues nothing: only a sweep can find the webhook now.
    await client.request('POST', `/v1/connections/${connectionId}/resume`);
    const opportunity = await eventually(async () => ((await client.request('GET', '/v1/opportunities')).json() as Json).data.find((o: Json) => o.title === 'Acknowledged'), 'the deal of the acknowledged webhook is an opportunity', 30_000);
    expect(opportunity).toMatchObject({ amount: '42' });
    expect((await database.sql`SELECT count(*)::int AS n FROM inbox`)[0]!.n).toBe(0);
    expect(await queues.maintenance.getJobScheduler('sweep')).toBeTruthy();
    expect(logged.some((line) => line.includes('sweep schedule was missing from Redis'))).toBe(true);
    expect((await connectionsDueForReconcile(database.db, reconcileIntervalMs)).includes(connectionId)).toBe(false);
  });
});
