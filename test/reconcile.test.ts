import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backfillConnection, reconcileConnection } from '../src/orchestration/reconcile.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { connectBoth } from './support/connect.ts';
import { eventually, SANDBOX_HOSTS_ENV, startListeningStack, startSandboxes, type SyncStack } from './support/sync.ts';
import { spawnReaped } from './support/children.ts';

// Bodies read back from the API and the sandboxes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let stack: SyncStack;
let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
let client: Client;
let hubspotId: string;
let pipedriveId: string;
let pipedriveKey: string;
/** A HubSpot portal and a Pipedrive company are connected once in the whole database: new ones per test. */
let seed = 8100;

const json = (method: string, body?: unknown): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
const state = async (baseUrl: string): Promise<Json> => (await fetch(`${baseUrl}/_sandbox/state`)).json();
const ui = (baseUrl: string, method: string, path: string, body: unknown = {}): Promise<Json> =>
  fetch(`${baseUrl}/_sandbox/ui${path}`, json(method, body)).then((r) => (r.status === 204 ? undefined : r.json()));
const faults = (baseUrl: string, body: unknown) => fetch(`${baseUrl}/_sandbox/faults`, json('POST', body));
const hubspotDealOf = async (id: string) => (await state(sandboxes.hubspot.baseUrl)).deals.find((d: Json) => d.properties.crm_sync_id === id);
const pipedriveDealOf = async (id: string) => (await state(sandboxes.pipedrive.baseUrl)).deals.find((d: Json) => d.custom_fields[pipedriveKey] === id && d.status !== 'deleted');
const opportunity = async (id: string): Promise<Json> => (await client.request('GET', `/v1/opportunities/${id}`)).json();
const outboxEmpty = async () => (await stack.database.sql`SELECT count(*)::int AS n FROM outbox o JOIN connections c ON c.id = o.connection_id WHERE c.account_id = ${client.accountId}`)[0]!.n === 0;
const webhooksIdle = async (baseUrl: string) => (await state(baseUrl)).webhooks.idle === true;
const inboundIdle = async () =>
  (await stack.database.sql`SELECT count(*)::int AS n FROM inbox`)[0]!.n === 0 && (await stack.queues.inbound.getJobCounts('waiting', 'active', 'delayed')).waiting === 0 && (await stack.queues.inbound.getActiveCount()) === 0;

/** Nothing is on its way anywhere: webhooks delivered, jobs done, the outbox empty. */
async function quiet() {
  await eventually(async () => (await webhooksIdle(sandboxes.hubspot.baseUrl)) && (await webhooksIdle(sandboxes.pipedrive.baseUrl)) && (await inboundIdle()) && (await outboxEmpty()), 'the sync is quiet', 30_000);
}

/** An opportunity made through the API that has reached both CRMs and settled. */
async function syncedOpportunity(title: string) {
  const created = (await client.request('POST', '/v1/opportunities', { title, amount: '100.00', currency: 'EUR' })).json();
  await eventually(async () => (await hubspotDealOf(created.id)) && (await pipedriveDealOf(created.id)), `${title} reaches both CRMs`, 30_000);
  await quiet();
  return created.id as string;
}

/** What a person does while the CRM's webhooks are lost on the way. */
async function withDroppedWebhooks(baseUrl: string, act: () => Promise<unknown>) {
  await faults(baseUrl, { dropWebhooks: 1000 });
  await act();
  await eventually(() => webhooksIdle(baseUrl), 'the CRM has nothing left to send', 10_000);
  await faults(baseUrl, { dropWebhooks: 0 });
}

beforeAll(async () => {
  stack = await startListeningStack();
});
afterAll(async () => {
  await stack.close();
});

// Every test gets an account and CRMs of its own, connected: its own reconciliation cursors, daily
// budget and deals. The connections are deleted after it.
beforeEach(async () => {
  sandboxes = await startSandboxes(seed++);
  client = await newAccount({ database: stack.database, app: stack.app, close: stack.close } as TestApi, 'Reconcile');
  const { hubspot, pipedrive } = await connectBoth(client, sandboxes);
  [hubspotId, pipedriveId, pipedriveKey] = [hubspot.id, pipedrive.id, pipedrive.settings.canonicalIdField];
});
afterEach(async () => {
  for (const id of [hubspotId, pipedriveId]) await client.request('DELETE', `/v1/connections/${id}`);
  await sandboxes.close();
});

