import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { open } from '../src/model/store/secrets.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { eventually, startSandboxes, startSyncStack, type SyncStack } from './support/sync.ts';

// Bodies read back from the sandboxes' control API.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let stack: SyncStack;
let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
let client: Client;

const asApi = (s: SyncStack) => ({ database: s.database, app: s.app, close: s.close }) as TestApi;
const state = async (baseUrl: string): Promise<Json> => (await fetch(`${baseUrl}/_sandbox/state`)).json();
const control = (baseUrl: string, path: string, body: unknown = {}) =>
  fetch(`${baseUrl}/_sandbox${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function connect(who: Client, s: Awaited<ReturnType<typeof startSandboxes>>) {
  const hubspot = await who.request('POST', '/v1/connections', { provider: 'hubspot', credentials: { accessToken: s.hubspot.token, clientSecret: s.hubspot.clientSecret }, baseUrl: s.hubspot.baseUrl, settings: { limits: { perWindow: 250 } } });
  expect(hubspot.statusCode, hubspot.body).toBe(201);
  const pipedrive = await who.request('POST', '/v1/connections', { provider: 'pipedrive', credentials: { apiToken: s.pipedrive.token }, baseUrl: s.pipedrive.baseUrl, settings: { limits: { perWindow: 480 } } });
  expect(pipedrive.statusCode, pipedrive.body).toBe(201);
  return { hubspot: hubspot.json(), pipedrive: pipedrive.json() };
}

const outboxEmpty = (accountId: string) => async () =>
  (await stack.database.sql`SELECT count(*)::int AS n FROM outbox o JOIN connections c ON c.id = o.connection_id WHERE c.account_id = ${accountId}`)[0]!.n === 0;

const hubspotDeals = async () => (await state(sandboxes.hubspot.baseUrl)).deals.filter((d: Json) => d.properties.crm_sync_id);
const pipedriveDeals = async (key: string) => (await state(sandboxes.pipedrive.baseUrl)).deals.filter((d: Json) => d.custom_fields[key] && d.status !== 'deleted');

let connections: Json;
/** A HubSpot portal and a Pipedrive company are connected once in the whole database: new ones per test. */
let seed = 3100;

beforeAll(async () => {
  stack = await startSyncStack();
});
afterAll(async () => {
  await stack.close();
});

// Every test gets an account and CRMs of its own, connected; the connections are deleted after it.
beforeEach(async () => {
  sandboxes = await startSandboxes(seed++);
  client = await newAccount(asApi(stack), 'Outbound');
  connections = await connect(client, sandboxes);
});
afterEach(async () => {
  for (const connection of [connections.hubspot, connections.pipedrive]) await client.request('DELETE', `/v1/connections/${connection.id}`);
  await sandboxes.close();
});

describe('connections', () => {
  it('never return or store credentials in the clear, and prepare the CRMs', async () => {
    expect(JSON.stringify(connections)).not.toContain(sandboxes.hubspot.token);
    expect(connections.hubspot).toMatchObject({ provider: 'hubspot', status: 'active', remoteAccountId: String(sandboxes.hubspot.portalId), webhook: { url: 'http://127.0.0.1:9/webhooks/hubspot' } });
    expect(connections.pipedrive.webhook.url).toBe(`http://127.0.0.1:9/webhooks/pipedrive/${connections.pipedrive.id}`);
    const [row] = await stack.database.sql`SELECT credentials, webhook_secret FROM connections WHERE id = ${connections.hubspot.id}`;
    expect(row!.credentials).not.toContain(sandboxes.hubspot.token);
    expect(JSON.parse(open(row!.credentials, stack.deps.keyring))).toEqual({ accessToken: sandboxes.hubspot.token, clientSecret: sandboxes.hubspot.clientSecret });
    const property = await fetch(`${sandboxes.hubspot.baseUrl}/crm/v3/properties/deals/crm_sync_id`, { headers: { authorization: `Bearer ${sandboxes.hubspot.token}` } });
    expect(((await property.json()) as Json).hasUniqueValue).toBe(true);
    const hooks: Json = await (await fetch(`${sandboxes.pipedrive.baseUrl}/v1/webhooks`, { headers: { 'x-api-token': sandboxes.pipedrive.token } })).json();
    expect(hooks.data[0]).toMatchObject({ subscription_url: connections.pipedrive.webhook.url, http_auth_user: expect.stringMatching(/^crm-sync-/) });
    const listed = (await client.request('GET', '/v1/connections')).json();
    expect(listed.data.map((c: Json) => c.provider).sort()).toEqual(['hubspot', 'pipedrive']);
    expect(connections.hubspot.settings.stages.length).toBeGreaterThan(0);
  });

  it('refuses bad credentials with a 400 naming them and stores nothing', async () => {
    const other = await newAccount(asApi(stack), 'Bad credentials');
    const refused = await other.request('POST', '/v1/connections', { provider: 'pipedrive', credentials: { apiToken: 'wrong' }, baseUrl: sandboxes.pipedrive.baseUrl });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().errors[0].field).toBe('credentials');
    expect((await other.request('GET', '/v1/connections')).json().data).toEqual([]);
  });
});

