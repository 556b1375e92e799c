import type { Job, Queue } from 'bullmq';
import { deliverSubscription, type DeliveryRun, type EventDeps } from '../../orchestration/event-delivery.ts';
import { enqueueEventDelivery, eventsJob } from '../queues.ts';

/** One subscription's due outbound events, in order; it queues itself again when more are due later. */
export async function processEventsJob(deps: EventDeps, queue: Queue, job: Job): Promise<DeliveryRun> {
  const { subscriptionId } = eventsJob.parse(job.data);
  // Events recorded while this run works get a run of their own after it.
  await job.removeDeduplicationKey();
  const run = await deliverSubscription(deps, subscriptionId);
  if (run.lookAgainInMs !== undefined) await enqueueEventDelivery(queue, subscriptionId, run.lookAgainInMs);
  return run;
}
