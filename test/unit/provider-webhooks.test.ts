import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { providerModules } from '../../src/providers/index.ts';
import type { WebhookLookup, WebhookTarget } from '../../src/providers/types.ts';

/** The provider modules' webhook halves, without I/O: what a delivery says, and who may send one. */

const { hubspot, pipedrive } = providerModules;
const lookup = (targets: WebhookTarget[], named?: WebhookTarget, appSecret?: string): WebhookLookup => ({
  named,
  appSecret,
  byRemoteAccounts: async (ids) => targets.filter((t) => ids.includes(t.remoteAccountId!)),
});

function signedHubSpot(body: unknown, secret: string, uri = 'https://sync.example/webhooks/hubspot') {
  const rawBody = Buffer.from(JSON.stringify(body));
  const timestamp = String(Date.now());
  const signature = createHmac('sha256', secret).update(`POST${uri}${rawBody.toString()}${timestamp}`).digest('base64');
  return { method: 'POST', uri, rawBody, headers: { 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': timestamp } };
}

describe('HubSpot webhooks', () => {
  const a = { id: 'conn-a', remoteAccountId: '111', secret: 'secret-a' };
  const b = { id: 'conn-b', remoteAccountId: '222', secret: 'secret-b' };

  it('names the deals of deal events, merges included, ignores other objects and keeps what it cannot read', () => {
    const parsed = hubspot.webhooks.parse([
      { subscriptionType: 'deal.propertyChange', objectId: 5, portalId: 1 },
      { subscriptionType: 'deal.merge', objectId: 6, newObjectId: 7, mergedObjectIds: [5, 6], portalId: 1 },
      { subscriptionType: 'contact.creation', objectId: 8, portalId: 1 },
      { subscriptionType: 'deal.creation', objectId: 'x', portalId: 1 },
    ]);
    expect(parsed.ids).toEqual(['5', '7', '6']);
    expect(parsed.unreadable).toEqual([{ subscriptionType: 'deal.creation', objectId: 'x', portalId: 1 }]);
    expect(parsed.closers.size).toBe(0);
  });

  it('names the deal of an association change, which HubSpot gives as fromObjectId', () => {
    const change = { subscriptionType: 'deal.associationChange', fromObjectId: 9, toObjectId: 31, associationType: 'DEAL_TO_CONTACT', associationRemoved: false, portalId: 1 };
    expect(hubspot.webhooks.parse([change])).toMatchObject({ ids: ['9'], unreadable: [] });
  });

  it('routes a signed batch to the connections of its portals, and refuses an unsigned or malformed one', async () => {
    const events = [{ portalId: 111, objectId: 1, subscriptionType: 'deal.creation' }];
    const verdict = await hubspot.webhooks.receive(signedHubSpot(events, 'secret-a'), lookup([a, b]));
    expect(verdict).toEqual({ deliveries: [{ connectionId: 'conn-a', events }] });
    expect(await hubspot.webhooks.receive(signedHubSpot(events, 'wrong'), lookup([a, b]))).toMatchObject({ refused: { status: 401 } });
    expect(await hubspot.webhooks.receive({ ...signedHubSpot([], 'secret-a') }, lookup([a]))).toMatchObject({ refused: { status: 400 } });
    expect(await hubspot.webhooks.receive(signedHubSpot([{ objectId: 1 }], 'secret-a'), lookup([a]))).toMatchObject({ refused: { status: 400 } });
  });

  it('accepts the app’s own secret for every portal it names', async () => {
    const events = [{ portalId: 222, objectId: 1, subscriptionType: 'deal.creation' }];
    const verdict = await hubspot.webhooks.receive(signedHubSpot(events, 'app-secret'), lookup([{ ...b, secret: undefined }], undefined, 'app-secret'));
    expect(verdict).toEqual({ deliveries: [{ connectionId: 'conn-b', events }] });
  });
});

describe('Pipedrive webhooks', () => {
  const auth = { user: 'crm-sync-1', password: 'pw' };
  const target = { id: 'conn-p', remoteAccountId: '9', secret: JSON.stringify(auth) };
  const request = (body: unknown, authorization?: string) => ({
    method: 'POST',
    uri: 'https://sync.example/webhooks/pipedrive/conn-p',
    rawBody: Buffer.from(JSON.stringify(body)),
    headers: { authorization },
  });
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  it('names the deal of v2 and v1 bodies, and who moved a deal’s status', () => {
    const parsed = pipedrive.webhooks.parse([
      { meta: { entity: 'deal', entity_id: '12', user_id: 3 }, data: { status: 'won' }, previous: { status: 'open' } },
      { meta: { object: 'deal', id: 13, user_id: 4 }, current: { title: 'x' }, previous: { title: 'y' } },
      { meta: { entity: 'person', entity_id: '1' }, data: {} },
      { meta: { action: 'change' } },
    ]);
    expect(parsed.ids).toEqual(['12', '13']);
    expect([...parsed.closers]).toEqual([['12', '3']]);
    expect(parsed.unreadable).toEqual([{ meta: { action: 'change' } }]);
  });

  it('takes a body only with the connection’s own basic credentials, and refuses one without meta', async () => {
    const body = { meta: { entity: 'deal', entity_id: '12' }, data: {}, previous: null };
    expect(await pipedrive.webhooks.receive(request(body, basic('crm-sync-1', 'pw')), lookup([], target))).toEqual({ deliveries: [{ connectionId: 'conn-p', events: [body] }] });
    expect(await pipedrive.webhooks.receive(request(body, basic('crm-sync-1', 'nope')), lookup([], target))).toMatchObject({ refused: { status: 401 } });
    expect(await pipedrive.webhooks.receive(request(body, basic('crm-sync-1', 'pw')), lookup([], undefined))).toMatchObject({ refused: { status: 401 } });
    expect(await pipedrive.webhooks.receive(request({ data: {} }, basic('crm-sync-1', 'pw')), lookup([], target))).toMatchObject({ refused: { status: 400 } });
  });
});
