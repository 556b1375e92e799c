/**
 * What one inbound change costs in each CRM's API budget, read from the sandboxes' own counters
 * (GET /_sandbox/state: HubSpot `usage`, requests per token today; Pipedrive `tokensSpentToday`,
 * the company's tokens by each endpoint's x-token-cost). The control API itself is not counted.
 */
import { sql } from 'drizzle-orm';
import { sandboxState, settle, waitFor, type Direction } from './inbound-measure.ts';
import type { Stack } from './inbound-stack.ts';

interface Usage {
  hubspotCalls: number;
  pipedriveTokens: number;
  /** Pushes recorded in sync_events, per CRM (only in the total: a push is recorded after the CRM has the value). */
  hubspotPushes: number;
  pipedrivePushes: number;
}

async function usage(setup: CostSetup): Promise<Usage> {
  const hubspot = await sandboxState(setup.hubspotUrl);
  const pipedrive = await sandboxState(setup.pipedriveUrl);
  const pushes = (connectionId: string) => setup.stack.count(sql`SELECT count(*)::int AS n FROM sync_events WHERE connection_id = ${connectionId} AND kind LIKE 'push%'`);
  return {
    hubspotCalls: Object.values(hubspot.usage as Record<string, number>).reduce((a, b) => a + b, 0),
    pipedriveTokens: pipedrive.tokensSpentToday,
    hubspotPushes: await pushes(setup.hubspotConnectionId),
    pipedrivePushes: await pushes(setup.pipedriveConnectionId),
  };
}

const keys = ['hubspotCalls', 'pipedriveTokens', 'hubspotPushes', 'pipedrivePushes'] as const;
const combine = (a: Usage, b: Usage, sign: 1 | -1) => Object.fromEntries(keys.map((k) => [k, a[k] + sign * b[k]])) as unknown as Usage;
const minus = (a: Usage, b: Usage) => combine(a, b, -1);
const plus = (a: Usage, b: Usage) => combine(a, b, 1);

export interface CostSetup {
  stack: Stack;
  hubspotUrl: string;
  pipedriveUrl: string;
  hubspotConnectionId: string;
  pipedriveConnectionId: string;
}

export interface Cost {
  /** From the edit until the other CRM holds the value: reading the changed deal, the push. */
  untilArrived: Usage;
  /** After that, until everything is quiet: the echo of our own write read back, and whatever it sets off. */
  echo: Usage;
  changes: number;
  unsettled: number;
}

/**
 * `k` edits, one at a time, each followed by quiet. The receiving CRM's webhooks are held back a
 * second (a sandbox fault switch) so the echo of our push is counted apart from the push itself.
 */
export async function costPerChange(setup: CostSetup, direction: Direction, receiverUrl: string, k: number, first: number): Promise<Cost> {
  const { stack, hubspotUrl, pipedriveUrl } = setup;
  const connectionIds = [setup.hubspotConnectionId, setup.pipedriveConnectionId];
  const faults = (body: unknown) => fetch(`${receiverUrl}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await faults({ delayWebhooksMs: 1000 });
  const zero = { hubspotCalls: 0, pipedriveTokens: 0, hubspotPushes: 0, pipedrivePushes: 0 };
  const cost: Cost = { untilArrived: zero, echo: zero, changes: 0, unsettled: 0 };
  try {
    for (let i = 0; i < k; i++) {
      const before = await usage(setup);
      await direction.edit(first + i);
      if (!(await waitFor(() => direction.arrived(first + i), 30_000))) throw new Error(`${direction.name}: edit ${i} did not arrive in 30 s`);
      const arrived = await usage(setup);
      if (!(await settle(stack, [hubspotUrl, pipedriveUrl], connectionIds, true))) cost.unsettled++;
      const after = await usage(setup);
      cost.untilArrived = plus(cost.untilArrived, minus(arrived, before));
      cost.echo = plus(cost.echo, minus(after, arrived));
      cost.changes++;
    }
  } finally {
    await faults({ delayWebhooksMs: 0 });
  }
  return cost;
}

export function describeCost(cost: Cost): string {
  const per = (n: number) => (n / cost.changes).toFixed(2);
  const part = (u: Usage) => `HubSpot ${per(u.hubspotCalls)} calls, Pipedrive ${per(u.pipedriveTokens)} tokens`;
  const total = plus(cost.untilArrived, cost.echo);
  const unsettled = cost.unsettled ? ` (${cost.unsettled} changes did not settle within 30 s)` : '';
  return [
    `per change, over ${cost.changes}:`,
    `      until the other CRM has it: ${part(cost.untilArrived)}`,
    `      after, until quiet (echo):  ${part(cost.echo)}`,
    `      total:                      ${part(total)}; pushes per change: to HubSpot ${per(total.hubspotPushes)}, to Pipedrive ${per(total.pipedrivePushes)}${unsettled}`,
  ].join('\n');
}
