#!/usr/bin/env node
// Only light modules are imported here (zod, the config, the error classes): each command imports the
// service modules it needs when it runs, so help and usage errors answer at once, with no database or Redis.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { appSecrets, config, ConfigError, developerApp, keyring, oauthApps, publicUrl } from './config.ts';
import type { Database } from './model/store/db.ts';
import { DomainError } from './model/store/errors.ts';
import { currency } from './model/store/fields.ts';

const usage = `Usage: crm-sync <command>

Commands:
  demo [--exit] [--port N] [--seed N]
                                   the whole sync on this machine against the sandboxes, with a
                                   story printed as it happens (--exit: stop after the story)
  migrate                          create the database if missing and apply migrations
  serve [--no-migrate]             start the HTTP API (migrates first unless --no-migrate)
  work [--no-migrate]              the sync workers (run as many as you like)
  start [--no-migrate]             the HTTP API and the workers in one process
  sandbox [--hubspot-port N] [--pipedrive-port N] [--seed N]
                                   local HubSpot and Pipedrive API sandboxes; one JSON line each
  accounts create --name NAME [--currency EUR]
                                   create an account; prints {"accountId","keyId","apiKey"}
  accounts list                    every account, one JSON line each:
                                   {"accountId","name","defaultCurrency","createdAt"}
  keys create --account ACCOUNT_ID create another API key for an account
  keys list ACCOUNT_ID             an account's API keys, one JSON line each (never the key):
                                   {"keyId","prefix","createdAt","revokedAt"}
  keys revoke KEY_ID               revoke an API key
  backfill CONNECTION_ID           import every deal the connection's CRM has, with a progress bar
  webhook-subscriptions CONNECTION_ID [--register]
                                   the HubSpot webhook subscriptions the connection needs, one a line;
                                   --register: point the app at us and subscribe what it lacks
                                   (HUBSPOT_APP_ID, HUBSPOT_DEVELOPER_API_KEY)
  status [--account ACCOUNT_ID] [--json]
                                   every connection's health: queues, lag, budget, reconciliation, errors

Configuration comes from the environment: see README.md.`;

class UsageError extends Error {}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function required(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`missing ${flag}`);
  return value;
}

function integerFlag(value: unknown, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > max) throw new UsageError(`${flag} must be a whole number from 0 to ${max}`);
  return number;
}

function uuid(value: unknown, message: string): string {
  const parsed = z.uuid().safeParse(value);
  if (!parsed.success) throw new UsageError(message);
  return parsed.data;
}

/**
 * A command in two steps. `check` reads the arguments and throws a UsageError; it loads nothing, so
 * a mistyped flag is answered at once and needs no database. `run` imports what the command needs
 * (the server, the workers, the SDKs...) and does the work.
 */
interface Command<Options> {
  check(args: string[]): Options;
  run(options: Options): Promise<void>;
}

/** Ties a command's run to what its check returns. */
function command<Options>(definition: Command<Options>): Command<Options> {
  return definition;
}

async function withDatabase<T>(work: (db: Database) => Promise<T>): Promise<T> {
  const { connectDatabase } = await import('./model/store/db.ts');
  const handle = connectDatabase(config().DATABASE_URL, { max: 2 });
  try {
    return await work(handle.db);
  } finally {
    await handle.close();
  }
}

/**
 * The store and Redis, and what the use cases need of them. Redis keys (queues, budgets, locks)
 * start with QUEUE_PREFIX, so several installs can share one Redis. The connection fails fast
 * while Redis is away (see src/jobs/redis.ts) and logs each reconnect attempt as one line.
 */
