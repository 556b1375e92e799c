import { v1, v2 } from 'pipedrive';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenCosts } from '../src/sandbox/pipedrive/costs.ts';
import { startPipedriveSandbox, type PipedriveSandbox } from '../src/sandbox/pipedrive/index.ts';
import { specErrors, specTokenCosts } from './sandbox/pipedrive-spec.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let sandbox: PipedriveSandbox;
beforeAll(async () => {
  sandbox = await startPipedriveSandbox({ seed: 31, burstLimit: 10_000 });
});
afterAll(() => sandbox.close());

const spent = async (s: PipedriveSandbox): Promise<number> => ((await (await fetch(`${s.baseUrl}/_sandbox/state`)).json()) as Json).tokensSpentToday;
const v2Config = (s: PipedriveSandbox, apiKey = s.token) => new v2.Configuration({ apiKey, basePath: `${s.baseUrl}/api/v2` });
const v1Config = (s: PipedriveSandbox) => new v1.Configuration({ apiKey: s.token, basePath: `${s.baseUrl}/v1` });
/** The SDK rejects with the error body alone. */
const rejection = (call: Promise<unknown>): Promise<Json> => call.then(() => Promise.reject(new Error('the call succeeded')), (error: unknown) => error);
const raw = (s: PipedriveSandbox, path: string, init: RequestInit = {}) =>
  fetch(`${s.baseUrl}${path}`, { ...init, headers: { 'x-api-token': s.token, 'content-type': 'application/json', ...init.headers } });
/** The spec describes Pipedrive's error body once, on this operation's 404. */
const errorSchemaErrors = (body: unknown) => specErrors('getDealConversionStatus', 404, body);

describe('Pipedrive sandbox: every endpoint through the SDK, charged its token cost', () => {
  it('charges each call exactly the x-token-cost of its operation and answers bodies that match the spec', async () => {
    const deals = new v2.DealsApi(v2Config(sandbox));
    const fields = new v2.DealFieldsApi(v2Config(sandbox));
    const persons = new v2.PersonsApi(v2Config(sandbox));
    const stages = new v2.StagesApi(v2Config(sandbox));
    const pipelines = new v2.PipelinesApi(v2Config(sandbox));
    const users = new v1.UsersApi(v1Config(sandbox));
    const webhooks = new v1.WebhooksApi(v1Config(sandbox));
    const fromSpec = await specTokenCosts();
    const calls: [route: string, operationId: string | null, call: () => Promise<unknown>][] = [
      ['POST /api/v2/dealFields', 'addDealField', () => fields.addDealField({ AddDealFieldRequest: { field_name: 'ext id', field_type: 'varchar' } })],
      ['GET /api/v2/dealFields', 'getDealFields', () => fields.getDealFields({})],
      ['POST /api/v2/persons', 'addPerson', () => persons.addPerson({ AddPersonRequest: { name: 'Ada Buyer', emails: [{ value: 'ada@buyer.test', primary: true, label: 'work' }] } })],
      ['GET /api/v2/persons', 'getPersons', () => persons.getPersons({})],
      ['GET /api/v2/persons/:id', 'getPerson', () => persons.getPerson({ id: 1 })],
      ['GET /api/v2/persons/search', 'searchPersons', () => persons.searchPersons({ term: 'ada@buyer.test', fields: 'email', exact_match: true })],
      ['POST /api/v2/deals', 'addDeal', () => deals.addDeal({ AddDealRequest: { title: 'Costed', person_id: 1 } })],
      ['GET /api/v2/deals', 'getDeals', () => deals.getDeals({})],
      ['GET /api/v2/deals/:id', 'getDeal', () => deals.getDeal({ id: 1 })],
      ['PATCH /api/v2/deals/:id', 'updateDeal', () => deals.updateDeal({ id: 1, UpdateDealRequest: { value: 10 } })],
      ['GET /api/v2/deals/search', 'searchDeals', () => deals.searchDeals({ term: 'Costed' })],
      ['DELETE /api/v2/deals/:id', 'deleteDeal', () => deals.deleteDeal({ id: 1 })],
      ['GET /api/v2/stages', 'getStages', () => stages.getStages({})],
      ['GET /api/v2/stages/:id', 'getStage', () => stages.getStage({ id: 1 })],
      ['GET /api/v2/pipelines', 'getPipelines', () => pipelines.getPipelines({})],
      ['GET /api/v2/pipelines/:id', 'getPipeline', () => pipelines.getPipeline({ id: 1 })],
      // v1 is not in the v2 spec: costs are the sandbox's assumption (spec-deviations.ts).
      ['GET /v1/users', null, () => users.getUsers()],
      ['GET /v1/users/me', null, () => users.getCurrentUser()],
      ['POST /v1/webhooks', null, () => webhooks.addWebhook({ AddWebhookRequest: { name: 'costed', subscription_url: 'http://127.0.0.1:9/h', event_action: 'create', event_object: 'deal', version: '2.0' } })],
      ['GET /v1/webhooks', null, () => webhooks.getWebhooks()],
      ['DELETE /v1/webhooks/:id', null, () => webhooks.deleteWebhook({ id: 1 })],
    ];
    for (const [route, operationId, call] of calls) {
      const before = await spent(sandbox);
      const body = await call();
      expect((await spent(sandbox)) - before, route).toBe(tokenCosts[route]);
      if (!operationId) continue;
      expect(fromSpec[route], route).toBe(tokenCosts[route]);
      expect(await specErrors(operationId, 200, body), route).toEqual([]);
    }
  });
});

