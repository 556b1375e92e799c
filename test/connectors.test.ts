import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubSpotConnector } from '../src/providers/hubspot/connector.ts';
import { pipedriveCosts, PipedriveConnector } from '../src/providers/pipedrive/connector.ts';
import type { CrmConnector, Pacer, PullCursor, PullPage } from '../src/providers/types.ts';
import type { MappingSettings } from '../src/sync/fields.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import { startPipedriveSandbox, type PipedriveSandbox } from '../src/sandbox/pipedrive/index.ts';
import { specTokenCosts } from './sandbox/pipedrive-spec.ts';

/** Counts what the connector asks of the pacer; the Redis pacer has its own tests. */
class CountingPacer implements Pacer {
  calls = 0;
  tokens = 0;
  async take(cost: number) {
    this.calls++;
    this.tokens += cost;
  }
}

let hubspotSandbox: HubSpotSandbox;
let pipedriveSandbox: PipedriveSandbox;

beforeAll(async () => {
  [hubspotSandbox, pipedriveSandbox] = await Promise.all([startHubSpotSandbox({ seed: 21 }), startPipedriveSandbox({ seed: 21 })]);
});
afterAll(() => Promise.all([hubspotSandbox.close(), pipedriveSandbox.close()]));

const settingsFor = (canonicalIdField: string, pipelineId: string): MappingSettings => ({
  canonicalIdField,
  stages: [],
  pipelines: [],
  defaultPipelineId: pipelineId,
  closedStages: { default: { won: 'closedwon', lost: 'closedlost' } },
  owners: [],
  attributes: [],
});

function contract(name: string, make: (pacer: Pacer) => CrmConnector, pipelineId: string) {
  describe(`${name} connector`, () => {
    it('describes the account and prepares the canonical-id field once', async () => {
      const connector = make(new CountingPacer());
      const account = await connector.account();
      expect(account.remoteAccountId).toMatch(/^\d+$/);
      expect(account.pipelines[0]!.stages.length).toBeGreaterThan(0);
      expect(account.owners[0]!.email).toContain('@');
      const field = await connector.prepare();
      expect(await connector.prepare()).toBe(field);
    });

    it('creates, updates, reads and removes deals; a retried create does not duplicate', async () => {
      const connector = make(new CountingPacer());
      const settings = settingsFor(await connector.prepare(), pipelineId);
      const [created] = await connector.push([{ canonicalId: `${name}-1`, remoteId: null, fields: { title: 'First', amount: '10', currency: 'EUR' } }], settings);
      expect(created).toMatchObject({ canonicalId: `${name}-1`, remoteId: expect.any(String), problems: [] });
      // The link was lost (a crash after the create): pushing the create again finds the deal.
      const [again] = await connector.push([{ canonicalId: `${name}-1`, remoteId: null, fields: { title: 'First again' }, mayExist: true }], settings);
      expect(again!.remoteId).toBe(created!.remoteId);
      const [read] = await connector.read([created!.remoteId!], settings);
      expect(read).toMatchObject({ canonicalId: `${name}-1`, deleted: false, fields: { title: 'First again', amount: '10', currency: 'EUR' } });
      expect(read!.version.getTime()).toBeGreaterThanOrEqual(created!.version!.getTime());
      await connector.remove(created!.remoteId!);
      expect((await connector.read([created!.remoteId!], settings))[0]!.deleted).toBe(true);
    });
  });
}

contract('hubspot', (pacer) => new HubSpotConnector({ baseUrl: hubspotSandbox.baseUrl, accessToken: hubspotSandbox.token, pacer }), 'default');
contract('pipedrive', (pacer) => new PipedriveConnector({ baseUrl: pipedriveSandbox.baseUrl, apiToken: pipedriveSandbox.token, pacer }), '1');

