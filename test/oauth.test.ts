import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshCredentials } from '../src/orchestration/credentials.ts';
import { open, seal } from '../src/model/store/secrets.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { eventually, startSandboxes, startSyncStack, type SyncStack } from './support/sync.ts';

// Bodies read back from the sandboxes' control API.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let stack: SyncStack;
let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
let client: Client;

const control = async (baseUrl: string, path: string, method = 'POST'): Promise<Json> => (await fetch(`${baseUrl}/_sandbox${path}`, { method })).json();

beforeAll(async () => {
  sandboxes = await startSandboxes(51);
  stack = await startSyncStack({
    oauthApps: {
      hubspot: { clientId: sandboxes.hubspot.clientId, clientSecret: sandboxes.hubspot.clientSecret },
      pipedrive: { clientId: sandboxes.pipedrive.clientId, clientSecret: sandboxes.pipedrive.clientSecret },
    },
  });
  client = await newAccount({ database: stack.database, app: stack.app, close: stack.close } as TestApi, 'OAuth');
});
afterAll(async () => {
  await stack.close();
  await sandboxes.close();
});

describe('OAuth connections', () => {
  const connections: Record<string, Json> = {};

  it.each(['hubspot', 'pipedrive'] as const)('connect %s with an authorization code and sync through its tokens', async (provider) => {
    const sandbox = sandboxes[provider];
    const { code } = await control(sandbox.baseUrl, '/oauth/code');
    const response = await client.request('POST', '/v1/connections', { provider, credentials: { oauthCode: code, redirectUri: 'https://crm-sync.example/oauth' }, baseUrl: sandbox.baseUrl });
    expect(response.statusCode, response.body).toBe(201);
    connections[provider] = response.json();
    const [row] = await stack.database.sql`SELECT credentials FROM connections WHERE id = ${connections[provider].id}`;
    const stored = JSON.parse(open(row!.credentials, stack.deps.keyring));
    expect(stored).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String), expiresAt: expect.any(Number) });
    const used = await client.request('POST', '/v1/connections', { provider, credentials: { oauthCode: code, redirectUri: 'https://crm-sync.example/oauth' }, baseUrl: sandbox.baseUrl });
    expect(used.statusCode).toBe(400);
    expect(used.json().errors[0].field).toBe('credentials');
  });

  it('refreshes an expiring token once, however many workers ask at the same moment', async () => {
    const id = connections.hubspot.id;
    const [row] = await stack.database.sql`SELECT credentials FROM connections WHERE id = ${id}`;
    const stored = JSON.parse(open(row!.credentials, stack.deps.keyring));
    // An hour-long token with a second left: inside the refresh margin.
    const expiring = seal(JSON.stringify({ ...stored, issuedAt: Date.now() - 3_600_000, expiresAt: Date.now() + 1000 }), stack.deps.keyring);
    await stack.database.sql`UPDATE connections SET credentials = ${expiring.sealed} WHERE id = ${id}`;
    const grantsBefore = (await control(sandboxes.hubspot.baseUrl, '/state', 'GET')).oauthGrants;
    const results = await Promise.all(Array.from({ length: 6 }, () => freshCredentials(stack.deps, id)));
    expect((await control(sandboxes.hubspot.baseUrl, '/state', 'GET')).oauthGrants).toBe(grantsBefore + 1);
    expect(new Set(results.map((c) => (c as { accessToken: string }).accessToken)).size).toBe(1);
    expect((results[0] as { accessToken: string }).accessToken).not.toBe(stored.accessToken);
  });

  it('pushes opportunities with the OAuth tokens', async () => {
    const opportunity = (await client.request('POST', '/v1/opportunities', { title: 'Via OAuth' })).json();
    await eventually(async () => (await stack.database.sql`SELECT count(*)::int AS n FROM outbox`)[0]!.n === 0, 'pushed');
    const hs = (await control(sandboxes.hubspot.baseUrl, '/state', 'GET')).deals as Json[];
    expect(hs.filter((d) => d.properties.crm_sync_id === opportunity.id)).toHaveLength(1);
    const key = connections.pipedrive.settings.canonicalIdField;
    const pd = (await control(sandboxes.pipedrive.baseUrl, '/state', 'GET')).deals as Json[];
    expect(pd.filter((d) => d.custom_fields[key] === opportunity.id)).toHaveLength(1);
  });
});
