import type { Queue } from 'bullmq';
import { z } from 'zod';
import { accountsOfConnections } from '../../model/connections/connection-health.ts';
import { connectionIdsOfAccount } from '../../model/connections/connections.ts';
import type { Database } from '../../model/store/db.ts';
import { conflict, invalid, notFound } from '../../model/store/errors.ts';

/** Failed jobs are BullMQ's: they stay in each queue's failed set for the queue's retention (7 days). */
export const failedJobView = z
  .object({
    queue: z.string(),
    jobId: z.string(),
    name: z.string(),
    connectionId: z.string().nullable(),
    accountId: z.uuid().nullable(),
    failedReason: z.string().nullable(),
    stacktrace: z.string().nullable().describe('Where the last attempt failed'),
    attemptsMade: z.number().int(),
    createdAt: z.iso.datetime().nullable(),
    processedAt: z.iso.datetime().nullable(),
    failedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'FailedJob' });
type FailedJobView = z.infer<typeof failedJobView>;

type FailedJob = Awaited<ReturnType<Queue['getFailed']>>[number];

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);
const connectionOf = (job: FailedJob) => {
  const id = (job.data as { connectionId?: unknown } | undefined)?.connectionId;
  return typeof id === 'string' ? id : null;
};

function toView(queue: string, job: FailedJob, accountOf: Map<string, string>): FailedJobView {
  const connectionId = connectionOf(job);
  return {
    queue,
    jobId: String(job.id),
    name: job.name,
    connectionId,
    accountId: (connectionId && accountOf.get(connectionId)) || null,
    failedReason: job.failedReason ?? null,
    stacktrace: job.stacktrace?.at(-1) ?? null,
    attemptsMade: job.attemptsMade,
    createdAt: iso(job.timestamp),
    processedAt: iso(job.processedOn),
    failedAt: iso(job.finishedOn),
  };
}

export function queueNamed(queues: Queue[], name: string): Queue {
  const queue = queues.find((q) => q.name === name);
  if (!queue) throw notFound(`queue "${name}"`);
  return queue;
}

/** The cursor is where the scan stopped: which queue, and how far into its failed set (newest first). */
function decodeCursor(cursor: string | undefined): [number, number] {
  if (!cursor) return [0, 0];
  const position = z.tuple([z.number().int().min(0), z.number().int().min(0)]).safeParse(parseJson(Buffer.from(cursor, 'base64url').toString()));
  if (!position.success) throw invalid([{ field: 'querystring.cursor', message: 'is not a cursor this API returned' }]);
  return position.data;
}
const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};
const encodeCursor = (position: [number, number]) => Buffer.from(JSON.stringify(position)).toString('base64url');

const SCAN_PAGE = 200;

/** Jobs that fail for one account are found by their connection; jobs of no connection (the sweeper) belong to none. */
async function accountFilter(db: Database, accountId: string | undefined) {
  if (!accountId) return () => true;
  const ids = new Set(await connectionIdsOfAccount(db, accountId));
  return (job: FailedJob) => ids.has(connectionOf(job) ?? '');
}

/**
 * Newest failures first, queue after queue. Offsets into a set that changes (new failures, retries)
 * can shift between pages; for an operator's list that is the price of reading BullMQ directly.
 */
export async function listFailedJobs(db: Database, queues: Queue[], query: { queue?: string; accountId?: string; limit: number; cursor?: string }) {
  const selected = query.queue ? [queueNamed(queues, query.queue)] : queues;
  const keep = await accountFilter(db, query.accountId);
  let [queueIndex, offset] = decodeCursor(query.cursor);
  const found: { queue: string; job: FailedJob }[] = [];
  while (queueIndex < selected.length && found.length < query.limit) {
    const queue = selected[queueIndex]!;
    const jobs = await queue.getFailed(offset, offset + SCAN_PAGE - 1);
    if (jobs.length === 0) [queueIndex, offset] = [queueIndex + 1, 0];
    for (const job of jobs) {
      offset += 1;
      if (keep(job)) found.push({ queue: queue.name, job });
      if (found.length === query.limit) break;
    }
  }
  const accountOf = await accountsOfConnections(db, [...new Set(found.map(({ job }) => connectionOf(job)).filter((id): id is string => id !== null))]);
  const nextCursor = found.length === query.limit && queueIndex < selected.length ? encodeCursor([queueIndex, offset]) : null;
  return { data: found.map(({ queue, job }) => toView(queue, job, accountOf)), nextCursor };
}

export async function retryFailedJob(db: Database, queue: Queue, jobId: string, accountId?: string) {
  const job = await queue.getJob(jobId);
  if (!job || !(await accountFilter(db, accountId))(job)) throw notFound(`job ${jobId} in queue "${queue.name}"`);
  const state = await job.getState();
  if (state !== 'failed') throw conflict(`job ${jobId} is ${state}, not failed: only failed jobs are retried`);
  await job.retry('failed');
  return { queue: queue.name, jobId, retried: 1 };
}

/** Every failed job of a queue (of one account, with accountId), as of now: what fails meanwhile stays failed. */
export async function retryAllFailed(db: Database, queue: Queue, accountId?: string) {
  if (!accountId) {
    const retried = await queue.getFailedCount();
    await queue.retryJobs({ state: 'failed', timestamp: Date.now() });
    return { queue: queue.name, retried };
  }
  const keep = await accountFilter(db, accountId);
  const mine = [];
  for (let offset = 0; ; offset += SCAN_PAGE) {
    const jobs = await queue.getFailed(offset, offset + SCAN_PAGE - 1);
    mine.push(...jobs.filter(keep));
    if (jobs.length < SCAN_PAGE) break;
  }
  for (const job of mine) await (await queue.getJob(String(job.id)))?.retry('failed');
  return { queue: queue.name, retried: mine.length };
}
