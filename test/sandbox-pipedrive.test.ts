import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { v1, v2 } from 'pipedrive';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPipedriveSandbox, type PipedriveSandbox } from '../src/sandbox/pipedrive/index.ts';
import { specErrors } from './sandbox/pipedrive-spec.ts';

// Bodies of raw requests: the tests check their shape against the spec.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let sandbox: PipedriveSandbox;
let deals: v2.DealsApi;
let fields: v2.DealFieldsApi;

beforeAll(async () => {
  sandbox = await startPipedriveSandbox({ seed: 3, webhookRetryDelaysMs: [20, 20, 20], webhookTimeoutMs: 300 });
  const config = new v2.Configuration({ apiKey: sandbox.token, basePath: `${sandbox.baseUrl}/api/v2` });
  deals = new v2.DealsApi(config);
  fields = new v2.DealFieldsApi(config);
});
afterAll(() => sandbox.close());
beforeEach(async () => {
  await fetch(`${sandbox.baseUrl}/_sandbox/reset`, { method: 'POST' });
});

const control = (method: string, path: string, body?: unknown): Promise<Json> =>
  fetch(`${sandbox.baseUrl}/_sandbox${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then((r) => (r.status === 204 ? undefined : r.json()));

async function expectSpec(operationId: string, status: number, body: unknown) {
  expect(await specErrors(operationId, status, body), operationId).toEqual([]);
}

/** The Pipedrive SDK rejects with the error body alone (no status), as the real client does. */
async function rejection(call: Promise<unknown>): Promise<Json> {
  const outcome = await call.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (outcome === undefined) throw new Error('the call succeeded');
  return outcome;
}

describe('Pipedrive sandbox through the official SDK, checked against the v2 spec', () => {
  it('adds, gets, patches, lists and deletes deals; status drives won, lost and close times', async () => {
    const added = await deals.addDeal({ AddDealRequest: { title: 'SDK deal', value: 1200.5, currency: 'EUR' } });
    await expectSpec('addDeal', 200, added);
    const id = added.data!.id!;
    const fetched = await deals.getDeal({ id });
    await expectSpec('getDeal', 200, fetched);
    await expectSpec('getDeals', 200, await deals.getDeals({ ids: String(id), custom_fields: '' }));
    expect(fetched.data).toMatchObject({ title: 'SDK deal', value: 1200.5, status: 'open', won_time: null, close_time: null });

    const won = await deals.updateDeal({ id, UpdateDealRequest: { status: 'won' } });
    await expectSpec('updateDeal', 200, won);
    expect(won.data!.won_time).toBe(won.data!.close_time);
    expect(won.data!.won_time).not.toBeNull();
    const lost = await deals.updateDeal({ id, UpdateDealRequest: { status: 'lost', lost_reason: 'price' } });
    expect(lost.data).toMatchObject({ won_time: null, lost_reason: 'price' });
    expect(lost.data!.lost_time).not.toBeNull();
    const reopened = await deals.updateDeal({ id, UpdateDealRequest: { status: 'open' } });
    expect(reopened.data).toMatchObject({ won_time: null, lost_time: null, close_time: null, lost_reason: null });

    const deleted = await deals.deleteDeal({ id });
    await expectSpec('deleteDeal', 200, deleted);
    const gone = await rejection(deals.getDeal({ id }));
    expect(gone).toMatchObject({ success: false, error: expect.any(String), error_info: expect.any(String) });
    // The spec describes its error body once, on the deal-conversion operation's 404.
    await expectSpec('getDealConversionStatus', 404, gone);
    const raw = await fetch(`${sandbox.baseUrl}/api/v2/deals/${id}`, { headers: { 'x-api-token': sandbox.token } });
    expect(raw.status).toBe(404);
    expect(await raw.json()).toEqual(gone);
    const deletedList = await deals.getDeals({ status: 'deleted' });
    expect(deletedList.data!.map((d) => d.id)).toEqual([id]);
    expect((await deals.getDeals({})).data).toEqual([]);
  });

  it('pages with cursors up to 500, filters by ids and updated_since, sorts by update_time', async () => {
    for (let i = 0; i < 5; i++) await deals.addDeal({ AddDealRequest: { title: `d${i}` } });
    const first = await deals.getDeals({ limit: 2 });
    await expectSpec('getDeals', 200, first);
    const second = await deals.getDeals({ limit: 2, cursor: first.additional_data!.next_cursor! });
    const third = await deals.getDeals({ limit: 2, cursor: second.additional_data!.next_cursor! });
    expect([...first.data!, ...second.data!, ...third.data!].map((d) => d.title)).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
    expect(third.additional_data!.next_cursor).toBeNull();
    expect((await deals.getDeals({ ids: '2,4' })).data!.map((d) => d.id)).toEqual([2, 4]);
    await deals.updateDeal({ id: 1, UpdateDealRequest: { title: 'touched' } });
    const byUpdate = await deals.getDeals({ sort_by: 'update_time', sort_direction: 'desc', limit: 1 });
    expect(byUpdate.data![0]!.id).toBe(1);
    const future = new Date(Date.now() + 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    expect((await deals.getDeals({ updated_since: future })).data).toEqual([]);
  });

  it('creates custom fields keyed by 40-character hashes and searches them', async () => {
    const field = await fields.addDealField({ AddDealFieldRequest: { field_name: 'crm-sync id', field_type: 'varchar' } });
    await expectSpec('addDealField', 200, field);
    const key = field.data!.field_code!;
    expect(key).toMatch(/^[0-9a-f]{40}$/);
    await expectSpec('getDealFields', 200, await fields.getDealFields({}));
    await expectSpec('getDealField', 200, await fields.getDealField({ field_code: key }));
    await deals.addDeal({ AddDealRequest: { title: 'With id', custom_fields: { [key]: 'canon-42' } } as never });
    const listed = await deals.getDeals({ custom_fields: key });
    expect(listed.data![0]!.custom_fields).toEqual({ [key]: 'canon-42' });
    const found = await deals.searchDeals({ term: 'canon-42', fields: 'custom_fields', exact_match: true });
    await expectSpec('searchDeals', 200, found);
    expect(found.data!.items!.map((i) => i.item!.title)).toEqual(['With id']);
  });

  it('serves stages, pipelines and persons that match the spec', async () => {
    const config = new v2.Configuration({ apiKey: sandbox.token, basePath: `${sandbox.baseUrl}/api/v2` });
    const stages = await new v2.StagesApi(config).getStages({});
    await expectSpec('getStages', 200, stages);
    await expectSpec('getPipelines', 200, await new v2.PipelinesApi(config).getPipelines({}));
    await expectSpec('getPipeline', 200, await new v2.PipelinesApi(config).getPipeline({ id: 1 }));
    await expectSpec('getStage', 200, await new v2.StagesApi(config).getStage({ id: 1 }));
    const persons = new v2.PersonsApi(config);
    const person = await persons.addPerson({ AddPersonRequest: { name: 'Pat Buyer', emails: [{ value: 'pat@buyer.test', primary: true, label: 'work' }] } });
    await expectSpec('addPerson', 200, person);
    await expectSpec('getPersons', 200, await persons.getPersons({}));
    await expectSpec('getPerson', 200, await persons.getPerson({ id: person.data!.id! }));
    const found = await persons.searchPersons({ term: 'pat@buyer.test', fields: 'email' });
    await expectSpec('searchPersons', 200, found);
    expect(found.data!.items![0]!.item!.id).toBe(person.data!.id);
    expect(stages.data![0]).toMatchObject({ pipeline_id: 1, deal_probability: expect.any(Number) });
  });

  it('v1: users/me gives the company id; webhooks register, list and delete', async () => {
    const config = new v1.Configuration({ apiKey: sandbox.token, basePath: `${sandbox.baseUrl}/v1` });
    const me = await new v1.UsersApi(config).getCurrentUser();
    expect(me.data!.company_id).toBe(sandbox.companyId);
    const hooks = new v1.WebhooksApi(config);
    const created = await hooks.addWebhook({ AddWebhookRequest: { name: 'crm-sync', subscription_url: 'http://127.0.0.1:9/x', event_action: '*' as never, event_object: 'deal' as never, http_auth_user: 'u', http_auth_password: 'p', version: '2.0' as never } });
    expect((await hooks.getWebhooks()).data!.map((w) => [w.id, w.name])).toEqual([[created.data!.id, 'crm-sync']]);
    expect(await rejection(hooks.addWebhook({ AddWebhookRequest: { subscription_url: 'http://127.0.0.1:9/x' } as never }))).toMatchObject({ success: false });
    await hooks.deleteWebhook({ id: created.data!.id! });
    expect((await hooks.getWebhooks()).data).toEqual([]);
  });

  it('exchanges an OAuth code and refreshes through the SDK’s OAuth2Configuration; bearer tokens work', async () => {
    const oauth = new v2.OAuth2Configuration({ clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, redirectUri: 'http://localhost/cb', host: sandbox.baseUrl });
    const { code } = await control('POST', '/oauth/code');
    const token = await oauth.authorize(code);
    expect(token).toMatchObject({ token_type: 'Bearer', api_domain: sandbox.baseUrl, expires_in: 3599 });
    expect(oauth.basePath).toBe(`${sandbox.baseUrl}/api/v2`);
    const viaOAuth = new v2.DealsApi(new v2.Configuration({ accessToken: oauth.getAccessToken, basePath: oauth.basePath }));
    await viaOAuth.addDeal({ AddDealRequest: { title: 'via OAuth' } });
    const refreshed = await oauth.tokenRefresh();
    expect(refreshed.access_token).not.toBe(token.access_token);
    expect((await viaOAuth.getDeals({})).data!.map((d) => d.title)).toEqual(['via OAuth']);
    await expect(oauth.authorize(code)).rejects.toThrow();
  });
});

describe('Pipedrive sandbox webhooks v2', () => {
  let receiver: Server;
  let received: { body: Json; headers: IncomingMessage['headers'] }[];
  let answer: number;
  let url: string;

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push({ body: JSON.parse(body), headers: request.headers });
        response.statusCode = answer;
        response.end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  });
  afterAll(() => new Promise((resolve) => receiver.close(resolve)));
  beforeEach(async () => {
    received = [];
    answer = 200;
    const config = new v1.Configuration({ apiKey: sandbox.token, basePath: `${sandbox.baseUrl}/v1` });
    await new v1.WebhooksApi(config).addWebhook({ AddWebhookRequest: { name: 'crm-sync', subscription_url: url, event_action: '*' as never, event_object: 'deal' as never, http_auth_user: 'crm', http_auth_password: 'sync', version: '2.0' as never } });
  });
  const settle = async () => {
    for (let i = 0; i < 300 && !(await control('GET', '/state')).webhooks.idle; i++) await new Promise((r) => setTimeout(r, 10));
  };

  it('delivers {meta, data, previous} with basic auth, change source and the webhook shape of custom fields', async () => {
    const field = await fields.addDealField({ AddDealFieldRequest: { field_name: 'ref', field_type: 'varchar' } });
    const key = field.data!.field_code!;
    const deal = await control('POST', '/ui/deals', { title: 'UI deal', custom_fields: { [key]: 'r-1' } });
    await deals.updateDeal({ id: deal.id, UpdateDealRequest: { value: 99 } });
    await control('DELETE', `/ui/deals/${deal.id}`);
    await settle();
    expect(received.every((r) => r.headers.authorization === `Basic ${Buffer.from('crm:sync').toString('base64')}`)).toBe(true);
    expect(received.map((r) => [r.body.meta.action, r.body.meta.change_source])).toEqual([['create', 'app'], ['change', 'api'], ['delete', 'app']]);
    const [created, changed, removed] = received.map((r) => r.body);
    expect(created.meta).toMatchObject({ entity: 'deal', entity_id: String(deal.id), version: '2.0', attempt: 1, user_id: '2', id: expect.any(String), timestamp: expect.any(String) });
    expect(created.data.custom_fields[key]).toEqual({ type: 'varchar', value: 'r-1' });
    expect(changed.previous).toEqual({ value: 0 });
    expect(changed.data.value).toBe(99);
    expect(removed.data).toBeNull();
    expect(removed.previous.id).toBe(deal.id);
  });

  it('reports a merge as a delete carrying merged_to_id and a change of the survivor', async () => {
    const person = await fetch(`${sandbox.baseUrl}/api/v2/persons`, { method: 'POST', headers: { 'x-api-token': sandbox.token, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Merged Person' }) }).then((r) => r.json() as Promise<Json>);
    const survivor = await control('POST', '/ui/deals', { title: 'survivor' });
    const merged = await control('POST', '/ui/deals', { title: 'merged', person_id: person.data.id });
    await settle();
    received = [];
    const result = await control('POST', `/ui/deals/${merged.id}/merge`, { merge_with_id: survivor.id });
    await settle();
    expect(result.person_id).toBe(person.data.id);
    expect(received.map((r) => [r.body.meta.action, r.body.meta.entity_id, r.body.meta.merged_to_id])).toEqual([
      ['delete', String(merged.id), String(survivor.id)],
      ['change', String(survivor.id), undefined],
    ]);
  });

  it('retries on the schedule with a growing attempt, then gives up', async () => {
    answer = 500;
    await control('POST', '/ui/deals', { title: 'retry' });
    await settle();
    expect(received.map((r) => r.body.meta.attempt)).toEqual([1, 2, 3, 4]);
  });

  it('bans the webhook for 30 minutes after ten failed first attempts; events meanwhile are lost', async () => {
    await control('POST', '/faults', {});
    answer = 500;
    const small = await startPipedriveSandbox({ seed: 6, webhookRetryDelaysMs: [] });
    try {
      await fetch(`${small.baseUrl}/v1/webhooks`, {
        method: 'POST',
        headers: { 'x-api-token': small.token, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'ban test', subscription_url: url, event_action: '*', event_object: 'deal', version: '2.0' }),
      });
      const post = (title: string) => fetch(`${small.baseUrl}/_sandbox/ui/deals`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title }) });
      for (let i = 0; i < 10; i++) {
        await post(`fail ${i}`);
        while (received.length < i + 1) await new Promise((r) => setTimeout(r, 5));
      }
      answer = 200;
      await post('during the ban');
      await new Promise((r) => setTimeout(r, 100));
      expect(received).toHaveLength(10);
      const state: Json = await (await fetch(`${small.baseUrl}/_sandbox/state`)).json();
      expect(state.webhooks.registered[0].bannedUntil).toBeGreaterThan(Date.now() + 29 * 60_000);
      expect(state.webhooks.deliveries.at(-1).status).toBe('banned');
    } finally {
      await small.close();
    }
  });

  it('drops, duplicates and reorders webhooks when told to', async () => {
    await control('POST', '/faults', { dropWebhooks: 1, duplicateWebhooks: 1 });
    await control('POST', '/ui/deals', { title: 'dropped' });
    const kept = await control('POST', '/ui/deals', { title: 'twice' });
    await settle();
    expect(received.map((r) => r.body.data.id)).toEqual([kept.id, kept.id]);
    received = [];
    await control('POST', '/faults', { reorderWebhooks: true });
    const a = await control('POST', '/ui/deals', { title: 'a' });
    const b = await control('POST', '/ui/deals', { title: 'b' });
    await settle();
    expect(received.map((r) => r.body.data.id)).toEqual([b.id, a.id]);
  });
});