async function services(logger: import('./jobs/redis.ts').RedisLogger) {
  const [{ connectDatabase }, { connectRedis, readyWithin }] = await Promise.all([import('./model/store/db.ts'), import('./jobs/redis.ts')]);
  const cfg = config();
  const handle = connectDatabase(cfg.DATABASE_URL);
  const redis = connectRedis(cfg.REDIS_URL, { role: 'producer', logger, name: 'main' });
  await readyWithin(redis, 2000);
  const deps = {
    db: handle.db,
    redis,
    prefix: cfg.QUEUE_PREFIX,
    keyring: cfg.ENCRYPTION_KEY ? keyring(cfg) : undefined,
    publicUrl: publicUrl(cfg),
    appSecrets: appSecrets(cfg),
    leaseMs: cfg.OUTBOUND_LEASE_SECONDS * 1000,
    oauthApps: oauthApps(cfg),
    eventTargetsAllowed: cfg.EVENT_TARGET_ALLOWED,
    // Operator-only: where a connection's baseUrl may point besides the CRMs' own APIs.
    crmBaseUrlHosts: cfg.CRM_BASE_URL_HOSTS ?? [],
    // Every CRM call: a connect bound and a bound on the whole call.
    crmTimeouts: { connectMs: cfg.CRM_CONNECT_TIMEOUT_MS, requestMs: cfg.CRM_REQUEST_TIMEOUT_MS },
  };
  // quit() waits for Redis to answer, disconnect() does not: a service stopped while Redis is down still exits.
  const closeRedis = () => (redis.status === 'ready' ? redis.quit().then(() => undefined) : (redis.disconnect(), Promise.resolve()));
  return { cfg, deps, close: async () => { await closeRedis(); await handle.close(); } };
}

async function migrate() {
  const { migrateDatabase } = await import('./model/store/migrate.ts');
  await migrateDatabase(config().DATABASE_URL);
  console.log('migrations applied');
}

function serviceArgs(args: string[]) {
  const { values } = parse(args, { 'no-migrate': { type: 'boolean' } });
  return { migrate: !values['no-migrate'] };
}

/** How long each step of a shutdown may take (in-flight jobs finish well within it). */
const STOP_STEP_MS = 10_000;

