import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueFlush, OUTBOUND_QUEUE } from '../src/jobs/queues.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { testRedis } from './support/redis.ts';
import { eventually } from './support/sync.ts';
import { spawnReaped } from './support/children.ts';

const run = promisify(execFile);
const cli = new URL('../src/cli.ts', import.meta.url).pathname;

let database: TestDatabase;
let shared: ReturnType<typeof testRedis>;
let redis: Redis;
const tag = randomBytes(6).toString('hex');
/** Two installs on one Redis, one of them written as a Redis Cluster hash tag; a third prefix no install uses. */
const prefixes = { a: `test-${tag}-a`, b: `{test-${tag}-b}`, idle: `test-${tag}-idle` };
const children: ChildProcess[] = [];
const queues: Queue[] = [];

/** `crm-sync work` of an install with its own QUEUE_PREFIX, on the shared Redis. */
async function install(prefix: string) {
  const child = spawnReaped(process.execPath, [cli, 'work', '--no-migrate'], {
    env: { ...process.env, DATABASE_URL: database.url, REDIS_URL: shared.url, QUEUE_PREFIX: prefix, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`work exited: ${output}`);
    return output.includes('workers started');
  }, `crm-sync work with QUEUE_PREFIX=${prefix} starts`, 60_000);
}

function outbound(prefix: string) {
  const queue = new Queue(OUTBOUND_QUEUE, { connection: redis, prefix });
  queues.push(queue);
  return queue;
}

async function keysUnder(prefix: string): Promise<string[]> {
  // SCAN's MATCH is a glob: the braces of a hash tag are literal there, but [ ] * ? \ would not be.
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

beforeAll(async () => {
  database = await createTestDatabase();
  shared = testRedis();
  redis = shared.connect();
  await Promise.all([install(prefixes.a), install(prefixes.b)]);
});

afterAll(async () => {
  for (const child of children) {
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
  }
  for (const queue of queues) await queue.obliterate({ force: true }).catch(() => {});
  await Promise.all(queues.map((queue) => queue.close()));
  for (const prefix of Object.values(prefixes)) {
    const keys = await keysUnder(prefix);
    if (keys.length) await redis.del(...keys);
  }
  await shared.close();
  await database.drop();
});

describe('QUEUE_PREFIX', () => {
  it('keeps two installs on one Redis apart: each works only the jobs under its own prefix', async () => {
    const connectionId = randomUUID();
    const [a, b, idle] = [outbound(prefixes.a), outbound(prefixes.b), outbound(prefixes.idle)];
    for (const queue of [a, b, idle]) await enqueueFlush(queue, connectionId);
    // Each install's worker takes its own job (a flush of a connection that does not exist completes at once)…
    for (const queue of [a, b]) await eventually(async () => (await queue.getJobCounts('completed')).completed === 1, `the job under ${queue.opts.prefix} is worked`, 30_000);
    // …and nobody takes the one under the prefix no install uses.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await idle.getJobCounts('wait', 'active', 'completed')).toEqual({ wait: 1, active: 0, completed: 0 });
    // Each install wrote its own sweep schedule, under its own prefix only.
    for (const prefix of [prefixes.a, prefixes.b]) {
      const maintenance = new Queue('maintenance', { connection: redis, prefix });
      queues.push(maintenance);
      expect((await maintenance.getJobSchedulers()).map((s) => s.key)).toEqual(['sweep']);
    }
    const keys = { a: await keysUnder(prefixes.a), b: await keysUnder(prefixes.b), idle: await keysUnder(prefixes.idle) };
    expect(keys.a.some((key) => key.startsWith(`${prefixes.a}:maintenance:`))).toBe(true);
    expect(keys.b.some((key) => key.startsWith(`${prefixes.b}:maintenance:`))).toBe(true);
    expect(keys.idle.some((key) => key.includes(':maintenance:'))).toBe(false);
  });

  it('refuses at start a prefix Redis Cluster cannot use, naming QUEUE_PREFIX', async () => {
    for (const bad of ['{crm-sync', '{a}{b}']) {
      const outcome = await run(process.execPath, [cli, 'start', '--no-migrate'], { env: { ...process.env, DATABASE_URL: database.url, REDIS_URL: shared.url, QUEUE_PREFIX: bad } }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => error,
      );
      expect(outcome.code, bad).toBe(1);
      expect(outcome.stderr.trim(), bad).toMatch(/^crm-sync: invalid environment: QUEUE_PREFIX must hold at most one non-empty, balanced \{hash tag\}/);
    }
  });
});
