import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileConnection } from '../src/orchestration/reconcile.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { eventually, freePort, startSandboxes, startSyncStack, type SyncStack } from './support/sync.ts';

// Bodies the API answers.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** A loopback listener that answers every request with `body` and records what it was asked. */
async function listener(host: string, body: unknown) {
  const requests: { method?: string; url?: string; authorization?: string }[] = [];
  const server: Server = createServer((request: IncomingMessage, response) => {
    requests.push({ method: request.method, url: request.url, authorization: request.headers.authorization ?? String(request.headers['x-api-token'] ?? '') });
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://${host}:${port}`, requests, close: () => new Promise((resolve) => server.close(resolve)) };
}

let stack: SyncStack;
let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
let client: Client;
/** 127.0.0.2 is loopback, but not on the tests' allow-list (CRM_BASE_URL_HOSTS=127.0.0.1): "any host". */
let recorder: Awaited<ReturnType<typeof listener>>;
/** An allowed host that answers `{}` to everything: a CRM whose account lookup does not fit. */
let empty: Awaited<ReturnType<typeof listener>>;
let seed = 9400;

const asApi = (s: SyncStack) => ({ database: s.database, app: s.app, close: s.close }) as TestApi;
const hubspotBody = (extra: Json = {}) => ({ provider: 'hubspot', credentials: { accessToken: sandboxes.hubspot.token, clientSecret: sandboxes.hubspot.clientSecret }, baseUrl: sandboxes.hubspot.baseUrl, ...extra });
const pipedriveBody = (extra: Json = {}) => ({ provider: 'pipedrive', credentials: { apiToken: sandboxes.pipedrive.token }, baseUrl: sandboxes.pipedrive.baseUrl, ...extra });

beforeAll(async () => {
  stack = await startSyncStack();
  sandboxes = await startSandboxes(seed++);
  client = await newAccount(asApi(stack), 'Security');
  recorder = await listener('127.0.0.2', {});
  empty = await listener('127.0.0.1', {});
});
afterAll(async () => {
  await stack.close();
  await sandboxes.close();
  await recorder.close();
  await empty.close();
});

describe('baseUrl is operator-only', () => {
  it('refuses a POST or PATCH pointing a connection at a host off CRM_BASE_URL_HOSTS, naming baseUrl, and sends nothing there', async () => {
    const posted = await client.request('POST', '/v1/connections', hubspotBody({ baseUrl: recorder.url }));
    expect(posted.statusCode, posted.body).toBe(400);
    expect(posted.json().errors).toEqual([expect.objectContaining({ field: 'baseUrl', message: expect.stringContaining('127.0.0.2') })]);
    const inSettings = await client.request('POST', '/v1/connections', pipedriveBody({ settings: { baseUrl: recorder.url } }));
    expect(inSettings.statusCode, inSettings.body).toBe(400);
    expect(inSettings.json().errors[0].field).toBe('settings.baseUrl');

    const connection = (await client.request('POST', '/v1/connections', pipedriveBody())).json();
    const patched = await client.request('PATCH', `/v1/connections/${connection.id}`, { baseUrl: recorder.url });
    expect(patched.statusCode, patched.body).toBe(400);
    expect(patched.json().errors[0].field).toBe('baseUrl');
    expect((await client.request('GET', `/v1/connections/${connection.id}`)).json().settings.baseUrl).toBe(sandboxes.pipedrive.baseUrl);
    expect(recorder.requests).toEqual([]);
    await client.request('DELETE', `/v1/connections/${connection.id}`);
  });

  it('refuses a stored baseUrl off the allow-list at reconcile and flush: the connection stops with the error, no request is sent', async () => {
    const hubspot = (await client.request('POST', '/v1/connections', hubspotBody())).json();
    const pipedrive = (await client.request('POST', '/v1/connections', pipedriveBody())).json();
    // As a connection stored before the rule (or by hand) could be.
    for (const id of [hubspot.id, pipedrive.id]) {
      await stack.database.sql`UPDATE connections SET settings = settings || ${stack.database.sql.json({ baseUrl: `${recorder.url}/crm` })} WHERE id = ${id}`;
    }
    await expect(reconcileConnection(stack.deps, pipedrive.id)).rejects.toMatchObject({ code: 'forbidden' });
    expect((await client.request('GET', `/v1/connections/${pipedrive.id}`)).json()).toMatchObject({ status: 'error', lastError: { code: 'forbidden' } });
    await client.request('POST', '/v1/opportunities', { title: 'Must not leak' });
    const stopped = await eventually(async () => {
      const view = (await client.request('GET', `/v1/connections/${hubspot.id}`)).json();
      return view.status === 'error' && view;
    }, 'the flush refuses the HubSpot connection');
    expect(stopped.lastError).toMatchObject({ code: 'forbidden', message: expect.stringContaining('127.0.0.2'), at: expect.any(String) });
    expect(recorder.requests).toEqual([]);
    for (const id of [hubspot.id, pipedrive.id]) await client.request('DELETE', `/v1/connections/${id}`);
  });
});

describe('POST /v1/connections never answers 500', () => {
  it('names the field of credentials of the wrong shape (400)', async () => {
    const response = await client.request('POST', '/v1/connections', { provider: 'hubspot', credentials: { apiToken: 'pd-shaped' }, baseUrl: sandboxes.hubspot.baseUrl });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.json().errors.map((e: Json) => e.field)).toContain('credentials.accessToken');
  });

  it('names the CRM that could not be reached (502)', async () => {
    const nothing = `http://127.0.0.1:${await freePort()}`;
    const response = await client.request('POST', '/v1/connections', pipedriveBody({ baseUrl: nothing }));
    expect(response.statusCode, response.body).toBe(502);
    expect(response.json()).toMatchObject({ detail: expect.stringContaining('Pipedrive could not be reached'), errors: [{ field: 'baseUrl' }] });
  });

  it('refuses a CRM whose account lookup answers {} (502), and stores nothing', async () => {
    for (const body of [hubspotBody({ baseUrl: empty.url }), pipedriveBody({ baseUrl: empty.url })]) {
      const response = await client.request('POST', '/v1/connections', body);
      expect(response.statusCode, response.body).toBe(502);
      expect(response.json().detail).toMatch(/answered the (account details|current user) lookup with something that is not one/);
    }
    expect((await client.request('GET', '/v1/connections')).json().data).toEqual([]);
  });

  it('answers a few hundred malformed bodies with 4xx (or 502), never 500', async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const values: Json[] = [undefined, null, 0, -1, 1.5, '', 'x', true, [], [1], {}, { a: 1 }, 'http://', 'not a url', unreachable, recorder.url, empty.url, sandboxes.hubspot.baseUrl];
    const credentials: Json[] = [...values, { apiToken: 'x' }, { accessToken: 'x' }, { accessToken: 7 }, { accessToken: 'x', clientSecret: 'y' }, { oauthCode: 'c' }, { oauthCode: 'c', redirectUri: 'nope' }, { oauthCode: 'c', redirectUri: 'http://127.0.0.1/cb' }, { apiToken: sandboxes.pipedrive.token, extra: 1 }];
    let state = 7;
    const pick = <T>(list: T[]) => list[(state = (state * 1103515245 + 12345) % 2 ** 31) % list.length]!;
    const statuses = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const body: Json = { provider: pick(['hubspot', 'pipedrive', 'salesforce', undefined, 3]), credentials: pick(credentials), baseUrl: pick(values), settings: pick([undefined, {}, { stages: 'x' }, { limits: { daily: -1 } }, { baseUrl: recorder.url }, { attributes: [{ key: 'nope', remote: 'x', type: 'text' }] }, null]) };
      if (i % 7 === 0) delete body.baseUrl;
      const response = await client.request('POST', '/v1/connections', i % 11 === 0 ? JSON.stringify(body).slice(0, 20) : body);
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      expect(response.statusCode === 502 || (response.statusCode >= 400 && response.statusCode < 500), `${JSON.stringify(body)} → ${response.statusCode} ${response.body}`).toBe(true);
    }
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(recorder.requests).toEqual([]);
  });
});

