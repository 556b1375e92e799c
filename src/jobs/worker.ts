import { MetricsTime, Worker } from 'bullmq';
import type { SyncDeps } from '../orchestration/deps.ts';
import { processEventsJob } from './processors/events.ts';
import { processFlush } from './processors/flush.ts';
import { processInbound } from './processors/inbound.ts';
import { processPull } from './processors/pull.ts';
import { processSweep } from './processors/sweep.ts';
import { closeQueues, createQueues, EVENTS_QUEUE, INBOUND_QUEUE, MAINTENANCE_QUEUE, OUTBOUND_QUEUE, RECONCILE_QUEUE, SWEEP_EVERY_MS, type Queues } from './queues.ts';

export interface Workers {
  queues: Queues;
  close(): Promise<void>;
}

/** How long a job may wait in-process for its connection's rate budget before it is delayed and frees its slot. */
export const MAX_PACE_WAIT_MS = 2000;

/** The BullMQ workers of `crm-sync work`: outbound flushes, inbound deliveries, reconciliation and backfill, outbound events, and the sweeper. */
export async function startWorkers(given: SyncDeps, options: { concurrency?: number; sweepEveryMs?: number; eventRetryBaseMs?: number } = {}): Promise<Workers> {
  const deps = { ...given, maxPaceWaitMs: given.maxPaceWaitMs ?? MAX_PACE_WAIT_MS };
  const connection = deps.redis.duplicate({ maxRetriesPerRequest: null });
  const queues = createQueues(deps.redis, deps.prefix);
  // BullMQ's metrics keep a running count of completed and failed jobs in Redis: /metrics reads it.
  const workerOptions = { connection, prefix: deps.prefix, metrics: { maxDataPoints: MetricsTime.ONE_WEEK } };
  const outbound = new Worker(OUTBOUND_QUEUE, (job, token) => processFlush(deps, queues, job, token), { ...workerOptions, concurrency: options.concurrency ?? 4 });
  const maintenance = new Worker(MAINTENANCE_QUEUE, () => processSweep(deps, queues), workerOptions);
  const inboundWorker = new Worker(INBOUND_QUEUE, (job, token) => processInbound(deps, queues, job, token), { ...workerOptions, concurrency: options.concurrency ?? 4 });
  const reconcileWorker = new Worker(RECONCILE_QUEUE, (job, token) => processPull(deps, queues, job, token), { ...workerOptions, concurrency: 2 });
  const eventDeps = { db: deps.db, keyring: deps.keyring, retryBaseMs: options.eventRetryBaseMs, eventTargetsAllowed: deps.eventTargetsAllowed };
  const eventsWorker = new Worker(EVENTS_QUEUE, (job) => processEventsJob(eventDeps, queues.events, job), { ...workerOptions, concurrency: options.concurrency ?? 4 });
  await queues.maintenance.upsertJobScheduler('sweep', { every: options.sweepEveryMs ?? SWEEP_EVERY_MS }, { name: 'sweep' });
  return {
    queues,
    async close() {
      await Promise.all([outbound.close(), maintenance.close(), inboundWorker.close(), reconcileWorker.close(), eventsWorker.close()]);
      await closeQueues(queues);
      await connection.quit();
    },
  };
}
