import type { Redis } from 'ioredis';
import { connectionSettingsSchema } from '../sync/settings.ts';
import { connectionOverview, type ConnectionOverview } from '../model/connections/connection-health.ts';
import type { Database } from '../model/store/db.ts';
import { inboxBacklog, type InboxBacklog } from '../model/sync-state/inbox.ts';
import { budgetFigures, type BudgetView } from './budget.ts';
import { rateLimitsFor } from './connectors.ts';
import { readUsage, type CrmUsage } from './crm-usage.ts';

export interface ConnectionHealth extends ConnectionOverview {
  /**
   * Today's spend (UTC day) against the daily limit: requests for HubSpot, tokens for Pipedrive; the
   * limit is the CRM's own once its answers gave it. With the budget's state (spent until resetsAt).
   */
  budget: { usedToday: number; dailyLimit: number } & BudgetView;
  usage: CrmUsage;
  /** Received webhooks not applied yet (the inbox): when the oldest arrived, how many, how many set aside after their retries. */
  inbox: InboxBacklog | null;
}

interface HealthDeps {
  db: Database;
  redis: Redis;
  prefix: string;
}

/** Postgres for the connections, Redis for what every worker spends: the same figures whichever process asks. */
export async function connectionHealth(deps: HealthDeps, options: { accountId?: string; withLastPull?: boolean } = {}): Promise<ConnectionHealth[]> {
  const overview = await connectionOverview(deps.db, options);
  const usage = await readUsage(deps.redis, deps.prefix, overview.map((c) => c.connectionId));
  const inbox = await inboxBacklog(deps.db, overview.map((c) => c.connectionId));
  return Promise.all(
    overview.map(async (c) => {
      // A connection whose stored settings this version cannot read is still reported, on the defaults.
      const settings = connectionSettingsSchema.safeParse(c.settings).data ?? connectionSettingsSchema.parse({});
      const { view, spentByUs } = await budgetFigures(deps, { id: c.connectionId, provider: c.provider, settings });
      // The CRM's own count once its headers gave one (what its limit is measured against), else ours.
      return { ...c, inbox: inbox.get(c.connectionId) ?? null, budget: { usedToday: view.used ?? spentByUs ?? 0, dailyLimit: view.limit ?? rateLimitsFor(c.provider, settings).daily, ...view }, usage: usage.get(c.connectionId)! };
    }),
  );
}
