import { HubSpotError } from './errors.ts';

export interface LimitSettings {
  /** Requests per rolling 10 seconds: 100 (free/starter), 190 (pro/enterprise) or 250 (API add-on). */
  tenSecondLimit: number;
  dailyLimit: number;
  /** The search endpoints' own limit, per second. */
  searchPerSecond: number;
}

export const defaultLimits: LimitSettings = { tenSecondLimit: 100, dailyLimit: 250_000, searchPerSecond: 5 };

/** Timestamps of recent requests in a rolling window; old ones are dropped as time moves on. */
class RollingWindow {
  private times: number[] = [];
  private readonly windowMs: number;
  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }
  count(now: number) {
    while (this.times.length && this.times[0]! <= now - this.windowMs) this.times.shift();
    return this.times.length;
  }
  add(now: number) {
    this.times.push(now);
  }
}

interface TokenUsage {
  rolling: RollingWindow;
  search: RollingWindow;
  day: string;
  usedToday: number;
}

const rateLimited = (message: string, policyName: string) =>
  new HubSpotError(429, 'RATE_LIMITS', message, { errorType: 'RATE_LIMIT', policyName, groupName: 'sandbox-app' });

/** HubSpot's per-token limits, answered with its headers and 429 bodies. */
export class Limiter {
  settings: LimitSettings;
  private usage = new Map<string, TokenUsage>();

  constructor(settings: LimitSettings) {
    this.settings = settings;
  }

  private usageOf(token: string, now: number): TokenUsage {
    let usage = this.usage.get(token);
    const day = new Date(now).toISOString().slice(0, 10);
    if (!usage) {
      usage = { rolling: new RollingWindow(10_000), search: new RollingWindow(1000), day, usedToday: 0 };
      this.usage.set(token, usage);
    }
    if (usage.day !== day) Object.assign(usage, { day, usedToday: 0 });
    return usage;
  }

  /** Charges one request or throws the 429 HubSpot would send; returns the headers to add. */
  charge(token: string, search: boolean, now = Date.now()): Record<string, string> {
    const usage = this.usageOf(token, now);
    const { tenSecondLimit, dailyLimit, searchPerSecond } = this.settings;
    if (usage.usedToday >= dailyLimit) throw rateLimited('You have reached your daily limit.', 'DAILY');
    if (search) {
      if (usage.search.count(now) >= searchPerSecond) throw rateLimited('You have reached your secondly limit.', 'SECONDLY');
      usage.search.add(now);
    } else {
      if (usage.rolling.count(now) >= tenSecondLimit) throw rateLimited('You have reached your ten_secondly_rolling limit.', 'TEN_SECONDLY_ROLLING');
      usage.rolling.add(now);
    }
    usage.usedToday++;
    // The search endpoints do not send the rate-limit headers.
    if (search) return {};
    return {
      'x-hubspot-ratelimit-daily': String(dailyLimit),
      'x-hubspot-ratelimit-daily-remaining': String(dailyLimit - usage.usedToday),
      'x-hubspot-ratelimit-interval-milliseconds': '10000',
      'x-hubspot-ratelimit-max': String(tenSecondLimit),
      'x-hubspot-ratelimit-remaining': String(tenSecondLimit - usage.rolling.count(now)),
    };
  }

  usedToday(token: string) {
    return this.usage.get(token)?.usedToday ?? 0;
  }

  reset() {
    this.usage.clear();
  }
}
