import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { refreshSyncGauges, syncGauges } from '../src/api/admin/sync-gauges.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionBudget } from '../src/orchestration/budget.ts';
import { startHubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import { startPipedriveSandbox } from '../src/sandbox/pipedrive/index.ts';
import { statusReport, statusTable } from '../src/status.ts';
import { newAccount, type TestApi } from './support/api.ts';
import { eventually, freePort, startSyncStack, type SyncStack } from './support/sync.ts';

// Bodies read back from the API and the sandboxes' control API.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let stack: SyncStack;
const asApi = (s: SyncStack) => ({ database: s.database, app: s.app, close: s.close }) as TestApi;
const state = async (baseUrl: string): Promise<Json> => (await fetch(`${baseUrl}/_sandbox/state`)).json();

/** The next midnight UTC after now, as the view gives it. */
const nextMidnight = () => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)).toISOString();
};

beforeAll(async () => {
  stack = await startSyncStack();
});
afterAll(async () => {
  await stack.close();
});

describe('the daily CRM budget', () => {
  it('shows a Pipedrive budget spent, with the limit its headers gave and when it resets, and stops sending', { timeout: 60_000 }, async () => {
    // A small company: 400 tokens a day (our default for Pipedrive is 30,000). Setting up the connection costs about 100.
    const pipedrive = await startPipedriveSandbox({ seed: 7300, dailyTokenBudget: 400, burstLimit: 480 });
    try {
      const client = await newAccount(asApi(stack), 'Small Pipedrive');
      const created = await client.request('POST', '/v1/connections', { provider: 'pipedrive', credentials: { apiToken: pipedrive.token }, baseUrl: pipedrive.baseUrl, settings: { limits: { perWindow: 480 } } });
      expect(created.statusCode, created.body).toBe(201);
      const id = created.json().id;

      const fresh = (await client.request('GET', `/v1/connections/${id}`)).json();
      expect(fresh.budget).toMatchObject({ state: 'ok', limit: 400, source: 'crm', resetsAt: nextMidnight() });
      expect(fresh.budget.remaining).toBe(400 - (await state(pipedrive.baseUrl)).tokensSpentToday);
      expect(fresh.warnings).toEqual([]);

      // 5 tokens a deal: 80 deals are more than what is left.
      for (let i = 0; i < 80; i += 20) {
        await Promise.all(Array.from({ length: 20 }, (_, j) => client.request('POST', '/v1/opportunities', { title: `Budget ${i + j}` })));
      }
      const spent: Json = await eventually(async () => {
        const view = (await client.request('GET', `/v1/connections/${id}`)).json();
        return view.budget.state === 'spent' && view;
      }, 'the connection shows its budget spent', 40_000);
      expect(spent.budget).toMatchObject({ state: 'spent', limit: 400, source: 'crm', resetsAt: nextMidnight() });
      // What is left is less than the next requests would cost, as the CRM or our accounting counts them.
      expect(spent.budget.remaining).toBeLessThan(400 - fresh.budget.used);
      expect(spent.budget.used).toBe(400 - spent.budget.remaining);
      expect(spent.status).toBe('active');
      expect(spent.warnings).toContainEqual({ code: 'budget_spent', message: expect.stringContaining(`until ${nextMidnight()}`) });
      const listed = (await client.request('GET', '/v1/connections')).json().data.find((c: Json) => c.id === id);
      expect(listed.budget.state).toBe('spent');

      // crm-sync status says so too.
      const report = (await statusReport(stack.deps, client.accountId)).find((s) => s.connectionId === id)!;
      expect(report.budget).toMatchObject({ state: 'spent', limit: 400, dailyLimit: 400 });
      // One figure everywhere: status counts what the CRM counted, as the API view does.
      expect(report.budget.usedToday).toBe(listed.budget.used);
      expect(listed.budgetUsedToday).toBe(listed.budget.used);
      expect(statusTable([report])).toContain(`active, budget spent until ${nextMidnight()}`);

      // /metrics: the CRM's limit, what remains, and the spent flag.
      const registry = new Registry();
      await refreshSyncGauges(syncGauges(registry), { ...stack.deps, queues: [] });
      const metrics = await registry.metrics();
      expect(metrics).toContain(`crm_sync_crm_budget_daily_limit{provider="pipedrive",account="${client.accountId}",connection="${id}"} 400`);
      expect(metrics).toContain(`crm_sync_crm_budget_remaining{provider="pipedrive",account="${client.accountId}",connection="${id}"} ${spent.budget.remaining}`);
      expect(metrics).toContain(`crm_sync_crm_budget_spent{provider="pipedrive",account="${client.accountId}",connection="${id}"} 1`);

      // Nothing more goes to Pipedrive today: the pacer keeps to what the CRM said.
      const tokens = (await state(pipedrive.baseUrl)).tokensSpentToday;
      await client.request('POST', '/v1/opportunities', { title: 'After the budget' });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect((await state(pipedrive.baseUrl)).tokensSpentToday).toBe(tokens);
      await client.request('DELETE', `/v1/connections/${id}`);
    } finally {
      await pipedrive.close();
    }
  });

  it("follows HubSpot's daily headers: the limit shown is the portal's, not our default", { timeout: 30_000 }, async () => {
    const hubspot = await startHubSpotSandbox({ seed: 7301, limits: { tenSecondLimit: 250, dailyLimit: 5_000 } });
    try {
      const client = await newAccount(asApi(stack), 'HubSpot budget');
      const created = await client.request('POST', '/v1/connections', { provider: 'hubspot', credentials: { accessToken: hubspot.token, clientSecret: hubspot.clientSecret }, baseUrl: hubspot.baseUrl });
      expect(created.statusCode, created.body).toBe(201);
      const id = created.json().id;
      const used = Object.values((await state(hubspot.baseUrl)).usage as Record<string, number>)[0]!;
      const view = (await client.request('GET', `/v1/connections/${id}`)).json();
      // The account lookup's first answer carries no headers here (generic request): the rest do.
      expect(view.budget).toMatchObject({ state: 'ok', limit: 5_000, source: 'crm', resetsAt: nextMidnight() });
      expect(view.budget.remaining).toBe(5_000 - used);
      await client.request('DELETE', `/v1/connections/${id}`);
    } finally {
      await hubspot.close();
    }
  });

  it('shows the budget spent when HubSpot refuses for the day after others spent it (429, policy DAILY)', { timeout: 30_000 }, async () => {
    const hubspot = await startHubSpotSandbox({ seed: 7302, limits: { tenSecondLimit: 250, dailyLimit: 120 } });
    try {
      const client = await newAccount(asApi(stack), 'HubSpot spent elsewhere');
      const created = await client.request('POST', '/v1/connections', { provider: 'hubspot', credentials: { accessToken: hubspot.token, clientSecret: hubspot.clientSecret }, baseUrl: hubspot.baseUrl });
      expect(created.statusCode, created.body).toBe(201);
      const id = created.json().id;
      expect((await client.request('GET', `/v1/connections/${id}`)).json().budget.state).toBe('ok');
      // Another integration of the portal spends what is left, unseen by crm-sync.
      for (;;) {
        const answer = await fetch(`${hubspot.baseUrl}/crm/v3/objects/deals?limit=1`, { headers: { authorization: `Bearer ${hubspot.token}` } });
        await answer.arrayBuffer();
        if (answer.status === 429) break;
      }
      await client.request('POST', '/v1/opportunities', { title: 'Refused for the day' });
      const view: Json = await eventually(async () => {
        const found = (await client.request('GET', `/v1/connections/${id}`)).json();
        return found.budget.state === 'spent' && found;
      }, 'the connection shows its budget spent', 20_000);
      expect(view.budget).toMatchObject({ state: 'spent', limit: 120, remaining: 0, used: 120, source: 'crm', resetsAt: nextMidnight() });
      expect(view.warnings.map((w: Json) => w.code)).toContain('budget_spent');
      await client.request('DELETE', `/v1/connections/${id}`);
    } finally {
      await hubspot.close();
    }
  });

  it('is unknown, promptly, when Redis cannot be read', { timeout: 20_000 }, async () => {
    const port = await freePort();
    const down = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: null, retryStrategy: () => 200 });
    down.on('error', () => {});
    try {
      const view = await connectionBudget({ redis: down, prefix: 'test-budget-down' }, { id: '00000000-0000-4000-8000-000000000000', provider: 'pipedrive', settings: { limits: {} } }, 300);
      expect(view).toEqual({ state: 'unknown', used: null, limit: null, remaining: null, resetsAt: null, source: null });
    } finally {
      down.disconnect();
    }
  });
});
