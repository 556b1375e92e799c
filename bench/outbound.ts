/**
 * Outbound throughput against the sandboxes, with fixed inputs:
 * - 10,000 new opportunities to a HubSpot account limited to 190 requests / 10 s: time until all
 *   are in HubSpot, and that rate as a share of the ceiling the limit allows (1,900 deals/s in
 *   batches of 100);
 * - Pipedrive on a Growth plan: tokens spent per created and per changed deal.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { sql } from 'drizzle-orm';
import { createConnection } from '../src/orchestration/connection-setup.ts';
import { startWorkers } from '../src/jobs/worker.ts';
import { createAccount } from '../src/model/accounts/accounts.ts';
import { connectDatabase } from '../src/model/store/db.ts';
import { dropDatabase, migrateDatabase } from '../src/model/store/migrate.ts';
import { markAllDirty } from '../src/model/sync-state/outbox.ts';
import { startHubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import { startPipedriveSandbox } from '../src/sandbox/pipedrive/index.ts';

const OPPORTUNITIES = 10_000;
const PIPEDRIVE_DEALS = 200;
const server = new URL(process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/crm_sync');
const url = new URL(server);
url.pathname = `/crm_sync_bench_${randomBytes(4).toString('hex')}`;

await migrateDatabase(url.toString());
const handle = connectDatabase(url.toString(), { max: 20 });
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const deps = { db: handle.db, redis, prefix: `bench-${randomBytes(4).toString('hex')}`, keyring: { current: randomBytes(32) }, publicUrl: 'http://127.0.0.1:9', crmBaseUrlHosts: ['127.0.0.1'] };
const hubspot = await startHubSpotSandbox({ limits: { tenSecondLimit: 190 } });
const pipedrive = await startPipedriveSandbox({ plan: { multiplier: 2, seats: 10 }, limits: { burstLimit: 80 } });

const outboxSize = async () => Number((await handle.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM outbox`))[0]!.n);
async function drained() {
  while ((await outboxSize()) > 0) await new Promise((r) => setTimeout(r, 50));
}

async function insertOpportunities(accountId: string, count: number, prefix: string) {
  await handle.db.execute(sql`
    INSERT INTO opportunities (account_id, title, amount, currency)
    SELECT ${accountId}, ${prefix} || g, (g % 1000)::numeric + 0.5, 'EUR' FROM generate_series(1, ${count}) g`);
}

try {
  console.log(`node ${process.version}`);
  // HubSpot: the opportunities exist first; the connection then exports them all.
  const a = await createAccount(handle.db, { name: 'bench hubspot' });
  await insertOpportunities(a.accountId, OPPORTUNITIES, 'HubSpot bench ');
  const connection = await createConnection(deps, a.accountId, {
    provider: 'hubspot',
    credentials: { accessToken: hubspot.token, clientSecret: hubspot.clientSecret },
    baseUrl: hubspot.baseUrl,
    settings: { limits: { perWindow: 190 } },
  });
  const workers = await startWorkers(deps, { concurrency: 4, sweepEveryMs: 100 });
  const started = performance.now();
  await drained();
  const seconds = (performance.now() - started) / 1000;
  const perSecond = OPPORTUNITIES / seconds;
  console.log(`HubSpot at 190 req/10 s: ${OPPORTUNITIES} opportunities in ${seconds.toFixed(2)} s = ${Math.round(perSecond)} deals/s, ${((perSecond / 1900) * 100).toFixed(1)}% of the 1,900 deals/s ceiling (connection ${connection.id.slice(0, 8)})`);

  // Pipedrive, Growth plan: tokens per created deal, then per changed deal.
  const b = await createAccount(handle.db, { name: 'bench pipedrive' });
  await insertOpportunities(b.accountId, PIPEDRIVE_DEALS, 'Pipedrive bench ');
  const spent = async () => (await (await fetch(`${pipedrive.baseUrl}/_sandbox/state`)).json() as { tokensSpentToday: number }).tokensSpentToday;
  const pd = await createConnection(deps, b.accountId, { provider: 'pipedrive', credentials: { apiToken: pipedrive.token }, baseUrl: pipedrive.baseUrl, settings: { limits: { perWindow: 80 } } });
  const beforeCreate = await spent();
  await drained();
  const afterCreate = await spent();
  await handle.db.execute(sql`UPDATE opportunities SET amount = amount + 1 WHERE account_id = ${b.accountId}`);
  await markAllDirty(handle.db, b.accountId, pd.id);
  await drained();
  const afterUpdate = await spent();
  console.log(`Pipedrive (Growth): ${((afterCreate - beforeCreate) / PIPEDRIVE_DEALS).toFixed(1)} tokens per created deal, ${((afterUpdate - afterCreate) / PIPEDRIVE_DEALS).toFixed(1)} tokens per changed deal`);
  await workers.close();
} finally {
  await Promise.all([hubspot.close(), pipedrive.close()]);
  const keys = await redis.keys(`${deps.prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  await handle.close();
  await dropDatabase(url.toString());
}