describe('a HubSpot connection that could never verify its webhooks', () => {
  it('is refused at creation without a client secret, naming the field, unless the operator app secret exists', async () => {
    const response = await client.request('POST', '/v1/connections', hubspotBody({ credentials: { accessToken: sandboxes.hubspot.token } }));
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().errors).toEqual([expect.objectContaining({ field: 'credentials.clientSecret' })]);
    stack.deps.appSecrets = { hubspot: sandboxes.hubspot.clientSecret };
    try {
      const accepted = await client.request('POST', '/v1/connections', hubspotBody({ credentials: { accessToken: sandboxes.hubspot.token } }));
      expect(accepted.statusCode, accepted.body).toBe(201);
      expect(accepted.json().warnings).toEqual([]);
      await client.request('DELETE', `/v1/connections/${accepted.json().id}`);
    } finally {
      stack.deps.appSecrets = undefined;
    }
  });

  it('shows one stored without any secret as degraded: webhooks cannot be verified', async () => {
    const connection = (await client.request('POST', '/v1/connections', hubspotBody())).json();
    expect(connection.warnings).toEqual([]);
    await stack.database.sql`UPDATE connections SET webhook_secret = NULL WHERE id = ${connection.id}`;
    const view = (await client.request('GET', `/v1/connections/${connection.id}`)).json();
    expect(view).toMatchObject({ status: 'active', webhookSecretStored: false, warnings: [{ code: 'webhooks_unverifiable', message: expect.stringContaining('webhooks cannot be verified') }] });
    await client.request('DELETE', `/v1/connections/${connection.id}`);
  });
});
