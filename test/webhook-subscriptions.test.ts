import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../src/model/accounts/accounts.ts';
import { insertConnection } from '../src/model/connections/connections.ts';
import { connectionSubscriptions, registerConnectionSubscriptions } from '../src/orchestration/webhook-subscriptions.ts';
import { subscriptionName } from '../src/providers/webhook-subscription-name.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { SANDBOX_HOSTS } from './support/sync.ts';

// Bodies the developer API answers.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** Registering a connection's HubSpot webhook subscriptions with the app's developer API key, against the sandbox. */

let database: TestDatabase;
let hubspot: HubSpotSandbox;
let accountId: string;
const publicUrl = 'http://127.0.0.1:9';

beforeAll(async () => {
  [database, hubspot] = await Promise.all([createTestDatabase(), startHubSpotSandbox({ seed: 11 })]);
  accountId = (await createAccount(database.db, { name: 'Subscriptions Co' })).accountId;
});
afterAll(async () => {
  await hubspot.close();
  await database.drop();
});

let remoteAccounts = 0;
/** A stored connection: registering reads only its provider and settings, never its credentials. */
async function connection(provider: 'hubspot' | 'pipedrive', settings: Record<string, unknown>) {
  const view = await insertConnection(database.db, { accountId, provider, credentials: 'sealed', credentialsKeyId: 'k', webhookSecret: null, remoteAccountId: String(++remoteAccounts), settings });
  return view.id;
}

const deps = () => ({ db: database.db, publicUrl, crmBaseUrlHosts: SANDBOX_HOSTS });
const app = () => ({ appId: String(hubspot.appId), developerKey: hubspot.developerApiKey });
const developer = (path: string, init: RequestInit = {}) =>
  fetch(`${hubspot.baseUrl}/webhooks/v3/${hubspot.appId}${path}?hapikey=${hubspot.developerApiKey}`, { ...init, headers: { 'content-type': 'application/json' } }).then((r) => r.json() as Promise<Json>);
const appSubscriptions = async (): Promise<string[]> => ((await developer('/subscriptions')).results as { eventType: string; propertyName?: string }[]).map(subscriptionName);

describe('registering HubSpot webhook subscriptions', () => {
  it('subscribes the whole derived list once: running again creates nothing; what the sync does not need, or a person turned off, is reported and left', async () => {
    const settings = { baseUrl: hubspot.baseUrl, attributes: [{ key: 'region', remote: 'sales_region', type: 'enum' }], sourceField: 'lead_source', externalRefField: 'erp_ref' };
    const id = await connection('hubspot', settings);
    // Already in the app: another integration's subscription, and one we need that a person turned off.
    await developer('/subscriptions', { method: 'POST', body: JSON.stringify({ eventType: 'deal.propertyChange', propertyName: 'hs_next_step', active: true }) });
    await developer('/subscriptions', { method: 'POST', body: JSON.stringify({ eventType: 'deal.propertyChange', propertyName: 'amount', active: false }) });
    const wanted = (await connectionSubscriptions(database.db, id)).map(subscriptionName);

    const first = await registerConnectionSubscriptions(deps(), id, app);
    expect(first.created).toEqual(wanted.filter((name) => name !== 'deal.propertyChange:amount'));
    expect(first.created).toEqual(expect.arrayContaining(['deal.propertyChange:hubspot_owner_id', 'deal.propertyChange:pipeline', 'deal.propertyChange:description', 'deal.propertyChange:closed_lost_reason', 'deal.propertyChange:sales_region', 'deal.propertyChange:lead_source']));
    expect(first).toMatchObject({ present: [], inactive: ['deal.propertyChange:amount'], unwanted: ['deal.propertyChange:hs_next_step'] });
    expect((await appSubscriptions()).sort()).toEqual([...wanted, 'deal.propertyChange:hs_next_step'].sort());
    // The app's webhooks now go to our receiver.
    expect((await developer('/settings')).targetUrl).toBe(`${publicUrl}/webhooks/hubspot`);

    const again = await registerConnectionSubscriptions(deps(), id, app);
    expect(again).toEqual({ created: [], present: first.created, inactive: ['deal.propertyChange:amount'], unwanted: ['deal.propertyChange:hs_next_step'] });
    expect(await appSubscriptions()).toHaveLength(wanted.length + 1);
  });

  it('sends the developer key only to HubSpot or a host the operator lists', async () => {
    const id = await connection('hubspot', { baseUrl: 'http://192.0.2.1:1' });
    await expect(registerConnectionSubscriptions(deps(), id, app)).rejects.toThrow(/CRM_BASE_URL_HOSTS/);
  });

  it('refuses a connection whose CRM registers its own webhook, and one that does not exist', async () => {
    const pipedrive = await connection('pipedrive', {});
    await expect(connectionSubscriptions(database.db, pipedrive)).rejects.toThrow(/Pipedrive connections register their webhook themselves/);
    await expect(connectionSubscriptions(database.db, '00000000-0000-4000-8000-000000000000')).rejects.toThrow(/not found/);
  });
});
