import { z } from 'zod';
import type { Provider } from '../../model/store/schema.ts';
import { providerModule } from '../../providers/index.ts';
import type { BudgetView } from '../../orchestration/budget.ts';

export const warningView = z.object({ code: z.string(), message: z.string() }).meta({ id: 'ConnectionWarning' });
export type ConnectionWarning = z.infer<typeof warningView>;

/** An active connection whose daily CRM budget is spent syncs nothing until it resets: it says so, and until when. */
export function budgetSpentWarning(provider: Provider, budget: BudgetView): ConnectionWarning {
  const label = providerModule(provider).label;
  return { code: 'budget_spent', message: `the daily ${label} budget (${budget.limit ?? '?'}) is spent: nothing is sent to ${label} until ${budget.resetsAt}, when it resets` };
}

/**
 * What an active connection cannot do although nothing failed yet. A connection stored without a
 * webhook secret, where no operator app secret verifies its CRM's webhooks either, has every
 * webhook refused (401): it is degraded, and says so instead of looking healthy. So is one with
 * records it cannot sync fully (an unmapped stage, a value the CRM or we refused): "active, no
 * error" must not hide them.
 */
export function connectionWarnings(
  view: { id: string; provider: Provider; webhookSecretStored: boolean; recordsWithProblems: number },
  appSecrets: Partial<Record<Provider, string>> | undefined,
): ConnectionWarning[] {
  return [...webhookWarnings(view, appSecrets), ...problemWarnings(view)];
}

function webhookWarnings(view: { provider: Provider; webhookSecretStored: boolean }, appSecrets: Partial<Record<Provider, string>> | undefined): ConnectionWarning[] {
  const module = providerModule(view.provider);
  if (view.webhookSecretStored || appSecrets?.[view.provider] || !module.webhooks.secretField) return [];
  return [
    {
      code: 'webhooks_unverifiable',
      message: `webhooks cannot be verified: this connection has no ${module.label} client secret and no operator app secret is configured, so every webhook is refused (401) and changes arrive only by reconciliation; rotate the credentials with credentials.${module.webhooks.secretField}`,
    },
  ];
}

function problemWarnings(view: { id: string; recordsWithProblems: number }): ConnectionWarning[] {
  const n = view.recordsWithProblems;
  if (n === 0) return [];
  return [{ code: 'records_with_problems', message: `${n} record${n === 1 ? '' : 's'} cannot sync fully: GET /v1/connections/${view.id}/problems lists each field, value and cause` }];
}
