import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { providers } from '../model/store/schema.ts';
import { within } from '../model/store/within.ts';
import { logQueueErrors, REDIS_WAIT_MS, type RedisLogger } from './redis.ts';

export const OUTBOUND_QUEUE = 'outbound';
export const MAINTENANCE_QUEUE = 'maintenance';
export const INBOUND_QUEUE = 'inbound';
export const RECONCILE_QUEUE = 'reconcile';
export const EVENTS_QUEUE = 'events';

/** A round of one connection's inbox (the received webhooks are in Postgres, not in the job). */
export const inboxJob = z.strictObject({ connectionId: z.uuid() });

/**
 * A delivery queued by a version before the inbox, its events in the job: stored in the inbox
 * when its job runs, so an upgrade loses none of the webhooks Redis still holds.
 */
export const queuedDelivery = z.object({ connectionId: z.uuid(), provider: z.enum(providers), receivedAt: z.number(), events: z.array(z.unknown()).min(1) });

/**
 * Inbox rounds retry from Postgres (a failed round gives its rows back with a delay and queues the
 * next round for then), so these attempts only cover the job itself failing (Postgres
 * unreachable): exponential from 1 s, 5 attempts; after that the sweeper finds the rows again.
 */
export const inboxJobOptions: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

export const flushJob = z.object({ connectionId: z.uuid() });

/**
 * Flush retries: exponential from 1 s, 15 attempts, about 9 hours in all. A 429 does not use an
 * attempt (the job is delayed instead), and rows of a job that finally fails stay in the outbox,
 * where the sweeper finds them again: retries can run out, work cannot be lost.
 */
export const flushJobOptions: JobsOptions = {
  attempts: 15,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** A reconciliation pass or a backfill of one connection. */
export const pullJob = z.object({ connectionId: z.uuid() });

/**
 * Reconcile and backfill retries: exponential from 5 s, 8 attempts (about 20 minutes). Both save
 * their cursor after every page, so a retry goes on from there; a rate limit delays, never fails.
 */
export const pullJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 5000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** One pass of each kind per connection at a time: a due pass is not queued twice. */
export async function enqueuePull(queue: Queue, kind: 'reconcile' | 'backfill', connectionId: string): Promise<void> {
  await queue.add(kind, { connectionId }, { ...pullJobOptions, deduplication: { id: `${kind}:${connectionId}` } });
}

/** Deliver the due outbound events of one subscription, in order. */
export const eventsJob = z.object({ subscriptionId: z.uuid() });

/**
 * Outbound events are retried from Postgres, not by these attempts: after a failed POST the
 * delivery's next_attempt_at is set 5 s × 2^(n-1) later (5 s, 10 s, 20 s … capped at 1 h, plus up
 * to 10% jitter, or the receiver's Retry-After when longer), for 3 days from the event or its
 * replay, and then it is marked failed; a delayed job wakes the subscription at that time
 * (src/jobs/events.ts). These attempts only cover the job itself failing (Postgres unreachable):
 * exponential from 1 s, 5 attempts; after that the sweeper finds the due deliveries again.
 */
export const eventsJobOptions: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/**
 * One queued delivery run per subscription. `replace` lets a run wanted now (a new event, a replay,
 * the sweeper) take the place of one delayed until a retry is due; a waiting run absorbs the rest.
 */
export async function enqueueEventDelivery(queue: Queue, subscriptionId: string, delayMs = 0): Promise<void> {
  await queue.add('deliver', { subscriptionId }, { ...eventsJobOptions, delay: delayMs, deduplication: { id: `events:${subscriptionId}`, replace: true } });
}

/** How often the sweeper looks for dirty rows with no flush on its way (lost Redis, crashed worker). */
export const SWEEP_EVERY_MS = 15_000;

/** The queues, under `prefix` (QUEUE_PREFIX); given a logger, their errors are logged instead of printed. */
export function createQueues(connection: Redis, prefix: string, logger?: RedisLogger) {
  const queues = {
    outbound: new Queue(OUTBOUND_QUEUE, { connection, prefix }),
    maintenance: new Queue(MAINTENANCE_QUEUE, { connection, prefix }),
    inbound: new Queue(INBOUND_QUEUE, { connection, prefix }),
    reconcile: new Queue(RECONCILE_QUEUE, { connection, prefix }),
    events: new Queue(EVENTS_QUEUE, { connection, prefix }),
  };
  if (logger) for (const [name, queue] of Object.entries(queues)) logQueueErrors(queue, logger, name);
  return queues;
}
export type Queues = ReturnType<typeof createQueues>;

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((queue) => queue.close()));
}

/**
 * One waiting flush per connection: BullMQ deduplicates by id, and the running flush releases the
 * id as it starts, so a change made during a flush gets a flush of its own after it.
 */
export async function enqueueFlush(queue: Queue, connectionId: string): Promise<void> {
  await queue.add('flush', { connectionId }, { ...flushJobOptions, deduplication: { id: `flush:${connectionId}` } });
}

/**
 * One round queued per connection: however many webhooks a busy account receives, it has one job
 * in the inbound line, so the other accounts' rounds are never queued behind its backlog. The
 * running round releases the id as it starts (webhooks stored meanwhile get a round after it);
 * `replace` lets a round wanted now take the place of one delayed until a retry is due. Bounded
 * by REDIS_WAIT_MS: the rows are safe in Postgres and the sweeper wakes them if this fails.
 */
export async function enqueueInboxRound(queue: Queue, connectionId: string, delayMs = 0): Promise<void> {
  const added = queue.add('inbox', { connectionId }, { ...inboxJobOptions, delay: delayMs, deduplication: { id: `inbox:${connectionId}`, replace: true } });
  await within(added, REDIS_WAIT_MS, `Redis did not take the inbox round within ${REDIS_WAIT_MS} ms`);
}
