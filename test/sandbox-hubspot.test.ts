import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Client } from '@hubspot/api-client';
import { Signature } from '@hubspot/api-client/lib/src/utils/signature.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHubSpotSandbox, type HubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import { missingRequired } from './sandbox/hubspot-models.ts';

// Response bodies of raw requests: the tests assert their shape themselves.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let sandbox: HubSpotSandbox;
let hubspot: Client;

beforeAll(async () => {
  sandbox = await startHubSpotSandbox({ seed: 7, webhookRetryDelaysMs: [20, 20], webhookTimeoutMs: 300 });
  hubspot = new Client({ accessToken: sandbox.token, basePath: sandbox.baseUrl, numberOfApiCallRetries: 0 });
});
afterAll(() => sandbox.close());
beforeEach(async () => {
  await fetch(`${sandbox.baseUrl}/_sandbox/reset`, { method: 'POST' });
});

/** The raw JSON of a request, to check it against the SDK's models. */
async function raw(method: string, path: string, body?: unknown) {
  const response = await fetch(`${sandbox.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${sandbox.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json: Json = response.status === 204 ? undefined : await response.json();
  return { status: response.status, headers: response.headers, json };
}
const control = (method: string, path: string, body?: unknown) =>
  fetch(`${sandbox.baseUrl}/_sandbox${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then((r): Promise<Json> => (r.status === 204 ? Promise.resolve(undefined) : r.json()));

describe('HubSpot sandbox through the official SDK', () => {
  it('creates, reads, updates, lists and archives deals, both path forms', async () => {
    const created = await hubspot.crm.deals.basicApi.create({ properties: { dealname: 'SDK deal', amount: '1500.50' }, associations: [] });
    expect(created.id).toMatch(/^\d+$/);
    expect(created.properties).toMatchObject({ dealname: 'SDK deal', amount: '1500.50', hs_object_id: created.id });
    const read = await hubspot.crm.deals.basicApi.getById(created.id, ['dealname', 'dealstage', 'hs_deal_stage_probability'], ['amount']);
    expect(read.properties).toMatchObject({ dealstage: 'appointmentscheduled', hs_deal_stage_probability: '0.2' });
    expect(read.propertiesWithHistory!.amount![0]).toMatchObject({ value: '1500.50', sourceType: 'INTEGRATION' });
    expect(read.createdAt).toBeInstanceOf(Date);

    const updated = await hubspot.crm.deals.basicApi.update(created.id, { properties: { dealstage: 'closedwon' } });
    expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(read.updatedAt.getTime());
    const won = await raw('GET', `/crm/v3/objects/0-3/${created.id}?properties=hs_is_closed_won,hs_is_closed,closedate`);
    expect(won.json.properties).toMatchObject({ hs_is_closed_won: 'true', hs_is_closed: 'true' });
    expect(won.json.properties.closedate).not.toBeNull();

    await hubspot.crm.deals.basicApi.create({ properties: { dealname: 'second' }, associations: [] });
    const page = await hubspot.crm.deals.basicApi.getPage(1);
    expect(page.results).toHaveLength(1);
    expect(page.paging?.next?.after).toBeDefined();
    const rest = await hubspot.crm.deals.basicApi.getPage(10, page.paging!.next!.after);
    expect(rest.results.map((d) => d.properties.dealname)).toEqual(['second']);

    await hubspot.crm.deals.basicApi.archive(created.id);
    await expect(hubspot.crm.deals.basicApi.getById(created.id)).rejects.toMatchObject({ code: 404 });
    const archived = await hubspot.crm.deals.basicApi.getPage(10, undefined, undefined, undefined, undefined, true);
    expect(archived.results.map((d) => d.id)).toEqual([created.id]);
    await control('POST', `/ui/deals/${created.id}/restore`);
    expect((await hubspot.crm.deals.basicApi.getById(created.id)).archived).toBe(false);
  });

  it('creates a unique property, reads by idProperty and upserts by it without duplicates', async () => {
    await hubspot.crm.properties.coreApi.create('deals', {
      name: 'crm_sync_id',
      label: 'crm-sync id',
      type: 'string' as never,
      fieldType: 'text' as never,
      groupName: 'dealinformation',
      hasUniqueValue: true,
    });
    const input = { id: 'canon-1', idProperty: 'crm_sync_id', properties: { dealname: 'Upserted' } };
    const first = await hubspot.crm.deals.batchApi.upsert({ inputs: [input] });
    const second = await hubspot.crm.deals.batchApi.upsert({ inputs: [{ ...input, properties: { dealname: 'Upserted again' } }] });
    expect(first.results[0]!.id).toBe(second.results[0]!.id);
    expect((first.results[0] as unknown as { _new: boolean })._new ?? (first.results[0] as unknown as { new: boolean }).new).toBe(true);
    const byProperty = await hubspot.crm.deals.basicApi.getById('canon-1', ['dealname'], undefined, undefined, false, 'crm_sync_id');
    expect(byProperty.properties.dealname).toBe('Upserted again');
    await expect(hubspot.crm.deals.basicApi.create({ properties: { dealname: 'dup', crm_sync_id: 'canon-1' }, associations: [] })).rejects.toMatchObject({ code: 409 });
    const notUnique = await raw('POST', '/crm/v3/objects/deals/batch/upsert', { inputs: [{ id: 'x', idProperty: 'dealname', properties: {} }] });
    expect(notUnique.status).toBe(400);
  });

  it('batch read answers 207 with the missing ids; batch create, update and archive work', async () => {
    const created = await hubspot.crm.deals.batchApi.create({ inputs: [{ properties: { dealname: 'b1' }, associations: [] }, { properties: { dealname: 'b2' }, associations: [] }] });
    const ids = created.results.map((d) => d.id);
    const read = await raw('POST', '/crm/v3/objects/deals/batch/read', { inputs: [{ id: ids[0] }, { id: '999' }], properties: ['dealname'], propertiesWithHistory: [] });
    expect(read.status).toBe(207);
    expect(read.json).toMatchObject({ status: 'COMPLETE', numErrors: 1, errors: [{ category: 'OBJECT_NOT_FOUND' }] });
    expect(missingRequired(read.json, 'crm/deals/models/BatchResponseSimplePublicObjectWithErrors')).toEqual([]);
    const updated = await hubspot.crm.deals.batchApi.update({ inputs: ids.map((id) => ({ id, properties: { amount: '10' } })) });
    expect(updated.results.every((d) => d.properties.amount === '10')).toBe(true);
    await hubspot.crm.deals.batchApi.archive({ inputs: ids.map((id) => ({ id })) });
    expect((await hubspot.crm.deals.basicApi.getPage(10)).results).toEqual([]);
    const tooMany = await raw('POST', '/crm/v3/objects/deals/batch/read', { inputs: Array.from({ length: 101 }, (_, i) => ({ id: String(i) })), properties: [], propertiesWithHistory: [] });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR', correlationId: expect.any(String) });
  });

  it('searches with filters, sorts and paging, refuses the 10,000 cap and limits itself to 5 per second', async () => {
    for (const amount of ['5', '50', '500']) await hubspot.crm.deals.basicApi.create({ properties: { dealname: `s${amount}`, amount }, associations: [] });
    const found = await hubspot.crm.deals.searchApi.doSearch({
      filterGroups: [{ filters: [{ propertyName: 'amount', operator: 'GTE' as never, value: '50' }] }],
      sorts: ['-amount'],
      properties: ['dealname', 'amount'],
      limit: 1,
      after: '0',
    });
    expect(found.total).toBe(2);
    expect(found.results[0]!.properties.dealname).toBe('s500');
    expect(found.paging?.next?.after).toBe('1');
    const capped = await raw('POST', '/crm/v3/objects/deals/search', { filterGroups: [], limit: 100, after: '9950' });
    expect(capped.status).toBe(400);
    const burst = await Promise.all(Array.from({ length: 8 }, () => raw('POST', '/crm/v3/objects/deals/search', { filterGroups: [] })));
    const limited = burst.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.json).toMatchObject({ policyName: 'SECONDLY', errorType: 'RATE_LIMIT' });
  });

  it('merges two deals into a new id that both old ids resolve to', async () => {
    const a = await hubspot.crm.deals.basicApi.create({ properties: { dealname: 'primary' }, associations: [] });
    const b = await hubspot.crm.deals.basicApi.create({ properties: { dealname: 'other', description: 'moved over' }, associations: [] });
    const merged = await hubspot.crm.deals.basicApi.merge({ primaryObjectId: a.id, objectIdToMerge: b.id });
    expect([a.id, b.id]).not.toContain(merged.id);
    const viaOld = await hubspot.crm.deals.basicApi.getById(b.id, ['dealname', 'description']);
    expect(viaOld).toMatchObject({ id: merged.id, properties: { dealname: 'primary', description: 'moved over' } });
  });

  it('serves pipelines, properties and owners that satisfy the SDK models', async () => {
    const pipelines = await hubspot.crm.pipelines.pipelinesApi.getAll('deals');
    expect(pipelines.results[0]!.stages.find((s) => s.id === 'closedwon')!.metadata).toEqual({ isClosed: 'true', probability: '1' });
    const properties = await hubspot.crm.properties.coreApi.getAll('deals');
    expect(properties.results.map((p) => p.name)).toContain('dealstage');
    const owners = await hubspot.crm.owners.ownersApi.getPage();
    expect(owners.results[0]!.email).toContain('@');
    const checks: [string, string][] = [
      ['/crm/v3/pipelines/deals', 'crm/pipelines/models/CollectionResponsePipelineNoPaging'],
      ['/crm/v3/properties/deals', 'crm/properties/models/CollectionResponsePropertyNoPaging'],
      ['/crm/v3/owners', 'crm/owners/models/CollectionResponsePublicOwnerForwardPaging'],
      ['/crm/v3/objects/deals', 'crm/deals/models/CollectionResponseSimplePublicObjectWithAssociationsForwardPaging'],
    ];
    await hubspot.crm.deals.basicApi.create({ properties: { dealname: 'model check' }, associations: [] });
    for (const [path, model] of checks) expect(missingRequired((await raw('GET', path)).json, model), path).toEqual([]);
    const deal = (await raw('GET', '/crm/v3/objects/deals')).json.results[0];
    expect(missingRequired((await raw('GET', `/crm/v3/objects/deals/${deal.id}`)).json, 'crm/deals/models/SimplePublicObjectWithAssociations')).toEqual([]);
  });

  it('creates contacts, finds them by email and associates them with deals (v4)', async () => {
    const contact = await hubspot.crm.contacts.basicApi.create({ properties: { email: 'Pat@Buyer.test', firstname: 'Pat' }, associations: [] });
    expect(missingRequired((await raw('GET', `/crm/v3/objects/contacts/${contact.id}`)).json, 'crm/contacts/models/SimplePublicObjectWithAssociations')).toEqual([]);
    const byEmail = await hubspot.crm.contacts.basicApi.getById('pat@buyer.test', ['firstname'], undefined, undefined, false, 'email');
    expect(byEmail.id).toBe(contact.id);
    await expect(hubspot.crm.contacts.basicApi.create({ properties: { email: 'pat@buyer.test' }, associations: [] })).rejects.toMatchObject({ code: 409 });
    const deal = await hubspot.crm.deals.basicApi.create({ properties: { dealname: 'with contact' }, associations: [] });
    const created = await hubspot.crm.associations.v4.basicApi.createDefault('deals', deal.id, 'contacts', contact.id);
    expect(created.results[0]!.associationSpec).toMatchObject({ associationTypeId: 3 });
    const page = await hubspot.crm.associations.v4.basicApi.getPage('deals', deal.id, 'contacts');
    expect(page.results.map((r) => r.toObjectId)).toEqual([contact.id]);
    const rawPage = (await raw('GET', `/crm/v4/objects/deals/${deal.id}/associations/contacts`)).json;
    expect(missingRequired(rawPage, 'crm/associations/v4/models/CollectionResponseMultiAssociatedObjectWithLabelForwardPaging')).toEqual([]);
    const batch = await hubspot.crm.associations.v4.batchApi.getPage('deals', 'contacts', { inputs: [{ id: deal.id }] });
    expect(batch.results[0]!.to.map((t) => t.toObjectId)).toEqual([contact.id]);
    await hubspot.crm.associations.v4.basicApi.archive('deals', deal.id, 'contacts', contact.id);
    expect((await hubspot.crm.associations.v4.basicApi.getPage('deals', deal.id, 'contacts')).results).toEqual([]);
  });

  it('answers errors in HubSpot’s shape: bad token, unknown property, read-only property', async () => {
    const unauthorised = await fetch(`${sandbox.baseUrl}/crm/v3/objects/deals`, { headers: { authorization: 'Bearer wrong' } });
    expect(unauthorised.status).toBe(401);
    expect(await unauthorised.json()).toMatchObject({ status: 'error', category: 'INVALID_AUTHENTICATION', correlationId: expect.any(String) });
    const unknown = await raw('POST', '/crm/v3/objects/deals', { properties: { nope: 'x' } });
    expect(unknown.status).toBe(400);
    expect(missingRequired(unknown.json, 'crm/deals/models/ModelError')).toEqual([]);
    const readOnly = await raw('POST', '/crm/v3/objects/deals', { properties: { hs_lastmodifieddate: '1' } });
    expect(readOnly.json.category).toBe('VALIDATION_ERROR');
  });
});

describe('HubSpot sandbox limits and faults', () => {
  it('sends the rate-limit headers and a TEN_SECONDLY_ROLLING 429 past the limit', async () => {
    const small = await startHubSpotSandbox({ seed: 8, limits: { tenSecondLimit: 3 } });
    try {
      const call = () => fetch(`${small.baseUrl}/crm/v3/objects/deals`, { headers: { authorization: `Bearer ${small.token}` } });
      const first = await call();
      expect(first.headers.get('x-hubspot-ratelimit-max')).toBe('3');
      expect(first.headers.get('x-hubspot-ratelimit-remaining')).toBe('2');
      expect(first.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');
      expect(first.headers.get('x-hubspot-ratelimit-daily-remaining')).toBe(String(250_000 - 1));
      await call();
      await call();
      const limited = await call();
      expect(limited.status).toBe(429);
      expect(await limited.json()).toMatchObject({ status: 'error', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' });
    } finally {
      await small.close();
    }
  });

  it('adds latency on demand', async () => {
    await control('POST', '/faults', { latencyMs: 120 });
    const started = Date.now();
    await raw('GET', '/crm/v3/owners');
    const elapsed = Date.now() - started;
    await control('POST', '/faults', { latencyMs: 0 });
    expect(elapsed).toBeGreaterThanOrEqual(120);
  });

  it('injects 429s, 5xx and connection resets on demand', async () => {
    await control('POST', '/faults', { fail429: 1, fail5xx: 1, reset: 1 });
    await expect(fetch(`${sandbox.baseUrl}/crm/v3/owners`, { headers: { authorization: `Bearer ${sandbox.token}` } })).rejects.toThrow();
    expect((await raw('GET', '/crm/v3/owners')).status).toBe(502);
    expect((await raw('GET', '/crm/v3/owners')).status).toBe(429);
    expect((await raw('GET', '/crm/v3/owners')).status).toBe(200);
  });

  it('exchanges an OAuth code and a refresh token through the SDK', async () => {
    const { code } = await control('POST', '/oauth/code');
    const tokens = await hubspot.oauth.tokensApi.create('authorization_code', code, 'http://localhost/cb', sandbox.clientId, sandbox.clientSecret);
    expect(tokens.expiresIn).toBe(1800);
    const oauthClient = new Client({ accessToken: tokens.accessToken, basePath: sandbox.baseUrl });
    expect((await oauthClient.crm.owners.ownersApi.getPage()).results.length).toBeGreaterThan(0);
    const refreshed = await hubspot.oauth.tokensApi.create('refresh_token', undefined, undefined, sandbox.clientId, sandbox.clientSecret, tokens.refreshToken);
    expect(refreshed.accessToken).not.toBe(tokens.accessToken);
    await expect(hubspot.oauth.tokensApi.create('authorization_code', code, 'http://localhost/cb', sandbox.clientId, sandbox.clientSecret)).rejects.toMatchObject({ code: 400 });
  });
});

describe('HubSpot sandbox webhooks', () => {
  let receiver: Server;
  let received: { body: string; headers: IncomingMessage['headers'] }[];
  let answer: number;
  let targetUrl: string;

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push({ body, headers: request.headers });
        response.statusCode = answer;
        response.end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    targetUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/webhooks/hubspot`;
  });
  afterAll(() => new Promise((resolve) => receiver.close(resolve)));
  beforeEach(async () => {
    received = [];
    answer = 200;
    const developer = new Client({ developerApiKey: sandbox.developerApiKey, basePath: sandbox.baseUrl });
    await developer.webhooks.settingsApi.configure(sandbox.appId, { targetUrl, throttling: { maxConcurrentRequests: 10 } });
    for (const [eventType, propertyName] of [['deal.creation'], ['deal.propertyChange', 'amount'], ['deal.deletion'], ['deal.merge'], ['deal.associationChange'], ['deal.restore']]) {
      await developer.webhooks.subscriptionsApi.create(sandbox.appId, { eventType: eventType as never, propertyName, active: true });
    }
  });

  const settle = async () => {
    for (let i = 0; i < 200 && !(await control('GET', '/state')).webhooks.idle; i++) await new Promise((r) => setTimeout(r, 10));
  };
  const events = () => received.flatMap((r) => JSON.parse(r.body) as Record<string, unknown>[]);

  it('sends signed batches that the SDK’s Signature helper accepts, one event per changed property', async () => {
    const deal = await control('POST', '/ui/deals', { dealname: 'UI deal', amount: '10' });
    await control('PATCH', `/ui/deals/${deal.id}`, { amount: '20', dealname: 'renamed' });
    await hubspot.crm.deals.basicApi.update(deal.id, { properties: { amount: '30' } });
    await settle();
    for (const { body, headers } of received) {
      const valid = Signature.isValid({
        signatureVersion: 'v3',
        signature: String(headers['x-hubspot-signature-v3']),
        clientSecret: sandbox.clientSecret,
        requestBody: body,
        url: targetUrl,
        method: 'POST',
        timestamp: Number(headers['x-hubspot-request-timestamp']),
      });
      expect(valid).toBe(true);
    }
    const all = events();
    expect(all.map((e) => [e.subscriptionType, e.propertyValue ?? null, e.changeSource])).toEqual([
      ['deal.creation', null, 'CRM_UI'],
      ['deal.propertyChange', '20', 'CRM_UI'],
      ['deal.propertyChange', '30', 'INTEGRATION'],
    ]);
    expect(all[0]).toMatchObject({ portalId: sandbox.portalId, appId: sandbox.appId, objectId: Number(deal.id), attemptNumber: 0 });
  });

  it('retries a failed delivery with a growing attempt number', async () => {
    answer = 500;
    await control('POST', '/ui/deals', { dealname: 'retry me' });
    await settle();
    expect(received.map((r) => JSON.parse(r.body)[0].attemptNumber)).toEqual([0, 1, 2]);
  });

  it('drops and duplicates webhooks when told to', async () => {
    await control('POST', '/faults', { dropWebhooks: 1, duplicateWebhooks: 1 });
    await control('POST', '/ui/deals', { dealname: 'dropped' });
    const kept = await control('POST', '/ui/deals', { dealname: 'duplicated' });
    await settle();
    expect(events().map((e) => e.objectId)).toEqual([Number(kept.id), Number(kept.id)]);
  });

  it('delays webhooks when told to, and reports restores', async () => {
    await control('POST', '/faults', { delayWebhooksMs: 50 });
    const deal = await control('POST', '/ui/deals', { dealname: 'delayed' });
    await control('DELETE', `/ui/deals/${deal.id}`);
    await control('POST', `/ui/deals/${deal.id}/restore`);
    expect(received).toEqual([]);
    await settle();
    expect(events().map((e) => e.subscriptionType)).toEqual(['deal.creation', 'deal.deletion', 'deal.restore']);
  });

  it('reorders webhooks when told to: held briefly, then sent newest first', async () => {
    await control('POST', '/faults', { reorderWebhooks: true });
    for (const name of ['one', 'two', 'three']) await control('POST', '/ui/deals', { dealname: name });
    await settle();
    const ids = events().map((e) => e.eventId as number);
    expect(ids).toHaveLength(3);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
  });

  it('reports association changes', async () => {
    const deal = await control('POST', '/ui/deals', { dealname: 'assoc' });
    const contact = await hubspot.crm.contacts.basicApi.create({ properties: { email: 'assoc@buyer.test' }, associations: [] });
    await control('POST', `/ui/deals/${deal.id}/contacts/${contact.id}`);
    await hubspot.crm.associations.v4.basicApi.archive('deals', deal.id, 'contacts', contact.id);
    await settle();
    const changes = events().filter((e) => e.subscriptionType === 'deal.associationChange');
    expect(changes.map((e) => [e.fromObjectId, e.toObjectId, e.associationRemoved, e.changeSource])).toEqual([
      [Number(deal.id), Number(contact.id), false, 'CRM_UI'],
      [Number(deal.id), Number(contact.id), true, 'INTEGRATION'],
    ]);
    expect(changes[0]).toMatchObject({ associationType: 'DEAL_TO_CONTACT', associationTypeId: 3 });
  });

  it('reports merges and deletions', async () => {
    const a = await control('POST', '/ui/deals', { dealname: 'a' });
    const b = await control('POST', '/ui/deals', { dealname: 'b' });
    const merged = await control('POST', '/ui/deals/merge', { primaryId: a.id, mergeId: b.id });
    await control('DELETE', `/ui/deals/${merged.id}`);
    await settle();
    // Up to 10 batches are in flight at once and HubSpot promises no order between them, so the
    // two events are found by type; their occurredAt keeps the order in which they happened.
    const merge = events().find((e) => e.subscriptionType === 'deal.merge');
    const deletion = events().find((e) => e.subscriptionType === 'deal.deletion' && e.objectId === Number(merged.id));
    expect(merge).toMatchObject({ primaryObjectId: Number(a.id), mergedObjectIds: [Number(b.id)], newObjectId: Number(merged.id) });
    expect(deletion).toBeDefined();
    expect(Number(deletion!.occurredAt)).toBeGreaterThanOrEqual(Number(merge!.occurredAt));
  });
});
