import type { Redis } from 'ioredis';
import { CrmError } from '../providers/errors.ts';
import type { DailyBudget, Pacer, RateLimits } from '../providers/types.ts';
import type { Provider } from '../model/store/schema.ts';
import { usageKey } from './crm-usage.ts';

/**
 * One rate budget per connection in Redis, shared by every worker process. A rolling window
 * (the CRM's own, from its provider module) admits requests up to a share of the CRM's limit so 429s stay
 * rare; a daily counter charges each request's cost (1, or the request's token cost where the CRM counts tokens); a
 * cooldown set after a 429 holds back only this connection. Redis's clock decides, not the workers'.
 * Where the CRM's answers say its daily budget (observeDaily), its limit replaces the configured one
 * and its remaining count is respected too (other apps of the account spend the same budget); a
 * refusal for the daily budget marks the day spent, which the connection's budget view shows.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local windowMs, limit, cost, dailyLimit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local cooldown = redis.call('PTTL', KEYS[3])
if cooldown > 0 then return {1, cooldown} end
local spent = tonumber(redis.call('GET', KEYS[2]) or '0')
local crm = redis.call('HMGET', KEYS[5], 'limit', 'remaining')
if crm[1] then dailyLimit = tonumber(crm[1]) end
if (crm[2] and tonumber(crm[2]) < cost) or spent + cost > dailyLimit then
  redis.call('SET', KEYS[6], '1', 'EX', 172800)
  return {2, 0}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - windowMs)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {1, tonumber(oldest[2]) + windowMs - now + 1}
end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], windowMs)
redis.call('INCRBY', KEYS[2], cost)
redis.call('EXPIRE', KEYS[2], 172800)
redis.call('HINCRBY', KEYS[4], 'calls', 1)
return {0, spent + cost}
`;

/**
 * What the CRM said of today's budget: the lowest remaining count of the day wins (answers arrive
 * out of order), the limit is the latest. Kept two days, like the day's own counter.
 */
const OBSERVE = `
local known = redis.call('HGET', KEYS[1], 'remaining')
if (not known) or tonumber(ARGV[2]) < tonumber(known) then redis.call('HSET', KEYS[1], 'remaining', ARGV[2]) end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'limit', ARGV[1]) end
redis.call('HSET', KEYS[1], 'at', ARGV[3])
redis.call('EXPIRE', KEYS[1], 172800)
if tonumber(ARGV[2]) <= 0 then redis.call('SET', KEYS[2], '1', 'EX', 172800) end
return 1
`;

/** The UTC day a budget counts in, as its keys name it. */
export const budgetDay = (now = Date.now()) => new Date(now).toISOString().slice(0, 10);

/** A connection's budget keys in Redis for one UTC day: our spend, the CRM's word, and whether it is spent. */
export function budgetKeys(prefix: string, connectionId: string, day = budgetDay()) {
  const key = `${prefix}:pace:${connectionId}`;
  return { spent: `${key}:day:${day}`, crm: `${key}:crm:${day}`, exhausted: `${key}:spent:${day}` };
}