describe('outbound sync', () => {
  it('puts every new opportunity in both CRMs exactly once with its fields', async () => {
    const created: Json[] = [];
    for (let i = 0; i < 30; i++) {
      created.push((await client.request('POST', '/v1/opportunities', { title: `Deal ${i}`, amount: `${100 + i}.50`, currency: 'EUR', closeDate: '2027-03-31' })).json());
    }
    await eventually(outboxEmpty(client.accountId), 'the outbox drains');
    const key = connections.pipedrive.settings.canonicalIdField;
    const hs = await hubspotDeals();
    const pd = await pipedriveDeals(key);
    for (const opportunity of created) {
      const inHubSpot = hs.filter((d: Json) => d.properties.crm_sync_id === opportunity.id);
      const inPipedrive = pd.filter((d: Json) => d.custom_fields[key] === opportunity.id);
      expect(inHubSpot).toHaveLength(1);
      expect(inPipedrive).toHaveLength(1);
      expect(inHubSpot[0].properties).toMatchObject({ dealname: opportunity.title, amount: opportunity.amount, deal_currency_code: 'EUR', closedate: '2027-03-31T00:00:00.000Z' });
      expect(inPipedrive[0]).toMatchObject({ title: opportunity.title, value: Number(opportunity.amount), currency: 'EUR', expected_close_date: '2027-03-31' });
    }
    const links = await stack.database.sql`SELECT count(*)::int AS n FROM remote_links l JOIN connections c ON c.id = l.connection_id WHERE c.account_id = ${client.accountId}`;
    expect(links[0]!.n).toBe(60);
  });

  it('brings the primary contact along: found by email or created once, then associated', async () => {
    const contact = (await client.request('POST', '/v1/contacts', { name: 'Pat Buyer', email: 'pat@buyer.test' })).json();
    const first = (await client.request('POST', '/v1/opportunities', { title: 'With contact', contactId: contact.id })).json();
    const second = (await client.request('POST', '/v1/opportunities', { title: 'Same contact', contactId: contact.id })).json();
    await eventually(outboxEmpty(client.accountId), 'pushed with contacts');
    const hubspot = await state(sandboxes.hubspot.baseUrl);
    const key = connections.pipedrive.settings.canonicalIdField;
    const pipedrive = await state(sandboxes.pipedrive.baseUrl);
    const persons = await (await fetch(`${sandboxes.pipedrive.baseUrl}/api/v2/persons/search?term=pat@buyer.test&fields=email&exact_match=true`, { headers: { 'x-api-token': sandboxes.pipedrive.token } })).json() as Json;
    expect(persons.data.items).toHaveLength(1);
    for (const opportunity of [first, second]) {
      const deal = hubspot.deals.find((d: Json) => d.properties.crm_sync_id === opportunity.id);
      const associations = await (await fetch(`${sandboxes.hubspot.baseUrl}/crm/v4/objects/deals/${deal.id}/associations/contacts`, { headers: { authorization: `Bearer ${sandboxes.hubspot.token}` } })).json() as Json;
      expect(associations.results).toHaveLength(1);
      expect(pipedrive.deals.find((d: Json) => d.custom_fields[key] === opportunity.id).person_id).toBe(persons.data.items[0].item.id);
    }
    const contactsSearch = await (await fetch(`${sandboxes.hubspot.baseUrl}/crm/v3/objects/contacts/search`, { method: 'POST', headers: { authorization: `Bearer ${sandboxes.hubspot.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'pat@buyer.test' }] }] }) })).json() as Json;
    expect(contactsSearch.total).toBe(1);

    const other = (await client.request('POST', '/v1/contacts', { name: 'Sam Other', email: 'sam@other.test' })).json();
    await client.request('PATCH', `/v1/opportunities/${first.id}`, { contactId: other.id });
    await eventually(outboxEmpty(client.accountId), 'the contact change is pushed');
    const deal = (await state(sandboxes.hubspot.baseUrl)).deals.find((d: Json) => d.properties.crm_sync_id === first.id);
    const now = await (await fetch(`${sandboxes.hubspot.baseUrl}/crm/v4/objects/deals/${deal.id}/associations/contacts`, { headers: { authorization: `Bearer ${sandboxes.hubspot.token}` } })).json() as Json;
    expect(now.results).toHaveLength(1);
    const samPerson = (await state(sandboxes.pipedrive.baseUrl)).deals.find((d: Json) => d.custom_fields[key] === first.id).person_id;
    expect(samPerson).not.toBe(persons.data.items[0].item.id);
  });

  it('sends only what changed, coalescing rapid edits, and closes deals the CRM’s way', async () => {
    const opportunity = (await client.request('POST', '/v1/opportunities', { title: 'Edited', amount: '1.00' })).json();
    await eventually(outboxEmpty(client.accountId), 'the create is pushed');
    for (let i = 1; i <= 10; i++) await client.request('PATCH', `/v1/opportunities/${opportunity.id}`, { amount: `${i}.00` });
    await client.request('POST', `/v1/opportunities/${opportunity.id}/close`, { state: 'won' });
    await eventually(outboxEmpty(client.accountId), 'the edits are pushed');
    const updates = await stack.database.sql`SELECT after FROM sync_events WHERE opportunity_id = ${opportunity.id} AND kind = 'push_update'`;
    expect(updates.length).toBeLessThan(2 * 11);
    expect(updates.every((u) => !('title' in (u.after as object)))).toBe(true);
    const key = connections.pipedrive.settings.canonicalIdField;
    const hs = (await hubspotDeals()).find((d: Json) => d.properties.crm_sync_id === opportunity.id);
    const pd = (await pipedriveDeals(key)).find((d: Json) => d.custom_fields[key] === opportunity.id);
    expect(hs.properties).toMatchObject({ amount: '10.00', dealstage: 'closedwon' });
    expect(pd).toMatchObject({ value: 10, status: 'won' });
  });

  // A HubSpot 429 without Retry-After means waiting out the 10-second window, so this test is slow by nature.
  it('lands every change through 429s and 5xx without a failed job', { timeout: 90_000 }, async () => {
    await control(sandboxes.hubspot.baseUrl, '/faults', { fail429: 1, fail5xx: 2 });
    await control(sandboxes.pipedrive.baseUrl, '/faults', { fail429: 2, fail5xx: 2 });
    const opportunity = (await client.request('POST', '/v1/opportunities', { title: 'Through faults' })).json();
    await eventually(outboxEmpty(client.accountId), 'the change lands despite faults', 80_000);
    expect((await hubspotDeals()).some((d: Json) => d.properties.crm_sync_id === opportunity.id)).toBe(true);
    const key = connections.pipedrive.settings.canonicalIdField;
    expect((await pipedriveDeals(key)).filter((d: Json) => d.custom_fields[key] === opportunity.id)).toHaveLength(1);
    // The queue is the whole file's: the jobs of this test are its connections'.
    const ours = [connections.hubspot.id, connections.pipedrive.id];
    expect((await stack.queues.outbound.getFailed()).filter((job) => ours.includes(job.data.connectionId))).toEqual([]);
  });

  it('a 429 holds back only its own connection: another account’s sync goes on meanwhile', { timeout: 60_000 }, async () => {
    const slowed = await startSandboxes(seed++);
    const other = await newAccount(asApi(stack), 'Rate limited');
    await connect(other, slowed);
    await eventually(outboxEmpty(other.accountId), 'the new connections settle');
    // A HubSpot 429 without Retry-After holds this connection back for the 10-second window.
    await control(slowed.hubspot.baseUrl, '/faults', { fail429: 1 });
    await other.request('POST', '/v1/opportunities', { title: 'Held back' });
    await eventually(async () => (await stack.database.sql`SELECT 1 FROM sync_events e JOIN connections c ON c.id = e.connection_id WHERE c.account_id = ${other.accountId} AND c.provider = 'pipedrive' AND e.kind = 'push_create'`).length > 0, 'its Pipedrive push');
    const mine = (await client.request('POST', '/v1/opportunities', { title: 'Not held back' })).json();
    await eventually(outboxEmpty(client.accountId), 'this account drains');
    expect((await hubspotDeals()).some((d: Json) => d.properties.crm_sync_id === mine.id)).toBe(true);
    const [held] = await stack.database.sql`SELECT count(*)::int AS n FROM outbox o JOIN connections c ON c.id = o.connection_id WHERE c.account_id = ${other.accountId} AND c.provider = 'hubspot'`;
    expect(held!.n).toBe(1);
    await eventually(outboxEmpty(other.accountId), 'the held-back change lands after the wait', 30_000);
    await slowed.close();
  });

  it('stops a connection whose credentials were revoked, and the other goes on', async () => {
    const isolated = await startSandboxes(seed++);
    const other = await newAccount(asApi(stack), 'Revoked');
    const mine = await connect(other, isolated);
    await control(isolated.hubspot.baseUrl, '/revoke');
    const opportunity = (await other.request('POST', '/v1/opportunities', { title: 'After revoke' })).json();
    const failed = await eventually(async () => {
      const view = (await other.request('GET', `/v1/connections/${mine.hubspot.id}`)).json();
      return view.status === 'error' ? view : undefined;
    }, 'the HubSpot connection shows the error');
    expect(failed.lastError).toMatchObject({ code: 'unauthorized' });
    expect(failed.pendingOutbound).toBeGreaterThan(0);
    const key = mine.pipedrive.settings.canonicalIdField;
    await eventually(async () => (await state(isolated.pipedrive.baseUrl)).deals.some((d: Json) => d.custom_fields[key] === opportunity.id), 'Pipedrive still gets the change');
    await isolated.close();
  });

  it('deletes per the connection’s delete policy: unlink leaves the deal, propagate removes it', async () => {
    await client.request('PATCH', `/v1/connections/${connections.pipedrive.id}`, { deletePolicy: 'propagate' });
    const opportunity = (await client.request('POST', '/v1/opportunities', { title: 'Doomed deal' })).json();
    await eventually(outboxEmpty(client.accountId), 'the create is pushed');
    await client.request('DELETE', `/v1/opportunities/${opportunity.id}`);
    await eventually(outboxEmpty(client.accountId), 'the delete is handled');
    const key = connections.pipedrive.settings.canonicalIdField;
    expect((await pipedriveDeals(key)).some((d: Json) => d.custom_fields[key] === opportunity.id)).toBe(false);
    expect((await hubspotDeals()).some((d: Json) => d.properties.crm_sync_id === opportunity.id && !d.archived)).toBe(true);
    const events = await stack.database.sql`SELECT kind FROM sync_events WHERE opportunity_id = ${opportunity.id} ORDER BY id`;
    expect(events.map((e) => e.kind)).toContain('push_delete');
  });

  it('reports an unmapped stage on the link instead of dropping it', async () => {
    const opportunity = (await client.request('POST', '/v1/opportunities', { title: 'Odd stage', stage: 'not_a_stage' })).json();
    await eventually(outboxEmpty(client.accountId), 'the create is pushed');
    const [link] = await stack.database.sql`SELECT last_error FROM remote_links WHERE opportunity_id = ${opportunity.id} AND connection_id = ${connections.hubspot.id}`;
    expect(link!.last_error).toMatchObject({ mapping: [{ field: 'stage', value: 'not_a_stage' }] });
    const view = (await client.request('GET', `/v1/connections/${connections.hubspot.id}`)).json();
    expect(view.recordsWithProblems).toBeGreaterThan(0);
  });

  it('never sends one account’s changes with another’s credentials or to its CRM', async () => {
    const theirs = await startSandboxes(seed++);
    const other = await newAccount(asApi(stack), 'Tenant B');
    await connect(other, theirs);
    const mine = (await client.request('POST', '/v1/opportunities', { title: 'Only mine' })).json();
    const their = (await other.request('POST', '/v1/opportunities', { title: 'Only theirs' })).json();
    await eventually(outboxEmpty(client.accountId), 'A drains');
    await eventually(outboxEmpty(other.accountId), 'B drains');
    const theirHubSpot = (await state(theirs.hubspot.baseUrl)).deals.map((d: Json) => d.properties.crm_sync_id);
    const myHubSpot = (await hubspotDeals()).map((d: Json) => d.properties.crm_sync_id);
    expect(theirHubSpot).toContain(their.id);
    expect(theirHubSpot).not.toContain(mine.id);
    expect(myHubSpot).not.toContain(their.id);
    await theirs.close();
  });
});
