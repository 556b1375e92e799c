import { randomBytes, randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import { parseConfig } from '../../src/config.ts';
import type { SyncDeps } from '../../src/orchestration/deps.ts';
import type { SetupDeps } from '../../src/orchestration/connection-setup.ts';
import { closeQueues, createQueues } from '../../src/jobs/queues.ts';
import { startWorkers, type Workers } from '../../src/jobs/worker.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { startPipedriveSandbox, type PipedriveSandbox } from '../../src/sandbox/pipedrive/index.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { testRedis } from './redis.ts';

/**
 * What an operator running the sandboxes sets (CRM_BASE_URL_HOSTS=127.0.0.1): connections may
 * point at any port of 127.0.0.1, where the tests' sandboxes listen, and nowhere else but the CRMs'
 * own APIs. Child processes get it through the environment, the in-process stack through its deps.
 */
export const SANDBOX_HOSTS_ENV = { CRM_BASE_URL_HOSTS: '127.0.0.1' };
export const SANDBOX_HOSTS: readonly string[] = parseConfig(SANDBOX_HOSTS_ENV).CRM_BASE_URL_HOSTS!;

/**
 * The whole outbound path on real parts: a fresh database, Redis under a prefix of its own, the API
 * with its connection routes, the BullMQ workers, and the two sandboxes over HTTP.
 */
export async function startSyncStack(
  options: {
    sweepEveryMs?: number;
    eventRetryBaseMs?: number;
    oauthApps?: SyncDeps['oauthApps'];
    publicUrl?: string;
    eventTargetsAllowed?: SyncDeps['eventTargetsAllowed'];
    crmTimeouts?: SyncDeps['crmTimeouts'];
    adminToken?: string;
    /** False: no workers, so what the receivers store stays in the inbox for the test to read. */
    workers?: boolean;
  } = {},
) {
  const database: TestDatabase = await createTestDatabase();
  const redis = testRedis();
  const deps = {
    db: database.db,
    redis: redis.connect(),
    prefix: redis.prefix,
    keyring: { current: randomBytes(32) },
    publicUrl: options.publicUrl ?? 'http://127.0.0.1:9',
    oauthApps: options.oauthApps,
    eventTargetsAllowed: options.eventTargetsAllowed,
    crmBaseUrlHosts: SANDBOX_HOSTS,
    ...(options.crmTimeouts ? { crmTimeouts: options.crmTimeouts } : {}),
    appSecrets: undefined as SetupDeps['appSecrets'],
  };
  const queues = createQueues(deps.redis, deps.prefix);
  const app: FastifyInstance = await buildServer({ db: database.db, logger: false, sync: { setup: deps, outbound: queues.outbound, inbound: queues.inbound, reconcile: queues.reconcile, events: queues.events }, ...(options.adminToken && { admin: { token: options.adminToken, queues: Object.values(queues) } }) });
  const workers: Workers | undefined = options.workers === false ? undefined : await startWorkers(deps, { sweepEveryMs: options.sweepEveryMs ?? 500, eventRetryBaseMs: options.eventRetryBaseMs });
  return {
    database,
    deps,
    app,
    workers,
    queues,
    async close() {
      await app.close();
      await workers?.close();
      await closeQueues(queues);
      await redis.close();
      await database.drop();
    },
  };
}
export type SyncStack = Awaited<ReturnType<typeof startSyncStack>>;

// Webhook bodies, as the CRMs sent them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** What the receivers stored and no worker has applied yet, oldest first. */
export async function inboxRows(database: TestDatabase): Promise<{ connectionId: string; events: Json[] }[]> {
  const rows = await database.sql<{ connection_id: string; events: Json[] }[]>`SELECT connection_id, events FROM inbox ORDER BY id`;
  return rows.map((r) => ({ connectionId: r.connection_id, events: r.events }));
}

/** Sandboxes generous enough that a test is never waiting on their limits unless it means to. */
export async function startSandboxes(seed: number) {
  const [hubspot, pipedrive]: [HubSpotSandbox, PipedriveSandbox] = await Promise.all([
    startHubSpotSandbox({ seed, limits: { tenSecondLimit: 250 } }),
    startPipedriveSandbox({ seed, limits: { burstLimit: 480 } }),
  ]);
  return { hubspot, pipedrive, close: () => Promise.all([hubspot.close(), pipedrive.close()]) };
}

/** Polls until `check` holds; the deadline only bounds a failing test, it asserts no speed. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, deadlineMs = 60_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A port nothing listens on now: for a server a test starts, or for one that must refuse. Drawn
 * below the kernel's ephemeral range (32768 and up here), which it hands to outgoing connections:
 * a port from `listen(0)` can be taken by one of those (a database or HTTP client of a test running
 * beside this one) before the server that wants it listens. Below that range only an explicit
 * choice takes a port, so a port checked free stays free unless another test draws the same.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + randomInt(12_000);
    const server = createServer();
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!listening) continue;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }
}

/** The stack listening on a real port, so the sandboxes can deliver their webhooks to it. */
export async function startListeningStack() {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const stack = await startSyncStack({ publicUrl });
  await stack.app.listen({ port, host: '127.0.0.1' });
  return stack;
}
