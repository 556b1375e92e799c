import { describe, expect, it } from 'vitest';
import { settled, type Json, stackWithAccounts, type ConnectedAccount } from './support/people.ts';
import { eventually } from './support/sync.ts';

/**
 * A push sends the primary contact only when it changed (issue 11): finding a contact costs a
 * search in either CRM (HubSpot's search limit is 5 a second, Pipedrive's costs 20 tokens), so an
 * amount edit must not pay for one. Counted with the sandboxes' request counters (`/_sandbox/requests`).
 */

const world = stackWithAccounts(11_600);

const requests = async (baseUrl: string): Promise<Record<string, number>> => ((await (await fetch(`${baseUrl}/_sandbox/requests`)).json()) as Json).requests;

/** Every request to a contact, person or association route, since `before`. */
function contactCalls(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .filter(([route]) => /contacts|persons|associations/.test(route))
      .map(([route, n]) => [route, n - (before[route] ?? 0)] as const)
      .filter(([, n]) => n > 0),
  );
}

async function bothCounters(a: ConnectedAccount) {
  const [hubspot, pipedrive] = await Promise.all([requests(a.sandboxes.hubspot.baseUrl), requests(a.sandboxes.pipedrive.baseUrl)]);
  return { hubspot, pipedrive };
}

describe('the primary contact on pushes', () => {
  it('is looked up once when the deal is created and when it changes, never for an edit of another field', { timeout: 120_000 }, async () => {
    const a = await world.account('Contact pushes');
    const carla = (await a.client.request('POST', '/v1/contacts', { name: 'Carla Contact', email: 'carla@example.com' })).json();
    const start = await bothCounters(a);
    const id: string = (await a.client.request('POST', '/v1/opportunities', { title: 'With a contact', amount: '100.00', currency: 'EUR', contactId: carla.id })).json().id;
    await eventually(() => a.hubspotDealOf(id), 'the deal reaches HubSpot');
    await eventually(() => a.pipedriveDealOf(id), 'the deal reaches Pipedrive');
    await settled(world.stack, a);
    const created = await bothCounters(a);
    // The create looks the contact up and, not finding it, creates it and associates it.
    expect(contactCalls(start.hubspot, created.hubspot)).toMatchObject({ 'POST /crm/v3/objects/contacts/search': 1, 'POST /crm/v3/objects/contacts': 1 });
    expect(contactCalls(start.pipedrive, created.pipedrive)).toMatchObject({ 'GET /api/v2/persons/search': 1, 'POST /api/v2/persons': 1 });

    for (const amount of ['200.00', '300.00', '400.00']) {
      expect((await a.client.request('PATCH', `/v1/opportunities/${id}`, { amount })).statusCode).toBe(200);
      await eventually(async () => (await a.hubspotDealOf(id))?.properties.amount === amount && (await a.pipedriveDealOf(id))?.value === Number(amount), `both CRMs hold ${amount}`, 20_000);
      await settled(world.stack, a);
    }
    const edited = await bothCounters(a);
    expect({ hubspot: contactCalls(created.hubspot, edited.hubspot), pipedrive: contactCalls(created.pipedrive, edited.pipedrive) }).toEqual({ hubspot: {}, pipedrive: {} });
    const updates = (counters: Record<string, number>) => counters['POST /crm/v3/objects/deals/batch/update'] ?? 0;
    expect(updates(edited.hubspot) - updates(created.hubspot)).toBeGreaterThanOrEqual(3);

    // A new primary contact: one lookup in each CRM (and, as it is new there, one create).
    const dora = (await a.client.request('POST', '/v1/contacts', { name: 'Dora Contact', email: 'dora@example.com' })).json();
    expect((await a.client.request('PATCH', `/v1/opportunities/${id}`, { contactId: dora.id })).statusCode).toBe(200);
    await eventually(async () => (await a.client.request('GET', `/v1/contacts/${dora.id}`)).json().opportunityCount === 1, 'Dora is the primary contact');
    await settled(world.stack, a);
    const changed = await bothCounters(a);
    const hubspotCalls = contactCalls(edited.hubspot, changed.hubspot);
    const pipedriveCalls = contactCalls(edited.pipedrive, changed.pipedrive);
    // HubSpot: Dora searched for (then created and associated); Carla's association removed by the id the first push kept, no search.
    expect(hubspotCalls['POST /crm/v3/objects/contacts/search']).toBe(1);
    expect(hubspotCalls['POST /crm/v3/objects/contacts']).toBe(1);
    expect(hubspotCalls['DELETE /crm/v4/objects/deals/:dealId/associations/contacts/:contactId']).toBe(1);
    expect(pipedriveCalls).toEqual({ 'GET /api/v2/persons/search': 1, 'POST /api/v2/persons': 1 });
  });
});
