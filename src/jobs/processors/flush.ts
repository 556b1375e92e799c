import type { Job } from 'bullmq';
import type { SyncDeps } from '../../orchestration/deps.ts';
import { flushConnection } from '../../orchestration/flush.ts';
import { withCrmErrors } from '../crm-errors.ts';
import { enqueueFlush, flushJob, type Queues } from '../queues.ts';

/** One round of a connection's outbound flush; it queues the next round while rows remain. */
export async function processFlush(deps: SyncDeps, queues: Queues, job: Job, token: string | undefined) {
  const { connectionId } = flushJob.parse(job.data);
  await job.removeDeduplicationKey();
  return withCrmErrors(deps, job, token, async () => {
    const outcome = await flushConnection(deps, connectionId);
    if (outcome.more) await enqueueFlush(queues.outbound, connectionId);
    return outcome;
  });
}