describe('reconciliation', () => {
  it('stops at its share of the daily budget and goes on from its saved cursor', async () => {
    // The share is counted per connection and day: this test's connection has spent none of it yet.
    await client.request('PATCH', `/v1/connections/${hubspotId}`, { limits: { perWindow: 250, daily: 100 }, reconcileBudgetShare: 0.01 });
    try {
      const outcome = await reconcileConnection(stack.deps, hubspotId);
      // A share of 1 request pays for the page of changes, not for the deletions after it.
      expect(outcome).toMatchObject({ stopped: 'budget', pages: 1 });
      const view = (await client.request('GET', `/v1/connections/${hubspotId}`)).json();
      expect(view.reconciliation.lastPass.stopped).toBe('budget');
      expect((await reconcileConnection(stack.deps, hubspotId)).pages).toBe(0);
    } finally {
      await client.request('PATCH', `/v1/connections/${hubspotId}`, { limits: {}, reconcileBudgetShare: 0.1 });
    }
  });

  it('repairs a HubSpot edit whose webhook was lost, and Pipedrive follows', async () => {
    const id = await syncedOpportunity('Edited while webhooks drop');
    const deal = await hubspotDealOf(id);
    await withDroppedWebhooks(sandboxes.hubspot.baseUrl, () => ui(sandboxes.hubspot.baseUrl, 'PATCH', `/deals/${deal.id}`, { amount: '999' }));
    expect((await opportunity(id)).amount).toBe('100.00');
    const outcome = await reconcileConnection(stack.deps, hubspotId);
    expect(outcome.applied).toBeGreaterThanOrEqual(1);
    expect((await opportunity(id)).amount).toBe('999');
    await eventually(async () => (await pipedriveDealOf(id))?.value === 999, 'Pipedrive follows', 20_000);
    const view = (await client.request('GET', `/v1/connections/${hubspotId}`)).json();
    expect(view.reconciliation.lastPass.drift).toBeGreaterThanOrEqual(1);
    expect(Date.parse(view.reconciliation.changes.since)).toBeGreaterThanOrEqual(Date.parse(deal.updatedAt));
  });

  it('imports a deal created in Pipedrive whose webhook was lost, and puts it in HubSpot once', async () => {
    let deal: Json;
    await withDroppedWebhooks(sandboxes.pipedrive.baseUrl, async () => (deal = await ui(sandboxes.pipedrive.baseUrl, 'POST', '/deals', { title: 'Missed in Pipedrive', value: 12 })));
    const outcome = await reconcileConnection(stack.deps, pipedriveId);
    expect(outcome.created).toBe(1);
    const [link] = await stack.database.sql`SELECT opportunity_id FROM remote_links WHERE connection_id = ${pipedriveId} AND remote_id = ${String(deal.id)}`;
    await eventually(() => hubspotDealOf(link!.opportunity_id), 'it reaches HubSpot', 20_000);
    await quiet();
    expect((await reconcileConnection(stack.deps, pipedriveId)).created).toBe(0);
    expect((await state(sandboxes.hubspot.baseUrl)).deals.filter((d: Json) => d.properties.dealname === 'Missed in Pipedrive')).toHaveLength(1);
  });

  it('finds a deletion the webhooks missed and applies the delete policy (unlink)', async () => {
    const id = await syncedOpportunity('Deleted while webhooks drop');
    const deal = await hubspotDealOf(id);
    await withDroppedWebhooks(sandboxes.hubspot.baseUrl, () => ui(sandboxes.hubspot.baseUrl, 'DELETE', `/deals/${deal.id}`));
    expect((await reconcileConnection(stack.deps, hubspotId)).deleted).toBe(1);
    const [link] = await stack.database.sql`SELECT remote_deleted_at FROM remote_links WHERE connection_id = ${hubspotId} AND opportunity_id = ${id}`;
    expect(link!.remote_deleted_at).not.toBeNull();
    expect((await client.request('GET', `/v1/opportunities/${id}`)).statusCode).toBe(200);
    // Unlinked: a later edit goes to Pipedrive only, and never recreates the HubSpot deal.
    await client.request('PATCH', `/v1/opportunities/${id}`, { title: 'Still alive' });
    await eventually(async () => (await pipedriveDealOf(id))?.title === 'Still alive', 'Pipedrive follows', 20_000);
    await quiet();
    expect((await state(sandboxes.hubspot.baseUrl)).deals.filter((d: Json) => d.properties.crm_sync_id === id && !d.archived)).toHaveLength(0);
  });

  it('follows a HubSpot merge: the survivor keeps the primary’s opportunity, the other is unlinked, old ids resolve', async () => {
    const [primary, other] = [await syncedOpportunity('Merge primary'), await syncedOpportunity('Merge other')];
    const [a, b] = [await hubspotDealOf(primary), await hubspotDealOf(other)];
    let survivor: Json;
    await withDroppedWebhooks(sandboxes.hubspot.baseUrl, async () => (survivor = await ui(sandboxes.hubspot.baseUrl, 'POST', '/deals/merge', { primaryId: a.id, mergeId: b.id })));
    const outcome = await reconcileConnection(stack.deps, hubspotId);
    expect(outcome.deleted).toBe(0); // the merge is found on the survivor, not as a deletion
    const links = await stack.database.sql`SELECT opportunity_id, remote_id, remote_deleted_at FROM remote_links WHERE connection_id = ${hubspotId} AND opportunity_id IN (${primary}, ${other})`;
    const linkOf = (id: string) => links.find((l) => l.opportunity_id === id)!;
    expect(linkOf(primary)).toMatchObject({ remote_id: survivor.id, remote_deleted_at: null });
    expect(linkOf(other).remote_deleted_at).not.toBeNull();
    const aliases = await stack.database.sql`SELECT old_remote_id, new_remote_id FROM remote_aliases WHERE connection_id = ${hubspotId} ORDER BY old_remote_id`;
    expect(aliases.map((r) => [r.old_remote_id, r.new_remote_id])).toEqual([a.id, b.id].sort().map((old) => [old, survivor.id]));
    const [event] = await stack.database.sql`SELECT kind, detail FROM sync_events WHERE opportunity_id = ${other} AND kind = 'remote_merge'`;
    expect(event!.detail).toMatchObject({ remoteId: b.id, mergedInto: survivor.id });
    // A person's edit of the survivor reaches the primary's opportunity, through webhooks again.
    await ui(sandboxes.hubspot.baseUrl, 'PATCH', `/deals/${survivor.id}`, { amount: '321' });
    await eventually(async () => (await opportunity(primary)).amount === '321', 'the primary follows the survivor', 20_000);
    expect((await opportunity(other)).amount).toBe('100.00');
  });


  it('follows a merge reported by webhook the same way', async () => {
    const [primary, other] = [await syncedOpportunity('Webhook merge primary'), await syncedOpportunity('Webhook merge other')];
    const [a, b] = [await hubspotDealOf(primary), await hubspotDealOf(other)];
    const survivor = await ui(sandboxes.hubspot.baseUrl, 'POST', '/deals/merge', { primaryId: a.id, mergeId: b.id });
    const linkOf = async (id: string) => (await stack.database.sql`SELECT remote_id, remote_deleted_at FROM remote_links WHERE connection_id = ${hubspotId} AND opportunity_id = ${id}`)[0]!;
    await eventually(async () => (await linkOf(primary)).remote_id === survivor.id, 'the primary’s link moves to the survivor', 20_000);
    await eventually(async () => (await linkOf(other)).remote_deleted_at !== null, 'the other is unlinked', 20_000);
  });

  it('brings the contact of a deal born in a CRM: Pipedrive’s person by webhook, HubSpot’s associated contact by reconciliation', async () => {
    const pdHeaders = { 'content-type': 'application/json', 'x-api-token': sandboxes.pipedrive.token };
    const person = ((await (await fetch(`${sandboxes.pipedrive.baseUrl}/api/v2/persons`, { method: 'POST', headers: pdHeaders, body: JSON.stringify({ name: 'Pia Buyer', emails: [{ value: 'Pia@Buyer.test', primary: true }] }) })).json()) as Json).data;
    await ui(sandboxes.pipedrive.baseUrl, 'POST', '/deals', { title: 'Pia’s deal', person_id: person.id });
    const fromPipedrive = await eventually(async () => (await client.request('GET', '/v1/opportunities?limit=500')).json().data.find((o: Json) => o.title === 'Pia’s deal'), 'the opportunity', 20_000);
    const pia = (await client.request('GET', `/v1/contacts/${fromPipedrive.contactId}`)).json();
    expect(pia).toMatchObject({ name: 'Pia Buyer', email: 'pia@buyer.test' });

    // Our push of Pia's deal made her a HubSpot contact: a person there now links her to a new deal.
    await quiet();
    const hsHeaders = { 'content-type': 'application/json', authorization: `Bearer ${sandboxes.hubspot.token}` };
    const search = { filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'pia@buyer.test' }] }] };
    const contact = ((await (await fetch(`${sandboxes.hubspot.baseUrl}/crm/v3/objects/contacts/search`, { method: 'POST', headers: hsHeaders, body: JSON.stringify(search) })).json()) as Json).results[0];
    await withDroppedWebhooks(sandboxes.hubspot.baseUrl, async () => {
      const deal = await ui(sandboxes.hubspot.baseUrl, 'POST', '/deals', { dealname: 'Pia in HubSpot' });
      await ui(sandboxes.hubspot.baseUrl, 'POST', `/deals/${deal.id}/contacts/${contact.id}`);
    });
    expect((await reconcileConnection(stack.deps, hubspotId)).created).toBe(1);
    const fromHubSpot = (await client.request('GET', '/v1/opportunities?limit=500')).json().data.find((o: Json) => o.title === 'Pia in HubSpot');
    // Matched by email: the same contact, not a second one.
    expect(fromHubSpot.contactId).toBe(pia.id);
  });
});

