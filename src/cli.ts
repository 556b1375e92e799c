#!/usr/bin/env node
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { buildServer } from './api/server.ts';
import { Redis } from 'ioredis';
import { config, ConfigError, keyring, oauthApps, publicUrl } from './config.ts';
import { runDemo } from './demo/index.ts';
import { notifyAccount } from './jobs/notify.ts';
import { closeQueues, createQueues } from './jobs/queues.ts';
import { backfillConnection } from './orchestration/reconcile.ts';
import { startWorkers } from './jobs/worker.ts';
import { createLogger } from './log.ts';
import { createAccount, createApiKey, revokeApiKey } from './model/accounts/accounts.ts';
import { connectDatabase } from './model/store/db.ts';
import { DomainError } from './model/store/errors.ts';
import { currency } from './model/store/fields.ts';
import { migrateDatabase } from './model/store/migrate.ts';
import { progressBar } from './progress.ts';
import { statusReport, statusTable } from './status.ts';
import { startHubSpotSandbox } from './sandbox/hubspot/index.ts';
import { startPipedriveSandbox } from './sandbox/pipedrive/index.ts';

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
  keys create --account ACCOUNT_ID create another API key for an account
  keys revoke KEY_ID               revoke an API key
  backfill CONNECTION_ID           import every deal the connection's CRM has, with a progress bar
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

async function withDatabase<T>(work: (db: ReturnType<typeof connectDatabase>['db']) => Promise<T>): Promise<T> {
  const handle = connectDatabase(config().DATABASE_URL, { max: 2 });
  try {
    return await work(handle.db);
  } finally {
    await handle.close();
  }
}

/** Queue keys in Redis start with this; several installs can share one Redis with different prefixes. */
const QUEUE_PREFIX = 'crm-sync';

function services() {
  const cfg = config();
  const handle = connectDatabase(cfg.DATABASE_URL);
  const redis = new Redis(cfg.REDIS_URL, { maxRetriesPerRequest: null });
  const deps = {
    db: handle.db,
    redis,
    prefix: QUEUE_PREFIX,
    keyring: cfg.ENCRYPTION_KEY ? keyring(cfg) : undefined,
    publicUrl: publicUrl(cfg),
    hubspotClientSecret: cfg.HUBSPOT_CLIENT_SECRET,
    leaseMs: cfg.OUTBOUND_LEASE_SECONDS * 1000,
    oauthApps: oauthApps(cfg),
  };
  return { cfg, deps, close: async () => { await redis.quit(); await handle.close(); } };
}

