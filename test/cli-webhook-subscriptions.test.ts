import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../src/model/accounts/accounts.ts';
import { insertConnection } from '../src/model/connections/connections.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { SANDBOX_HOSTS_ENV } from './support/sync.ts';

/** `crm-sync webhook-subscriptions CONNECTION_ID [--register]`, as an operator runs it. */

const cli = new URL('../src/cli.ts', import.meta.url).pathname;
let database: TestDatabase;
let hubspot: HubSpotSandbox;
let connectionId: string;

beforeAll(async () => {
  [database, hubspot] = await Promise.all([createTestDatabase(), startHubSpotSandbox({ seed: 12 })]);
  const { accountId } = await createAccount(database.db, { name: 'CLI Co' });
  const settings = { baseUrl: hubspot.baseUrl, attributes: [{ key: 'region', remote: 'sales_region', type: 'enum' }] };
  connectionId = (await insertConnection(database.db, { accountId, provider: 'hubspot', credentials: 'sealed', credentialsKeyId: 'k', webhookSecret: null, remoteAccountId: '1', settings })).id;
});
afterAll(async () => {
  await hubspot.close();
  await database.drop();
});

async function run(args: string[], env: Record<string, string> = {}) {
  const base = { DATABASE_URL: database.url, PUBLIC_URL: 'https://sync.example', HUBSPOT_APP_ID: '', HUBSPOT_DEVELOPER_API_KEY: '', ...SANDBOX_HOSTS_ENV };
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, 'webhook-subscriptions', ...args], { env: { ...process.env, ...base, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const app = () => ({ HUBSPOT_APP_ID: String(hubspot.appId), HUBSPOT_DEVELOPER_API_KEY: hubspot.developerApiKey });

describe('crm-sync webhook-subscriptions', () => {
  it('prints the subscriptions the connection needs, one a line, and registers nothing', async () => {
    const { code, stdout, stderr } = await run([connectionId]);
    expect(code, stderr).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toEqual(expect.arrayContaining(['deal.creation', 'deal.associationChange', 'deal.propertyChange:hubspot_owner_id', 'deal.propertyChange:sales_region']));
    expect((await fetch(`${hubspot.baseUrl}/webhooks/v3/${hubspot.appId}/subscriptions?hapikey=${hubspot.developerApiKey}`).then((r) => r.json() as Promise<{ results: unknown[] }>)).results).toEqual([]);
  });

  it('--register names the missing app variables', async () => {
    const { code, stderr } = await run([connectionId, '--register'], { HUBSPOT_APP_ID: '42' });
    expect(code).toBe(1);
    expect(stderr).toContain('HUBSPOT_DEVELOPER_API_KEY is required to register HubSpot webhook subscriptions');
    expect(stderr).not.toContain('HUBSPOT_APP_ID');
  });

  it('--register subscribes the app, and a second run creates nothing', async () => {
    const listed = (await run([connectionId])).stdout.trim().split('\n');
    const first = await run([connectionId, '--register'], app());
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ connectionId, created: listed, present: [], inactive: [], unwanted: [] });
    const again = JSON.parse((await run([connectionId, '--register'], app())).stdout);
    expect(again).toMatchObject({ created: [], present: listed });
    const settings = await fetch(`${hubspot.baseUrl}/webhooks/v3/${hubspot.appId}/settings?hapikey=${hubspot.developerApiKey}`).then((r) => r.json() as Promise<{ targetUrl: string }>);
    expect(settings.targetUrl).toBe('https://sync.example/webhooks/hubspot');
  });

  it('needs a connection id', async () => {
    const { code, stderr } = await run(['not-a-uuid']);
    expect(code).toBe(2);
    expect(stderr).toContain('webhook-subscriptions needs a CONNECTION_ID');
  });
});