describe('read before write', () => {
  it('never overwrites a CRM change whose webhook has not come: the flush merges it first, by policy', async () => {
    const id = await syncedOpportunity('Raced title');
    const deal = await hubspotDealOf(id);
    await client.request('POST', `/v1/connections/${hubspotId}/pause`);
    await client.request('PATCH', `/v1/opportunities/${id}`, { title: 'Title from the ERP' });
    await new Promise((resolve) => setTimeout(resolve, 20)); // the person's edit is the newer one
    await withDroppedWebhooks(sandboxes.hubspot.baseUrl, () => ui(sandboxes.hubspot.baseUrl, 'PATCH', `/deals/${deal.id}`, { dealname: 'Title from sales' }));
    await client.request('POST', `/v1/connections/${hubspotId}/resume`);
    await eventually(async () => (await opportunity(id)).title === 'Title from sales', 'the newer HubSpot title wins', 20_000);
    await quiet();
    expect((await hubspotDealOf(id)).properties.dealname).toBe('Title from sales');
    expect((await pipedriveDealOf(id)).title).toBe('Title from sales');
    const conflicts = await stack.database.sql`SELECT field, before, after, rule FROM sync_events WHERE opportunity_id = ${id} AND kind = 'conflict'`;
    const conflict = conflicts.find((c) => c.field === 'title');
    expect(conflict).toMatchObject({ field: 'title', before: 'Title from the ERP', after: 'Title from sales', rule: 'newest' });
  });
});

