import type { Job } from 'bullmq';
import type { SyncDeps } from '../../orchestration/deps.ts';
import { applyInboxRound } from '../../orchestration/inbox-round.ts';
import { notifyAccount } from '../notify.ts';
import { storeDeliveries } from '../../model/sync-state/inbox.ts';
import { enqueueInboxRound, inboxJob, queuedDelivery, type Queues } from '../queues.ts';

/**
 * One round of a connection's received webhooks; what it changed goes on to the other CRMs and
 * subscribers. While rows remain, the next round queues behind the other connections' rounds.
 */
export async function processInbound(deps: SyncDeps, queues: Queues, job: Job) {
  const { connectionId, events } = inboxJob.or(queuedDelivery).parse(job.data) as { connectionId: string; events?: unknown[] };
  await job.removeDeduplicationKey();
  if (events) await storeDeliveries(deps.db, [{ connectionId, events }]);
  const round = await applyInboxRound(deps, connectionId);
  if (round.kind === 'applied') {
    const { applied, created, deleted } = round.outcome;
    if (applied + created + deleted > 0) await notifyAccount(deps.db, queues.outbound, round.outcome.accountId, queues.events);
    if (round.more) await enqueueInboxRound(queues.inbound, connectionId);
  }
  // The rows wait in Postgres with their error (status shows it); the next round is due then.
  if (round.kind === 'retry') await enqueueInboxRound(queues.inbound, connectionId, round.retryInMs);
  return round;
}
