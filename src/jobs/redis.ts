import { Redis, type RedisOptions } from 'ioredis';

/** What the Redis connections log with: a pino logger, or anything with its warn and error. */
export interface RedisLogger {
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/**
 * The longest a request waits on Redis: a receiver answers 503 and a read of budgets says
 * 'unknown' after it. Redis answers in a millisecond or two; a second of silence means it is gone.
 */
export const REDIS_WAIT_MS = 800;

/** The Retry-After (seconds) a receiver gives a CRM when Redis cannot take its delivery. */
export const REDIS_RETRY_AFTER_SECONDS = 10;

/** Reconnect backoff: 100 ms doubling per attempt, capped at 10 s (100, 200, 400 … 6.4 s, 10 s, 10 s …). */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** Math.max(0, attempt - 1), 10_000);
}

/**
 * How each kind of connection behaves while Redis is away. `producer` (the API's and every Queue's):
 * a command fails at once instead of waiting in ioredis's offline queue, so a request is answered
 * now (503, 'unknown'); `worker` (BullMQ Workers, which block on Redis): commands wait for the
 * reconnect, as BullMQ requires.
 */
export type RedisRole = 'producer' | 'worker';

function roleOptions(role: RedisRole): RedisOptions {
  return role === 'producer' ? { enableOfflineQueue: false, maxRetriesPerRequest: 1 } : { enableOfflineQueue: true, maxRetriesPerRequest: null };
}

/**
 * One structured line per reconnect attempt (from retryStrategy, so its delay is known), never
 * ioredis's stack traces: an 'error' listener keeps ioredis from printing "Unhandled error event"
 * for every refused connection, and only remembers what went wrong for the next line.
 */
function watch(redis: Redis, logger: RedisLogger, name: string): Redis {
  let lastError: string | undefined;
  redis.on('error', (error: Error) => {
    lastError = error.message;
  });
  redis.on('ready', () => {
    lastError = undefined;
  });
  redis.options.retryStrategy = (attempt: number) => {
    const delayMs = reconnectDelayMs(attempt);
    logger.warn({ redis: name, attempt, delayMs, error: lastError ?? 'connection closed' }, 'Redis unreachable: reconnecting');
    return delayMs;
  };
  return redis;
}

/** Every Redis connection of the service is made here: the role's options, the backoff, the log. */
export function connectRedis(url: string, options: { role: RedisRole; logger: RedisLogger; name?: string }): Redis {
  const redis = new Redis(url, { ...roleOptions(options.role), connectTimeout: 5000 });
  return watch(redis, options.logger, options.name ?? options.role);
}

/** Another connection to the same Redis (a Worker's), with its own role, backoff and log. */
export function duplicateRedis(redis: Redis, options: { role: RedisRole; logger: RedisLogger; name?: string }): Redis {
  return watch(redis.duplicate(roleOptions(options.role)), options.logger, options.name ?? options.role);
}

/**
 * Resolves when the connection is ready or `ms` have passed, whichever is first; never rejects. A
 * producer connection refuses commands until it is ready: a command-line run waits this long for
 * it, a service goes on starting either way.
 */
export async function readyWithin(redis: Redis, ms = REDIS_WAIT_MS): Promise<boolean> {
  if (redis.status === 'ready') return true;
  let timer: NodeJS.Timeout | undefined;
  let onReady: (() => void) | undefined;
  const ready = await new Promise<boolean>((resolve) => {
    onReady = () => resolve(true);
    redis.once('ready', onReady);
    timer = setTimeout(() => resolve(false), ms);
  });
  clearTimeout(timer);
  redis.removeListener('ready', onReady!);
  return ready;
}

/**
 * BullMQ's Queue, Worker and QueueEvents emit their connections' errors (and their own) on
 * themselves; unheard, they are printed with their stacks. The reconnect attempts are logged by the
 * connections: here only errors that are not about reaching Redis.
 */
export function logQueueErrors(emitter: { on(event: 'error', listener: (error: Error) => void): unknown }, logger: RedisLogger, name: string) {
  emitter.on('error', (error: Error) => {
    if (isConnectionError(error)) return;
    // One line, no stack: after a Redis restart that lost data BullMQ reports each job it lost
    // ("Missing key for job …"), and its stacks say nothing about our code.
    logger.error({ queue: name, error: error.message }, 'queue error');
  });
}

const CONNECTION_ERRORS = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|Connection is closed|Stream isn't writeable|connect ETIMEDOUT|MaxRetriesPerRequest/i;

/** An error that only says Redis cannot be reached now. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return (typeof code === 'string' && CONNECTION_ERRORS.test(code)) || CONNECTION_ERRORS.test((error as Error | undefined)?.message ?? '');
}

