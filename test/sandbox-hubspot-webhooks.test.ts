import { Client } from '@hubspot/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubSpotSandbox, type HubSpotSandbox } from '../src/sandbox/hubspot/index.ts';

/** The sandbox's webhooks v3 developer API, through HubSpot's own SDK as an app developer uses it. */

let hubspot: HubSpotSandbox;
let webhooks: Client['webhooks'];

beforeAll(async () => {
  hubspot = await startHubSpotSandbox({ seed: 13 });
  webhooks = new Client({ developerApiKey: hubspot.developerApiKey, basePath: hubspot.baseUrl, numberOfApiCallRetries: 0 }).webhooks;
});
afterAll(() => hubspot.close());

describe('HubSpot sandbox: webhook subscriptions', () => {
  it('creates, lists, reads one, and turns subscriptions off and on one by one or in a batch', async () => {
    const created = await webhooks.subscriptionsApi.create(hubspot.appId, { eventType: 'deal.propertyChange' as never, propertyName: 'amount', active: true });
    const other = await webhooks.subscriptionsApi.create(hubspot.appId, { eventType: 'deal.associationChange' as never, active: true });
    expect((await webhooks.subscriptionsApi.getAll(hubspot.appId)).results.map((s) => s.id)).toEqual([created.id, other.id]);
    expect(await webhooks.subscriptionsApi.getById(Number(created.id), hubspot.appId)).toMatchObject({ eventType: 'deal.propertyChange', propertyName: 'amount', active: true });

    expect(await webhooks.subscriptionsApi.update(Number(created.id), hubspot.appId, { active: false })).toMatchObject({ id: created.id, active: false });
    const batch = await webhooks.subscriptionsApi.updateBatch(hubspot.appId, { inputs: [{ id: Number(created.id), active: true }, { id: Number(other.id), active: false }] });
    expect(batch).toMatchObject({ status: 'COMPLETE', results: [{ id: created.id, active: true }, { id: other.id, active: false }] });
    expect((await webhooks.subscriptionsApi.getAll(hubspot.appId)).results.map((s) => s.active)).toEqual([true, false]);
  });

  it('answers as HubSpot does for unknown subscriptions: 404 for one, 207 naming them in a batch', async () => {
    await expect(webhooks.subscriptionsApi.getById(999, hubspot.appId)).rejects.toMatchObject({ code: 404 });
    const [first] = (await webhooks.subscriptionsApi.getAll(hubspot.appId)).results;
    const partial = await webhooks.subscriptionsApi.updateBatch(hubspot.appId, { inputs: [{ id: Number(first!.id), active: false }, { id: 999, active: true }] });
    expect(partial).toMatchObject({ status: 'COMPLETE', numErrors: 1, results: [{ id: first!.id, active: false }], errors: [{ category: 'OBJECT_NOT_FOUND', context: { ids: ['999'] } }] });
  });

  it('refuses a wrong developer API key', async () => {
    const wrong = new Client({ developerApiKey: 'not-the-key', basePath: hubspot.baseUrl, numberOfApiCallRetries: 0 }).webhooks;
    await expect(wrong.subscriptionsApi.getAll(hubspot.appId)).rejects.toMatchObject({ code: 401 });
  });
});
