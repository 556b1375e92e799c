import { MetricsTime, Worker } from 'bullmq';
import type { SyncDeps } from '../orchestration/deps.ts';
import { processEventsJob } from './processors/events.ts';
import { processFlush } from './processors/flush.ts';
import { processInbound } from './processors/inbound.ts';
import { processPull } from './processors/pull.ts';
import { processSweep } from './processors/sweep.ts';
import { duplicateRedis, logQueueErrors, reconnectDelayMs, type RedisLogger } from './redis.ts';
import { closeQueues, createQueues, EVENTS_QUEUE, INBOUND_QUEUE, MAINTENANCE_QUEUE, OUTBOUND_QUEUE, RECONCILE_QUEUE, SWEEP_EVERY_MS, type Queues } from './queues.ts';

export interface Workers {
  queues: Queues;
  /** Resolves once Redis has taken the sweeper's schedule: the workers are reaching Redis. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/** How long a job may wait in-process for its connection's rate budget before it is delayed and frees its slot. */
export const MAX_PACE_WAIT_MS = 2000;

/** Without a logger (tests): reconnect attempts go unsaid, other errors are printed as BullMQ would. */
const quiet: RedisLogger = { warn: () => {}, error: (object, message) => console.error(message, object) };

/**
 * The sweeper's schedule, written once Redis takes it: a service started while Redis is down
 * goes on starting (and listening) and writes it after the reconnect.
 */
function scheduleSweep(queues: Queues, everyMs: number, logger: RedisLogger, stopped: () => boolean) {
  const attempt = async (n: number): Promise<boolean> => {
    if (stopped()) return false;
    try {
      await writeSweepSchedule(queues, everyMs);
      return true;
    } catch (error) {
      if (stopped()) return false;
      logger.warn({ attempt: n, error: (error as Error).message }, 'sweep schedule not written yet: retrying');
      await new Promise((resolve) => setTimeout(resolve, reconnectDelayMs(n)).unref());
      return attempt(n + 1);
    }
  };
  return attempt(1);
}

const writeSweepSchedule = (queues: Queues, everyMs: number) => queues.maintenance.upsertJobScheduler('sweep', { every: everyMs }, { name: 'sweep' });

/**
 * Every worker puts the schedule back when Redis lost it (flushed, or restarted empty): otherwise
 * no sweep, and so no retry of what Redis lost, would run until some worker restarted. Checked
 * once per sweep interval; the sweeps themselves then find all pending work in Postgres.
 */
function keepSweepScheduled(queues: Queues, everyMs: number, logger: RedisLogger): NodeJS.Timeout {
  const check = async () => {
    if (await queues.maintenance.getJobScheduler('sweep')) return;
    await writeSweepSchedule(queues, everyMs);
    logger.warn({}, 'sweep schedule was missing from Redis (flushed or restarted empty): restored');
  };
  // A Redis that is away is the reconnect logger's to report: this just tries again next time.
  return setInterval(() => void check().catch(() => {}), everyMs).unref();
}

/**
 * The BullMQ workers of `crm-sync work`: outbound flushes, inbound deliveries, reconciliation and
 * backfill, outbound events, and the sweeper. Resolves at once when Redis is up; when it is down,
 * after `options.readyWithinMs` (the workers start taking jobs once it is back).
 */
export async function startWorkers(given: SyncDeps, options: { concurrency?: number; sweepEveryMs?: number; eventRetryBaseMs?: number; logger?: RedisLogger; readyWithinMs?: number } = {}): Promise<Workers> {
  const deps = { ...given, maxPaceWaitMs: given.maxPaceWaitMs ?? MAX_PACE_WAIT_MS };
  const logger = options.logger ?? quiet;
  const connection = duplicateRedis(deps.redis, { role: 'worker', logger, name: 'worker' });
  const queues = createQueues(deps.redis, deps.prefix, logger);
  // BullMQ's metrics keep a running count of completed and failed jobs in Redis: /metrics reads it.
  const workerOptions = { connection, prefix: deps.prefix, metrics: { maxDataPoints: MetricsTime.ONE_WEEK } };
  const outbound = new Worker(OUTBOUND_QUEUE, (job, token) => processFlush(deps, queues, job, token), { ...workerOptions, concurrency: options.concurrency ?? 4 });
  const maintenance = new Worker(MAINTENANCE_QUEUE, () => processSweep(deps, queues), workerOptions);
  const inboundWorker = new Worker(INBOUND_QUEUE, (job) => processInbound(deps, queues, job), { ...workerOptions, concurrency: options.concurrency ?? 4 });
  const reconcileWorker = new Worker(RECONCILE_QUEUE, (job, token) => processPull(deps, queues, job, token), { ...workerOptions, concurrency: 2 });
  const eventDeps = { db: deps.db, keyring: deps.keyring, retryBaseMs: options.eventRetryBaseMs, eventTargetsAllowed: deps.eventTargetsAllowed };
  const eventsWorker = new Worker(EVENTS_QUEUE, (job) => processEventsJob(eventDeps, queues.events, job), { ...workerOptions, concurrency: options.concurrency ?? 4 });
  const workers = { outbound, maintenance, inbound: inboundWorker, reconcile: reconcileWorker, events: eventsWorker };
  for (const [name, worker] of Object.entries(workers)) logQueueErrors(worker, logger, name);
  let closing = false;
  const sweepEveryMs = options.sweepEveryMs ?? SWEEP_EVERY_MS;
  const scheduled = scheduleSweep(queues, sweepEveryMs, logger, () => closing);
  const keeper = keepSweepScheduled(queues, sweepEveryMs, logger);
  if (options.readyWithinMs === undefined) await scheduled;
  else await Promise.race([scheduled, new Promise((resolve) => setTimeout(resolve, options.readyWithinMs).unref())]);
  return {
    queues,
    // Stopped before Redis came back: never ready.
    ready: scheduled.then((written) => (written ? undefined : new Promise<void>(() => {}))),
    async close() {
      closing = true;
      clearInterval(keeper);
      await Promise.all([outbound.close(), maintenance.close(), inboundWorker.close(), reconcileWorker.close(), eventsWorker.close()]);
      await closeQueues(queues);
      await connection.quit();
    },
  };
}
