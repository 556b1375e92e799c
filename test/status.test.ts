import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusReport, statusTable, type ConnectionStatus } from '../src/status.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { eventually, startSandboxes, startSyncStack, type SyncStack } from './support/sync.ts';

// Bodies the API answers.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const run = promisify(execFile);
const cli = new URL('../src/cli.ts', import.meta.url).pathname;

let stack: SyncStack;
let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
let client: Client;
let hubspot: Json;
let pipedrive: Json;

async function crmSync(args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { env: { ...process.env, DATABASE_URL: stack.database.url, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  stack = await startSyncStack();
  sandboxes = await startSandboxes(83);
  client = await newAccount({ database: stack.database, app: stack.app, close: stack.close } as TestApi, 'Status Ltd');
  const { hubspot: hs, pipedrive: pd } = sandboxes;
  hubspot = (await client.request('POST', '/v1/connections', { provider: 'hubspot', credentials: { accessToken: hs.token, clientSecret: hs.clientSecret }, baseUrl: hs.baseUrl })).json();
  pipedrive = (await client.request('POST', '/v1/connections', { provider: 'pipedrive', credentials: { apiToken: pd.token }, baseUrl: pd.baseUrl })).json();
  // Some history: a push to both, then Pipedrive paused with a change waiting, an error on record,
  // a reconciliation pass that found drift, and a delivery for HubSpot waiting two minutes.
  const first = (await client.request('POST', '/v1/opportunities', { title: 'Pushed', amount: '100' })).json();
  await eventually(async () => (await stack.database.sql`SELECT count(*)::int AS n FROM outbox WHERE opportunity_id = ${first.id}`)[0]!.n === 0, 'the first push is done');
  await client.request('POST', `/v1/connections/${pipedrive.id}/pause`);
  await client.request('POST', '/v1/opportunities', { title: 'Waiting' });
  await eventually(async () => (await stack.database.sql`SELECT count(*)::int AS n FROM outbox WHERE connection_id = ${hubspot.id}`)[0]!.n === 0, 'HubSpot has it');
  await stack.database.sql`UPDATE connections SET last_error = ${stack.database.sql.json({ code: 'server', message: 'Pipedrive answered 502', at: new Date().toISOString() })} WHERE id = ${pipedrive.id}`;
  const lastPass = { finishedAt: new Date(Date.now() - 240_000).toISOString(), seen: 40, drift: 2 };
  await stack.database.sql`UPDATE connections SET reconcile_cursor = reconcile_cursor || ${stack.database.sql.json({ lastPass })} WHERE id = ${hubspot.id}`;
  // A webhook received two minutes ago whose round failed: it waits in the inbox for its retry.
  await stack.database.sql`INSERT INTO inbox (connection_id, received_at, events, event_count, claimed_until, attempts)
                           VALUES (${hubspot.id}, now() - interval '2 minutes', '[{}]', 1, now() + interval '10 minutes', 1)`;
});
afterAll(async () => {
  await stack.close();
  await sandboxes.close();
});

describe('crm-sync status', () => {
  let report: ConnectionStatus[];

  beforeAll(async () => {
    report = await statusReport(stack.deps);
  });

  it('reports each connection: outbound backlog, inbound lag, budget, reconciliation, last error', () => {
    const byProvider = Object.fromEntries(report.map((s) => [s.provider, s]));
    expect(byProvider.hubspot).toMatchObject({ accountId: client.accountId, accountName: 'Status Ltd', connectionId: hubspot.id, state: 'active', pendingOutbound: 0, recordsWithProblems: 0, outboundLagSeconds: null, lastError: null, lastReconcile: { drift: 2, seen: 40 } });
    expect(byProvider.hubspot!.inboundLagSeconds).toBeGreaterThanOrEqual(120);
    expect(byProvider.hubspot).toMatchObject({ inboundWaiting: 1, inboundFailed: 0 });
    expect(byProvider.hubspot!.budget.dailyLimit).toBe(250_000);
    expect(byProvider.hubspot!.budget.usedToday).toBeGreaterThan(0);
    expect(byProvider.hubspot!.crmCalls).toBeGreaterThan(0);
    expect(byProvider.pipedrive).toMatchObject({ connectionId: pipedrive.id, state: 'paused', pendingOutbound: 1, inboundLagSeconds: null, lastError: { code: 'server', message: 'Pipedrive answered 502' }, lastReconcile: null });
    expect(byProvider.pipedrive!.outboundLagSeconds).toBeGreaterThanOrEqual(0);
    expect(byProvider.pipedrive!.budget.usedToday).toBeGreaterThan(0);
  });

  it('prints a table with one aligned row per connection', () => {
    const lines = statusTable(report).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ACCOUNT\s+PROVIDER\s+CONNECTION\s+STATE\s+PROBLEMS\s+PENDING OUT\s+INBOUND\s+BUDGET TODAY\s+RECONCILED\s+DRIFT\s+LAST ERROR$/);
    const hubspotLine = lines.find((l) => l.includes(hubspot.id))!;
    const pipedriveLine = lines.find((l) => l.includes(pipedrive.id))!;
    expect(hubspotLine).toMatch(/1 waiting \(oldest 2m\)/);
    expect(hubspotLine).toMatch(/4m ago/);
    expect(hubspotLine).toMatch(/\/ 250,000 \(\d+\.\d%\)/);
    expect(pipedriveLine).toMatch(/paused\s+-\s+1 \(oldest \d+s\)/);
    expect(pipedriveLine).toMatch(/never\s+-\s+server: Pipedrive answered 502$/);
    // Aligned: every column starts where its heading does.
    for (const heading of ['PROVIDER', 'CONNECTION', 'STATE', 'BUDGET TODAY', 'LAST ERROR']) {
      const at = lines[0]!.indexOf(heading);
      for (const line of lines.slice(1)) expect(line[at - 1], heading).toBe(' ');
      for (const line of lines.slice(1)) expect(line[at], heading).not.toBe(' ');
    }
  });

  // Each run starts a Node process that loads the whole CLI: slow on a busy machine, so a longer timeout.
  it('runs from the CLI, as a table or as JSON for scripts', { timeout: 120_000 }, async () => {
    const [table, json, bad] = await Promise.all([crmSync(['status']), crmSync(['status', '--json', '--account', client.accountId]), crmSync(['status', '--account', 'nope'])]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^ACCOUNT\s+PROVIDER/);
    expect(table.stdout).toContain(hubspot.id);
    expect(json.code, json.stderr).toBe(0);
    const printed = JSON.parse(json.stdout) as ConnectionStatus[];
    expect(printed.map((s) => s.connectionId).sort()).toEqual([hubspot.id, pipedrive.id].sort());
    expect(printed.find((s) => s.provider === 'pipedrive')).toMatchObject({ state: 'paused', pendingOutbound: 1 });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--account must be an account id');
  });
});