describe('values one CRM cannot hold', () => {
  it('settle instead of bouncing: a stage only Pipedrive maps stays canonical, HubSpot keeps its own and says why', async () => {
    const id = (await client.request('POST', '/v1/opportunities', { title: 'One-sided stage', stage: 'qualified' })).json().id;
    await eventually(async () => (await hubspotDealOf(id)) && (await pipedriveDealOf(id)), 'it reaches both CRMs', 30_000);
    await quiet();
    const settled = (await opportunity(id)).version;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await quiet();
    expect(await opportunity(id)).toMatchObject({ version: settled, stage: 'qualified' });
    const [link] = await stack.database.sql`SELECT last_error FROM remote_links WHERE connection_id = ${hubspotId} AND opportunity_id = ${id}`;
    expect(JSON.stringify(link!.last_error)).toContain('qualified');
  });
});

describe('backfill', () => {
  it('imports every deal a CRM already had, matching by canonical id and by external reference, never twice', async () => {
    const crm = await startSandboxes(82);
    try {
      const other = await newAccount({ database: stack.database, app: stack.app, close: stack.close } as TestApi, 'Backfill');
      const field = await fetch(`${crm.pipedrive.baseUrl}/api/v2/dealFields`, { ...json('POST', { field_name: 'ERP reference', field_type: 'varchar' }), headers: { 'content-type': 'application/json', 'x-api-token': crm.pipedrive.token } });
      const refKey = ((await field.json()) as Json).data.field_code;
      const known = (await other.request('PUT', '/v1/opportunities/by-external-ref/ERP-1', { title: 'Known to the ERP', amount: '50.00' })).json();
      const onlyHere = (await other.request('POST', '/v1/opportunities', { title: 'Not in the CRM yet' })).json();
      for (let i = 0; i < 3; i++) await ui(crm.pipedrive.baseUrl, 'POST', '/deals', { title: `Old deal ${i}`, value: i + 1 });
      await ui(crm.pipedrive.baseUrl, 'POST', '/deals', { title: 'The ERP deal', custom_fields: { [refKey]: 'ERP-1' } });
      const connection = (await other.request('POST', '/v1/connections', { provider: 'pipedrive', credentials: { apiToken: crm.pipedrive.token }, baseUrl: crm.pipedrive.baseUrl, settings: { externalRefField: refKey }, initialSync: 'backfill' })).json();
      const finished = await eventually(async () => (await other.request('GET', `/v1/connections/${connection.id}`)).json().reconciliation.backfill?.finishedAt, 'the backfill finishes', 30_000);
      expect(finished).toBeTruthy();
      const titles = async () => (await other.request('GET', '/v1/opportunities?limit=500')).json().data.map((o: Json) => o.title).sort();
      expect(await titles()).toEqual(['Known to the ERP', 'Not in the CRM yet', 'Old deal 0', 'Old deal 1', 'Old deal 2']);
      const [matched] = await stack.database.sql`SELECT kind, detail FROM sync_events WHERE opportunity_id = ${known.id} AND kind = 'link_adopted'`;
      expect(matched!.detail).toMatchObject({ matchedBy: 'externalRef' });
      // What the CRM lacked goes there after the import; nothing is created twice.
      const canonicalKey = connection.settings.canonicalIdField;
      await eventually(async () => (await state(crm.pipedrive.baseUrl)).deals.some((d: Json) => d.custom_fields[canonicalKey] === onlyHere.id), 'the missing deal is pushed', 20_000);
      await eventually(async () => (await state(crm.pipedrive.baseUrl)).deals.filter((d: Json) => d.custom_fields[canonicalKey]).length === 5, 'every deal carries our id', 20_000);
      expect((await state(crm.pipedrive.baseUrl)).deals).toHaveLength(5);
      // Again, now by canonical id: the same five, nothing new.
      const again = await backfillConnection(stack.deps, connection.id);
      expect(again).toMatchObject({ created: 0, seen: 5 });
      expect(await titles()).toHaveLength(5);
      expect((await other.request('POST', `/v1/connections/${connection.id}/backfill`)).statusCode).toBe(202);
      expect((await client.request('POST', `/v1/connections/${connection.id}/backfill`)).statusCode).toBe(404);
    } finally {
      await crm.close();
    }
  });

  it('runs from the CLI with a progress bar and a summary line', async () => {
    // A deal in Pipedrive that is ours already: the backfill sees it and creates nothing.
    await syncedOpportunity('Backfilled from the CLI');
    const child = spawnReaped(process.execPath, [new URL('../src/cli.ts', import.meta.url).pathname, 'backfill', pipedriveId], {
      env: { ...process.env, DATABASE_URL: stack.database.url, ENCRYPTION_KEY: stack.deps.keyring.current.toString('hex'), ...SANDBOX_HOSTS_ENV, LOG_LEVEL: 'error' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code, err).toBe(0);
    const summary = JSON.parse(out.trim());
    expect(summary).toMatchObject({ connectionId: pipedriveId, created: 0 });
    expect(summary.seen).toBeGreaterThan(0);
    expect(err).toMatch(new RegExp(`deals: ${summary.seen}`));
  });

  it('refuses a connection id that is not one, naming it', async () => {
    const child = spawnReaped(process.execPath, [new URL('../src/cli.ts', import.meta.url).pathname, 'backfill', 'nope'], { env: { ...process.env, DATABASE_URL: stack.database.url } });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk));
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(2);
    expect(err).toContain('CONNECTION_ID');
  });
});
