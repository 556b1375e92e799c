export interface PipedriveLimitSettings {
  /** Requests per rolling 2-second window per token (20 on Essential with an API token, up to 480). */
  burstLimit: number;
  /** The Search API's own window: 10 requests per 2 seconds per token on every plan. */
  searchBurstLimit: number;
  /** 30,000 × plan multiplier × seats tokens a day, shared by the company, reset at midnight UTC. */
  dailyTokenBudget: number;
  /** The fair-usage count of POST/PUT requests per API token a day that `x-daily-requests-left` counts down. */
  dailyWriteRequests: number;
}

/** Pipedrive's formula: 30,000 base tokens × the plan's multiplier × the number of seats. */
export const dailyTokenBudget = (planMultiplier: number, seats: number) => 30_000 * planMultiplier * seats;

// A Professional-like company (multiplier 4) with 5 seats, on an API token's burst limit.
export const defaultPipedriveLimits: PipedriveLimitSettings = { burstLimit: 80, searchBurstLimit: 10, dailyTokenBudget: dailyTokenBudget(4, 5), dailyWriteRequests: 10_000 };

const WINDOW_MS = 2000;

/** What one request costs and which counters it touches. */
export interface Charge {
  token: string;
  cost: number;
  search: boolean;
  /** POST/PUT/PATCH with an API token: counted by `x-daily-requests-left` (the docs predate PATCH). */
  apiTokenWrite: boolean;
}

export interface Verdict {
  allowed: boolean;
  headers: Record<string, string>;
}

export class PipedriveLimiter {
  settings: PipedriveLimitSettings;
  private recent = new Map<string, number[]>();
  private writes = new Map<string, number>();
  private spent = 0;
  private day = '';

  constructor(settings: PipedriveLimitSettings) {
    this.settings = settings;
  }

  /** Charges a request to the company's budget and the token's windows, or refuses it with the headers of a 429. */
  charge(request: Charge, now = Date.now()): Verdict {
    this.rollDay(now);
    const burst = this.window(request.token, now);
    const search = request.search ? this.window(`${request.token} search`, now) : [];
    const burstFull = burst.length >= this.settings.burstLimit;
    const searchFull = search.length >= this.settings.searchBurstLimit;
    const broke = this.spent + request.cost > this.settings.dailyTokenBudget;
    if (burstFull || searchFull || broke) {
      const retryAfter = broke ? secondsToMidnight(now) : this.resetSeconds(searchFull ? search : burst, now);
      return { allowed: false, headers: { ...this.headers(burst, now), 'retry-after': String(retryAfter) } };
    }
    burst.push(now);
    if (request.search) search.push(now);
    this.spent += request.cost;
    const headers = this.headers(burst, now);
    if (request.apiTokenWrite) headers['x-daily-requests-left'] = String(this.countWrite(request.token));
    return { allowed: true, headers };
  }

  private window(key: string, now: number): number[] {
    const times = (this.recent.get(key) ?? []).filter((t) => t > now - WINDOW_MS);
    this.recent.set(key, times);
    return times;
  }

  /**
   * `x-ratelimit-*` are documented; `x-daily-ratelimit-token-*` are not, but the live API sends them
   * (observed by integrators in 2026), and clients read the remaining budget from them.
   */
  private headers(burst: number[], now: number): Record<string, string> {
    return {
      'x-ratelimit-limit': String(this.settings.burstLimit),
      'x-ratelimit-remaining': String(Math.max(0, this.settings.burstLimit - burst.length)),
      'x-ratelimit-reset': String(this.resetSeconds(burst, now)),
      'x-daily-ratelimit-token-limit': String(this.settings.dailyTokenBudget),
      'x-daily-ratelimit-token-remaining': String(Math.max(0, this.settings.dailyTokenBudget - this.spent)),
    };
  }

  /** Seconds until the oldest request leaves the window: the whole window when it is empty. */
  private resetSeconds(window: number[], now: number): number {
    const oldest = window[0];
    return oldest === undefined ? WINDOW_MS / 1000 : Math.max(1, Math.ceil((oldest + WINDOW_MS - now) / 1000));
  }

  private countWrite(token: string): number {
    const used = (this.writes.get(token) ?? 0) + 1;
    this.writes.set(token, used);
    return Math.max(0, this.settings.dailyWriteRequests - used);
  }

  private rollDay(now: number) {
    const today = new Date(now).toISOString().slice(0, 10);
    if (today === this.day) return;
    this.day = today;
    this.spent = 0;
    this.writes.clear();
  }

  get spentToday() {
    return this.spent;
  }

  reset() {
    this.recent.clear();
    this.writes.clear();
    this.spent = 0;
  }
}

function secondsToMidnight(now: number): number {
  const midnight = new Date(now);
  midnight.setUTCHours(24, 0, 0, 0);
  return Math.ceil((midnight.getTime() - now) / 1000);
}
