import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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

// Sandboxes started with the same seed are the same OAuth app (client id and secret), so every
// test gets fresh CRMs of that app, and an account of its own; its connections are deleted after
// it, since a portal or company can be connected only once in the database.
const SEED = 51;

beforeAll(async () => {
  const app = await startSandboxes(SEED);
  stack = await startSyncStack({
    oauthApps: {
      hubspot: { clientId: app.hubspot.clientId, clientSecret: app.hubspot.clientSecret },
      pipedrive: { clientId: app.pipedrive.clientId, clientSecret: app.pipedrive.clientSecret },
    },
  });
  await app.close();
});
afterAll(async () => {
  await stack.close();
});

beforeEach(async () => {
  sandboxes = await startSandboxes(SEED);
  client = await newAccount({ database: stack.database, app: stack.app, close: stack.close } as TestApi, 'OAuth');
});
afterEach(async () => {
  for (const connection of (await client.request('GET', '/v1/connections')).json().data) await client.request('DELETE', `/v1/connections/${connection.id}`);
  await sandboxes.close();
});

/** Connects the account to a sandbox with an authorization code, as the OAuth flow would. */
async function connectWithCode(provider: 'hubspot' | 'pipedrive'): Promise<Json> {
  const sandbox = sandboxes[provider];
  const { code } = await control(sandbox.baseUrl, '/oauth/code');
  const response = await client.request('POST', '/v1/connections', { provider, credentials: { oauthCode: code, redirectUri: 'https://crm-sync.example/oauth' }, baseUrl: sandbox.baseUrl });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

describe('OAuth connections', () => {
  it.each(['hubspot', 'pipedrive'] as const)('connect %s with an authorization code and sync through its tokens', async (provider) => {
    const sandbox = sandboxes[provider];
    const { code } = await control(sandbox.baseUrl, '/oauth/code');
    const response = await client.request('POST', '/v1/connections', { provider, credentials: { oauthCode: code, redirectUri: 'https://crm-sync.example/oauth' }, baseUrl: sandbox.baseUrl });
    expect(response.statusCode, response.body).toBe(201);
    const [row] = await stack.database.sql`SELECT credentials FROM connections WHERE id = ${response.json().id}`;
    const stored = JSON.parse(open(row!.credentials, stack.deps.keyring));
    expect(stored).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String), expiresAt: expect.any(Number) });
    const used = await client.request('POST', '/v1/connections', { provider, credentials: { oauthCode: code, redirectUri: 'https://crm-sync.example/oauth' }, baseUrl: sandbox.baseUrl });
    expect(used.statusCode).toBe(400);
    expect(used.json().errors[0].field).toBe('credentials');
  });

  it('refreshes an expiring token once, however many workers ask at the same moment', async () => {
    const { id } = await connectWithCode('hubspot');
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
    const connections = { hubspot: await connectWithCode('hubspot'), pipedrive: await connectWithCode('pipedrive') };
    const opportunity = (await client.request('POST', '/v1/opportunities', { title: 'Via OAuth' })).json();
    await eventually(async () => (await stack.database.sql`SELECT count(*)::int AS n FROM outbox WHERE opportunity_id = ${opportunity.id}`)[0]!.n === 0, 'pushed');
    const hs = (await control(sandboxes.hubspot.baseUrl, '/state', 'GET')).deals as Json[];
    expect(hs.filter((d) => d.properties.crm_sync_id === opportunity.id)).toHaveLength(1);
    const key = connections.pipedrive.settings.canonicalIdField;
    const pd = (await control(sandboxes.pipedrive.baseUrl, '/state', 'GET')).deals as Json[];
    expect(pd.filter((d) => d.custom_fields[key] === opportunity.id)).toHaveLength(1);
  });
});
