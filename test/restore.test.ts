import { describe, expect, it } from 'vitest';
import { reconcileConnection } from '../src/orchestration/reconcile.ts';
import { asPerson, faults, settled, stackWithAccounts, type ConnectedAccount } from './support/people.ts';
import { eventually } from './support/sync.ts';

/**
 * A HubSpot deal a person deletes and later restores from the recycle bin (issue 11): what changed
 * canonically while it was gone must reach it once it is back, by webhooks alone.
 */

const world = stackWithAccounts(11_400);

/** An opportunity in both CRMs whose HubSpot deal a person deleted, then edited canonically (Pipedrive follows). */
async function editedWhileDeleted(a: ConnectedAccount) {
  const id: string = (await a.client.request('POST', '/v1/opportunities', { title: 'Before the delete', amount: '100.00', currency: 'EUR' })).json().id;
  const deal = await eventually(() => a.hubspotDealOf(id), 'the deal reaches HubSpot');
  await eventually(() => a.pipedriveDealOf(id), 'the deal reaches Pipedrive');
  await settled(world.stack, a);
  await asPerson(a.sandboxes.hubspot.baseUrl, 'DELETE', `/deals/${deal.id}`);
  await eventually(async () => (await hubspotLink(a, id))?.remote_deleted_at !== null, 'the HubSpot link is marked deleted', 20_000);
  expect((await a.client.request('PATCH', `/v1/opportunities/${id}`, { title: 'Edited while deleted', amount: '250.00' })).statusCode).toBe(200);
  await eventually(async () => (await a.pipedriveDealOf(id))?.title === 'Edited while deleted', 'Pipedrive follows', 20_000);
  await settled(world.stack, a);
  return { id, remoteId: deal.id as string };
}

const hubspotLink = async (a: ConnectedAccount, id: string) =>
  (await world.stack.database.sql`SELECT remote_deleted_at FROM remote_links WHERE connection_id = ${a.connections.hubspot.id} AND opportunity_id = ${id}`)[0];

/** Title and amount on each side. */
async function sides(a: ConnectedAccount, id: string) {
  const [hs, pd, canonical] = await Promise.all([a.hubspotDealOf(id), a.pipedriveDealOf(id), a.opportunity(id)]);
  return {
    canonical: { title: canonical.title, amount: canonical.amount },
    hubspot: { title: hs?.properties.dealname, amount: hs?.properties.amount },
    pipedrive: { title: pd?.title, amount: pd?.value },
  };
}
const EDITED = { canonical: { title: 'Edited while deleted', amount: '250.00' }, hubspot: { title: 'Edited while deleted', amount: '250.00' }, pipedrive: { title: 'Edited while deleted', amount: 250 } };

describe('a HubSpot deal restored from the recycle bin', () => {
  it('gets the canonical changes made while it was deleted when reconciliation finds the restore (its webhook lost)', { timeout: 120_000 }, async () => {
    const a = await world.account('Restore, webhook lost');
    const { id, remoteId } = await editedWhileDeleted(a);
    await faults(a.sandboxes.hubspot.baseUrl, { dropWebhooks: 1 });
    await asPerson(a.sandboxes.hubspot.baseUrl, 'POST', `/deals/${remoteId}/restore`);
    await settled(world.stack, a);
    expect((await hubspotLink(a, id))?.remote_deleted_at).not.toBeNull();
    // HubSpot's search index trails its writes: the pass that sees the restored deal relinks it.
    await eventually(async () => (await reconcileConnection(world.stack.deps, a.connections.hubspot.id)).applied > 0, 'a reconciliation sees the restored deal', 30_000);
    await settled(world.stack, a);
    expect((await hubspotLink(a, id))?.remote_deleted_at).toBeNull();
    expect(await sides(a, id)).toEqual(EDITED);
  });

  it('gets the canonical changes made while it was deleted, by webhooks alone and still after a reconcile', { timeout: 120_000 }, async () => {
    const a = await world.account('Restore');
    const { id, remoteId } = await editedWhileDeleted(a);
    await asPerson(a.sandboxes.hubspot.baseUrl, 'POST', `/deals/${remoteId}/restore`);
    await eventually(async () => (await hubspotLink(a, id))?.remote_deleted_at === null, 'the HubSpot link is restored', 20_000);
    await settled(world.stack, a);
    expect(await a.reconciled()).toBe(false);
    expect(await sides(a, id)).toEqual(EDITED);

    // A reconciliation afterwards finds nothing to change, and nothing flips back.
    for (const connection of [a.connections.hubspot.id, a.connections.pipedrive.id]) await reconcileConnection(world.stack.deps, connection);
    await settled(world.stack, a);
    expect(await sides(a, id)).toEqual(EDITED);
    const kinds = (await world.stack.database.sql`SELECT kind FROM sync_events WHERE opportunity_id = ${id} AND connection_id = ${a.connections.hubspot.id} ORDER BY id`).map((e) => e.kind);
    expect(kinds.slice(kinds.indexOf('remote_restore'))).toContain('push_update');
  });
});
