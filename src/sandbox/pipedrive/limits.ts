import { PipedriveError } from './errors.ts';

export interface PipedriveLimitSettings {
  /** Requests per rolling 2-second window per token (20 on Essential with an API token, up to 480). */
  burstLimit: number;
  /** 30,000 × plan multiplier × seats tokens a day, shared by the company. */
  dailyTokenBudget: number;
}

/** Pipedrive's formula: 30,000 base tokens × the plan's multiplier × the number of seats. */
export const dailyTokenBudget = (planMultiplier: number, seats: number) => 30_000 * planMultiplier * seats;

// A Professional-like company (multiplier 4) with 5 seats, on an API token's burst limit.
export const defaultPipedriveLimits: PipedriveLimitSettings = { burstLimit: 80, dailyTokenBudget: dailyTokenBudget(4, 5) };

const WINDOW_MS = 2000;
const overLimit = () => new PipedriveError(429, 'Request over limit', 'Please check developers.pipedrive.com for more information about Pipedrive API.');

export class PipedriveLimiter {
  settings: PipedriveLimitSettings;
  private recent = new Map<string, number[]>();
  private spent = 0;
  private day = '';

  constructor(settings: PipedriveLimitSettings) {
    this.settings = settings;
  }

  /** Charges a request's token cost to the company budget and one request to the token's window. */
  charge(token: string, cost: number, now = Date.now()): Record<string, string> {
    const today = new Date(now).toISOString().slice(0, 10);
    if (today !== this.day) Object.assign(this, { day: today, spent: 0 });
    const times = (this.recent.get(token) ?? []).filter((t) => t > now - WINDOW_MS);
    this.recent.set(token, times);
    if (times.length >= this.settings.burstLimit || this.spent + cost > this.settings.dailyTokenBudget) throw overLimit();
    times.push(now);
    this.spent += cost;
    const reset = Math.max(1, Math.ceil((times[0]! + WINDOW_MS - now) / 1000));
    return {
      'x-ratelimit-limit': String(this.settings.burstLimit),
      'x-ratelimit-remaining': String(this.settings.burstLimit - times.length),
      'x-ratelimit-reset': String(reset),
    };
  }

  get spentToday() {
    return this.spent;
  }

  reset() {
    this.recent.clear();
    this.spent = 0;
  }
}
