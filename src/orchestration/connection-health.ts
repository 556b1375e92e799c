import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { connectionSettingsSchema } from '../sync/settings.ts';
import { connectionOverview, type ConnectionOverview } from '../model/connections/connection-health.ts';
import type { Database } from '../model/store/db.ts';
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
  /** When the oldest inbound delivery still waiting for this connection arrived (status only). */
  inboundWaitingSince?: Date | null;
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
  return Promise.all(
    overview.map(async (c) => {
      // A connection whose stored settings this version cannot read is still reported, on the defaults.
      const settings = connectionSettingsSchema.safeParse(c.settings).data ?? connectionSettingsSchema.parse({});
      const { view, spentByUs } = await budgetFigures(deps, { id: c.connectionId, provider: c.provider, settings });
      // The CRM's own count once its headers gave one (what its limit is measured against), else ours.
      return { ...c, budget: { usedToday: view.used ?? spentByUs ?? 0, dailyLimit: view.limit ?? rateLimitsFor(c.provider, settings).daily, ...view }, usage: usage.get(c.connectionId)! };
    }),
  );
}

/** How many of the oldest waiting deliveries are read to find each connection's oldest one. */
const INBOUND_SCAN = 1000;

/**
 * The oldest delivery waiting (or delayed: a 429, a paused connection) per connection. Only the
 * oldest INBOUND_SCAN of each are read: a connection whose oldest delivery lies deeper than that
 * waits behind a backlog the queue-wide figures already show.
 */
export async function inboundWaitingSince(inbound: Queue): Promise<Map<string, Date>> {
  const oldest = new Map<string, Date>();
  for (const state of ['wait', 'delayed'] as const) {
    for (const job of await inbound.getJobs([state], 0, INBOUND_SCAN - 1, true)) {
      const { connectionId, receivedAt } = job.data as { connectionId?: string; receivedAt?: number };
      if (!connectionId) continue;
      const at = new Date(receivedAt ?? job.timestamp);
      const known = oldest.get(connectionId);
      if (!known || at < known) oldest.set(connectionId, at);
    }
  }
  return oldest;
}
