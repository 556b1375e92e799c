import { describe, expect, it } from 'vitest';
import { asPerson, faults, sandboxState, settled, type Json, stackWithAccounts, type ConnectedAccount } from './support/people.ts';
import { eventually } from './support/sync.ts';

/**
 * A person edits a deal in the CRM while the flush that creates it there is still running (issue
 * 11): the edit must be taken by webhooks alone, and reach the other CRM, not be overwritten.
 */

const world = stackWithAccounts(11_300);

const BATCH = 12;

/** Canonical, HubSpot and Pipedrive titles of each opportunity, for a failure message that shows which disagree. */
async function titles(a: ConnectedAccount, ids: string[]) {
  const [hubspot, pipedrive] = await Promise.all([sandboxState(a.sandboxes.hubspot.baseUrl), sandboxState(a.sandboxes.pipedrive.baseUrl)]);
  return Promise.all(
    ids.map(async (id) => ({
      canonical: (await a.opportunity(id)).title,
      hubspot: hubspot.deals.find((d: Json) => d.properties.crm_sync_id === id)?.properties.dealname,
      pipedrive: pipedrive.deals.find((d: Json) => d.custom_fields[a.pipedriveKey] === id)?.title,
    })),
  );
}

/** Opportunities made while the Pipedrive connection is paused, so that one flush creates them all when it resumes. */
async function oneBatch(a: ConnectedAccount, count: number): Promise<string[]> {
  await a.client.request('POST', `/v1/connections/${a.connections.pipedrive.id}/pause`);
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) ids.push((await a.client.request('POST', '/v1/opportunities', { title: `Deal ${i}`, amount: '100.00', currency: 'EUR' })).json().id);
  await a.client.request('POST', `/v1/connections/${a.connections.pipedrive.id}/resume`);
  return ids;
}

describe('an edit in the CRM during the flush that creates the deal', () => {
  it('is taken by webhooks alone and reaches the other CRM: slow Pipedrive, a batch of 12, each deal edited as it appears', { timeout: 180_000 }, async () => {
    const a = await world.account('Create race');
    await faults(a.sandboxes.pipedrive.baseUrl, { latencyMs: 1500 });
    const ids = await oneBatch(a, BATCH);

    // The person: each deal edited in Pipedrive as soon as it shows there, while the rest of the batch is still being created.
    const edited = new Map<string, string>();
    await eventually(
      async () => {
        const { deals } = await sandboxState(a.sandboxes.pipedrive.baseUrl);
        for (const deal of deals as Json[]) {
          const id = deal.custom_fields[a.pipedriveKey];
          if (!ids.includes(id) || edited.has(id)) continue;
          const title = `${deal.title} (edited in Pipedrive)`;
          await asPerson(a.sandboxes.pipedrive.baseUrl, 'PATCH', `/deals/${deal.id}`, { title });
          edited.set(id, title);
        }
        return edited.size === BATCH;
      },
      'every deal reaches Pipedrive and is edited there',
      120_000,
    );
    const expected = ids.map((id) => edited.get(id)!);
    await settled(world.stack, a);
    const seen = await titles(a, ids);
    expect(await a.reconciled()).toBe(false);
    expect(seen).toEqual(expected.map((title) => ({ canonical: title, hubspot: title, pipedrive: title })));
  });

  it('is merged against what the create sent when the flush fails after the CRM took the create: not overwritten by the retry, no second deal', { timeout: 180_000 }, async () => {
    const a = await world.account('Create race, failed flush');
    const pipedrive = a.sandboxes.pipedrive.baseUrl;
    await faults(pipedrive, { latencyMs: 1500 });
    const ids = await oneBatch(a, 3);

    // The first deal shows in Pipedrive; the person edits it at once; then Pipedrive fails the next
    // requests (the create of the second deal among them), so the flush fails before saving any link.
    const first = await eventually(async () => (await sandboxState(pipedrive)).deals.find((d: Json) => ids.includes(d.custom_fields[a.pipedriveKey])), 'a first deal reaches Pipedrive', 60_000);
    const firstId: string = first.custom_fields[a.pipedriveKey];
    await asPerson(pipedrive, 'PATCH', `/deals/${first.id}`, { title: 'Edited while the flush was failing' });
    await faults(pipedrive, { fail5xx: 5 });
    const expected = ids.map((id) => (id === firstId ? 'Edited while the flush was failing' : `Deal ${ids.indexOf(id) + 1}`));

    await eventually(async () => (await titles(a, ids)).every((t) => t.pipedrive && t.hubspot), 'every deal reaches both CRMs', 120_000);
    await settled(world.stack, a);
    expect(await a.reconciled()).toBe(false);
    expect(await titles(a, ids)).toEqual(expected.map((title) => ({ canonical: title, hubspot: title, pipedrive: title })));
    const carrying = (await sandboxState(pipedrive)).deals.filter((d: Json) => ids.includes(d.custom_fields[a.pipedriveKey]));
    expect(carrying).toHaveLength(3);
    const [adopted] = await world.stack.database.sql`SELECT detail FROM sync_events WHERE opportunity_id = ${firstId} AND connection_id = ${a.connections.pipedrive.id} AND kind = 'link_adopted'`;
    expect(adopted?.detail.base).toBe('what our interrupted create sent');
  });
});
