import { afterAll, describe, expect, it } from 'vitest';
import { CrmError } from '../src/providers/errors.ts';
import { RedisPacer } from '../src/orchestration/pacer.ts';
import type { RateLimits } from '../src/providers/types.ts';
import { testRedis } from './support/redis.ts';

const redis = testRedis();
afterAll(() => redis.close());

const pacer = (connectionId: string, limits: RateLimits) =>
  new RedisPacer(redis.connect(), { prefix: redis.prefix, connectionId, provider: 'pipedrive', limits });

describe('the Redis pacer', () => {
  it('admits at most 90% of the window’s limit, across workers sharing one connection’s budget', async () => {
    const limits = { windowMs: 300, perWindow: 4, daily: 1000 };
    const [one, two] = [pacer('shared', limits), pacer('shared', limits)];
    const started = Date.now();
    await Promise.all(Array.from({ length: 9 }, (_, i) => (i % 2 ? one : two).take(1)));
    // 3 per 300 ms window: the ninth request cannot start before two full windows have passed.
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(await one.spentToday()).toBe(9);
  });

  it('gives the turn back instead of waiting long: past maxWaitMs it throws rate_limited with the wait', async () => {
    const limits = { windowMs: 60_000, perWindow: 2, daily: 1000 };
    const patient = new RedisPacer(redis.connect(), { prefix: redis.prefix, connectionId: 'busy', provider: 'hubspot', limits, maxWaitMs: 2000 });
    await patient.take(1);
    const refused = await patient.take(1).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(CrmError);
    expect(refused).toMatchObject({ code: 'rate_limited' });
    expect((refused as CrmError).retryAfterMs).toBeGreaterThan(2000);
    expect(await patient.spentToday()).toBe(1);
  });

  it('keeps connections apart', async () => {
    const limits = { windowMs: 60_000, perWindow: 2, daily: 1000 };
    await pacer('a', limits).take(1);
    const other = pacer('b', limits);
    await other.take(1);
    expect(await other.spentToday()).toBe(1);
  });

  it('refuses once the daily budget is spent, with the wait until the next UTC day', async () => {
    const tokens = pacer('budget', { windowMs: 2000, perWindow: 100, daily: 25 });
    await tokens.take(10);
    await tokens.take(10);
    const refused = await tokens.take(10).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(CrmError);
    expect(refused).toMatchObject({ code: 'rate_limited', retryable: true });
    expect((refused as CrmError).retryAfterMs).toBeGreaterThan(0);
    expect(await tokens.spentToday()).toBe(20);
  });

  it('holds every worker back during a cooldown after a 429', async () => {
    const limits = { windowMs: 2000, perWindow: 100, daily: 1000 };
    const [one, two] = [pacer('cool', limits), pacer('cool', limits)];
    await one.coolDown(250);
    const started = Date.now();
    await two.take(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });
});
