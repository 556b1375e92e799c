import { DelayedError, MetricsTime, UnrecoverableError, Worker, type Job } from 'bullmq';
import { CrmError } from '../providers/errors.ts';
import { connectionsWithWork } from '../model/sync-state/outbox.ts';
import { subscriptionsWithDueDeliveries } from '../model/events/delivery-claims.ts';
import { processEventsJob } from '../orchestration/event-delivery.ts';
import { countRateLimited } from '../orchestration/crm-usage.ts';
import type { SyncDeps } from '../orchestration/deps.ts';
import { flushConnection } from '../orchestration/flush.ts';
import { connectionsDueForReconcile } from '../model/connections/reconcile-state.ts';
import {
  closeQueues,
  createQueues,
  enqueueEventDelivery,
  enqueueFlush,
  enqueuePull,
  EVENTS_QUEUE,
  flushJob,
  INBOUND_QUEUE,
  inboundDelivery,
  MAINTENANCE_QUEUE,
  OUTBOUND_QUEUE,
  pullJob,
  RECONCILE_QUEUE,
  SWEEP_EVERY_MS,
  type Queues,
} from './queues.ts';
import { backfillConnection, reconcileConnection } from '../orchestration/reconcile.ts';
import { processDelivery } from '../orchestration/inbound.ts';
import { notifyAccount } from './notify.ts';

export interface Workers {
  queues: Queues;
  close(): Promise<void>;
}

/** CRM failures in BullMQ's terms: a rate limit delays the job, a fatal error stops its retries. */
async function withCrmErrors<T>(deps: SyncDeps, job: Job, token: string | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof CrmError && error.code === 'rate_limited') {
      // Only the CRM's own 429s: the pacer's "daily budget spent" carries no status.
      if (error.status === 429) await countRateLimited(deps.redis, deps.prefix, (job.data as { connectionId: string }).connectionId).catch(() => {});
      // Waiting out a rate limit is not a failure: the job comes back when the CRM allows it.
      await job.moveToDelayed(Date.now() + (error.retryAfterMs ?? 1000), token);
      throw new DelayedError();
    }
    if (error instanceof CrmError && !error.retryable) throw new UnrecoverableError(error.message);
    throw error;
  }
}

async function flush(deps: SyncDeps, queues: Queues, job: Job, token: string | undefined) {
  const { connectionId } = flushJob.parse(job.data);
  await job.removeDeduplicationKey();
  return withCrmErrors(deps, job, token, async () => {
    const outcome = await flushConnection(deps, connectionId);
    if (outcome.more) await enqueueFlush(queues.outbound, connectionId);
    return outcome;
  });
}

/** How long a delivery for a paused connection waits before it looks again. */
const PAUSED_RETRY_MS = 30_000;

async function inbound(deps: SyncDeps, queues: Queues, job: Job, token: string | undefined) {
  const delivery = inboundDelivery.parse(job.data);
  return withCrmErrors(deps, job, token, async () => {
    const outcome = await processDelivery(deps, delivery);
    if (outcome === 'paused') {
      // A paused connection keeps its events: they wait in the queue until it is resumed.
      await job.moveToDelayed(Date.now() + PAUSED_RETRY_MS, token);
      throw new DelayedError();
    }
    if (outcome !== 'gone' && outcome.applied + outcome.created + outcome.deleted > 0) {
      await notifyAccount(deps.db, queues.outbound, outcome.accountId, queues.events);
    }
    return outcome;
  });
}

async function pull(deps: SyncDeps, queues: Queues, job: Job, token: string | undefined) {
  const { connectionId } = pullJob.parse(job.data);
  const notify = (accountId: string) => notifyAccount(deps.db, queues.outbound, accountId, queues.events);
  return withCrmErrors(deps, job, token, () => (job.name === 'backfill' ? backfillConnection(deps, connectionId, { notify, onProgress: (p) => void job.updateProgress(p) }) : reconcileConnection(deps, connectionId, { notify })));
}

/** Postgres decides what is due, so losing Redis loses neither dirty rows nor reconciliations. */
async function sweep(deps: SyncDeps, queues: Queues) {
  const connectionIds = await connectionsWithWork(deps.db);
  for (const id of connectionIds) await enqueueFlush(queues.outbound, id);
  const due = await connectionsDueForReconcile(deps.db);
  for (const id of due) await enqueuePull(queues.reconcile, 'reconcile', id);
  const subscriptionIds = await subscriptionsWithDueDeliveries(deps.db);
  for (const id of subscriptionIds) await enqueueEventDelivery(queues.events, id);
  return { enqueued: connectionIds.length, reconciles: due.length, eventRuns: subscriptionIds.length };
}

/** The BullMQ workers of `crm-sync work`: outbound flushes, inbound deliveries, reconciliation and backfill, outbound events, and the sweeper. */
/** How long a job may wait in-process for its connection's rate budget before it is delayed and frees its slot. */
export const MAX_PACE_WAIT_MS = 2000;

export async function startWorkers(given: SyncDeps, options: { concurrency?: number; sweepEveryMs?: number; eventRetryBaseMs?: number } = {}): Promise<Workers> {
  const deps = { ...given, maxPaceWaitMs: given.maxPaceWaitMs ?? MAX_PACE_WAIT_MS };
  const connection = deps.redis.duplicate({ maxRetriesPerRequest: null });
  const queues = createQueues(deps.redis, deps.prefix);
  // BullMQ's metrics keep a running count of completed and failed jobs in Redis: /metrics reads it.
  const workerOptions = { connection, prefix: deps.prefix, metrics: { maxDataPoints: MetricsTime.ONE_WEEK } };
  const outbound = new Worker(OUTBOUND_QUEUE, (job, token) => flush(deps, queues, job, token), { ...workerOptions, concurrency: options.concurrency ?? 4 });
  const maintenance = new Worker(MAINTENANCE_QUEUE, () => sweep(deps, queues), workerOptions);
  const inboundWorker = new Worker(INBOUND_QUEUE, (job, token) => inbound(deps, queues, job, token), { ...workerOptions, concurrency: options.concurrency ?? 4 });
  const reconcileWorker = new Worker(RECONCILE_QUEUE, (job, token) => pull(deps, queues, job, token), { ...workerOptions, concurrency: 2 });
  const eventDeps = { db: deps.db, keyring: deps.keyring, retryBaseMs: options.eventRetryBaseMs };
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
