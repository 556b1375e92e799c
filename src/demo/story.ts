import { sql } from 'drizzle-orm';
import { enqueuePull } from '../jobs/queues.ts';
import { sandboxControl, type DemoWorld, type Json } from './setup.ts';
import type { Timeline } from './timeline.ts';

const REF = 'SO-1001';

/** Where one opportunity stands in the three places the story watches. */
function views(world: DemoWorld, ids: { canonical: string; pipedriveKey: string }) {
  const hubspot = sandboxControl(world.hubspot.baseUrl);
  const pipedrive = sandboxControl(world.pipedrive.baseUrl);
  return {
    hubspot,
    pipedrive,
    canonical: (): Promise<Json> => world.api('GET', `/opportunities/${ids.canonical}`),
    hubspotDeal: async (): Promise<Json> => (await hubspot.state()).deals.find((d: Json) => d.properties.crm_sync_id === ids.canonical),
    pipedriveDeal: async (): Promise<Json> => (await pipedrive.state()).deals.find((d: Json) => d.custom_fields[ids.pipedriveKey] === ids.canonical),
  };
}
type Views = ReturnType<typeof views>;

async function erpCreates(world: DemoWorld, t: Timeline) {
  t.chapter('1. An ERP creates an opportunity by its own reference');
  t.say('ERP', `PUT /v1/opportunities/by-external-ref/${REF}  "Renewal 2027", 1200.00 EUR, stage qualified, owner Ana`);
  const created = await world.api('PUT', `/opportunities/by-external-ref/${REF}`, { title: 'Renewal 2027', amount: '1200.00', currency: 'EUR', stage: 'qualified', assigneeId: world.users.ana.id });
  const v = views(world, { canonical: created.id, pipedriveKey: world.connections.pipedrive.settings.canonicalIdField });
  const hs = await t.until('HubSpot', 'the deal appears', v.hubspotDeal);
  t.say('HubSpot', `deal ${hs.id}: "${hs.properties.dealname}", amount ${hs.properties.amount}, stage ${hs.properties.dealstage}`);
  const pd = await t.until('Pipedrive', 'the deal appears', v.pipedriveDeal);
  t.say('Pipedrive', `deal ${pd.id}: "${pd.title}", value ${pd.value} ${pd.currency}, stage ${pd.stage_id}`);
  return { id: created.id as string, v, hubspotId: hs.id as string, pipedriveId: pd.id as number };
}

async function personEditsHubSpot(t: Timeline, v: Views, hubspotId: string) {
  t.chapter('2. A person edits the amount in HubSpot');
  t.say('HubSpot', 'Ana changes the amount to 1500 in the deal record');
  await v.hubspot.ui('PATCH', `/deals/${hubspotId}`, { amount: '1500' });
  await t.until('crm-sync', 'the canonical amount is 1500', async () => (await v.canonical()).amount === '1500');
  await t.until('Pipedrive', 'the value follows: 1500', async () => (await v.pipedriveDeal())?.value === 1500);
}

async function personWinsInPipedrive(world: DemoWorld, t: Timeline, v: Views, pipedriveId: number) {
  t.chapter('3. A person marks it won in Pipedrive');
  t.say('Pipedrive', 'Ben clicks "Won"');
  await v.pipedrive.ui('POST', `/deals/${pipedriveId}/won`);
  await t.until('crm-sync', 'the opportunity is closed as won', async () => (await v.canonical()).state === 'won');
  const closed = await t.until('crm-sync', 'the webhook says who closed it', async () => {
    const o = await v.canonical();
    return o.closedById ? o : undefined;
  });
  const closer = closed.closedById === world.users.ben.id ? 'Ben' : closed.closedById;
  t.say('crm-sync', `closedAt ${closed.closedAt}, closedBy ${closer}`);
  await t.until('HubSpot', 'the deal moves to closed won', async () => (await v.hubspotDeal())?.properties.dealstage === 'closedwon');
}

