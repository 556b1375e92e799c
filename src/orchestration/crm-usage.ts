import type { Redis } from 'ioredis';

/**
 * Lifetime counts of CRM requests and 429s per connection, kept in Redis because the requests are
 * made by any number of worker processes while /metrics is answered by the serve processes: only a
 * shared counter gives one figure. The pacer counts every request it admits (in its own script);
 * the workers count the 429s they see. Nothing here reaches the connectors.
 */
export function usageKey(prefix: string, connectionId: string): string {
  return `${prefix}:pace:${connectionId}:usage`;
}

export interface CrmUsage {
  calls: number;
  rateLimited: number;
}

export async function countRateLimited(redis: Redis, prefix: string, connectionId: string): Promise<void> {
  await redis.hincrby(usageKey(prefix, connectionId), 'rate_limited', 1);
}

export async function readUsage(redis: Redis, prefix: string, connectionIds: string[]): Promise<Map<string, CrmUsage>> {
  const pipeline = redis.pipeline();
  for (const id of connectionIds) pipeline.hmget(usageKey(prefix, id), 'calls', 'rate_limited');
  const replies = connectionIds.length ? ((await pipeline.exec()) ?? []) : [];
  const usage = new Map<string, CrmUsage>();
  connectionIds.forEach((id, i) => {
    const [error, values] = replies[i] ?? [null, []];
    if (error) throw error;
    const [calls, rateLimited] = (values as (string | null)[]) ?? [];
    usage.set(id, { calls: Number(calls ?? 0), rateLimited: Number(rateLimited ?? 0) });
  });
  return usage;
}
