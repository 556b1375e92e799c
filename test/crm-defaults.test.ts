import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { connectBoth } from './support/connect.ts';
import { addSandboxPeople, asPerson, dealsOf, type Json } from './support/people.ts';
import { eventually, startListeningStack, startSandboxes, type SyncStack } from './support/sync.ts';

/**
 * Issue 11: a value a CRM fills in by default when our create leaves a field empty (Pipedrive gives
 * every deal an owner: the token's user) is not a person's edit. It is not pulled back as a change
 * (no assignee appears, no opportunity.updated nobody made), while a person's later owner change
 * in the CRM still comes in.
 */

let stack: SyncStack;
let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
let client: Client;
let connections: { hubspot: Json; pipedrive: Json };
let deals: ReturnType<typeof dealsOf>;
let users: Record<string, string>;

const opportunity = async (id: string): Promise<Json> => (await client.request('GET', `/v1/opportunities/${id}`)).json();
const eventTypes = async (id: string) => (await stack.database.sql`SELECT type FROM event_deliveries WHERE opportunity_id = ${id} ORDER BY id`).map((r) => r.type as string);
/** Each CRM's own webhook about the deal has been merged (as an echo or as a change). */
const pulledFromBoth = async (id: string) => {
  const rows = await stack.database.sql`SELECT DISTINCT connection_id FROM sync_events WHERE opportunity_id = ${id} AND kind IN ('echo_suppressed', 'pull_update', 'conflict')`;
  return rows.length === 2;
};

beforeAll(async () => {
  sandboxes = await startSandboxes(113);
  stack = await startListeningStack();
  client = await newAccount({ database: stack.database, app: stack.app, close: stack.close } as TestApi, 'Defaults');
  users = await addSandboxPeople(client);
  connections = await connectBoth(client, sandboxes);
  deals = dealsOf(sandboxes, connections.pipedrive.settings.canonicalIdField);
  // A subscriber to every change, so that each event the sync makes is recorded (its deliveries
  // go nowhere: nothing listens on port 9).
  await stack.database.sql`INSERT INTO subscriptions (account_id, url, event_types, secret, secret_key_id)
    VALUES (${client.accountId}, 'http://127.0.0.1:9/events', ARRAY['opportunity.created', 'opportunity.updated'], 'sealed', 'none')`;
});
afterAll(async () => {
  await stack.close();
  await sandboxes.close();
});

describe('a value the CRM filled in by default', () => {
  it('an opportunity created without an assignee keeps none after both CRMs made their default owner, and a person’s owner change still comes in', async () => {
    const id = (await client.request('POST', '/v1/opportunities', { title: 'Nobody’s yet' })).json().id;
    const pipedriveDeal = await eventually(() => deals.pipedrive(id), 'Pipedrive has the deal', 20_000);
    await eventually(() => deals.hubspot(id), 'HubSpot has the deal', 20_000);
    // Pipedrive gave the deal its token's user as owner.
    expect(pipedriveDeal.owner_id).toBe(1);
    await eventually(() => pulledFromBoth(id), 'both CRMs’ webhooks about the new deal were merged', 20_000);
    // A title edit goes out after it, and its read-before-write sees the default owner again.
    expect((await client.request('PATCH', `/v1/opportunities/${id}`, { title: 'Still nobody’s' })).statusCode).toBe(200);
    await eventually(async () => (await deals.pipedrive(id))?.title === 'Still nobody’s' && (await deals.hubspot(id))?.properties.dealname === 'Still nobody’s', 'both CRMs get the title', 20_000);

    expect((await opportunity(id)).assigneeId).toBeNull();
    expect(await eventTypes(id)).toEqual(['opportunity.created', 'opportunity.updated']);
    const pulled = await stack.database.sql`SELECT kind, after FROM sync_events WHERE opportunity_id = ${id} AND kind = 'pull_update'`;
    expect(pulled).toEqual([]);

    // Ben, in Pipedrive's UI, makes the deal his own: that is a person's edit, and it comes in.
    await asPerson(sandboxes.pipedrive.baseUrl, 'PATCH', `/deals/${pipedriveDeal.id}`, { owner_id: 2 });
    await eventually(async () => (await opportunity(id)).assigneeId === users['ben@sandbox.example'], 'canonical takes the owner a person set', 20_000);
    await eventually(async () => (await deals.hubspot(id))?.properties.hubspot_owner_id === '102', 'HubSpot follows', 20_000);
    expect((await eventTypes(id)).filter((t) => t === 'opportunity.updated')).toHaveLength(2);
    // Taken as a change, not decided as a conflict with the empty canonical assignee.
    expect(await stack.database.sql`SELECT id FROM sync_events WHERE opportunity_id = ${id} AND kind = 'conflict'`).toHaveLength(0);
  });
});
