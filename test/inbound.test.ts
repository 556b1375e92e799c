import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { eventually, freePort, startSandboxes, startSyncStack, type SyncStack } from './support/sync.ts';

// Bodies read back from the API and the sandboxes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let stack: SyncStack;
let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
let client: Client;
let pipedriveKey: string;
let ben: Json;
let connections: { hubspot: Json; pipedrive: Json };
/** A HubSpot portal and a Pipedrive company are connected once in the whole database: new ones per test. */
let seed = 7100;

const state = async (baseUrl: string): Promise<Json> => (await fetch(`${baseUrl}/_sandbox/state`)).json();
const ui = (baseUrl: string, method: string, path: string, body: unknown = {}): Promise<Json> =>
  fetch(`${baseUrl}/_sandbox/ui${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => (r.status === 204 ? undefined : r.json()));
const hubspotDealOf = async (id: string) => (await state(sandboxes.hubspot.baseUrl)).deals.find((d: Json) => d.properties.crm_sync_id === id);
const pipedriveDealOf = async (id: string) => (await state(sandboxes.pipedrive.baseUrl)).deals.find((d: Json) => d.custom_fields[pipedriveKey] === id);
const opportunity = async (id: string): Promise<Json> => (await client.request('GET', `/v1/opportunities/${id}`)).json();

beforeAll(async () => {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  stack = await startSyncStack({ publicUrl });
  await stack.app.listen({ port, host: '127.0.0.1' });
});
afterAll(async () => {
  await stack.close();
});

// Every test gets an account and CRMs of its own, connected with their webhooks pointed at us; the
// connections are deleted after it.
beforeEach(async () => {
  sandboxes = await startSandboxes(seed++);
  client = await newAccount({ database: stack.database, app: stack.app, close: stack.close } as TestApi, 'Inbound');
  // The sandboxes' sales rep, so the connections map him as an owner (matched by email).
  ben = (await client.request('POST', '/v1/users', { name: 'Ben Seller', email: 'ben@sandbox.example' })).json();
  const hubspot = (await client.request('POST', '/v1/connections', { provider: 'hubspot', credentials: { accessToken: sandboxes.hubspot.token, clientSecret: sandboxes.hubspot.clientSecret }, baseUrl: sandboxes.hubspot.baseUrl })).json();
  const pipedrive = (await client.request('POST', '/v1/connections', { provider: 'pipedrive', credentials: { apiToken: sandboxes.pipedrive.token }, baseUrl: sandboxes.pipedrive.baseUrl })).json();
  pipedriveKey = pipedrive.settings.canonicalIdField;
  connections = { hubspot, pipedrive };
  const developer = { 'content-type': 'application/json' };
  const app = `${sandboxes.hubspot.baseUrl}/webhooks/v3/${sandboxes.hubspot.appId}`;
  await fetch(`${app}/settings?hapikey=${sandboxes.hubspot.developerApiKey}`, { method: 'PUT', headers: developer, body: JSON.stringify({ targetUrl: hubspot.webhook.url }) });
  for (const [eventType, propertyName] of [['deal.creation'], ['deal.deletion'], ['deal.restore'], ['deal.propertyChange', 'amount'], ['deal.propertyChange', 'dealname'], ['deal.propertyChange', 'dealstage']]) {
    await fetch(`${app}/subscriptions?hapikey=${sandboxes.hubspot.developerApiKey}`, { method: 'POST', headers: developer, body: JSON.stringify({ eventType, propertyName, active: true }) });
  }
});
afterEach(async () => {
  for (const connection of [connections.hubspot, connections.pipedrive]) await client.request('DELETE', `/v1/connections/${connection.id}`);
  await sandboxes.close();
});

/** An opportunity made through the API, once it has reached both CRMs; answers its id and its HubSpot deal. */
async function inBothCrms() {
  const id: string = (await client.request('PUT', '/v1/opportunities/by-external-ref/SO-7001', { title: 'Renewal', amount: '100.00', currency: 'EUR' })).json().id;
  const deal = await eventually(() => hubspotDealOf(id), 'the deal reaches HubSpot');
  await eventually(() => pipedriveDealOf(id), 'the deal reaches Pipedrive');
  return { id, deal };
}

/** A person's HubSpot edit of such an opportunity, followed by the canonical store and by Pipedrive. */
async function editedInHubSpot(): Promise<string> {
  const { id, deal } = await inBothCrms();
  await ui(sandboxes.hubspot.baseUrl, 'PATCH', `/deals/${deal.id}`, { amount: '250' });
  await eventually(async () => (await opportunity(id)).amount === '250', 'the canonical amount follows HubSpot', 20_000);
  await eventually(async () => (await pipedriveDealOf(id))?.value === 250, 'Pipedrive follows', 20_000);
  return id;
}

/** The opportunity's version once it stops changing: its pushes, echoes and reads are over. */
const settledVersion = (id: string): Promise<number> =>
  eventually(async () => {
    const before = (await opportunity(id)).version;
    await new Promise((r) => setTimeout(r, 1500));
    return (await opportunity(id)).version === before ? before : undefined;
  }, 'no more versions', 20_000);

describe('inbound sync', () => {
  it('takes a person’s HubSpot edit into the canonical store and on to Pipedrive', async () => {
    const id = await editedInHubSpot();
    const events = await stack.database.sql`SELECT kind FROM sync_events WHERE opportunity_id = ${id} AND kind = 'pull_update'`;
    expect(events.length).toBeGreaterThanOrEqual(1);
  });

  it('suppresses the echoes of its own writes: the version settles', async () => {
    const id = await editedInHubSpot();
    const settled = await settledVersion(id);
    expect(settled).toBeGreaterThan(0);
    const [{ n }] = await stack.database.sql`SELECT count(*)::int AS n FROM outbox o JOIN connections c ON c.id = o.connection_id WHERE c.account_id = ${client.accountId}`;
    expect(n).toBe(0);
    const echoes = await stack.database.sql`SELECT count(*)::int AS n FROM sync_events WHERE opportunity_id = ${id} AND kind = 'echo_suppressed'`;
    expect(echoes[0]!.n).toBeGreaterThanOrEqual(1);
  });

  it('keeps a deal event it cannot read on the connection’s timeline instead of dropping it', async () => {
    const connection = (await client.request('GET', '/v1/connections')).json().data.find((c: Json) => c.provider === 'pipedrive');
    // As a receiver stores it; the sweeper wakes the connection's round.
    const events = [{ meta: { entity: 'deal', action: 'change', entity_id: 'not-a-deal-id' } }];
    await stack.database.sql`INSERT INTO inbox (connection_id, events, event_count) VALUES (${connection.id}, ${stack.database.sql.json(events)}, 1)`;
    const [kept] = await eventually(
      async () => {
        const rows = await stack.database.sql`SELECT detail FROM sync_events WHERE connection_id = ${connection.id} AND kind = 'unreadable_event'`;
        return rows.length ? rows : undefined;
      },
      'the event is recorded',
      20_000,
    );
    expect(kept!.detail.event.meta.entity_id).toBe('not-a-deal-id');
  });

  it('makes a deal created in Pipedrive a canonical opportunity and puts it in HubSpot', async () => {
    const deal = await ui(sandboxes.pipedrive.baseUrl, 'POST', '/deals', { title: 'Born in Pipedrive', value: 75, currency: 'EUR' });
    const created = await eventually(async () => (await client.request('GET', '/v1/opportunities?limit=500')).json().data.find((o: Json) => o.title === 'Born in Pipedrive'), 'the canonical opportunity', 20_000);
    expect(created).toMatchObject({ amount: '75', currency: 'EUR', state: 'open' });
    await eventually(() => hubspotDealOf(created.id), 'it reaches HubSpot', 20_000);
    const [link] = await stack.database.sql`SELECT remote_id FROM remote_links WHERE opportunity_id = ${created.id} AND connection_id = ${connections.pipedrive.id}`;
    expect(link!.remote_id).toBe(String(deal.id));
  });

  it('takes a deal created in HubSpot once, tags it with our id, and makes no second deal there', async () => {
    const deal = await ui(sandboxes.hubspot.baseUrl, 'POST', '/deals', { dealname: 'Born in HubSpot', amount: '40' });
    const created = await eventually(async () => (await client.request('GET', '/v1/opportunities?limit=500')).json().data.find((o: Json) => o.title === 'Born in HubSpot'), 'the canonical opportunity', 20_000);
    await eventually(async () => (await hubspotDealOf(created.id))?.id === deal.id, 'the HubSpot deal carries our id', 20_000);
    await eventually(() => pipedriveDealOf(created.id), 'it reaches Pipedrive', 20_000);
    const named = (await state(sandboxes.hubspot.baseUrl)).deals.filter((d: Json) => d.properties.dealname === 'Born in HubSpot');
    expect(named).toHaveLength(1);
  });

  it('closes the opportunity when a person marks the deal won in Pipedrive, and HubSpot follows', async () => {
    const { id } = await inBothCrms();
    // Settled first, as a deal is when a person gets to it: the won below then comes by webhook, with
    // who clicked it, rather than being read by a flush still busy with the create.
    await settledVersion(id);
    const deal = await pipedriveDealOf(id);
    await ui(sandboxes.pipedrive.baseUrl, 'POST', `/deals/${deal.id}/won`);
    const won = await eventually(async () => {
      const o = await opportunity(id);
      return o.state === 'won' ? o : undefined;
    }, 'the canonical state is won', 20_000);
    expect(won.closedAt).not.toBeNull();
    // Ben (Pipedrive user 2) clicked won: the webhook says so, and he is mapped to a user.
    expect(won.closedById).toBe(ben.id);
    await eventually(async () => (await hubspotDealOf(id))?.properties.dealstage === 'closedwon', 'HubSpot moves to closed won', 20_000);
  });

  it('keeps the opportunity when a deal is deleted in HubSpot (unlink), and relinks it on restore', async () => {
    const kept = (await client.request('POST', '/v1/opportunities', { title: 'Deleted in HubSpot' })).json();
    const deal = await eventually(() => hubspotDealOf(kept.id), 'the deal reaches HubSpot');
    await ui(sandboxes.hubspot.baseUrl, 'DELETE', `/deals/${deal.id}`);
    const linkOf = async () => (await stack.database.sql`SELECT remote_deleted_at FROM remote_links WHERE connection_id = ${connections.hubspot.id} AND remote_id = ${deal.id}`)[0];
    await eventually(async () => (await linkOf())?.remote_deleted_at !== null, 'the link is marked deleted', 20_000);
    expect((await client.request('GET', `/v1/opportunities/${kept.id}`)).statusCode).toBe(200);
    await ui(sandboxes.hubspot.baseUrl, 'POST', `/deals/${deal.id}/restore`);
    await eventually(async () => (await linkOf())?.remote_deleted_at === null, 'the link is restored', 20_000);
  });

  it('deletes the opportunity when the connection propagates deletes', async () => {
    const connections = (await client.request('GET', '/v1/connections')).json().data;
    const pipedrive = connections.find((c: Json) => c.provider === 'pipedrive');
    await client.request('PATCH', `/v1/connections/${pipedrive.id}`, { deletePolicy: 'propagate' });
    const doomed = (await client.request('POST', '/v1/opportunities', { title: 'Deleted in Pipedrive' })).json();
    const deal = await eventually(() => pipedriveDealOf(doomed.id), 'the deal reaches Pipedrive');
    await ui(sandboxes.pipedrive.baseUrl, 'DELETE', `/deals/${deal.id}`);
    await eventually(async () => (await client.request('GET', `/v1/opportunities/${doomed.id}`)).statusCode === 404, 'the opportunity is deleted', 20_000);
    // HubSpot's connection keeps its default (unlink): the HubSpot deal stays.
    expect((await hubspotDealOf(doomed.id))?.archived).toBe(false);
  });
});
