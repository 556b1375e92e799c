import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Provider } from '../model/store/schema.ts';
import { within } from '../model/store/within.ts';
import type { ConnectionSettings } from '../sync/settings.ts';
import { rateLimitsFor } from './connectors.ts';
import { budgetDay, budgetKeys } from './pacer.ts';

export const budgetView = z
  .object({
    state: z.enum(['ok', 'spent', 'unknown']).describe('spent: no request goes to the CRM until resetsAt; unknown: the figures could not be read (Redis)'),
    used: z.number().nullable().describe('Spent today, as the CRM counts: requests or tokens'),
    limit: z.number().nullable().describe("Today's daily budget: the CRM's own figure once its answers gave it, else the configured one"),
    remaining: z.number().nullable(),
    resetsAt: z.string().nullable().describe('When the budget is whole again: the next midnight UTC'),
    source: z.enum(['crm', 'configured']).nullable().describe('crm: the figures are what the CRM last said in its rate-limit headers'),
  })
  .meta({ id: 'ConnectionBudget' });
export type BudgetView = z.infer<typeof budgetView>;

/** How long a view waits for Redis before it says `unknown`: a status page must answer. */
export const BUDGET_READ_MS = 1_000;

/**
 * Both CRMs count per day. Pipedrive resets at midnight UTC; HubSpot at midnight in the portal's
 * time zone, which its headers do not say, so midnight UTC is shown for it too (at most a day's
 * part off). The day keys in Redis are UTC days for both.
 */
export function nextUtcMidnight(now = Date.now()): Date {
  const at = new Date(now);
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate() + 1));
}

const unknownBudget: BudgetView = { state: 'unknown', used: null, limit: null, remaining: null, resetsAt: null, source: null };

interface BudgetDeps {
  redis: Redis;
  prefix: string;
}

/**
 * A connection's daily CRM budget today, as every worker shares it in Redis: the CRM's own figures
 * where its answers gave them, our accounting otherwise. Spent when the CRM says nothing remains or
 * the pacer refused a request for it. A Redis that fails or does not answer within `waitMs` makes
 * the view `unknown`, never an error or a hang.
 */
export async function connectionBudget(
  deps: BudgetDeps,
  connection: { id: string; provider: Provider; settings: Pick<ConnectionSettings, 'limits'> },
  waitMs = BUDGET_READ_MS,
): Promise<BudgetView> {
  return (await budgetFigures(deps, connection, waitMs)).view;
}

/** The view, and what our own pacer counted today (null when Redis could not be read), in one bounded read. */
export async function budgetFigures(
  deps: BudgetDeps,
  connection: { id: string; provider: Provider; settings: Pick<ConnectionSettings, 'limits'> },
  waitMs = BUDGET_READ_MS,
): Promise<{ view: BudgetView; spentByUs: number | null }> {
  const now = Date.now();
  const keys = budgetKeys(deps.prefix, connection.id, budgetDay(now));
  const read = async () => {
    const replies = (await deps.redis.pipeline().get(keys.spent).hmget(keys.crm, 'limit', 'remaining').exists(keys.exhausted).exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    return replies.map(([, value]) => value) as [string | null, (string | null)[], number];
  };
  const figures = await within(read(), waitMs, 'the budget could not be read in time').catch(() => undefined);
  if (!figures) return { view: unknownBudget, spentByUs: null };
  const [spent, [crmLimit, crmRemaining], exhausted] = figures;
  const ours = Number(spent ?? 0);
  const fromCrm = crmLimit !== null && crmRemaining !== null;
  const limit = fromCrm ? Number(crmLimit) : rateLimitsFor(connection.provider, connection.settings).daily;
  const remaining = fromCrm ? Number(crmRemaining) : Math.max(0, limit - ours);
  const used = fromCrm ? Math.max(0, limit - remaining) : ours;
  const state = exhausted === 1 || remaining <= 0 ? 'spent' : 'ok';
  return { view: { state, used, limit, remaining, resetsAt: nextUtcMidnight(now).toISOString(), source: fromCrm ? 'crm' : 'configured' }, spentByUs: ours };
}
