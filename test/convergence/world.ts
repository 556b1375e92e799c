import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { buildServer } from '../../src/api/server.ts';
import { closeQueues, createQueues, INBOUND_QUEUE, OUTBOUND_QUEUE, RECONCILE_QUEUE, type Queues } from '../../src/jobs/queues.ts';
import { newAccount, type Client, type TestApi } from '../support/api.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort, SANDBOX_HOSTS, SANDBOX_HOSTS_ENV } from '../support/sync.ts';
import { spawnReaped } from '../support/children.ts';

/**
 * The machinery every seed shares: one database, a Redis server of our own (the workers' queue
 * prefix is fixed, and a killed worker's jobs are handed back by touching its keys), the API
 * listening on a real port for the sandboxes' webhooks, and `crm-sync work` as a child process that
 * the scenario can SIGKILL and start again.
 */

const cli = new URL('../../src/cli.ts', import.meta.url).pathname;
/** The prefix `crm-sync work` uses for its queues (src/cli.ts). */
export const PREFIX = 'crm-sync';
/** The queues whose jobs are sync work in flight; maintenance (the sweeper's schedule) is not. */
const WORK_QUEUES = [INBOUND_QUEUE, OUTBOUND_QUEUE, RECONCILE_QUEUE];

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(check: () => Promise<T | undefined | false>, what: string, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await sleep(50);
  }
}

/**
 * A TCP gate in front of Redis: connections wait, unanswered, until it opens; then it pipes them
 * through. A standby worker behind a closed gate has loaded its code and sits at its first Redis
 * command, so "restart the killed worker" costs the chosen downtime rather than Node's start-up
 * (3-12 s on a loaded 2-core machine). The process that takes over is still a new one.
 */
class RedisGate {
  private open = false;
  private held: Socket[] = [];
  private readonly server: Server;
  private readonly upstreamPort: number;
  readonly ready: Promise<number>;

  constructor(upstreamPort: number) {
    this.upstreamPort = upstreamPort;
    this.server = createServer((client) => {
      client.on('error', () => {});
      if (this.open) this.pipe(client);
      else {
        client.pause();
        this.held.push(client);
      }
    });
    this.server.listen(0, '127.0.0.1');
    this.ready = once(this.server, 'listening').then(() => (this.server.address() as { port: number }).port);
  }

  private pipe(client: Socket) {
    const upstream = connect(this.upstreamPort, '127.0.0.1');
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
    client.resume();
  }

  openGate() {
    this.open = true;
    for (const client of this.held.splice(0)) if (!client.destroyed) this.pipe(client);
  }

  close() {
    this.server.close();
    for (const client of this.held.splice(0)) client.destroy();
  }
}

/** One `crm-sync work` child process behind its own Redis gate. */
class WorkerChild {
  readonly child: ChildProcess;
  readonly started: Promise<void>;
  private readonly gate: RedisGate;
  stderr: string[] = [];
  running = false;