describe('batching and costs', () => {
  it('HubSpot writes 250 deals in 3 batch calls', async () => {
    const pacer = new CountingPacer();
    const connector = new HubSpotConnector({ baseUrl: hubspotSandbox.baseUrl, accessToken: hubspotSandbox.token, pacer });
    const settings = settingsFor(await connector.prepare(), 'default');
    pacer.calls = 0;
    const requests = Array.from({ length: 250 }, (_, i) => ({ canonicalId: `bulk-${i}`, remoteId: null, fields: { title: `bulk ${i}` } }));
    const results = await connector.push(requests, settings);
    expect(new Set(results.map((r) => r.remoteId)).size).toBe(250);
    expect(pacer.calls).toBe(3);
  });

  it('Pipedrive charges the spec’s token costs', async () => {
    const spec = await specTokenCosts();
    const routes: Record<string, string> = {
      listDeals: 'GET /api/v2/deals',
      getDeal: 'GET /api/v2/deals/:id',
      addDeal: 'POST /api/v2/deals',
      updateDeal: 'PATCH /api/v2/deals/:id',
      deleteDeal: 'DELETE /api/v2/deals/:id',
      searchDeals: 'GET /api/v2/deals/search',
      listDealFields: 'GET /api/v2/dealFields',
      addDealField: 'POST /api/v2/dealFields',
      listStages: 'GET /api/v2/stages',
      listPipelines: 'GET /api/v2/pipelines',
      searchPersons: 'GET /api/v2/persons/search',
      addPerson: 'POST /api/v2/persons',
      getPerson: 'GET /api/v2/persons/:id',
    };
    for (const [call, route] of Object.entries(routes)) expect(pipedriveCosts[call as keyof typeof pipedriveCosts], call).toBe(spec[route]);
  });
});

describe('pulls: every deal changed since a time, once, however many share a timestamp', () => {
  const ui = (baseUrl: string, path: string, body: unknown) =>
    fetch(`${baseUrl}/_sandbox/ui${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<{ id: string | number }>);

  async function pullAll(connector: CrmConnector, kind: 'changedSince' | 'deletedSince', since: Date, settings: MappingSettings) {
    const seen: string[] = [];
    let cursor: PullCursor | null = { since: since.toISOString() };
    let pages = 0;
    while (cursor) {
      const page: PullPage = await connector[kind](cursor, settings);
      seen.push(...page.states.map((s) => s.remoteId));
      cursor = page.next;
      if (++pages > 50) throw new Error('the pull does not end');
    }
    return { ids: new Set(seen), pages };
  }

  async function check(connector: CrmConnector, baseUrl: string, settings: MappingSettings, count: number, dealBody: (i: number) => unknown) {
    const before = new Date(Date.now() - 1000);
    const created = await Promise.all(Array.from({ length: count }, (_, i) => ui(baseUrl, '/deals', dealBody(i))));
    const changed = await pullAll(connector, 'changedSince', before, settings);
    expect(changed.ids).toEqual(new Set(created.map((d) => String(d.id))));
    expect(changed.pages).toBeGreaterThan(1);
    // Nothing changed after the newest: a pull from a minute ahead sees nothing.
    expect((await pullAll(connector, 'changedSince', new Date(Date.now() + 60_000), settings)).ids.size).toBe(0);
    const gone = created.slice(0, 3).map((d) => String(d.id));
    for (const id of gone) await fetch(`${baseUrl}/_sandbox/ui/deals/${id}`, { method: 'DELETE' });
    expect((await pullAll(connector, 'deletedSince', before, settings)).ids).toEqual(new Set(gone));
  }

  it('HubSpot: search windows of 200, ascending on hs_lastmodifieddate', async () => {
    const sandbox = await startHubSpotSandbox({ seed: 22 });
    try {
      const connector = new HubSpotConnector({ baseUrl: sandbox.baseUrl, accessToken: sandbox.token, pacer: new CountingPacer() });
      await check(connector, sandbox.baseUrl, settingsFor('crm_sync_id', 'default'), 450, (i) => ({ dealname: `pulled ${i}` }));
    } finally {
      await sandbox.close();
    }
  });

  it('Pipedrive: updated_since and update_time, 500 a page', async () => {
    const sandbox = await startPipedriveSandbox({ seed: 22 });
    try {
      const connector = new PipedriveConnector({ baseUrl: sandbox.baseUrl, apiToken: sandbox.token, pacer: new CountingPacer() });
      await check(connector, sandbox.baseUrl, settingsFor('none', '1'), 520, (i) => ({ title: `pulled ${i}` }));
    } finally {
      await sandbox.close();
    }
  });
});
