import { connectionsDueForReconcile } from '../../model/connections/reconcile-state.ts';
import { subscriptionsWithDueDeliveries } from '../../model/events/delivery-claims.ts';
import { connectionsWithInbox } from '../../model/sync-state/inbox.ts';
import { connectionsWithWork } from '../../model/sync-state/outbox.ts';
import type { SyncDeps } from '../../orchestration/deps.ts';
import { reconcileIntervalMs } from '../../sync/settings.ts';
import { enqueueEventDelivery, enqueueFlush, enqueueInboxRound, enqueuePull, type Queues } from '../queues.ts';

/** Postgres decides what is due, so losing Redis loses no dirty row, received webhook, reconciliation or event. */
export async function processSweep(deps: SyncDeps, queues: Queues) {
  const connectionIds = await connectionsWithWork(deps.db);
  for (const id of connectionIds) await enqueueFlush(queues.outbound, id);
  const inboxes = await connectionsWithInbox(deps.db);
  for (const id of inboxes) await enqueueInboxRound(queues.inbound, id);
  const due = await connectionsDueForReconcile(deps.db, reconcileIntervalMs);
  for (const id of due) await enqueuePull(queues.reconcile, 'reconcile', id);
  const subscriptionIds = await subscriptionsWithDueDeliveries(deps.db);
  for (const id of subscriptionIds) await enqueueEventDelivery(queues.events, id);
  return { enqueued: connectionIds.length, inboxRounds: inboxes.length, reconciles: due.length, eventRuns: subscriptionIds.length };
}
