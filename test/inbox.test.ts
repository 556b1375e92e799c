import { describe, expect, it } from 'vitest';
import { statusReport } from '../src/status.ts';
import { asPerson, faults, settled, stackWithAccounts, type ConnectedAccount, type Json } from './support/people.ts';
import { eventually } from './support/sync.ts';

/**
 * The inbox on real parts: webhooks stored before the 200 are applied a connection at a time, many
 * events of one deal costing one read; a failed round gives its rows back for later, and rows whose
 * retries ran out are set aside where admins see them.
 */

const world = stackWithAccounts(7500);

const requests = async (baseUrl: string): Promise<Record<string, number>> => ((await (await fetch(`${baseUrl}/_sandbox/requests`)).json()) as Json).requests;
/** Pipedrive requests that read deals, by id or listed. */
const dealReads = (counts: Record<string, number>) => (counts['GET /api/v2/deals'] ?? 0) + (counts['GET /api/v2/deals/:id'] ?? 0);
const inboxOf = (connectionId: string) => world.stack.database.sql`SELECT attempts, last_error, failed_at, event_count FROM inbox WHERE connection_id = ${connectionId}`;

/** An opportunity made through the API, in both CRMs, everything quiet. */
async function syncedDeal(account: ConnectedAccount, title: string) {
  const { id } = (await account.client.request('POST', '/v1/opportunities', { title, amount: '100' })).json();
  const deal = await eventually(() => account.pipedriveDealOf(id), 'the deal is in Pipedrive');
  await eventually(() => account.hubspotDealOf(id), 'the deal is in HubSpot');
  await settled(world.stack, account);
  return { id, pipedriveId: deal.id as number };
}

describe('the inbox', () => {
  it('applies twenty edits of one deal that waited together with one read of it, and pushes the last value once', async () => {
    const account = await world.account('Coalesced');
    const { id, pipedriveId } = await syncedDeal(account, 'Edited often');
    const pipedrive = account.connections.pipedrive.id;
    const pushesBefore = (await world.stack.database.sql`SELECT count(*)::int AS n FROM sync_events WHERE opportunity_id = ${id} AND connection_id = ${account.connections.hubspot.id} AND kind LIKE 'push%'`)[0]!.n;
    // Paused, the connection stores what Pipedrive sends and applies none of it.
    await account.client.request('POST', `/v1/connections/${pipedrive}/pause`);
    for (let i = 1; i <= 20; i++) await asPerson(account.sandboxes.pipedrive.baseUrl, 'PATCH', `/deals/${pipedriveId}`, { value: 1000 + i });
    await eventually(async () => (await inboxOf(pipedrive)).length === 20, 'the twenty webhooks are stored');
    const before = await requests(account.sandboxes.pipedrive.baseUrl);
    await account.client.request('POST', `/v1/connections/${pipedrive}/resume`);
    await eventually(async () => (await account.hubspotDealOf(id))?.properties.amount === '1020', 'HubSpot has the last value');
    await settled(world.stack, account);
    expect((await account.opportunity(id)).amount).toBe('1020');
    expect(dealReads(await requests(account.sandboxes.pipedrive.baseUrl)) - dealReads(before)).toBe(1);
    const pushes = (await world.stack.database.sql`SELECT count(*)::int AS n FROM sync_events WHERE opportunity_id = ${id} AND connection_id = ${account.connections.hubspot.id} AND kind LIKE 'push%'`)[0]!.n;
    expect(pushes - pushesBefore).toBe(1);
  });

  it('gives a failed round’s rows back with their error, retries them later, and applies them', async () => {
    const account = await world.account('Retried');
    const { id, pipedriveId } = await syncedDeal(account, 'Behind a flaky API');
    const pipedrive = account.connections.pipedrive.id;
    // Pipedrive answers 502 to the next two requests: the round's read of the deal, then its retry.
    await faults(account.sandboxes.pipedrive.baseUrl, { fail5xx: 2 });
    await asPerson(account.sandboxes.pipedrive.baseUrl, 'PATCH', `/deals/${pipedriveId}`, { value: 555 });
    const [waiting] = await eventually(async () => {
      const rows = await inboxOf(pipedrive);
      return rows.length && rows[0]!.attempts >= 1 ? rows : undefined;
    }, 'the failed round gave the row back');
    expect(waiting!.last_error).toMatchObject({ code: 'server' });
    const [status] = (await statusReport(world.stack.deps, account.client.accountId)).filter((s) => s.connectionId === pipedrive);
    expect(status!.inboundWaiting).toBe(1);
    await eventually(async () => (await account.opportunity(id)).amount === '555', 'the edit is applied after the retries');
    expect(await inboxOf(pipedrive)).toHaveLength(0);
  });

  it('sets aside rows whose retries ran out, on the connection’s timeline and in status, and claims them no more', async () => {
    const account = await world.account('Set aside');
    const pipedrive = account.connections.pipedrive.id;
    await faults(account.sandboxes.pipedrive.baseUrl, { fail5xx: 1 });
    // A row that has failed nine times already (as if for about nine minutes): its tenth failure is its last.
    const events = [{ meta: { entity: 'deal', action: 'change', entity_id: '1' }, data: { id: 1 } }];
    await world.stack.database.sql`INSERT INTO inbox (connection_id, events, event_count, attempts) VALUES (${pipedrive}, ${world.stack.database.sql.json(events)}, 1, 9)`;
    const [failed] = await eventually(async () => {
      const rows = await world.stack.database.sql`SELECT detail FROM sync_events WHERE connection_id = ${pipedrive} AND kind = 'inbound_failed'`;
      return rows.length ? rows : undefined;
    }, 'the delivery is recorded as failed');
    expect(failed!.detail).toMatchObject({ events: 1, attempts: 10, error: { code: 'server' } });
    const [row] = await inboxOf(pipedrive);
    expect(row!.failed_at).not.toBeNull();
    const [status] = (await statusReport(world.stack.deps, account.client.accountId)).filter((s) => s.connectionId === pipedrive);
    expect(status).toMatchObject({ inboundWaiting: 1, inboundFailed: 1 });
  });
});