const HEADROOM = 0.9;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class RedisPacer implements Pacer {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly limits: RateLimits;
  private readonly provider: Provider;
  private readonly usageKey: string;
  private readonly maxWaitMs: number;
  private readonly prefix: string;
  private readonly connectionId: string;

  /**
   * `maxWaitMs`: the longest a request waits here for its turn. Past it, take() throws a rate_limited
   * CrmError instead, so a worker gives its slot back (the job is delayed) rather than holding it
   * while one busy account's budget refills: other accounts' jobs go on meanwhile.
   */
  constructor(redis: Redis, options: { prefix: string; connectionId: string; provider: Provider; limits: RateLimits; maxWaitMs?: number }) {
    this.redis = redis;
    this.maxWaitMs = options.maxWaitMs ?? Infinity;
    this.key = `${options.prefix}:pace:${options.connectionId}`;
    this.prefix = options.prefix;
    this.connectionId = options.connectionId;
    this.usageKey = usageKey(options.prefix, options.connectionId);
    this.limits = options.limits;
    this.provider = options.provider;
  }

  async take(cost: number, kind?: 'search'): Promise<void> {
    const search = kind === 'search' && this.limits.searchPerSecond;
    const windowMs = search ? 1000 : this.limits.windowMs;
    const limit = Math.max(1, Math.floor((search ? this.limits.searchPerSecond! : this.limits.perWindow) * HEADROOM));
    for (;;) {
      const day = budgetKeys(this.prefix, this.connectionId);
      const [status, value] = (await this.redis.eval(
        TAKE,
        6,
        `${this.key}:${search ? 'search' : 'window'}`,
        day.spent,
        `${this.key}:cooldown`,
        this.usageKey,
        day.crm,
        day.exhausted,
        windowMs,
        limit,
        cost,
        this.limits.daily,
        `${Date.now()}:${Math.random()}`,
      )) as [number, number];
      if (status === 0) return;
      if (status === 2) throw this.dailyBudgetSpent();
      if (value > this.maxWaitMs) throw new CrmError(this.provider, 'rate_limited', `this connection's ${this.provider} budget is busy for ${value} ms`, { retryAfterMs: value });
      await sleep(value);
    }
  }

  /** After a 429: every worker holds back this connection's requests for `ms`. */
  async coolDown(ms: number): Promise<void> {
    await this.redis.set(`${this.key}:cooldown`, '1', 'PX', Math.max(1, Math.ceil(ms)));
  }

  async spentToday(): Promise<number> {
    return Number((await this.redis.get(budgetKeys(this.prefix, this.connectionId).spent)) ?? 0);
  }

  /** Recorded without waiting: a lost observation only leaves the configured limit in charge a little longer. */
  observeDaily(daily: DailyBudget): void {
    const limit = daily.limit !== undefined && Number.isFinite(daily.limit) && daily.limit > 0 ? String(Math.floor(daily.limit)) : '';
    if (!Number.isFinite(daily.remaining) || (daily.limit !== undefined && limit === '')) return;
    const day = budgetKeys(this.prefix, this.connectionId);
    this.redis.eval(OBSERVE, 2, day.crm, day.exhausted, limit, Math.max(0, Math.floor(daily.remaining)), Date.now()).catch(() => {});
  }

  private dailyBudgetSpent() {
    const now = new Date();
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    return new CrmError(this.provider, 'rate_limited', `the daily ${this.provider} budget of this connection is spent`, {
      retryAfterMs: midnight - now.getTime(),
    });
  }
}

/** Thrown when reconciliation has spent its share of today's budget: it stops, its cursor saved. */
export class BudgetShareSpent extends Error {}

/**
 * Reconciliation's slice of a connection's daily budget, counted apart in Redis so every worker
 * sees one figure; what it spends still goes through the connection's own pacer.
 */
export class ShareOfBudget implements Pacer {
  private readonly inner: Pacer;
  private readonly redis: Redis;
  private readonly key: string;
  private readonly cap: number;

  constructor(inner: Pacer, redis: Redis, options: { prefix: string; connectionId: string; cap: number }) {
    this.inner = inner;
    this.redis = redis;
    this.key = `${options.prefix}:pace:${options.connectionId}:reconcile:${new Date().toISOString().slice(0, 10)}`;
    this.cap = options.cap;
  }

  async take(cost: number, kind?: 'search'): Promise<void> {
    const spent = await this.redis.incrby(this.key, cost);
    if (spent === cost) await this.redis.expire(this.key, 172_800);
    if (spent > this.cap) {
      await this.redis.decrby(this.key, cost);
      throw new BudgetShareSpent(`reconciliation has spent its share (${this.cap}) of today's budget`);
    }
    await this.inner.take(cost, kind);
  }

  observeDaily(daily: DailyBudget): void {
    this.inner.observeDaily?.(daily);
  }
}