async function bothEditAtOnce(world: DemoWorld, t: Timeline, v: Views, id: string, hubspotId: string) {
  t.chapter('4. Both sides edit the same field at once');
  t.say('ERP', 'PATCH title "Renewal 2027 (3 years)"');
  t.say('HubSpot', 'Ana renames the deal "Renewal 2027 – Acme"');
  await Promise.all([world.api('PATCH', `/opportunities/${id}`, { title: 'Renewal 2027 (3 years)' }), v.hubspot.ui('PATCH', `/deals/${hubspotId}`, { dealname: 'Renewal 2027 – Acme' })]);
  const agreed = await t.until('crm-sync', 'canonical, HubSpot and Pipedrive agree', async () => {
    const [o, hs, pd] = [await v.canonical(), await v.hubspotDeal(), await v.pipedriveDeal()];
    return o.title === hs?.properties.dealname && o.title === pd?.title ? o.title : undefined;
  });
  const { events } = await world.api('GET', `/opportunities/${id}/sync?limit=500`);
  const conflict = events.data.find((e: Json) => e.kind === 'conflict' && e.field === 'title');
  if (conflict) t.say('crm-sync', `conflict on title: canonical "${conflict.before}" vs HubSpot "${conflict.after}" → rule ${conflict.rule}: ${conflict.detail.winner} wins`);
  else t.say('crm-sync', 'the edits did not overlap after all: the later one simply applied');
  t.say('crm-sync', `everyone now says "${agreed}"`);
}

async function lostWebhookRepaired(world: DemoWorld, t: Timeline, v: Views, pipedriveId: number) {
  t.chapter('5. A webhook is lost; reconciliation repairs it');
  await v.pipedrive.faults({ dropWebhooks: 1 });
  t.say('Pipedrive', 'Ben sets the value to 1800; the webhook is lost on the way');
  await v.pipedrive.ui('PATCH', `/deals/${pipedriveId}`, { value: 1800 });
  await t.until('Pipedrive', 'has nothing left to send', async () => (await v.pipedrive.state()).webhooks.idle);
  t.say('crm-sync', `still says ${(await v.canonical()).amount}; the next reconciliation would come within 5 minutes: running it now`);
  await enqueuePull(world.queues.reconcile, 'reconcile', world.connections.pipedrive.id);
  await t.until('crm-sync', 'reconciliation finds the change: amount 1800', async () => (await v.canonical()).amount === '1800');
  await t.until('HubSpot', 'follows: 1800', async () => (await v.hubspotDeal())?.properties.amount === '1800');
  const connection = await world.api('GET', `/connections/${world.connections.pipedrive.id}`);
  t.say('crm-sync', `reconciliation drift found: ${connection.reconciliation.lastPass?.drift ?? 0}`);
}

/** Between chapters: nothing on its way anywhere, so each chapter shows only its own doing. */
async function settled(world: DemoWorld) {
  for (;;) {
    const [outbox] = await world.database.db.execute<{ n: number }>(sql`SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM inbox WHERE failed_at IS NULL) AS n`);
    const inbound = await world.queues.inbound.getJobCounts('waiting', 'active', 'delayed');
    const idle = (await sandboxControl(world.hubspot.baseUrl).state()).webhooks.idle && (await sandboxControl(world.pipedrive.baseUrl).state()).webhooks.idle;
    if (Number(outbox!.n) === 0 && Object.values(inbound).every((n) => n === 0) && idle) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The story of the README's first command; returns the end state for `--exit`. */
export async function playStory(world: DemoWorld, t: Timeline) {
  const { id, v, hubspotId, pipedriveId } = await erpCreates(world, t);
  await settled(world);
  await personEditsHubSpot(t, v, hubspotId);
  await settled(world);
  await personWinsInPipedrive(world, t, v, pipedriveId);
  await settled(world);
  await bothEditAtOnce(world, t, v, id, hubspotId);
  await settled(world);
  await lostWebhookRepaired(world, t, v, pipedriveId);
  await settled(world);
  const [canonical, hubspot, pipedrive] = [await v.canonical(), await v.hubspotDeal(), await v.pipedriveDeal()];
  return { canonical, hubspot, pipedrive };
}
