import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/api/server.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import { startPipedriveSandbox } from '../src/sandbox/pipedrive/index.ts';
import { statusReport, statusTable } from '../src/status.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { eventually, startSyncStack, type SyncStack } from './support/sync.ts';

/**
 * Issue 11, a connection's health as its admin sees it: credentials rotated and checked like a new
 * connection's, the last error with its time until a success clears it, the records it cannot sync
 * (on /v1, the admin API, `crm-sync status` and /metrics), and settings checked against the account
 * and the CRM. One HubSpot connection on real parts: the API, the workers, the sandbox over HTTP.
 */

// Bodies the API and the sandbox answer.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const ADMIN_TOKEN = 'admin-token-for-health-tests-0123';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

let stack: SyncStack;
let app: FastifyInstance;
let hubspot: HubSpotSandbox;
/** Another HubSpot account (portal), with a token of its own. */
let otherPortal: HubSpotSandbox;
let client: Client;
let connection: Json;
const sandboxes: HubSpotSandbox[] = [];

const sandbox = (path: string, body: unknown = {}) =>
  fetch(`${hubspot.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<Json>);
const sandboxState = async (): Promise<Json> => (await fetch(`${hubspot.baseUrl}/_sandbox/state`)).json();
const current = async (): Promise<Json> => (await client.request('GET', `/v1/connections/${connection.id}`)).json();
const dealOf = async (id: string) => ((await sandboxState()).deals as Json[]).find((d) => d.properties[connection.settings.canonicalIdField] === id);
const fieldsOf = (response: { json(): Json }) => (response.json().errors as { field: string }[]).map((e) => e.field).sort();
const problems = async (): Promise<Json[]> => (await client.request('GET', `/v1/connections/${connection.id}/problems`)).json().data;
const rotate = (credentials: Record<string, unknown>) => client.request('PUT', `/v1/connections/${connection.id}/credentials`, { credentials });
const newSandbox = async (seed: number) => {
  const started = await startHubSpotSandbox({ seed, limits: { tenSecondLimit: 250 } });
  sandboxes.push(started);
  return started;
};

beforeAll(async () => {
  stack = await startSyncStack();
  app = await buildServer({
    db: stack.database.db,
    logger: false,
    sync: { setup: stack.deps, outbound: stack.queues.outbound, inbound: stack.queues.inbound, reconcile: stack.queues.reconcile },
    admin: { token: ADMIN_TOKEN, queues: Object.values(stack.queues) },
  });
});
afterAll(async () => {
  await app.close();
  await stack.close();
  await Promise.all(sandboxes.map((s) => s.close()));
});

/** Each group of tests has an account and a HubSpot portal of its own, connected: no group depends on another. */
function connectedAccount(seed: number) {
  beforeAll(async () => {
    hubspot = await newSandbox(seed);
    client = await newAccount({ database: stack.database, app, close: stack.close } as TestApi, `Health ${seed}`);
    const created = await client.request('POST', '/v1/connections', { provider: 'hubspot', credentials: { accessToken: hubspot.token, clientSecret: hubspot.clientSecret }, baseUrl: hubspot.baseUrl });
    expect(created.statusCode, created.body).toBe(201);
    connection = created.json();
  });
}

async function pushedOpportunity(title: string, extra: Record<string, unknown> = {}): Promise<{ id: string; deal: Json }> {
  const created = await client.request('POST', '/v1/opportunities', { title, ...extra });
  expect(created.statusCode, created.body).toBe(201);
  const id = created.json().id as string;
  return { id, deal: await eventually(() => dealOf(id), `HubSpot has ${title}`, 20_000) };
}

describe('credential rotation', () => {
  connectedAccount(1101);
  beforeAll(async () => {
    otherPortal = await newSandbox(1102);
  });

  it('refuses a token HubSpot refuses with a 400 naming credentials, and keeps the old credentials', async () => {
    const refused = await rotate({ accessToken: 'pat-sandbox-not-a-token', clientSecret: hubspot.clientSecret });
    expect(refused.statusCode, refused.body).toBe(400);
    expect(fieldsOf(refused)).toEqual(['credentials']);
    expect(refused.json().errors[0].message).toMatch(/HubSpot refused them \(401\)/);
    // The connection still works with what it had.
    const { deal } = await pushedOpportunity('Still syncing');
    expect(deal.properties.dealname).toBe('Still syncing');
  });

  it('refuses the token of another HubSpot account with a 409 naming credentials', async () => {
    // The operator points the connection at the other portal's API (baseUrl is operator-only), paused
    // so no flush goes there meanwhile: the other portal's token opens it, but it is not this connection's.
    await client.request('POST', `/v1/connections/${connection.id}/pause`);
    expect((await client.request('PATCH', `/v1/connections/${connection.id}`, { baseUrl: otherPortal.baseUrl })).statusCode).toBe(200);
    try {
      const refused = await rotate({ accessToken: otherPortal.token, clientSecret: otherPortal.clientSecret });
      expect(refused.statusCode, refused.body).toBe(409);
      expect(fieldsOf(refused)).toEqual(['credentials']);
      expect(refused.json().detail).toContain(String(otherPortal.portalId));
    } finally {
      expect((await client.request('PATCH', `/v1/connections/${connection.id}`, { baseUrl: hubspot.baseUrl })).statusCode).toBe(200);
      await client.request('POST', `/v1/connections/${connection.id}/resume`);
    }
    expect((await current()).remoteAccountId).toBe(String(hubspot.portalId));
  });

  it('a token rotated in HubSpot stops the connection; the new token restarts it, keeps its links, and the next pushes carry it', async () => {
    const { id, deal } = await pushedOpportunity('Rotated');
    const { token } = await sandbox('/_sandbox/tokens/rotate');
    expect(token).not.toBe(hubspot.token);

    // The old token is refused now: the next push stops the connection, with the error and its time.
    expect((await client.request('PATCH', `/v1/opportunities/${id}`, { title: 'Rotated, renamed' })).statusCode).toBe(200);
    const stopped = await eventually(async () => ((await current()).status === 'error' ? current() : undefined), 'the connection stops', 20_000);
    expect(stopped.lastError).toMatchObject({ code: 'unauthorized' });
    expect(Date.now() - Date.parse(stopped.lastError.at)).toBeLessThan(60_000);

    // The old token again is refused like a new connection's would be; the new one is taken.
    expect(fieldsOf(await rotate({ accessToken: hubspot.token, clientSecret: hubspot.clientSecret }))).toEqual(['credentials']);
    const rotated = await rotate({ accessToken: token, clientSecret: hubspot.clientSecret });
    expect(rotated.statusCode, rotated.body).toBe(200);
    expect(rotated.json()).toMatchObject({ id: connection.id, status: 'active', lastError: null, remoteAccountId: String(hubspot.portalId) });

    // The waiting push goes out with the new token, to the same deal: the link was kept.
    await eventually(async () => (await dealOf(id))?.properties.dealname === 'Rotated, renamed', 'HubSpot gets the rename', 20_000);
    expect((await dealOf(id)).id).toBe(deal.id);
    const sync = (await client.request('GET', `/v1/opportunities/${id}/sync`)).json();
    expect(sync.links).toEqual([expect.objectContaining({ connectionId: connection.id, remoteId: deal.id })]);
    const usage = (await sandboxState()).usage as Record<string, number>;
    expect(usage[token.slice(0, 16)]).toBeGreaterThan(0);
    expect((await current()).lastSuccessAt).not.toBeNull();
  });
});

describe('credential rotation, Pipedrive', () => {
  it('an API token regenerated in Pipedrive stops the connection; the new one restarts it on the same deals', async () => {
    const pipedrive = await startPipedriveSandbox({ seed: 1106, limits: { burstLimit: 480 } });
    try {
      const who = await newAccount({ database: stack.database, app, close: stack.close } as TestApi, 'Health Pipedrive');
      const created = await who.request('POST', '/v1/connections', { provider: 'pipedrive', credentials: { apiToken: pipedrive.token }, baseUrl: pipedrive.baseUrl });
      expect(created.statusCode, created.body).toBe(201);
      const pd = created.json();
      const view = async (): Promise<Json> => (await who.request('GET', `/v1/connections/${pd.id}`)).json();
      const dealOfPd = async (id: string): Promise<Json> =>
        ((await (await fetch(`${pipedrive.baseUrl}/_sandbox/state`)).json()) as Json).deals.find((d: Json) => d.custom_fields[pd.settings.canonicalIdField] === id);
      const id = (await who.request('POST', '/v1/opportunities', { title: 'Regenerated' })).json().id;
      const deal = await eventually(() => dealOfPd(id), 'Pipedrive has the deal', 20_000);

      const { token } = (await (await fetch(`${pipedrive.baseUrl}/_sandbox/tokens/rotate`, { method: 'POST' })).json()) as Json;
      expect((await who.request('PATCH', `/v1/opportunities/${id}`, { title: 'Regenerated, renamed' })).statusCode).toBe(200);
      const stopped = await eventually(async () => ((await view()).status === 'error' ? view() : undefined), 'the connection stops', 20_000);
      expect(stopped.lastError).toMatchObject({ code: 'unauthorized', at: expect.any(String) });

      const rotated = await who.request('PUT', `/v1/connections/${pd.id}/credentials`, { credentials: { apiToken: token } });
      expect(rotated.statusCode, rotated.body).toBe(200);
      expect(rotated.json()).toMatchObject({ status: 'active', lastError: null, remoteAccountId: String(pipedrive.companyId), webhookSecretStored: true });
      await eventually(async () => (await dealOfPd(id))?.title === 'Regenerated, renamed', 'Pipedrive gets the rename', 20_000);
      expect((await dealOfPd(id)).id).toBe(deal.id);
    } finally {
      await pipedrive.close();
    }
  });
});

describe('the last error', () => {
  connectedAccount(1103);

  it('a failed push records its error and time without stopping the connection; the next success clears it', async () => {
    const { id } = await pushedOpportunity('Flaky');
    await sandbox('/_sandbox/faults', { fail5xx: 10_000 });
    try {
      expect((await client.request('PATCH', `/v1/opportunities/${id}`, { amount: '42.00' })).statusCode).toBe(200);
      const failing = await eventually(async () => ((await current()).lastError ? current() : undefined), 'the failure shows', 20_000);
      expect(failing.status).toBe('active');
      expect(failing.lastError).toMatchObject({ code: 'server' });
      expect(Date.now() - Date.parse(failing.lastError.at)).toBeLessThan(60_000);
    } finally {
      await sandbox('/_sandbox/faults', { fail5xx: 0 });
    }
    const healed = await eventually(async () => ((await current()).lastError === null ? current() : undefined), 'a success clears the error', 60_000);
    expect((await dealOf(id)).properties.amount).toBe('42.00');
    expect(healed.pendingOutbound).toBe(0);
  });
});

describe('records with problems', () => {
  connectedAccount(1104);

  it('a stage with no HubSpot mapping is listed on /v1, the admin API, status and /metrics, and mapping it again cures the record', async () => {
    const stages = connection.settings.stages as Json[];
    const demo = stages.find((s) => s.stageId === 'presentationscheduled');
    const { id, deal } = await pushedOpportunity('Blocked stage', { stage: stages.find((s) => s.stageId === 'appointmentscheduled').stage, pipeline: 'default' });
    // The stage loses its HubSpot counterpart, then the opportunity moves to it.
    expect((await client.request('PATCH', `/v1/connections/${connection.id}`, { stages: stages.filter((s) => s !== demo) })).statusCode).toBe(200);
    const before = Date.now();
    expect((await client.request('PATCH', `/v1/opportunities/${id}`, { stage: demo.stage })).statusCode).toBe(200);

    const [problem, ...others] = await eventually(async () => ((await problems()).length ? problems() : undefined), 'the problem is listed', 20_000);
    expect(others).toEqual([]);
    expect(problem).toMatchObject({ opportunityId: id, title: 'Blocked stage', direction: 'push', field: 'stage', value: demo.stage });
    expect(problem.cause).toEqual(expect.any(String));
    expect(Date.parse(problem.since)).toBeGreaterThanOrEqual(before - 1000);
    expect((await dealOf(id)).properties.dealstage).toBe(deal.properties.dealstage);
    const degraded = await current();
    expect(degraded).toMatchObject({ status: 'active', lastError: null, recordsWithProblems: 1 });
    expect(degraded.warnings).toEqual([{ code: 'records_with_problems', message: expect.stringContaining(`/v1/connections/${connection.id}/problems`) }]);

    // The admin API: the same list, for any account's connection.
    const listed = await app.inject({ method: 'GET', url: `/admin/api/connections/${connection.id}/problems`, headers: admin });
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.json().data).toEqual([problem]);
    expect((await app.inject({ method: 'GET', url: `/admin/api/connections/${connection.id}/problems` })).statusCode).toBe(401);
    const otherAccount = (await newAccount({ database: stack.database, app, close: stack.close } as TestApi, 'Other')).accountId;
    expect((await app.inject({ method: 'GET', url: `/admin/api/connections/${connection.id}/problems?accountId=${otherAccount}`, headers: admin })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: `/admin/api/connections/${otherAccount}/problems`, headers: admin })).statusCode).toBe(404);

    // crm-sync status: active, but not fully healthy.
    const [status] = await statusReport(stack.deps, client.accountId);
    expect(status).toMatchObject({ state: 'active', recordsWithProblems: 1 });
    const [heading, row] = statusTable([status!]).split('\n');
    expect(heading).toMatch(/STATE\s+PROBLEMS\s+PENDING OUT/);
    expect(row).toMatch(/active\s+1 record\s+/);

    // /metrics
    expect(await problemGauge()).toBe(1);

    // Mapped again, the record is pushed again without waiting for its next edit, and the problem goes.
    expect((await client.request('PATCH', `/v1/connections/${connection.id}`, { stages })).statusCode).toBe(200);
    await eventually(async () => (await problems()).length === 0, 'the problem is gone', 20_000);
    expect((await dealOf(id)).properties.dealstage).toBe('presentationscheduled');
    expect((await current())).toMatchObject({ recordsWithProblems: 0, warnings: [] });
    expect(await problemGauge()).toBe(0);
    expect(statusTable(await statusReport(stack.deps, client.accountId)).split('\n')[1]).toMatch(/active\s+-\s+/);
  });
});

async function problemGauge(): Promise<number | undefined> {
  const scraped = await app.inject({ method: 'GET', url: '/metrics', headers: admin });
  expect(scraped.statusCode).toBe(200);
  const line = scraped.body.split('\n').find((l) => l.startsWith('crm_sync_records_with_problems{') && l.includes(`connection="${connection.id}"`) && l.includes('provider="hubspot"'));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('settings PATCH', () => {
  connectedAccount(1105);

  it('refuses values of the wrong type and unknown keys, naming each', async () => {
    const refused = await client.request('PATCH', `/v1/connections/${connection.id}`, { reconcileIntervalSeconds: 'often', deletePolicy: 'shred', bogus: true });
    expect(refused.statusCode, refused.body).toBe(400);
    expect(fieldsOf(refused)).toEqual(['bogus', 'deletePolicy', 'reconcileIntervalSeconds']);
  });

  it('refuses attribute keys the account does not have, attribute types that differ from its, and stages and pipelines HubSpot does not have', async () => {
    expect((await client.request('POST', '/v1/attributes', { key: 'region', label: 'Region', type: 'text' })).statusCode).toBe(201);
    const before = (await current()).settings;
    const refused = await client.request('PATCH', `/v1/connections/${connection.id}`, {
      attributes: [
        { key: 'nope', remote: 'description', type: 'text' },
        { key: 'region', remote: 'description', type: 'number' },
        { key: 'region', remote: 'no_such_property', type: 'text' },
      ],
      stages: [
        { stage: before.stages[0].stage, pipelineId: 'default', stageId: 'no-such-stage' },
        { stage: before.stages[0].stage, pipelineId: 'no-such-pipeline', stageId: 'appointmentscheduled' },
      ],
    });
    expect(refused.statusCode, refused.body).toBe(400);
    expect(fieldsOf(refused)).toEqual(['attributes.0.key', 'attributes.1.type', 'attributes.2.remote', 'stages.0.stageId', 'stages.1.pipelineId']);
    expect(refused.json().errors.find((e: Json) => e.field === 'stages.0.stageId').message).toContain('no-such-stage');
    expect((await current()).settings).toEqual(before);
  });

  it('replaces a list given whole, and leaves the keys not given alone', async () => {
    const before = (await current()).settings;
    const set = await client.request('PATCH', `/v1/connections/${connection.id}`, { attributes: [{ key: 'region', remote: 'description', type: 'text' }] });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json().settings).toEqual({ ...before, attributes: [{ key: 'region', remote: 'description', type: 'text' }] });
    const cleared = await client.request('PATCH', `/v1/connections/${connection.id}`, { attributes: [] });
    expect(cleared.json().settings).toEqual({ ...before, attributes: [] });
  });
});