  private constructor(child: ChildProcess, gate: RedisGate) {
    this.child = child;
    this.gate = gate;
    this.started = new Promise<void>((resolve, reject) => {
      let buffered = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered = (buffered + chunk.toString()).slice(-4096);
        if (!this.running && buffered.includes('"workers started"')) {
          this.running = true;
          resolve();
        }
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        this.stderr = [...this.stderr, ...chunk.toString().split('\n').filter(Boolean)].slice(-20);
      });
      child.once('exit', (code, signal) => {
        this.running = false;
        this.gate.close();
        reject(new Error(`crm-sync work exited (${code ?? signal}): ${this.stderr.join('\n')}`));
      });
    });
    this.started.catch(() => {});
  }

  /** Spawned behind a closed gate: it loads, then waits for Redis. */
  static async standby(env: NodeJS.ProcessEnv, redisPort: number): Promise<WorkerChild> {
    const gate = new RedisGate(redisPort);
    const port = await gate.ready;
    const child = spawnReaped(process.execPath, [cli, 'work', '--no-migrate'], { env: { ...env, REDIS_URL: `redis://127.0.0.1:${port}` }, stdio: ['ignore', 'pipe', 'pipe'] });
    return new WorkerChild(child, gate);
  }

  start(): Promise<void> {
    this.gate.openGate();
    return this.started;
  }

  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async signal(signal: 'SIGKILL' | 'SIGTERM') {
    if (!this.alive) return;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** The sync's worker: one `crm-sync work` process at a time, and a warm standby to restart it with. */
class WorkerProcess {
  private current: WorkerChild | undefined;
  private standby: Promise<WorkerChild> | undefined;
  private starting: Promise<void> | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly redisPort: number;

  constructor(env: NodeJS.ProcessEnv, redisPort: number) {
    this.env = env;
    this.redisPort = redisPort;
  }

  get up(): boolean {
    return this.current !== undefined && this.current.alive && this.current.running;
  }

  /**
   * Warms a standby if there is none. Done between seeds: a Node start-up takes a core for
   * seconds, which would slow the very recovery a scenario is watching.
   */
  warm() {
    this.standby ??= WorkerChild.standby(this.env, this.redisPort);
  }

  /** Starts a new worker process: the warm standby, if there is one. */
  start(): Promise<void> {
    const next = this.standby ?? WorkerChild.standby(this.env, this.redisPort);
    this.standby = undefined;
    this.starting = next.then((child) => {
      this.current = child;
      return child.start();
    });
    return this.starting;
  }

  whenReady(): Promise<void> {
    return this.starting ?? Promise.resolve();
  }

  async kill(): Promise<void> {
    await this.current?.signal('SIGKILL');
  }

  /** Stops for good (SIGTERM: it drains, as a deploy would); the standby never worked. */
  async stop(): Promise<void> {
    await this.current?.signal('SIGTERM');
    const standby = await this.standby;
    await standby?.signal('SIGKILL');
    this.standby = undefined;
  }
}

export interface World {
  database: TestDatabase;
  redis: Redis;
  app: FastifyInstance;
  queues: Queues;
  publicUrl: string;
  keyring: { current: Buffer };
  worker: WorkerProcess;
  newClient(name: string): Promise<Client>;
  /** What is still queued (waiting, active, delayed) on the sync queues, e.g. "inbound: 2 delayed"; empty when nothing. */
  queuedWork(): Promise<string>;
  /** SIGKILL the worker and hand its jobs in flight back to the queue, as BullMQ's stall check would. */
  killWorker(): Promise<number>;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const redisPort = await freePort();
  const redisServer = spawnReaped('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {}); // refused until redis-server is up; the ping below waits for it
  await until(async () => (await redis.ping().catch(() => '')) === 'PONG', 'the Redis server answers', 10_000);

  const database = await createTestDatabase();
  const keyring = { current: randomBytes(32) };
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const deps = { db: database.db, redis, prefix: PREFIX, keyring, publicUrl, crmBaseUrlHosts: SANDBOX_HOSTS };
  const queues = createQueues(redis, PREFIX);
  const app = await buildServer({ db: database.db, logger: false, sync: { setup: deps, outbound: queues.outbound, inbound: queues.inbound } });
  await app.listen({ port, host: '127.0.0.1' });

  const worker = new WorkerProcess(
    {
      ...process.env,
      DATABASE_URL: database.url,
      ENCRYPTION_KEY: keyring.current.toString('hex'),
      ...SANDBOX_HOSTS_ENV,
      LOG_LEVEL: 'info',
      // A killed worker's leased outbox rows come back after 2 s; the sweeper looks every second.
      OUTBOUND_LEASE_SECONDS: '2',
      SWEEP_SECONDS: '1',
    },
    redisPort,
  );
  await worker.start();
  worker.warm();

  // BullMQ hands a dead worker's jobs back once their lock expires (30 s) and a stall check sees it:
  // these checkers, run often, do it at once after `killWorker` has expired the locks.
  const janitorConnection = redis.duplicate({ maxRetriesPerRequest: null });
  const janitors = WORK_QUEUES.map((name) => new Worker(name, undefined, { connection: janitorConnection, prefix: PREFIX, autorun: false, stalledInterval: 250 }));
  for (const janitor of janitors) void janitor.startStalledCheckTimer();

  const workQueues = [queues.inbound, queues.outbound, queues.reconcile];
  return {
    database,
    redis,
    app,
    queues,
    publicUrl,
    keyring,
    worker,
    newClient: (name) => newAccount({ database, app, close: async () => {} } as TestApi, name),
    async queuedWork() {
      const busy: string[] = [];
      for (const queue of workQueues) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
        const states = Object.entries(counts).filter(([, n]) => n > 0);
        if (states.length) busy.push(`${queue.name}: ${states.map(([state, n]) => `${n} ${state}`).join(', ')}`);
      }
      return busy.join('; ');
    },
    async killWorker() {
      await worker.kill();
      // Every job still active was the dead worker's. What the stall check would find 30-60 s from
      // now, it finds at once: their locks gone, marked as stalled, the check not throttled.
      let orphans = 0;
      for (const name of WORK_QUEUES) {
        const key = (suffix: string) => `${PREFIX}:${name}:${suffix}`;
        const active = await redis.lrange(key('active'), 0, -1);
        if (active.length === 0) continue;
        for (const id of active) await redis.del(key(`${id}:lock`));
        await redis.sadd(key('stalled'), ...active);
        await redis.del(key('stalled-check'));
        orphans += active.length;
        await until(async () => (await redis.lrange(key('active'), 0, -1)).every((id) => !active.includes(id)), `the ${name} jobs of the killed worker are requeued`, 5000);
      }
      return orphans;
    },
    async close() {
      await worker.stop();
      await Promise.all(janitors.map((j) => j.close()));
      await janitorConnection.quit();
      await app.close();
      await closeQueues(queues);
      await redis.quit();
      redisServer.kill('SIGKILL');
      await database.drop();
    },
  };
}
