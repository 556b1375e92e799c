import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A Redis connection and a key prefix of its own, so test files never see each other's keys. */
export function testRedis() {
  const prefix = `test-${randomBytes(6).toString('hex')}`;
  const connections: Redis[] = [];
  return {
    prefix,
    url,
    connect() {
      const redis = new Redis(url, { maxRetriesPerRequest: null });
      connections.push(redis);
      return redis;
    },
    async close() {
      const redis = connections[0] ?? new Redis(url);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await Promise.all([...connections, ...(connections.length ? [] : [redis])].map((c) => c.quit()));
    },
  };
}
