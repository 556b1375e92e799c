import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pacerFor } from '../src/orchestration/connectors.ts';
import { CrmError } from '../src/providers/errors.ts';
import { providerModule } from '../src/providers/index.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { eventually, SANDBOX_HOSTS, startSandboxes, startSyncStack, type SyncStack } from './support/sync.ts';

// Bodies read back from the API and the sandboxes' control API.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/**
 * Small bounds, so a hanging CRM shows quickly; generous enough that the sandboxes' ordinary answers
 * on a busy machine fit in them. Nothing below asserts a duration tighter than "not hanging".
 */
const crmTimeouts = { connectMs: 2_000, requestMs: 1_500 };
/** Far beyond the bounds: a request still waiting after this is hanging. */
const NOT_HANGING_MS = 10_000;

let stack: SyncStack;
let silent: Server;
let silentUrl: string;
const held: Socket[] = [];

const asApi = (s: SyncStack) => ({ database: s.database, app: s.app, close: s.close }) as TestApi;
const control = (baseUrl: string, path: string, body: unknown = {}) =>
  fetch(`${baseUrl}/_sandbox${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

beforeAll(async () => {
  stack = await startSyncStack({ crmTimeouts });
  // A CRM that accepts the connection and reads the request, but never answers.
  silent = createServer((socket) => {
    held.push(socket);
    socket.on('error', () => {});
    socket.resume();
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
  await stack.close();
});

/** The answer, or a failure once NOT_HANGING_MS have passed without one. */
async function answered<T>(request: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hanging = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${NOT_HANGING_MS} ms`)), NOT_HANGING_MS)));
  try {
    return await Promise.race([request, hanging]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a CRM that never answers', () => {
  it.each([
    ['pipedrive', 'Pipedrive', { apiToken: 'a'.repeat(40) }],
    ['hubspot', 'HubSpot', { accessToken: 'pat-na1-silent', clientSecret: 'secret' }],
  ])('makes POST /v1/connections (%s) answer a 504 problem naming the CRM, not hang', { timeout: 20_000 }, async (provider, label, credentials) => {
    const client: Client = await newAccount(asApi(stack), `Silent ${provider}`);
    const response = await answered(client.request('POST', '/v1/connections', { provider, credentials, baseUrl: silentUrl }));
    expect(response.statusCode, response.body).toBe(504);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const problem = response.json();
    expect(problem.detail).toContain(`${label} at 127.0.0.1:`);
    expect(problem.detail).toContain('did not answer in time');
    expect(problem.provider).toBe(provider);
    expect(await stack.database.sql`SELECT id FROM connections WHERE account_id = ${client.accountId}`).toHaveLength(0);
  });

  it('fails a Pipedrive flush with a timeout shown on the connection, and the retry delivers once the CRM answers', { timeout: 60_000 }, async () => {
    const sandboxes = await startSandboxes(7100);
    try {
      const client = await newAccount(asApi(stack), 'Stalled Pipedrive');
      const created = await client.request('POST', '/v1/connections', {
        provider: 'pipedrive',
        credentials: { apiToken: sandboxes.pipedrive.token },
        baseUrl: sandboxes.pipedrive.baseUrl,
        settings: { limits: { perWindow: 480 } },
      });
      expect(created.statusCode, created.body).toBe(201);
      const connection = created.json();
      // The sandbox holds every API request for a minute: to us, a CRM that stopped answering.
      await control(sandboxes.pipedrive.baseUrl, '/faults', { latencyMs: 60_000 });
      const opportunity = (await client.request('POST', '/v1/opportunities', { title: 'Waits for Pipedrive', amount: '10.00' })).json();

      const failed: Json = await eventually(async () => {
        const view = (await client.request('GET', `/v1/connections/${connection.id}`)).json();
        return view.lastError?.code === 'timeout' && view;
      }, 'the connection shows the timeout', 30_000);
      expect(failed.status).toBe('active');
      expect(failed.lastError.message).toContain('pipedrive timed out');
      expect(failed.lastError.message).toContain(`${crmTimeouts.requestMs} ms`);

      // Answering again: the flush's retry (BullMQ's backoff) sends the deal and clears the error.
      await control(sandboxes.pipedrive.baseUrl, '/faults', { latencyMs: 0 });
      const key = connection.settings.canonicalIdField;
      await eventually(async () => {
        const state: Json = await (await fetch(`${sandboxes.pipedrive.baseUrl}/_sandbox/state`)).json();
        return state.deals.some((d: Json) => d.custom_fields[key] === opportunity.id);
      }, 'the deal reaches Pipedrive after the timeout', 40_000);
      await eventually(async () => (await client.request('GET', `/v1/connections/${connection.id}`)).json().lastError === null, 'the error clears');
      await client.request('DELETE', `/v1/connections/${connection.id}`);
    } finally {
      await sandboxes.close();
    }
  });
});

describe('a CRM that accepts TCP but never completes the TLS handshake', () => {
  it.each([
    ['pipedrive', { apiToken: 'b'.repeat(40) }],
    ['hubspot', { accessToken: 'pat-na1-handshake', clientSecret: 'secret' }],
  ] as const)('fails a %s call with a connect timeout, before the request bound', { timeout: 20_000 }, async (provider, credentials) => {
    const httpsUrl = silentUrl.replace('http:', 'https:');
    const pacer = pacerFor(stack.deps.redis, stack.deps.prefix, '00000000-0000-4000-8000-00000000000' + (provider === 'hubspot' ? '1' : '2'), provider, { limits: {} });
    const connector = providerModule(provider).connector({ credentials, baseUrl: httpsUrl, pacer, allowedHosts: SANDBOX_HOSTS, timeouts: { connectMs: 300, requestMs: 8_000 } });
    const failure = await answered(connector.dealFields().then(() => undefined, (error: unknown) => error));
    expect(failure).toBeInstanceOf(CrmError);
    expect(failure).toMatchObject({ provider, code: 'timeout', retryable: true, scope: 'transient' });
    expect((failure as Error).message).toBe(`${provider} timed out: no connection within 300 ms`);
  });
});

describe('an OAuth token endpoint that never answers', () => {
  it.each(['pipedrive', 'hubspot'] as const)('fails a %s code grant with a timeout', { timeout: 20_000 }, async (provider) => {
    const app = { clientId: 'client', clientSecret: 'secret' };
    const grant = providerModule(provider).grantTokens(app, { code: 'code', redirectUri: 'https://app.example.com/callback' }, silentUrl, { allowedHosts: SANDBOX_HOSTS, timeouts: { connectMs: 2_000, requestMs: 300 } });
    const failure = await answered(grant.then(() => undefined, (error: unknown) => error));
    expect(failure).toMatchObject({ provider, code: 'timeout', retryable: true });
    expect((failure as Error).message).toBe(`${provider} timed out: no complete answer within 300 ms`);
  });
});
