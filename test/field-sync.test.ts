import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { connectBoth } from './support/connect.ts';
import { eventually, startListeningStack, startSandboxes, type SyncStack } from './support/sync.ts';

/**
 * The fields the field registry brought into sync (issue 10): `source`, through the CRM property
 * or custom field a connection names in settings.sourceField, and the canonical `pipeline`, through
 * the pipeline map that connection setup proposes. Both CRMs are the sandboxes over HTTP; people act
 * in them through the sandboxes' UI routes.
 */

// Bodies read back from the API and the sandboxes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let stack: SyncStack;
let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
let client: Client;
let connections: { hubspot: Json; pipedrive: Json };
let pipedriveSource: string;

const state = async (baseUrl: string): Promise<Json> => (await fetch(`${baseUrl}/_sandbox/state`)).json();
const ui = (baseUrl: string, method: string, path: string, body: unknown = {}): Promise<Json> =>
  fetch(`${baseUrl}/_sandbox/ui${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
const hubspotDealOf = async (id: string) => (await state(sandboxes.hubspot.baseUrl)).deals.find((d: Json) => d.properties.crm_sync_id === id);
const pipedriveDealOf = async (id: string) => (await state(sandboxes.pipedrive.baseUrl)).deals.find((d: Json) => d.custom_fields[connections.pipedrive.settings.canonicalIdField] === id);
const opportunity = async (id: string): Promise<Json> => (await client.request('GET', `/v1/opportunities/${id}`)).json();

/** The CRMs' own "lead source" fields, made the way an admin would: a deal property, a deal field. */
async function createSourceFields() {
  const hubspot = await fetch(`${sandboxes.hubspot.baseUrl}/crm/v3/properties/deals`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sandboxes.hubspot.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'lead_source', label: 'Lead source', type: 'string', fieldType: 'text', groupName: 'dealinformation' }),
  });
  expect(hubspot.status).toBe(201);
  const pipedrive = await fetch(`${sandboxes.pipedrive.baseUrl}/api/v2/dealFields`, {
    method: 'POST',
    headers: { 'x-api-token': sandboxes.pipedrive.token, 'content-type': 'application/json' },
    body: JSON.stringify({ field_name: 'Lead source', field_type: 'varchar' }),
  });
  expect(pipedrive.status).toBe(200);
  return ((await pipedrive.json()) as Json).data.field_code as string;
}

beforeAll(async () => {
  sandboxes = await startSandboxes(83);
  stack = await startListeningStack();
  client = await newAccount({ database: stack.database, app: stack.app, close: stack.close } as TestApi, 'Fields');
  // The sandboxes' people, so the connections map them as owners (matched by email) and no owner
  // problem of a pull stands in for the pipeline problem this file looks for.
  for (const [name, email] of [['Ana Admin', 'ana@sandbox.example'], ['Ben Seller', 'ben@sandbox.example']]) await client.request('POST', '/v1/users', { name, email });
  pipedriveSource = await createSourceFields();
  connections = await connectBoth(client, sandboxes, { hubspot: { settings: { sourceField: 'lead_source' } }, pipedrive: { settings: { sourceField: pipedriveSource } } });
  // HubSpot sends property changes only for the properties an app subscribes to.
  const app = `${sandboxes.hubspot.baseUrl}/webhooks/v3/${sandboxes.hubspot.appId}`;
  await fetch(`${app}/subscriptions?hapikey=${sandboxes.hubspot.developerApiKey}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ eventType: 'deal.propertyChange', propertyName: 'lead_source', active: true }),
  });
});
afterAll(async () => {
  await stack.close();
  await sandboxes.close();
});

describe('source and pipeline', () => {
  it('proposes a pipeline map with each CRM’s first pipeline as the canonical "default"', () => {
    expect(connections.hubspot.settings.pipelines).toEqual([{ pipeline: 'default', pipelineId: 'default' }]);
    expect(connections.pipedrive.settings.pipelines).toEqual([{ pipeline: 'default', pipelineId: '1' }]);
  });

  it('sends an opportunity’s source and pipeline to both CRMs, and a person’s source edit in HubSpot on to Pipedrive', async () => {
    const id = (await client.request('POST', '/v1/opportunities', { title: 'Referral', source: 'Partner', pipeline: 'default' })).json().id;
    const deal = await eventually(async () => {
      const found = await hubspotDealOf(id);
      return found?.properties.lead_source === 'Partner' ? found : undefined;
    }, 'HubSpot holds the source', 20_000);
    expect(deal.properties.pipeline).toBe('default');
    const pipedrive = await eventually(async () => {
      const found = await pipedriveDealOf(id);
      return found?.custom_fields[pipedriveSource] === 'Partner' ? found : undefined;
    }, 'Pipedrive holds the source', 20_000);
    expect(pipedrive.pipeline_id).toBe(1);

    await ui(sandboxes.hubspot.baseUrl, 'PATCH', `/deals/${deal.id}`, { lead_source: 'Trade show' });
    await eventually(async () => (await opportunity(id)).source === 'Trade show', 'canonical takes HubSpot’s source', 20_000);
    await eventually(async () => (await pipedriveDealOf(id))?.custom_fields[pipedriveSource] === 'Trade show', 'Pipedrive follows', 20_000);
  });

  it('creates a deal born in Pipedrive with its source and its pipeline, and passes both on to HubSpot', async () => {
    const born = await ui(sandboxes.pipedrive.baseUrl, 'POST', '/deals', { title: 'Walk-in', custom_fields: { [pipedriveSource]: 'Walk-in' } });
    const created = await eventually(async () => {
      const rows = await stack.database.sql`SELECT o.id, o.source, o.pipeline FROM opportunities o JOIN remote_links l ON l.opportunity_id = o.id WHERE l.connection_id = ${connections.pipedrive.id} AND l.remote_id = ${String(born.id)}`;
      return rows[0];
    }, 'the deal becomes an opportunity');
    expect(created).toMatchObject({ source: 'Walk-in', pipeline: 'default' });
    await eventually(async () => (await hubspotDealOf(created.id))?.properties.lead_source === 'Walk-in', 'HubSpot gets the source');
  });

  it('keeps a pipeline no CRM maps where it is and says why on the timeline', async () => {
    const id = (await client.request('POST', '/v1/opportunities', { title: 'Elsewhere', pipeline: 'renewals' })).json().id;
    // The push that could not place the deal says why, per connection. (A link's lastError holds the
    // latest push's or pull's problems only, so the timeline is where this stays.)
    const pushes = await eventually(async () => {
      const rows = await stack.database.sql`SELECT connection_id, detail FROM sync_events WHERE opportunity_id = ${id} AND kind = 'push_create'`;
      return rows.length === 2 ? rows : undefined;
    }, 'both CRMs got the deal');
    for (const push of pushes) expect(push.detail.mapping).toEqual([expect.objectContaining({ field: 'pipeline', value: 'renewals' })]);
    expect((await hubspotDealOf(id)).properties.pipeline).toBe('default');
    expect((await pipedriveDealOf(id)).pipeline_id).toBe(1);
    expect((await opportunity(id)).pipeline).toBe('renewals');
  });
});