describe('Pipedrive sandbox: authentication', () => {
  it('refuses a wrong token with the live 401 body, through the SDK, by header and by query', async () => {
    const body = await rejection(new v2.DealsApi(v2Config(sandbox, 'wrong')).getDeals({}));
    expect(body).toEqual({ success: false, error: 'unauthorized access', errorCode: 401, error_info: 'Please check developers.pipedrive.com' });
    expect(await errorSchemaErrors(body)).toEqual([]);
    for (const path of ['/api/v2/deals?api_token=wrong', '/api/v2/deals', '/api/v2/no-such-thing']) {
      const response = await fetch(`${sandbox.baseUrl}${path}`);
      expect(response.status, path).toBe(401);
      expect(await response.json()).toEqual(body);
    }
    expect((await fetch(`${sandbox.baseUrl}/api/v2/deals?api_token=${sandbox.token}`)).status).toBe(200);
  });
});

describe('Pipedrive sandbox: limits', () => {
  it('sends the documented rate-limit headers, the daily token headers, and x-daily-requests-left on API-token writes', async () => {
    const s = await startPipedriveSandbox({ seed: 32, burstLimit: 5, dailyTokenBudget: 1000 });
    try {
      const list = await raw(s, '/api/v2/deals');
      expect(Object.fromEntries(['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-daily-ratelimit-token-limit', 'x-daily-ratelimit-token-remaining'].map((h) => [h, list.headers.get(h)]))).toEqual({
        'x-ratelimit-limit': '5',
        'x-ratelimit-remaining': '4',
        'x-daily-ratelimit-token-limit': '1000',
        'x-daily-ratelimit-token-remaining': '990',
      });
      expect(Number(list.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
      expect(list.headers.get('x-daily-requests-left')).toBeNull();
      const add = await raw(s, '/api/v2/deals', { method: 'POST', body: JSON.stringify({ title: 'write' }) });
      expect(add.headers.get('x-daily-requests-left')).toBe('9999');
      expect(add.headers.get('x-daily-ratelimit-token-remaining')).toBe('985');
    } finally {
      await s.close();
    }
  });

  it('answers 429 with Retry-After past the burst, and the body matches the error schema', async () => {
    const s = await startPipedriveSandbox({ seed: 33, burstLimit: 2 });
    try {
      const deals = new v2.DealsApi(v2Config(s));
      await deals.getDeals({});
      await deals.getDeals({});
      const body = await rejection(deals.getDeals({}));
      expect(body).toMatchObject({ success: false, error: 'Request over limit', errorCode: 429 });
      expect(await errorSchemaErrors(body)).toEqual([]);
      const limited = await raw(s, '/api/v2/deals');
      expect(limited.status).toBe(429);
      expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await spent(s)).toBe(20);
    } finally {
      await s.close();
    }
  });

  it('gives search its own 10-per-2-seconds window and refuses requests the daily budget cannot pay for', async () => {
    const s = await startPipedriveSandbox({ seed: 34, burstLimit: 1000, dailyTokenBudget: 225 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) statuses.push((await raw(s, '/api/v2/deals/search?term=abc')).status);
      expect(statuses).toEqual([...Array(10).fill(200), 429]);
      // 10 searches spent 200 of 225 tokens; two listings spend 20 more, a third cannot be paid.
      expect((await raw(s, '/api/v2/deals')).status).toBe(200);
      expect((await raw(s, '/api/v2/deals')).status).toBe(200);
      const broke = await raw(s, '/api/v2/deals');
      expect(broke.status).toBe(429);
      expect(broke.headers.get('x-daily-ratelimit-token-remaining')).toBe('5');
      expect((await raw(s, '/api/v2/deals/1')).status).toBe(404); // a 1-token call is still affordable
    } finally {
      await s.close();
    }
  });

  it('derives the budget from the plan: 30,000 × multiplier × seats', async () => {
    const s = await startPipedriveSandbox({ seed: 35, plan: { multiplier: 2, seats: 3 } });
    try {
      expect((await raw(s, '/api/v2/stages')).headers.get('x-daily-ratelimit-token-limit')).toBe('180000');
    } finally {
      await s.close();
    }
  });
});
