import type { Job } from 'bullmq';
import type { SyncDeps } from '../../orchestration/deps.ts';
import { backfillConnection, reconcileConnection } from '../../orchestration/reconcile.ts';
import { withCrmErrors } from '../crm-errors.ts';
import { notifyAccount } from '../notify.ts';
import { pullJob, type Queues } from '../queues.ts';

/** A reconciliation pass or a backfill of one connection (the job's name says which). */
export async function processPull(deps: SyncDeps, queues: Queues, job: Job, token: string | undefined) {
  const { connectionId } = pullJob.parse(job.data);
  const notify = (accountId: string) => notifyAccount(deps.db, queues.outbound, accountId, queues.events);
  return withCrmErrors(deps, job, token, () =>
    job.name === 'backfill' ? backfillConnection(deps, connectionId, { notify, onProgress: (p) => void job.updateProgress(p) }) : reconcileConnection(deps, connectionId, { notify }),
  );
}
