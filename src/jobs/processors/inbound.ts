import { DelayedError, type Job } from 'bullmq';
import type { SyncDeps } from '../../orchestration/deps.ts';
import { processDelivery } from '../../orchestration/inbound.ts';
import { withCrmErrors } from '../crm-errors.ts';
import { notifyAccount } from '../notify.ts';
import { inboundDelivery, type Queues } from '../queues.ts';

/** How long a delivery for a paused connection waits before it looks again. */
const PAUSED_RETRY_MS = 30_000;

/** One webhook delivery, merged deal by deal; what it changed goes on to the other CRMs and subscribers. */
export async function processInbound(deps: SyncDeps, queues: Queues, job: Job, token: string | undefined) {
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
