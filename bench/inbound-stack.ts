/**
 * The whole sync on real parts for bench/inbound.ts: a fresh database, Redis under a prefix of its
 * own, the HTTP server listening (the sandboxes deliver webhooks to it), the BullMQ workers, and
 * accounts connected to in-process HubSpot and Pipedrive sandboxes.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { buildServer } from '../src/api/server.ts';
import { createConnection, type SetupDeps } from '../src/orchestration/connection-setup.ts';
import { closeQueues, createQueues, enqueueFlush } from '../src/jobs/queues.ts';
import { startWorkers, type Workers } from '../src/jobs/worker.ts';
import { createAccount } from '../src/model/accounts/accounts.ts';
import { connectDatabase } from '../src/model/store/db.ts';
import { dropDatabase, migrateDatabase } from '../src/model/store/migrate.ts';
import { connectionsDueForReconcile } from '../src/model/connections/reconcile-state.ts';
import { reconcileIntervalMs } from '../src/sync/settings.ts';
import type { HubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import type { PipedriveSandbox } from '../src/sandbox/pipedrive/index.ts';

const HUBSPOT_SUBSCRIPTIONS = [['deal.creation'], ['deal.deletion'], ['deal.restore'], ['deal.propertyChange', 'amount'], ['deal.propertyChange', 'dealname'], ['deal.propertyChange', 'dealstage']];

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

export async function startStack() {
  const server = new URL(process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/crm_sync');
  const url = new URL(server);
  url.pathname = `/crm_sync_bench_${randomBytes(4).toString('hex')}`;
  await migrateDatabase(url.toString());
  const handle = connectDatabase(url.toString(), { max: 20 });
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const deps: SetupDeps = { db: handle.db, redis, prefix: `bench-${randomBytes(4).toString('hex')}`, keyring: { current: randomBytes(32) }, publicUrl, crmBaseUrlHosts: ['127.0.0.1'] };
  const queues = createQueues(redis, deps.prefix);
  const app = await buildServer({ db: handle.db, logger: false, sync: { setup: deps, outbound: queues.outbound, inbound: queues.inbound, reconcile: queues.reconcile, events: queues.events } });
  await app.listen({ port, host: '127.0.0.1' });
  let workers: Workers | undefined = await startWorkers(deps, { concurrency: 4 });
  return {
    db: handle.db,
    deps,
    queues,
    publicUrl,
    count: async (query: ReturnType<typeof sql>) => Number((await handle.db.execute<{ n: number }>(query))[0]!.n),
    async stopWorkers() {
      await workers?.close();
      workers = undefined;
    },
    async close() {
      await app.close();
      await this.stopWorkers();
      await closeQueues(queues);
      for (let keys = await redis.keys(`${deps.prefix}:*`); keys.length; keys = keys.slice(1000)) await redis.del(...keys.slice(0, 1000));
      await redis.quit();
      await handle.close();
      await dropDatabase(url.toString());
    },
  };
}

/** The HubSpot app's target URL and deal subscriptions, set the real way with the developer key. */
async function subscribeHubSpot(hubspot: HubSpotSandbox, targetUrl: string) {
  const headers = { 'content-type': 'application/json' };
  const app = `${hubspot.baseUrl}/webhooks/v3/${hubspot.appId}`;
  await fetch(`${app}/settings?hapikey=${hubspot.developerApiKey}`, { method: 'PUT', headers, body: JSON.stringify({ targetUrl }) });
  for (const [eventType, propertyName] of HUBSPOT_SUBSCRIPTIONS) {
    await fetch(`${app}/subscriptions?hapikey=${hubspot.developerApiKey}`, { method: 'POST', headers, body: JSON.stringify({ eventType, propertyName, active: true }) });
  }
}

export interface Limits {
  hubspot: { perWindow: number; daily: number };
  pipedrive: { perWindow: number; daily: number };
}

/**
 * Reconciliation runs once when a connection is new (the sweeper finds it due), then not again
 * during the bench: its searches would land in the figures of whatever is measured at that time.
 */
const RECONCILE_EVERY_SECONDS = 86_400;

/** An account with `opportunities` opportunities, connected to both sandboxes; their export is queued. */
export async function connectAccount(stack: Stack, name: string, hubspot: HubSpotSandbox, pipedrive: PipedriveSandbox, opportunities: number, limits: Limits) {
  const { accountId } = await createAccount(stack.db, { name });
  await stack.db.execute(sql`
    INSERT INTO opportunities (account_id, title, amount, currency)
    SELECT ${accountId}, ${name} || ' ' || g, g::numeric, 'EUR' FROM generate_series(1, ${opportunities}) g`);
  const hs = await createConnection(stack.deps, accountId, {
    provider: 'hubspot',
    credentials: { accessToken: hubspot.token, clientSecret: hubspot.clientSecret },
    baseUrl: hubspot.baseUrl,
    settings: { limits: limits.hubspot, reconcileIntervalSeconds: RECONCILE_EVERY_SECONDS },
  });
  await subscribeHubSpot(hubspot, hs.webhook.url);
  const pd = await createConnection(stack.deps, accountId, { provider: 'pipedrive', credentials: { apiToken: pipedrive.token }, baseUrl: pipedrive.baseUrl, settings: { limits: limits.pipedrive, reconcileIntervalSeconds: RECONCILE_EVERY_SECONDS } });
  for (const id of [hs.id, pd.id]) await enqueueFlush(stack.queues.outbound, id);
  return { accountId, hubspotId: hs.id, pipedriveId: pd.id };
}
export type Account = Awaited<ReturnType<typeof connectAccount>>;

/** Resolves once the sweeper has run the first reconciliation of the account's connections (false after `timeoutMs`). */
export async function reconciledOnce(stack: Stack, account: Account, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const due = await connectionsDueForReconcile(stack.db, reconcileIntervalMs);
    if (!due.includes(account.hubspotId) && !due.includes(account.pipedriveId)) return true;
    await sleep(200);
  }
  return false;
}

/** Pairs of remote deal ids (HubSpot, Pipedrive) of the account's opportunities, once both links exist. */
export async function linkedDeals(stack: Stack, account: Account) {
  const rows = await stack.db.execute<{ hubspot: string; pipedrive: string }>(sql`
    SELECT h.remote_id AS hubspot, p.remote_id AS pipedrive
      FROM remote_links h JOIN remote_links p ON p.opportunity_id = h.opportunity_id
     WHERE h.connection_id = ${account.hubspotId} AND p.connection_id = ${account.pipedriveId}
     ORDER BY h.remote_id`);
  return [...rows];
}
