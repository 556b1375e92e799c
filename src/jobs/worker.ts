import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { CrmError } from '../connectors/errors.ts';
import { connectionsWithWork } from '../model/outbox.ts';
import { flushConnection, type SyncDeps } from './outbound.ts';
import { closeQueues, createQueues, enqueueFlush, flushJob, MAINTENANCE_QUEUE, OUTBOUND_QUEUE, SWEEP_EVERY_MS, type Queues } from './queues.ts';

export interface Workers {
  queues: Queues;
  close(): Promise<void>;
}

async function flush(deps: SyncDeps, queues: Queues, job: Job, token: string | undefined) {
  const { connectionId } = flushJob.parse(job.data);
  await job.removeDeduplicationKey();
  try {
    const outcome = await flushConnection(deps, connectionId);
    if (outcome.more) await enqueueFlush(queues.outbound, connectionId);
    return outcome;
  } catch (error) {
    if (error instanceof CrmError && error.code === 'rate_limited') {
      // Waiting out a rate limit is not a failure: the job comes back when the CRM allows it.
      await job.moveToDelayed(Date.now() + (error.retryAfterMs ?? 1000), token);
      throw new DelayedError();
    }
    if (error instanceof CrmError && !error.retryable) throw new UnrecoverableError(error.message);
    throw error;
  }
}

async function sweep(deps: SyncDeps, queues: Queues) {
  const connectionIds = await connectionsWithWork(deps.db);
  for (const id of connectionIds) await enqueueFlush(queues.outbound, id);
  return { enqueued: connectionIds.length };
}

/** The BullMQ workers of `crm-sync work`: outbound flushes and the sweeper. */
export async function startWorkers(deps: SyncDeps, options: { concurrency?: number; sweepEveryMs?: number } = {}): Promise<Workers> {
  const connection = deps.redis.duplicate({ maxRetriesPerRequest: null });
  const queues = createQueues(deps.redis, deps.prefix);
  const workerOptions = { connection, prefix: deps.prefix };
  const outbound = new Worker(OUTBOUND_QUEUE, (job, token) => flush(deps, queues, job, token), { ...workerOptions, concurrency: options.concurrency ?? 4 });
  const maintenance = new Worker(MAINTENANCE_QUEUE, () => sweep(deps, queues), workerOptions);
  await queues.maintenance.upsertJobScheduler('sweep', { every: options.sweepEveryMs ?? SWEEP_EVERY_MS }, { name: 'sweep' });
  return {
    queues,
    async close() {
      await Promise.all([outbound.close(), maintenance.close()]);
      await closeQueues(queues);
      await connection.quit();
    },
  };
}
