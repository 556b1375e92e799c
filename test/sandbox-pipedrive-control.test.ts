import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { v1, v2 } from 'pipedrive';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPipedriveSandbox, type PipedriveSandbox } from '../src/sandbox/pipedrive/index.ts';
import { specErrors } from './sandbox/pipedrive-spec.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const control = (s: PipedriveSandbox, method: string, path: string, body?: unknown): Promise<Json> =>
  fetch(`${s.baseUrl}/_sandbox${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then((r) => (r.status === 204 ? undefined : r.json()));
const dealsApi = (s: PipedriveSandbox) => new v2.DealsApi(new v2.Configuration({ apiKey: s.token, basePath: `${s.baseUrl}/api/v2` }));
const rejection = (call: Promise<unknown>): Promise<Json> => call.then(() => Promise.reject(new Error('the call succeeded')), (error: unknown) => error);
const settle = async (s: PipedriveSandbox) => {
  while (!(await control(s, 'GET', '/state')).webhooks.idle) await new Promise((r) => setTimeout(r, 10));
};

describe('Pipedrive sandbox: determinism', () => {
  it('derives tokens, ids and field keys from the seed', async () => {
    const run = async (seed: number) => {
      const s = await startPipedriveSandbox({ seed });
      try {
        const field = await new v2.DealFieldsApi(new v2.Configuration({ apiKey: s.token, basePath: `${s.baseUrl}/api/v2` })).addDealField({ AddDealFieldRequest: { field_name: 'ref', field_type: 'varchar' } });
        const deal = await dealsApi(s).addDeal({ AddDealRequest: { title: 'x' } });
        return { token: s.token, clientId: s.clientId, companyId: s.companyId, field: field.data!.field_code, deal: deal.data!.id };
      } finally {
        await s.close();
      }
    };
    const [a, b, c] = [await run(41), await run(41), await run(42)];
    expect(a).toEqual(b);
    expect(a.token).toMatch(/^[0-9a-f]{40}$/);
    expect(c.token).not.toBe(a.token);
    expect(c.field).not.toBe(a.field);
  });
});

describe('Pipedrive sandbox: injected faults', () => {
  let s: PipedriveSandbox;
  beforeAll(async () => {
    s = await startPipedriveSandbox({ seed: 43 });
  });
  afterAll(() => s.close());
  beforeEach(() => control(s, 'POST', '/reset'));

  it('answers the next requests with 429 or 502 in Pipedrive’s error shape, then recovers', async () => {
    await control(s, 'POST', '/faults', { fail429: 1, fail5xx: 1 });
    const bad = await rejection(dealsApi(s).getDeals({}));
    expect(bad).toMatchObject({ success: false, error: 'Bad Gateway' });
    expect(await specErrors('getDealConversionStatus', 404, bad)).toEqual([]);
    expect(await rejection(dealsApi(s).getDeals({}))).toMatchObject({ success: false, error: 'Request over limit', errorCode: 429 });
    expect((await dealsApi(s).getDeals({})).success).toBe(true);
  });

  it('resets connections and adds latency', async () => {
    await control(s, 'POST', '/faults', { reset: 1 });
    await expect(fetch(`${s.baseUrl}/api/v2/deals`, { headers: { 'x-api-token': s.token } })).rejects.toThrow();
    await control(s, 'POST', '/faults', { latencyMs: 30 });
    expect((await dealsApi(s).getDeals({})).success).toBe(true);
  });

  it('reset empties the company', async () => {
    await dealsApi(s).addDeal({ AddDealRequest: { title: 'gone after reset' } });
    expect((await control(s, 'GET', '/state')).deals).toHaveLength(1);
    await control(s, 'POST', '/reset');
    expect((await control(s, 'GET', '/state')).deals).toEqual([]);
  });
});

describe('Pipedrive sandbox: a person in the UI, and webhook timeouts', () => {
  let s: PipedriveSandbox;
  let receiver: Server;
  let received: Json[];
  /** How the receiver answers the next request; 'hang' never answers. */
  let answers: (number | 'hang')[];
  const hanging: ServerResponse[] = [];

  beforeAll(async () => {
    receiver = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push({ ...JSON.parse(body), authorization: request.headers.authorization });
        const answer = answers.shift() ?? 200;
        if (answer === 'hang') return void hanging.push(response);
        response.statusCode = answer;
        response.end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    s = await startPipedriveSandbox({ seed: 44, webhookRetryDelaysMs: [10, 10, 10], webhookTimeoutMs: 200 });
  });
  afterAll(async () => {
    await s.close();
    for (const response of hanging) response.end();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });
  beforeEach(async () => {
    await control(s, 'POST', '/reset');
    received = [];
    answers = [];
    const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/pd`;
    const hooks = new v1.WebhooksApi(new v1.Configuration({ apiKey: s.token, basePath: `${s.baseUrl}/v1` }));
    await hooks.addWebhook({ AddWebhookRequest: { name: 'ui', subscription_url: url, event_action: '*', event_object: 'deal', http_auth_user: 'pd', http_auth_password: 'secret', version: '2.0' } });
  });

  it('edits, wins, loses and bulk-edits as user 2 with change source app', async () => {
    const deal = await control(s, 'POST', '/ui/deals', { title: 'UI' });
    await control(s, 'PATCH', `/ui/deals/${deal.id}`, { value: 500 });
    const won = await control(s, 'POST', `/ui/deals/${deal.id}/won`);
    expect(won).toMatchObject({ status: 'won', won_time: expect.any(String) });
    const lost = await control(s, 'POST', `/ui/deals/${deal.id}/lost`, { reason: 'budget' });
    expect(lost).toMatchObject({ status: 'lost', lost_reason: 'budget', won_time: null });
    await control(s, 'POST', '/ui/deals/bulk-edit', { ids: [deal.id], changes: { title: 'bulk' } });
    await settle(s);
    expect(received.map((r) => [r.meta.action, r.meta.change_source, r.meta.user_id])).toEqual([
      ['create', 'app', '2'],
      ['change', 'app', '2'],
      ['change', 'app', '2'],
      ['change', 'app', '2'],
      ['change', 'app', '2'],
    ]);
    expect(received[2].previous).toMatchObject({ status: 'open', won_time: null });
    expect(received.every((r) => r.authorization === `Basic ${Buffer.from('pd:secret').toString('base64')}`)).toBe(true);
    expect(new Set(received.map((r) => r.meta.id)).size).toBe(received.length);
  });

  it('retries a delivery the receiver does not answer in time, and delivers delayed webhooks', async () => {
    answers = ['hang'];
    await control(s, 'POST', '/faults', { delayWebhooksMs: 20 });
    await control(s, 'POST', '/ui/deals', { title: 'slow receiver' });
    await settle(s);
    expect(received.map((r) => r.meta.attempt)).toEqual([1, 2]);
    const state = await control(s, 'GET', '/state');
    expect(state.webhooks.deliveries.map((d: Json) => d.status)).toEqual(['timeout', 200]);
  });
});
