import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemsOfOpportunity } from '../src/model/sync-state/problems.ts';
import { newAccount, type Client, type TestApi } from './support/api.ts';
import { connectBoth } from './support/connect.ts';
import { addSandboxPeople, asPerson, dealsOf, type Json } from './support/people.ts';
import { eventually, startListeningStack, startSandboxes, type SyncStack } from './support/sync.ts';

/**
 * DESIGN §4: a value that cannot be mapped is never written; the other CRM keeps its value and the
 * problem is listed for the record (issue 11). With the default settings each CRM's stages become
 * canonical stages of their own labels, so the sandboxes' HubSpot and Pipedrive stages do not meet:
 * a stage a person picks in Pipedrive has no HubSpot counterpart.
 */

let stack: SyncStack;
let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
let client: Client;
let connections: { hubspot: Json; pipedrive: Json };
let deals: ReturnType<typeof dealsOf>;

const opportunity = async (id: string): Promise<Json> => (await client.request('GET', `/v1/opportunities/${id}`)).json();

beforeAll(async () => {
  sandboxes = await startSandboxes(111);
  stack = await startListeningStack();
  client = await newAccount({ database: stack.database, app: stack.app, close: stack.close } as TestApi, 'Unmapped');
  // The sandboxes' people, so owners map and no owner problem stands in for the stage problem.
  await addSandboxPeople(client);
  connections = await connectBoth(client, sandboxes);
  deals = dealsOf(sandboxes, connections.pipedrive.settings.canonicalIdField);
});
afterAll(async () => {
  await stack.close();
  await sandboxes.close();
});

describe('an unmapped stage', () => {
  it('a person’s stage move in Pipedrive to a stage HubSpot has no mapping for leaves the HubSpot deal’s stage alone, and lists the problem', async () => {
    const hubspotStage = connections.hubspot.settings.stages.find((s: Json) => s.stageId === 'presentationscheduled');
    const id = (await client.request('POST', '/v1/opportunities', { title: 'Stage move', stage: hubspotStage.stage, pipeline: 'default' })).json().id;
    const hubspotDeal = await eventually(async () => (await deals.hubspot(id))?.properties.dealstage === 'presentationscheduled' && (await deals.hubspot(id)), 'HubSpot holds the stage', 20_000);
    const pipedriveDeal = await eventually(() => deals.pipedrive(id), 'Pipedrive has the deal', 20_000);

    // "Demo Scheduled": a canonical stage of Pipedrive's, with no HubSpot stage mapped to it.
    const pipedriveStage = connections.pipedrive.settings.stages.find((s: Json) => s.stageId === '3');
    expect(connections.hubspot.settings.stages.map((s: Json) => s.stage)).not.toContain(pipedriveStage.stage);
    await asPerson(sandboxes.pipedrive.baseUrl, 'PATCH', `/deals/${pipedriveDeal.id}`, { stage_id: 3 });
    await eventually(async () => (await opportunity(id)).stage === pipedriveStage.stage, 'canonical takes the Pipedrive stage', 20_000);
    // The push to HubSpot that followed the move says what it could not send.
    await eventually(
      async () => (await problemsOfOpportunity(stack.database.db, id)).some((p) => p.connectionId === connections.hubspot.id && p.direction === 'push' && p.field === 'stage' && p.value === pipedriveStage.stage),
      'the push to HubSpot lists the unmapped stage',
      20_000,
    );

    const after = await deals.hubspot(id);
    expect(after.properties.dealstage).toBe('presentationscheduled');
    expect(after.properties.pipeline).toBe(hubspotDeal.properties.pipeline);
    const view = (await client.request('GET', `/v1/opportunities/${id}/sync`)).json();
    expect(view.problems).toContainEqual(expect.objectContaining({ connectionId: connections.hubspot.id, field: 'stage', value: pipedriveStage.stage }));

    // The base did not pretend the stage was written: once HubSpot maps it, the next push sends it.
    const stages = [...connections.hubspot.settings.stages, { stage: pipedriveStage.stage, pipelineId: 'default', stageId: 'decisionmakerboughtin' }];
    expect((await client.request('PATCH', `/v1/connections/${connections.hubspot.id}`, { stages })).statusCode).toBe(200);
    expect((await client.request('PATCH', `/v1/opportunities/${id}`, { title: 'Stage move, mapped' })).statusCode).toBe(200);
    await eventually(async () => (await deals.hubspot(id))?.properties.dealstage === 'decisionmakerboughtin', 'HubSpot gets the newly mapped stage', 20_000);
    await eventually(async () => !(await problemsOfOpportunity(stack.database.db, id)).some((p) => p.connectionId === connections.hubspot.id && p.field === 'stage'), 'the problem is gone', 20_000);
  });
});