/** serve, work, or both (start): migrate unless --no-migrate, run until SIGTERM, then drain and exit 0. */
async function run(args: string[], roles: { api: boolean; workers: boolean }) {
  const { values } = parse(args, { 'no-migrate': { type: 'boolean' } });
  const { cfg, deps, close } = services();
  if (!values['no-migrate']) await migrateDatabase(cfg.DATABASE_URL);
  const logger = createLogger(cfg.LOG_LEVEL);
  if (!deps.keyring) logger.warn('ENCRYPTION_KEY is not set: CRM connections cannot be created or used');
  const queues = createQueues(deps.redis, deps.prefix);
  const sync = { setup: deps, outbound: queues.outbound, inbound: queues.inbound, reconcile: queues.reconcile, events: queues.events };
  const app = roles.api ? await buildServer({ db: deps.db, logger, sync, admin: { token: cfg.ADMIN_TOKEN, queues: Object.values(queues) } }) : undefined;
  if (app && !cfg.ADMIN_TOKEN) logger.warn('ADMIN_TOKEN is not set: /admin and /metrics answer 503');
  const workers = roles.workers ? await startWorkers(deps, { sweepEveryMs: cfg.SWEEP_SECONDS * 1000 }) : undefined;
  const stop = async () => {
    // Stop taking requests and jobs; active jobs finish (or return to the queue) before we exit.
    await app?.close();
    await workers?.close();
    await closeQueues(queues);
    await close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (app) {
    await app.listen({ host: cfg.HOST, port: cfg.PORT });
    logger.info(`API docs at http://${cfg.HOST}:${cfg.PORT}/docs`);
  }
  if (workers) logger.info('workers started');
}

async function accounts(args: string[]) {
  const { values, positionals } = parse(args, { name: { type: 'string' }, currency: { type: 'string' } });
  if (positionals[0] !== 'create') throw new UsageError('expected "accounts create"');
  const name = required(values.name, '--name');
  const parsed = values.currency === undefined ? undefined : currency.safeParse(values.currency);
  if (parsed && !parsed.success) throw new UsageError(`--currency ${parsed.error.issues[0]!.message}`);
  const created = await withDatabase((db) => createAccount(db, { name, defaultCurrency: parsed?.data }));
  console.log(JSON.stringify(created));
}

async function keys(args: string[]) {
  const { values, positionals } = parse(args, { account: { type: 'string' } });
  const [action, keyId] = positionals;
  if (action === 'create') {
    const account = z.uuid().safeParse(required(values.account, '--account'));
    if (!account.success) throw new UsageError('--account must be an account id (a UUID)');
    console.log(JSON.stringify(await withDatabase((db) => createApiKey(db, account.data))));
  } else if (action === 'revoke') {
    const key = z.uuid().safeParse(keyId);
    if (!key.success) throw new UsageError('keys revoke needs a KEY_ID (a UUID)');
    await withDatabase((db) => revokeApiKey(db, key.data));
    console.log(JSON.stringify({ revoked: key.data }));
  } else {
    throw new UsageError('expected "keys create" or "keys revoke"');
  }
}

async function demo(args: string[]) {
  const { values } = parse(args, { exit: { type: 'boolean' }, port: { type: 'string' }, seed: { type: 'string' } });
  const seed = integerFlag(values.seed, '--seed', 2 ** 32 - 1) ?? 1;
  await runDemo(config(), { exit: Boolean(values.exit), port: integerFlag(values.port, '--port', 65535), seed });
  // Sandboxes, pools and sockets are closed; leave no timer to keep the process up.
  process.exit(0);
}

/** Runs in this process, so the bar shows live; the deals it creates go out through the workers. */
async function backfill(args: string[]) {
  const { positionals } = parse(args, {});
  const connectionId = z.uuid().safeParse(positionals[0]);
  if (!connectionId.success) throw new UsageError('backfill needs a CONNECTION_ID (a UUID)');
  const { deps, close } = services();
  const queues = createQueues(deps.redis, deps.prefix);
  const bar = progressBar('deals');
  try {
    const outcome = await backfillConnection(deps, connectionId.data, {
      notify: (accountId) => notifyAccount(deps.db, queues.outbound, accountId, queues.events),
      onProgress: ({ seen, total }) => bar.update(seen, total),
    });
    bar.finish();
    if (outcome.skipped) throw new DomainError(404, 'Not Found', `connection ${connectionId.data} does not exist or is not active`);
    console.log(JSON.stringify({ connectionId: connectionId.data, ...outcome }));
  } finally {
    await closeQueues(queues);
    await close();
  }
}

/** Reads Postgres and Redis only, so it works while the service is down; Redis must answer, not be waited for. */
async function status(args: string[]) {
  const { values } = parse(args, { json: { type: 'boolean' }, account: { type: 'string' } });
  const account = values.account === undefined ? undefined : z.uuid().safeParse(values.account);
  if (account && !account.success) throw new UsageError('--account must be an account id (a UUID)');
  const cfg = config();
  const redis = new Redis(cfg.REDIS_URL, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {}); // reported below, once
  await redis.connect().catch((error: Error) => {
    throw new ConfigError(`Redis at REDIS_URL is unreachable: ${error.message}`);
  });
  const queues = createQueues(redis, QUEUE_PREFIX);
  try {
    const report = await withDatabase((db) => statusReport({ db, redis, prefix: QUEUE_PREFIX }, queues.inbound, account?.data)).catch((error: Error) => {
      // Drizzle wraps the driver's error in one that quotes the whole query: the cause is what helps.
      throw new ConfigError(`cannot read the database at DATABASE_URL: ${(error.cause as Error | undefined)?.message ?? error.message}`);
    });
    console.log(values.json ? JSON.stringify(report, null, 2) : statusTable(report));
  } finally {
    await closeQueues(queues);
    await redis.quit();
  }
}

function integerFlag(value: unknown, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > max) throw new UsageError(`${flag} must be a whole number from 0 to ${max}`);
  return number;
}

async function sandbox(args: string[]) {
  const { values } = parse(args, {
    'hubspot-port': { type: 'string' },
    'pipedrive-port': { type: 'string' },
    seed: { type: 'string' },
  });
  const seed = integerFlag(values.seed, '--seed', 2 ** 32 - 1);
  const host = config().HOST;
  const hubspot = await startHubSpotSandbox({ port: integerFlag(values['hubspot-port'], '--hubspot-port', 65535) ?? 0, host, seed });
  const pipedrive = await startPipedriveSandbox({ port: integerFlag(values['pipedrive-port'], '--pipedrive-port', 65535) ?? 0, host, seed });
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

const commands: Record<string, (args: string[]) => Promise<void>> = {
  migrate: async () => {
    await migrateDatabase(config().DATABASE_URL);
    console.log('migrations applied');
  },
  serve: (args) => run(args, { api: true, workers: false }),
  work: (args) => run(args, { api: false, workers: true }),
  start: (args) => run(args, { api: true, workers: true }),
  sandbox,
  accounts,
  keys,
  backfill,
  demo,
  status,
};

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    console.log(usage);
    return;
  }
  const run = commands[command];
  if (!run) throw new UsageError(`unknown command "${command}"`);
  config(); // a bad environment stops every command before it does anything
  await run(rest);
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
