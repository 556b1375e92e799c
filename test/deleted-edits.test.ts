import { describe, expect, it } from 'vitest';
import { asPerson, sandboxState, settled, type Json, stackWithAccounts, type ConnectedAccount } from './support/people.ts';
import { eventually } from './support/sync.ts';

/**
 * Under the default `unlink` delete policy, deleting an opportunity (or the contact it has as its
 * primary one) leaves its deals live in the CRMs (issue 11). People may go on editing them there:
 * such an edit is not synced (nothing is recreated), and never dropped silently either: it is on
 * the deleted opportunity's timeline, which the sync view keeps, as `ignored`, naming the edit.
 */

const world = stackWithAccounts(11_500);

/** An opportunity once it is in both CRMs and everything has settled; its deals there. */
async function inBothCrms(a: ConnectedAccount, body: Json) {
  const id: string = (await a.client.request('POST', '/v1/opportunities', body)).json().id;
  const hubspot = await eventually(() => a.hubspotDealOf(id), 'the deal reaches HubSpot');
  const pipedrive = await eventually(() => a.pipedriveDealOf(id), 'the deal reaches Pipedrive');
  await settled(world.stack, a);
  return { id, hubspot, pipedrive };
}

/** What the deleted opportunity's sync view shows as ignored, per connection. */
async function ignored(a: ConnectedAccount, id: string): Promise<Json[]> {
  const response = await a.client.request('GET', `/v1/opportunities/${id}/sync?limit=100`);
  expect(response.statusCode).toBe(200);
  return response.json().events.data.filter((e: Json) => e.kind === 'ignored');
}

/** A person edits both deals, after the opportunity is gone; the edits are recorded, nothing comes back. */
async function editsAreRecordedNotSynced(a: ConnectedAccount, deleted: { id: string; hubspot: Json; pipedrive: Json }) {
  const before = { opportunities: (await a.client.request('GET', '/v1/opportunities?limit=100')).json().data.length };
  await asPerson(a.sandboxes.hubspot.baseUrl, 'PATCH', `/deals/${deleted.hubspot.id}`, { dealname: 'Renamed in HubSpot after the delete' });
  await asPerson(a.sandboxes.pipedrive.baseUrl, 'PATCH', `/deals/${deleted.pipedrive.id}`, { value: 999 });
  const seen = await eventually(async () => {
    const entries = await ignored(a, deleted.id);
    return entries.length >= 2 ? entries : undefined;
  }, 'both edits are on the deleted opportunity’s timeline', 30_000);
  await settled(world.stack, a);

  const byConnection = (connectionId: string) => seen.filter((e) => e.connectionId === connectionId);
  expect(byConnection(a.connections.hubspot.id)).toEqual([
    expect.objectContaining({ kind: 'ignored', rule: 'unlink', after: { title: 'Renamed in HubSpot after the delete' }, detail: expect.objectContaining({ remoteId: deleted.hubspot.id }) }),
  ]);
  expect(byConnection(a.connections.pipedrive.id)).toEqual([
    expect.objectContaining({ kind: 'ignored', rule: 'unlink', after: { amount: '999' }, detail: expect.objectContaining({ remoteId: String(deleted.pipedrive.id) }) }),
  ]);

  // Nothing recreated, nothing carried across: the opportunity stays deleted, and each CRM keeps its person's edit alone.
  expect((await a.client.request('GET', `/v1/opportunities/${deleted.id}`)).statusCode).toBe(404);
  expect((await a.client.request('GET', '/v1/opportunities?limit=100')).json().data.length).toBe(before.opportunities);
  const [hs, pd] = await Promise.all([sandboxState(a.sandboxes.hubspot.baseUrl), sandboxState(a.sandboxes.pipedrive.baseUrl)]);
  expect(hs.deals.filter((d: Json) => !d.archived)).toHaveLength(1);
  expect(pd.deals.filter((d: Json) => !d.is_deleted)).toHaveLength(1);
  expect((await a.hubspotDealOf(deleted.id)).properties.amount).toBe(deleted.hubspot.properties.amount);
  expect((await a.pipedriveDealOf(deleted.id)).title).toBe(deleted.pipedrive.title);

  // The same state seen again (a duplicate webhook, a reconciliation) is not recorded twice.
  expect(await ignored(a, deleted.id)).toHaveLength(2);
}

describe('a CRM edit of a deal whose opportunity was deleted (unlink policy)', () => {
  it('is recorded on the deleted opportunity’s timeline and not synced: the opportunity deleted through the API', { timeout: 120_000 }, async () => {
    const a = await world.account('Deleted opportunity edited');
    const deleted = await inBothCrms(a, { title: 'Deleted canonically', amount: '100.00', currency: 'EUR' });
    expect((await a.client.request('DELETE', `/v1/opportunities/${deleted.id}`)).statusCode).toBe(204);
    await settled(world.stack, a);
    // Unlink: the deals stay live in both CRMs.
    expect((await a.hubspotDealOf(deleted.id))?.archived).toBe(false);
    expect((await a.pipedriveDealOf(deleted.id))?.is_deleted).toBe(false);
    await editsAreRecordedNotSynced(a, deleted);
  });

  it('is recorded on the deleted opportunity’s timeline and not synced: its primary contact deleted through the API', { timeout: 120_000 }, async () => {
    const a = await world.account('Deleted contact, edited deal');
    const contact = (await a.client.request('POST', '/v1/contacts', { name: 'Carla Contact', email: 'carla@example.com' })).json();
    const deleted = await inBothCrms(a, { title: 'Carla’s deal', amount: '100.00', currency: 'EUR', contactId: contact.id });
    expect((await a.client.request('DELETE', `/v1/contacts/${contact.id}`)).statusCode).toBe(204);
    await eventually(async () => (await a.client.request('GET', `/v1/opportunities/${deleted.id}`)).statusCode === 404, 'the contact’s opportunity is deleted with it');
    await settled(world.stack, a);
    expect((await a.hubspotDealOf(deleted.id))?.archived).toBe(false);
    expect((await a.pipedriveDealOf(deleted.id))?.is_deleted).toBe(false);
    await editsAreRecordedNotSynced(a, deleted);
  });
});
