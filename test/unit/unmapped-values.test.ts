import { describe, expect, it } from 'vitest';
import { toHubSpot } from '../../src/providers/hubspot/mapping.ts';
import { toPipedrive } from '../../src/providers/pipedrive/mapping.ts';
import { baseAfterWrite, changedSince } from '../../src/sync/diff.ts';
import type { MappingSettings } from '../../src/sync/fields.ts';

/**
 * DESIGN §4, issue 11: a value a CRM has no counterpart for is never written to an existing deal in
 * its place (no first stage, no default pipeline, no owner): the problem is reported and the deal
 * keeps what it has. Only a create, which the CRM must place somewhere, takes the defaults.
 */

const id = '0b3b7a3e-6a39-4a8e-9f1e-3d1f4b8c2a11';
const settings: MappingSettings = {
  canonicalIdField: 'crm_sync_id',
  stages: [
    { stage: 'qualified', pipelineId: 'default', stageId: 'qualifiedtobuy' },
    { stage: 'proposal', pipelineId: 'default', stageId: 'presentationscheduled' },
  ],
  pipelines: [{ pipeline: 'default', pipelineId: 'default' }],
  defaultPipelineId: 'default',
  closedStages: { default: { won: 'closedwon', lost: 'closedlost' } },
  owners: [{ userId: 'user-ana', ownerId: '101' }],
  attributes: [],
};
const pipedriveSettings: MappingSettings = { ...settings, stages: [{ stage: 'qualified', pipelineId: '1', stageId: '1' }], pipelines: [{ pipeline: 'default', pipelineId: '1' }], defaultPipelineId: '1', closedStages: {} };

describe('an unmapped value on an update', () => {
  it('HubSpot: an unmapped stage leaves pipeline and dealstage out, and says so', () => {
    const { properties, problems } = toHubSpot(id, { state: 'open', stage: 'demo', pipeline: 'default' }, settings);
    expect(properties).not.toHaveProperty('dealstage');
    expect(properties).not.toHaveProperty('pipeline');
    expect(problems).toEqual([expect.objectContaining({ field: 'stage', value: 'demo' })]);
  });

  it('HubSpot: a create with an unmapped stage goes to the pipeline’s first mapped stage, and says so', () => {
    const { properties, problems } = toHubSpot(id, { title: 'New', state: 'open', stage: 'demo', pipeline: 'default' }, settings, true);
    expect(properties).toMatchObject({ pipeline: 'default', dealstage: 'qualifiedtobuy' });
    expect(problems.map((p) => p.field)).toEqual(['stage']);
  });

  it('HubSpot: closing a deal whose canonical pipeline is unmapped leaves it where it is, not in the default pipeline', () => {
    const { properties, problems } = toHubSpot(id, { state: 'won', stage: null, pipeline: 'renewals' }, settings);
    expect(properties).not.toHaveProperty('dealstage');
    expect(problems.map((p) => p.field).sort()).toEqual(['pipeline', 'state']);
  });

  it('HubSpot: a mapped stage and a close still go through', () => {
    expect(toHubSpot(id, { state: 'open', stage: 'proposal', pipeline: 'default' }, settings).properties).toMatchObject({ pipeline: 'default', dealstage: 'presentationscheduled' });
    expect(toHubSpot(id, { state: 'won', stage: 'demo', pipeline: 'default' }, settings)).toMatchObject({ properties: { dealstage: 'closedwon' }, problems: [] });
  });

  it('HubSpot and Pipedrive: an unmapped user is no owner change', () => {
    const hubspot = toHubSpot(id, { assigneeId: 'user-nobody' }, settings);
    expect(hubspot.properties).not.toHaveProperty('hubspot_owner_id');
    expect(hubspot.problems.map((p) => p.field)).toEqual(['assigneeId']);
    const pipedrive = toPipedrive(id, { assigneeId: 'user-nobody' }, pipedriveSettings);
    expect(pipedrive.input).not.toHaveProperty('owner_id');
    expect(pipedrive.problems.map((p) => p.field)).toEqual(['assigneeId']);
  });

  it('Pipedrive: an unmapped stage sends no pipeline either (a pipeline alone would move the deal to its first stage)', () => {
    const { input, problems } = toPipedrive(id, { state: 'open', stage: 'demo', pipeline: 'default' }, pipedriveSettings);
    expect(input).not.toHaveProperty('stage_id');
    expect(input).not.toHaveProperty('pipeline_id');
    expect(problems.map((p) => p.field)).toEqual(['stage']);
    expect(toPipedrive(id, { state: 'open', stage: 'demo', pipeline: 'default' }, pipedriveSettings, true).input).toMatchObject({ pipeline_id: 1 });
  });
});

describe('the base after a write the mapping refused', () => {
  it('keeps what the CRM holds and does not mark the value unheld, so the next push tries it again', () => {
    const base = baseAfterWrite({ stage: 'qualified', title: 'T' }, { stage: 'demo', title: 'U' }, { stage: 'qualified', title: 'U' }, ['stage']);
    expect(base).toEqual({ stage: 'qualified', title: 'U', attributes: {} });
    expect(changedSince(base, { stage: 'demo', title: 'U' })).toEqual({ stage: 'demo' });
  });

  it('keeps the old base where the answer does not say (an attribute, a stage the CRM reads as nothing)', () => {
    const base = baseAfterWrite({ stage: 'qualified', attributes: { tier: 'gold' } }, { stage: 'demo', attributes: { tier: 'platinum', seats: 3 } }, {}, ['stage', 'attributes.tier']);
    expect(base).toEqual({ stage: 'qualified', attributes: { tier: 'gold', seats: 3 } });
  });
});
