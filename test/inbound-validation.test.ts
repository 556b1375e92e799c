import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemsOfOpportunity } from '../src/model/sync-state/problems.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { connectBoth } from './support/connect.ts';
import { addSandboxPeople, asPerson, dealsOf, type Json } from './support/people.ts';
import { eventually, startListeningStack, startSandboxes, type SyncStack } from './support/sync.ts';

/**
 * Issue 11: values read from a CRM are validated like API input before they are written. A value
 * that does not fit (here a Pipedrive enum option id where the canonical attribute takes one of its
 * options) is a mapping problem of the pull on that field, is not stored, and keeps neither the
 * other fields of the same edit nor the other CRM from syncing.
 */

let stack: SyncStack;
let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
let client: Client;
let connections: { hubspot: Json; pipedrive: Json };
let deals: ReturnType<typeof dealsOf>;
let tierField: { field_code: string; options: { id: number; label: string }[] };

const opportunity = async (id: string): Promise<Json> => (await client.request('GET', `/v1/opportunities/${id}`)).json();

/** The "tier" field an admin made in each CRM: a Pipedrive enum field (options by id), a HubSpot enumeration. */
async function createTierFields() {
  const pipedrive = await fetch(`${sandboxes.pipedrive.baseUrl}/api/v2/dealFields`, {
    method: 'POST',
    headers: { 'x-api-token': sandboxes.pipedrive.token, 'content-type': 'application/json' },
    body: JSON.stringify({ field_name: 'Tier', field_type: 'enum', options: [{ label: 'Gold' }, { label: 'Silver' }] }),
  });
  expect(pipedrive.status).toBe(200);
  const hubspot = await fetch(`${sandboxes.hubspot.baseUrl}/crm/v3/properties/deals`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sandboxes.hubspot.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'tier', label: 'Tier', type: 'enumeration', fieldType: 'select', groupName: 'dealinformation', options: [{ label: 'Gold', value: 'gold' }, { label: 'Silver', value: 'silver' }] }),
  });
  expect(hubspot.status).toBe(201);
  return ((await pipedrive.json()) as Json).data;
}

beforeAll(async () => {
  sandboxes = await startSandboxes(112);
  stack = await startListeningStack();
  client = await newAccount({ database: stack.database, app: stack.app, close: stack.close } as TestApi, 'Inbound validation');
  await addSandboxPeople(client);
  expect((await client.request('POST', '/v1/attributes', { key: 'tier', label: 'Tier', type: 'enum', options: ['gold', 'silver'] })).statusCode).toBe(201);
  tierField = await createTierFields();
  connections = await connectBoth(client, sandboxes, {
    hubspot: { settings: { attributes: [{ key: 'tier', remote: 'tier', type: 'enum' }] } },
    pipedrive: { settings: { attributes: [{ key: 'tier', remote: tierField.field_code, type: 'enum' }] } },
  });
  deals = dealsOf(sandboxes, connections.pipedrive.settings.canonicalIdField);
});
afterAll(async () => {
  await stack.close();
  await sandboxes.close();
});

describe('inbound values', () => {
  it('a Pipedrive enum option id that fits no option of the attribute is not stored, is listed, and the rest of the edit and HubSpot still sync', async () => {
    const id = (await client.request('POST', '/v1/opportunities', { title: 'Tiered' })).json().id;
    await eventually(() => deals.hubspot(id), 'HubSpot has the deal', 20_000);
    const pipedriveDeal = await eventually(() => deals.pipedrive(id), 'Pipedrive has the deal', 20_000);

    const option = tierField.options[0]!;
    await asPerson(sandboxes.pipedrive.baseUrl, 'PATCH', `/deals/${pipedriveDeal.id}`, { title: 'Tiered, renamed', custom_fields: { [tierField.field_code]: option.id } });
    await eventually(async () => (await opportunity(id)).title === 'Tiered, renamed', 'canonical takes the title of the same edit', 20_000);

    expect((await opportunity(id)).attributes).toEqual({});
    const problems = await problemsOfOpportunity(stack.database.db, id);
    expect(problems).toContainEqual(expect.objectContaining({ connectionId: connections.pipedrive.id, direction: 'pull', field: 'attributes.tier', value: String(option.id) }));
    const view = (await client.request('GET', `/v1/opportunities/${id}/sync`)).json();
    expect(view.problems).toContainEqual(expect.objectContaining({ connectionId: connections.pipedrive.id, field: 'attributes.tier' }));

    // HubSpot keeps syncing: the renamed title, then an edit made through the API.
    await eventually(async () => (await deals.hubspot(id))?.properties.dealname === 'Tiered, renamed', 'HubSpot gets the title', 20_000);
    expect((await client.request('PATCH', `/v1/opportunities/${id}`, { amount: '750.00', attributes: { tier: 'silver' } })).statusCode).toBe(200);
    await eventually(async () => {
      const deal = await deals.hubspot(id);
      return deal?.properties.amount === '750.00' && deal.properties.tier === 'silver';
    }, 'HubSpot gets the next edit', 20_000);
    expect((await problemsOfOpportunity(stack.database.db, id)).filter((p) => p.connectionId === connections.hubspot.id)).toEqual([]);
  });
});
