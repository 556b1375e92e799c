import { connectionsDueForReconcile } from '../../model/connections/reconcile-state.ts';
import { subscriptionsWithDueDeliveries } from '../../model/events/delivery-claims.ts';
import { connectionsWithWork } from '../../model/sync-state/outbox.ts';
import type { SyncDeps } from '../../orchestration/deps.ts';
import { reconcileIntervalMs } from '../../sync/settings.ts';
import { enqueueEventDelivery, enqueueFlush, enqueuePull, type Queues } from '../queues.ts';

/** Postgres decides what is due, so losing Redis loses neither dirty rows nor reconciliations. */
export async function processSweep(deps: SyncDeps, queues: Queues) {
  const connectionIds = await connectionsWithWork(deps.db);
  for (const id of connectionIds) await enqueueFlush(queues.outbound, id);
  const due = await connectionsDueForReconcile(deps.db, reconcileIntervalMs);
  for (const id of due) await enqueuePull(queues.reconcile, 'reconcile', id);
  const subscriptionIds = await subscriptionsWithDueDeliveries(deps.db);
  for (const id of subscriptionIds) await enqueueEventDelivery(queues.events, id);
  return { enqueued: connectionIds.length, reconciles: due.length, eventRuns: subscriptionIds.length };
}
