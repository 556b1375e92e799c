import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { SyncDeps } from '../orchestration/deps.ts';
import { countRateLimited } from '../orchestration/crm-usage.ts';
import { RetrySoon } from '../orchestration/retry-soon.ts';
import { CrmError } from '../providers/errors.ts';

/** CRM failures in BullMQ's terms: a rate limit (or work to retry soon) delays the job, a fatal error stops its retries. */
export async function withCrmErrors<T>(deps: SyncDeps, job: Job, token: string | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RetrySoon) {
      await job.moveToDelayed(Date.now() + error.delayMs, token);
      throw new DelayedError();
    }
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
