import { Client } from '@hubspot/api-client';
import { v2 } from 'pipedrive';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHubSpot, toHubSpot } from '../../src/providers/hubspot/mapping.ts';
import { pipedriveConfigurations } from '../../src/providers/pipedrive/client.ts';
import type { PipedriveDeal } from '../../src/providers/pipedrive/fields.ts';
import { fromPipedrive, toPipedrive } from '../../src/providers/pipedrive/mapping.ts';
import type { MappingSettings, SyncFields } from '../../src/sync/fields.ts';
import { startHubSpotSandbox, type HubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { startPipedriveSandbox, type PipedriveSandbox } from '../../src/sandbox/pipedrive/index.ts';

const canonicalId = '0b3b7a3e-6a39-4a8e-9f1e-3d1f4b8c2a11';
const fields: SyncFields = {
  title: 'Renewal 2027',
  description: 'three-year renewal',
  amount: '1234.5',
  currency: 'EUR',
  closeDate: '2027-01-31',
  state: 'open',
  stage: 'proposal',
  pipeline: 'default',
  probability: 60,
  source: 'Partner referral',
  lostReason: null,
  assigneeId: 'user-ana',
  attributes: { seats: 25, region: 'emea', renewal: true },
  contact: null,
};

const hubspotSettings: MappingSettings = {
  canonicalIdField: 'crm_sync_id',
  stages: [
    { stage: 'qualified', pipelineId: 'default', stageId: 'qualifiedtobuy' },
    { stage: 'proposal', pipelineId: 'default', stageId: 'presentationscheduled' },
  ],
  pipelines: [{ pipeline: 'default', pipelineId: 'default' }],
  defaultPipelineId: 'default',
  closedStages: { default: { won: 'closedwon', lost: 'closedlost' } },
  owners: [{ userId: 'user-ana', ownerId: '101' }],
  sourceField: 'lead_source',
  attributes: [
    { key: 'seats', remote: 'seats', type: 'number' },
    { key: 'region', remote: 'region', type: 'text' },
    { key: 'renewal', remote: 'renewal', type: 'boolean' },
  ],
};

let hubspotSandbox: HubSpotSandbox;
let pipedriveSandbox: PipedriveSandbox;
let hubspot: Client;
let pipedriveSettings: MappingSettings;
let deals: v2.DealsApi;

beforeAll(async () => {
  [hubspotSandbox, pipedriveSandbox] = await Promise.all([startHubSpotSandbox({ seed: 12 }), startPipedriveSandbox({ seed: 12 })]);
  hubspot = new Client({ accessToken: hubspotSandbox.token, basePath: hubspotSandbox.baseUrl });
  for (const [name, type, fieldType, unique] of [['crm_sync_id', 'string', 'text', true], ['seats', 'number', 'number', false], ['region', 'string', 'text', false], ['renewal', 'bool', 'booleancheckbox', false], ['lead_source', 'string', 'text', false]] as const) {
    await hubspot.crm.properties.coreApi.create('deals', { name, label: name, type: type as never, fieldType: fieldType as never, groupName: 'dealinformation', hasUniqueValue: unique });
  }
  const configs = pipedriveConfigurations({ baseUrl: pipedriveSandbox.baseUrl, apiToken: pipedriveSandbox.token });
  deals = new v2.DealsApi(configs.v2);
  const dealFields = new v2.DealFieldsApi(configs.v2);
  const key = async (field_name: string, field_type: string) =>
    (await dealFields.addDealField({ AddDealFieldRequest: { field_name, field_type: field_type as never } })).data!.field_code!;
  pipedriveSettings = {
    canonicalIdField: await key('crm-sync id', 'varchar'),
    stages: [{ stage: 'qualified', pipelineId: '1', stageId: '1' }, { stage: 'proposal', pipelineId: '1', stageId: '4' }],
    pipelines: [{ pipeline: 'default', pipelineId: '1' }],
    defaultPipelineId: '1',
    closedStages: {},
    sourceField: await key('Lead source', 'varchar'),
    owners: [{ userId: 'user-ana', ownerId: '2' }],
    attributes: [
      { key: 'seats', remote: await key('Seats', 'double'), type: 'number' },
      { key: 'region', remote: await key('Region', 'varchar'), type: 'text' },
      { key: 'renewal', remote: await key('Renewal', 'varchar'), type: 'boolean' },
    ],
  };
});
afterAll(() => Promise.all([hubspotSandbox.close(), pipedriveSandbox.close()]));

describe('HubSpot mapping', () => {
  it('round-trips every mapped field through the sandbox', async () => {
    const { properties, problems } = toHubSpot(canonicalId, fields, hubspotSettings);
    expect(problems).toEqual([]);
    const created = await hubspot.crm.deals.basicApi.create({ properties: properties as Record<string, string>, associations: [] });
    const read = await hubspot.crm.deals.basicApi.getById(created.id, Object.keys(properties).concat('pipeline', 'dealstage'));
    const back = fromHubSpot(read.properties, hubspotSettings);
    expect(back.problems).toEqual([]);
    expect(back.canonicalId).toBe(canonicalId);
    // HubSpot derives probability from the stage, so it is neither written nor read.
    const { probability: _probability, contact: _contact, ...withoutProbability } = fields;
    expect(back.fields).toStrictEqual(withoutProbability);
  });

  it('closes by stage; abandoned is closed-lost with a reason and reads back as lost', () => {
    expect(toHubSpot(canonicalId, { state: 'won' }, hubspotSettings).properties).toMatchObject({ dealstage: 'closedwon', pipeline: 'default' });
    const abandoned = toHubSpot(canonicalId, { state: 'abandoned', lostReason: null }, hubspotSettings).properties;
    expect(abandoned).toMatchObject({ dealstage: 'closedlost', closed_lost_reason: 'abandoned' });
    expect(fromHubSpot({ ...abandoned, pipeline: 'default' }, hubspotSettings).fields).toMatchObject({ state: 'lost', lostReason: 'abandoned' });
  });

  it('reports an unmapped stage and owner instead of dropping them silently', () => {
    const out = toHubSpot(canonicalId, { stage: 'mystery', assigneeId: 'user-zed' }, hubspotSettings);
    expect(out.problems.map((p) => p.field)).toEqual(['stage', 'assigneeId']);
    const back = fromHubSpot({ pipeline: 'default', dealstage: 'contractsent', hubspot_owner_id: '102' }, hubspotSettings);
    expect(back.problems.map((p) => p.field)).toEqual(['stage', 'assigneeId']);
  });

  it('sends only the fields it is given', () => {
    expect(toHubSpot(canonicalId, { title: 'only' }, hubspotSettings).properties).toEqual({ crm_sync_id: canonicalId, dealname: 'only' });
  });

  it('maps pipelines both ways, reports an unmapped one, and says nothing of pipelines without a pipeline map', () => {
    const sales = { ...hubspotSettings, pipelines: [...hubspotSettings.pipelines, { pipeline: 'renewals', pipelineId: 'renewals-1' }], stages: [...hubspotSettings.stages, { stage: 'renewal-call', pipelineId: 'renewals-1', stageId: 'r1' }] };
    expect(toHubSpot(canonicalId, { state: 'open', stage: null, pipeline: 'renewals' }, sales).properties).toMatchObject({ pipeline: 'renewals-1', dealstage: 'r1' });
    expect(fromHubSpot({ pipeline: 'renewals-1', dealstage: 'r1' }, { ...sales, closedStages: { 'renewals-1': { won: 'rw', lost: 'rl' } } }).fields).toMatchObject({ pipeline: 'renewals', stage: 'renewal-call', state: 'open' });
    const unknown = fromHubSpot({ pipeline: 'other', dealstage: 'x' }, hubspotSettings);
    expect(unknown.problems.map((p) => p.field)).toContain('pipeline');
    expect(unknown.fields.pipeline).toBeUndefined();
    expect(toHubSpot(canonicalId, { state: 'open', stage: 'qualified', pipeline: 'nowhere' }, hubspotSettings).problems.map((p) => p.field)).toEqual(['pipeline']);
    expect(fromHubSpot({ pipeline: 'other' }, { ...hubspotSettings, pipelines: [] }).problems).toEqual([]);
  });

  it('syncs source only through the property a connection names', () => {
    expect(toHubSpot(canonicalId, { source: 'Web' }, hubspotSettings).properties).toEqual({ crm_sync_id: canonicalId, lead_source: 'Web' });
    const { sourceField: _none, ...unnamed } = hubspotSettings;
    expect(toHubSpot(canonicalId, { source: 'Web' }, unnamed).properties).toEqual({ crm_sync_id: canonicalId });
    expect(fromHubSpot({ lead_source: 'Web' }, unnamed).fields).not.toHaveProperty('source');
  });
});

describe('Pipedrive mapping', () => {
  it('round-trips every mapped field through the sandbox (description does not exist there)', async () => {
    const { input, problems } = toPipedrive(canonicalId, fields, pipedriveSettings);
    expect(problems).toEqual([]);
    const created = await deals.addDeal({ AddDealRequest: input as never });
    const read = (await deals.getDeal({ id: created.data!.id! })).data as unknown as PipedriveDeal;
    const back = fromPipedrive(read, pipedriveSettings);
    expect(back.problems).toEqual([]);
    expect(back.canonicalId).toBe(canonicalId);
    const { description: _description, contact: _contact, ...withoutDescription } = fields;
    expect(back.fields).toStrictEqual(withoutDescription);
  });

  it('maps states to status; abandoned is lost with a reason; zero is no amount', () => {
    expect(toPipedrive(canonicalId, { state: 'won' }, pipedriveSettings).input).toMatchObject({ status: 'won' });
    expect(toPipedrive(canonicalId, { state: 'abandoned', lostReason: null }, pipedriveSettings).input).toMatchObject({ status: 'lost', lost_reason: 'abandoned' });
    expect(toPipedrive(canonicalId, { amount: null }, pipedriveSettings).input.value).toBe(0);
    expect(fromPipedrive({ id: 1, value: 0 }, pipedriveSettings).fields.amount).toBeNull();
  });

  it('writes the pipeline only when no stage says it, and syncs source through the named custom field', () => {
    expect(toPipedrive(canonicalId, { stage: 'proposal', pipeline: 'default' }, pipedriveSettings).input).not.toHaveProperty('pipeline_id');
    expect(toPipedrive(canonicalId, { stage: null, pipeline: 'default' }, pipedriveSettings).input).toMatchObject({ pipeline_id: 1 });
    expect(fromPipedrive({ id: 1, pipeline_id: 7 }, pipedriveSettings).problems.map((p) => p.field)).toEqual(['pipeline']);
    expect(toPipedrive(canonicalId, { source: 'Web' }, pipedriveSettings).input.custom_fields).toEqual({ [pipedriveSettings.canonicalIdField]: canonicalId, [pipedriveSettings.sourceField!]: 'Web' });
  });

  it('reports an unmapped stage and owner', () => {
    expect(toPipedrive(canonicalId, { stage: 'mystery', assigneeId: 'user-zed' }, pipedriveSettings).problems.map((p) => p.field)).toEqual(['stage', 'assigneeId']);
    expect(fromPipedrive({ id: 1, stage_id: 5, owner_id: 1 }, pipedriveSettings).problems.map((p) => p.field)).toEqual(['stage', 'assigneeId']);
  });
});