/** serve, work, or both (start): migrate unless --no-migrate, run until SIGTERM, then drain and exit 0. */
async function runService(options: { migrate: boolean }, roles: { api: boolean; workers: boolean }) {
  // A worker never loads the HTTP server, nor the API the workers.
  const [{ createLogger }, { closeQueues, createQueues }, { REDIS_WAIT_MS }, { within }, api, workerPool] = await Promise.all([
    import('./log.ts'),
    import('./jobs/queues.ts'),
    import('./jobs/redis.ts'),
    import('./model/store/within.ts'),
    roles.api ? import('./api/server.ts') : undefined,
    roles.workers ? import('./jobs/worker.ts') : undefined,
  ]);
  const logger = createLogger(config().LOG_LEVEL);
  const { cfg, deps, close } = await services(logger);
  if (options.migrate) {
    const { migrateDatabase } = await import('./model/store/migrate.ts');
    await migrateDatabase(cfg.DATABASE_URL);
  }
  if (!deps.keyring) logger.warn('ENCRYPTION_KEY is not set: CRM connections cannot be created or used');
  const queues = createQueues(deps.redis, deps.prefix, logger);
  const sync = { setup: deps, outbound: queues.outbound, inbound: queues.inbound, reconcile: queues.reconcile, events: queues.events };
  const app = api ? await api.buildServer({ db: deps.db, logger, sync, admin: { token: cfg.ADMIN_TOKEN, queues: Object.values(queues), sessionHours: cfg.ADMIN_SESSION_HOURS, loginFailuresPerMinute: cfg.ADMIN_LOGIN_FAILURES_PER_MINUTE } }) : undefined;
  if (app && !cfg.ADMIN_TOKEN) logger.warn('ADMIN_TOKEN is not set: /admin and /metrics answer 503');
  // With Redis down the workers wait for it in the background: the API listens (and /readyz says why it is not ready).
  const workers = workerPool ? await workerPool.startWorkers(deps, { sweepEveryMs: cfg.SWEEP_SECONDS * 1000, logger, readyWithinMs: REDIS_WAIT_MS }) : undefined;
  const stop = async () => {
    // Stop taking requests and jobs; active jobs finish (or return to the queue) before we exit. Closing
    // BullMQ waits for Redis: while it is down each step is given STOP_STEP_MS, then left behind.
    const step = (what: string, work: () => Promise<unknown> | undefined) =>
      within(Promise.resolve(work()), STOP_STEP_MS, `${what} did not close within ${STOP_STEP_MS} ms`).catch((error: Error) => logger.warn(error.message));
    await step('the API', () => app?.close());
    await step('the workers', () => workers?.close());
    await step('the queues', () => closeQueues(queues));
    await step('the connections', close);
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (app) {
    await app.listen({ host: cfg.HOST, port: cfg.PORT });
    logger.info(`API docs at http://${cfg.HOST}:${cfg.PORT}/docs`);
  }
  // "workers started" means they reach Redis (scripts wait for this line); until then they wait for it.
  if (workers) {
    let started = false;
    void workers.ready.then(() => {
      started = true;
      logger.info('workers started');
    });
    await new Promise((resolve) => setImmediate(resolve));
    if (!started) logger.warn('workers waiting for Redis');
  }
}

type AccountsAction = { action: 'create'; name: string; defaultCurrency?: string | undefined } | { action: 'list' };

function accountsArgs(args: string[]): AccountsAction {
  const { values, positionals } = parse(args, { name: { type: 'string' }, currency: { type: 'string' } });
  if (positionals[0] === 'list') {
    if (positionals.length > 1 || values.name !== undefined || values.currency !== undefined) throw new UsageError('"accounts list" takes no arguments');
    return { action: 'list' };
  }
  if (positionals[0] !== 'create') throw new UsageError('expected "accounts create" or "accounts list"');
  const name = required(values.name, '--name');
  const parsed = values.currency === undefined ? undefined : currency.safeParse(values.currency);
  if (parsed && !parsed.success) throw new UsageError(`--currency ${parsed.error.issues[0]!.message}`);
  return { action: 'create', name, defaultCurrency: parsed?.data };
}

/** One JSON object per line: easy to read, to grep and to pipe into jq. */
const printLines = (rows: unknown[]) => rows.forEach((row) => console.log(JSON.stringify(row)));

async function accounts(options: AccountsAction) {
  const { createAccount, listAccounts } = await import('./model/accounts/accounts.ts');
  if (options.action === 'list') {
    printLines(await withDatabase(listAccounts));
    return;
  }
  const { name, defaultCurrency } = options;
  const input = defaultCurrency === undefined ? { name } : { name, defaultCurrency };
  console.log(JSON.stringify(await withDatabase((db) => createAccount(db, input))));
}

type KeysAction = { action: 'create'; accountId: string } | { action: 'list'; accountId: string } | { action: 'revoke'; keyId: string };

function keysArgs(args: string[]): KeysAction {
  const { values, positionals } = parse(args, { account: { type: 'string' } });
  const [action, id] = positionals;
  const accountId = (value: unknown) => uuid(value, '--account must be an account id (a UUID)');
  if (action === 'create') return { action, accountId: accountId(required(values.account, '--account')) };
  if (action === 'list') return { action, accountId: uuid(id ?? values.account, 'keys list needs an ACCOUNT_ID (a UUID)') };
  if (action === 'revoke') return { action, keyId: uuid(id, 'keys revoke needs a KEY_ID (a UUID)') };
  throw new UsageError('expected "keys create", "keys list" or "keys revoke"');
}

async function keys(options: KeysAction) {
  const { createApiKey, listApiKeys, revokeApiKey } = await import('./model/accounts/accounts.ts');
  if (options.action === 'create') {
    console.log(JSON.stringify(await withDatabase((db) => createApiKey(db, options.accountId))));
  } else if (options.action === 'list') {
    printLines(await withDatabase((db) => listApiKeys(db, options.accountId)));
  } else {
    const { keyId } = options;
    await withDatabase((db) => revokeApiKey(db, keyId));
    console.log(JSON.stringify({ revoked: keyId }));
  }
}

function demoArgs(args: string[]) {
  const { values } = parse(args, { exit: { type: 'boolean' }, port: { type: 'string' }, seed: { type: 'string' } });
  const seed = integerFlag(values.seed, '--seed', 2 ** 32 - 1) ?? 1;
  return { exit: Boolean(values.exit), port: integerFlag(values.port, '--port', 65535), seed };
}

async function demo(options: { exit: boolean; port?: number; seed: number }) {
  const { runDemo } = await import('./demo/index.ts');
  await runDemo(config(), options);
  // Sandboxes, pools and sockets are closed; leave no timer to keep the process up.
  process.exit(0);
}

function backfillArgs(args: string[]) {
  const { positionals } = parse(args, {});
  return { connectionId: uuid(positionals[0], 'backfill needs a CONNECTION_ID (a UUID)') };
}

/** Runs in this process, so the bar shows live; the deals it creates go out through the workers. */
async function backfill({ connectionId }: { connectionId: string }) {
  const [{ closeQueues, createQueues }, { notifyAccount }, { backfillConnection }, { progressBar }] = await Promise.all([
    import('./jobs/queues.ts'),
    import('./jobs/notify.ts'),
    import('./orchestration/reconcile.ts'),
    import('./progress.ts'),
  ]);
  const { createLogger } = await import('./log.ts');
  const { deps, close } = await services(createLogger(config().LOG_LEVEL, process.stderr));
  const queues = createQueues(deps.redis, deps.prefix);
  const bar = progressBar('deals');
  try {
    const outcome = await backfillConnection(deps, connectionId, {
      notify: (accountId) => notifyAccount(deps.db, queues.outbound, accountId, queues.events),
      onProgress: ({ seen, total }) => bar.update(seen, total),
    });
    bar.finish();
    if (outcome.skipped) throw new DomainError(404, 'Not Found', `connection ${connectionId} does not exist or is not active`);
    console.log(JSON.stringify({ connectionId, ...outcome }));
  } finally {
    await closeQueues(queues);
    await close();
  }
}

function webhookSubscriptionsArgs(args: string[]) {
  const { values, positionals } = parse(args, { register: { type: 'boolean' } });
  return { connectionId: uuid(positionals[0], 'webhook-subscriptions needs a CONNECTION_ID (a UUID)'), register: Boolean(values.register) };
}

/**
 * Lists what the connection's HubSpot app must subscribe to (`deal.creation`, `deal.propertyChange:amount`…);
 * with --register, registers it and prints what was created, already there, turned off, or not needed.
 */
async function webhookSubscriptions(options: { connectionId: string; register: boolean }) {
  const [{ connectionSubscriptions, registerConnectionSubscriptions }, { subscriptionName }] = await Promise.all([
    import('./orchestration/webhook-subscriptions.ts'),
    import('./providers/webhook-subscription-name.ts'),
  ]);
  const cfg = config();
  await withDatabase(async (db) => {
    const wanted = await connectionSubscriptions(db, options.connectionId);
    if (!options.register) return void console.log(wanted.map(subscriptionName).join('\n'));
    const outcome = await registerConnectionSubscriptions({ db, publicUrl: publicUrl(cfg), crmBaseUrlHosts: cfg.CRM_BASE_URL_HOSTS ?? [] }, options.connectionId, (provider) => developerApp(cfg, provider));
    console.log(JSON.stringify({ connectionId: options.connectionId, ...outcome }));
  });
}

function statusArgs(args: string[]) {
  const { values } = parse(args, { json: { type: 'boolean' }, account: { type: 'string' } });
  const account = values.account === undefined ? undefined : uuid(values.account, '--account must be an account id (a UUID)');
  return { json: Boolean(values.json), account };
}

/** Reads Postgres and Redis only, so it works while the service is down; Redis must answer, not be waited for. */
async function status(options: { json: boolean; account?: string }) {
  const [{ Redis }, { statusReport, statusTable }] = await Promise.all([import('ioredis'), import('./status.ts')]);
  const cfg = config();
  const redis = new Redis(cfg.REDIS_URL, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {}); // reported below, once
  await redis.connect().catch((error: Error) => {
    throw new ConfigError(`Redis at REDIS_URL is unreachable: ${error.message}`);
  });
  try {
    const report = await withDatabase((db) => statusReport({ db, redis, prefix: cfg.QUEUE_PREFIX }, options.account)).catch((error: Error) => {
      // Drizzle wraps the driver's error in one that quotes the whole query: the cause is what helps.
      throw new ConfigError(`cannot read the database at DATABASE_URL: ${(error.cause as Error | undefined)?.message ?? error.message}`);
    });
    console.log(options.json ? JSON.stringify(report, null, 2) : statusTable(report));
  } finally {
    await redis.quit();
  }
}

function sandboxArgs(args: string[]) {
  const { values } = parse(args, {
    'hubspot-port': { type: 'string' },
    'pipedrive-port': { type: 'string' },
    seed: { type: 'string' },
  });
  return {
    seed: integerFlag(values.seed, '--seed', 2 ** 32 - 1),
    hubspotPort: integerFlag(values['hubspot-port'], '--hubspot-port', 65535) ?? 0,
    pipedrivePort: integerFlag(values['pipedrive-port'], '--pipedrive-port', 65535) ?? 0,
  };
}

async function sandbox(options: { seed?: number; hubspotPort: number; pipedrivePort: number }) {
  const [{ startHubSpotSandbox }, { startPipedriveSandbox }] = await Promise.all([
    import('./sandbox/hubspot/index.ts'),
    import('./sandbox/pipedrive/index.ts'),
  ]);
  const { seed } = options;
  const host = config().HOST;
  const hubspot = await startHubSpotSandbox({ port: options.hubspotPort, host, seed });
  const pipedrive = await startPipedriveSandbox({ port: options.pipedrivePort, host, seed });
  const { baseUrl, token, appId, portalId, clientId, clientSecret, developerApiKey } = hubspot;
  console.log(JSON.stringify({ provider: 'hubspot', baseUrl, token, appId, portalId, clientId, clientSecret, developerApiKey }));
  console.log(JSON.stringify({ provider: 'pipedrive', baseUrl: pipedrive.baseUrl, token: pipedrive.token, companyId: pipedrive.companyId, clientId: pipedrive.clientId, clientSecret: pipedrive.clientSecret }));
  const stop = async () => {
    await Promise.all([hubspot.close(), pipedrive.close()]);
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

const commands: Record<string, Command<unknown>> = {
  // migrate takes no arguments and, as before, ignores any it is given.
  migrate: command({ check: () => undefined, run: migrate }),
  serve: command({ check: serviceArgs, run: (options) => runService(options, { api: true, workers: false }) }),
  work: command({ check: serviceArgs, run: (options) => runService(options, { api: false, workers: true }) }),
  start: command({ check: serviceArgs, run: (options) => runService(options, { api: true, workers: true }) }),
  sandbox: command({ check: sandboxArgs, run: sandbox }),
  accounts: command({ check: accountsArgs, run: accounts }),
  keys: command({ check: keysArgs, run: keys }),
  backfill: command({ check: backfillArgs, run: backfill }),
  demo: command({ check: demoArgs, run: demo }),
  status: command({ check: statusArgs, run: status }),
  'webhook-subscriptions': command({ check: webhookSubscriptionsArgs, run: webhookSubscriptions }),
};

async function main(argv: string[]) {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(usage);
    return;
  }
  const chosen = commands[name];
  if (!chosen) throw new UsageError(`unknown command "${name}"`);
  // A bad environment stops every command before it does anything: reported first (exit 1) even when the arguments are wrong too.
  config();
  const options = chosen.check(rest);
  await chosen.run(options);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`crm-sync: ${error.message}\n\n${usage}`);
    process.exit(2);
  }
  if (error instanceof ConfigError || error instanceof DomainError) {
    console.error(`crm-sync: ${error.message}`);
    process.exit(1);
  }
  console.error(`crm-sync: ${(error as Error).message}`);
  process.exit(1);
});
