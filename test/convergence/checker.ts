import { CRMS, FIELDS, type Crm, type Field, type Model, type Opp, type Value } from './model.ts';
import { STAGES, type Json, type Tenant } from './tenant.ts';
import type { World } from './world.ts';

/**
 * The verdict once the faults have stopped and everything is quiet: before reconciliation in a
 * seed that dropped no webhook (by webhooks alone), and after a reconciliation pass in every seed.
 *
 * For every opportunity the scenario made (or a person made in a CRM):
 * 1. identity: it exists canonically (a tombstone if deleted through the API); in each CRM where no
 *    person deleted or merged away its deal, exactly one live deal carries its canonical id and its
 *    link points at that deal; where a person did, the link is marked remote-deleted and no live
 *    deal there carries its id any more (the `unlink` policy: nothing re-creates it);
 * 2. agreement: canonical, HubSpot and Pipedrive hold the same title, amount (as a number;
 *    Pipedrive's 0 is "none"), expected close date, state, stage (HubSpot shows a stage only while a
 *    deal is open) and lost reason (compared while the state is lost; the CRMs keep or drop it
 *    differently on other states);
 * 3. nothing the policy keeps is lost: each field holds a value the model allows (model.ts).
 * And for the account as a whole: no canonical opportunity the scenario cannot account for (no
 * deal imported twice), no live CRM deal that is not linked to exactly one opportunity whose id it
 * carries (no duplicate, no orphan).
 *
 * Not exercised, so not checked: description (HubSpot only), currency, probability, owners,
 * contacts, custom attributes, the "abandoned" state, HubSpot's recycle-bin restore, and the
 * `propagate` delete policy and the other conflict policies (other tests cover those).
 */

interface CanonicalRow {
  id: string;
  title: string;
  amount: string | null;
  close_date: string | null;
  stage: string | null;
  state: string;
  lost_reason: string | null;
  deleted_at: Date | null;
}

interface LinkRow {
  opportunity_id: string;
  remote_id: string;
  remote_deleted_at: Date | null;
  last_error: unknown;
}

type Fields = Record<Field, Value>;

export interface Snapshot {
  canonical: Map<string, CanonicalRow>;
  links: Record<Crm, LinkRow[]>;
  deals: Record<Crm, { id: string; canonicalId: string | undefined; fields: Fields }[]>;
}

const number = (v: Value) => (v === null || v === '' ? 0 : Number(v));

function hubspotFields(properties: Record<string, string | undefined>): Fields {
  const stage = properties.dealstage;
  const state = stage === 'closedwon' ? 'won' : stage === 'closedlost' ? 'lost' : 'open';
  return {
    title: properties.dealname ?? null,
    amount: properties.amount ?? null,
    closeDate: properties.closedate ? new Date(properties.closedate).toISOString().slice(0, 10) : null,
    state,
    stage: state === 'open' ? (STAGES.find((s) => s.hubspot === stage)?.key ?? `unmapped:${stage}`) : null,
    lostReason: properties.closed_lost_reason || null,
  };
}

function pipedriveFields(deal: Json): Fields {
  return {
    title: deal.title,
    amount: deal.value === null ? null : String(deal.value),
    closeDate: deal.expected_close_date ?? null,
    state: deal.status,
    stage: STAGES.find((s) => s.pipedrive === deal.stage_id)?.key ?? `unmapped:${deal.stage_id}`,
    lostReason: deal.lost_reason ?? null,
  };
}

function canonicalFields(row: CanonicalRow): Fields {
  return { title: row.title, amount: row.amount, closeDate: row.close_date, state: row.state, stage: row.stage, lostReason: row.lost_reason };
}

export async function snapshot(world: World, tenant: Tenant): Promise<Snapshot> {
  const sql = world.database.sql;
  const rows = await sql<CanonicalRow[]>`
    SELECT id, title, amount::text AS amount, close_date::text AS close_date, stage, state, lost_reason, deleted_at
      FROM opportunities WHERE account_id = ${tenant.client.accountId}`;
  const links = async (crm: Crm) =>
    sql<LinkRow[]>`SELECT opportunity_id, remote_id, remote_deleted_at, last_error FROM remote_links WHERE connection_id = ${tenant.connectionIds[crm]}`;
  const [hubspot, pipedrive] = await Promise.all([tenant.state('hubspot'), tenant.state('pipedrive')]);
  return {
    canonical: new Map(rows.map((r) => [r.id, r])),
    links: { hubspot: [...(await links('hubspot'))], pipedrive: [...(await links('pipedrive'))] },
    deals: {
      hubspot: (hubspot.deals as Json[])
        .filter((d) => !d.archived)
        .map((d) => ({ id: String(d.id), canonicalId: d.properties.crm_sync_id || undefined, fields: hubspotFields(d.properties) })),
      pipedrive: (pipedrive.deals as Json[])
        .filter((d) => d.status !== 'deleted')
        .map((d) => ({ id: String(d.id), canonicalId: d.custom_fields[tenant.pipedriveIdField] || undefined, fields: pipedriveFields(d) })),
    },
  };
}

function same(field: Field, a: Value, b: Value): boolean {
  if (field === 'amount') return number(a) === number(b);
  return (a ?? null) === (b ?? null);
}

/** Fields compared between canonical and a CRM, given the canonical state. */
function comparable(field: Field, crm: Crm, state: Value): boolean {
  if (field === 'lostReason') return state === 'lost';
  if (field === 'stage' && crm === 'hubspot') return state === 'open';
  return true;
}

export function check(model: Model, snap: Snapshot): { problems: string[]; table: string[] } {
  const problems: string[] = [];
  const table: string[] = [];
  const accounted = new Set<string>();

  for (const opp of model.opps) {
    const id = opp.canonicalId ?? resolveBornIn(opp, snap);
    if (!id) {
      problems.push(`${opp.name}: the deal born in ${opp.origin} (${opp.remote[opp.origin as Crm].id}) never became a canonical opportunity`);
      continue;
    }
    opp.canonicalId = id;
    accounted.add(id);
    const row = snap.canonical.get(id);
    if (!row) {
      problems.push(`${opp.name} (${id}): no canonical row`);
      continue;
    }
    if (opp.tombstone) {
      if (!row.deleted_at) problems.push(`${opp.name}: deleted through the API, but live again`);
      for (const crm of CRMS) {
        const carrying = snap.deals[crm].filter((d) => d.canonicalId === id);
        if (carrying.length > 1) problems.push(`${opp.name} (deleted): ${carrying.length} ${crm} deals carry its id: ${carrying.map((d) => d.id).join(', ')}`);
      }
      table.push(`${opp.name} ${id} deleted through the API`);
      continue;
    }
    if (row.deleted_at) {
      problems.push(`${opp.name}: canonical opportunity deleted, though nobody deleted it through the API (delete policy is unlink)`);
      continue;
    }
    checkIdentity(opp, id, snap, problems);
    checkValues(model, opp, row, snap, problems, table);
  }

  for (const row of snap.canonical.values()) {
    if (!row.deleted_at && !accounted.has(row.id)) problems.push(`unexpected canonical opportunity ${row.id} "${row.title}": nothing the scenario did should have made it (a deal imported twice?)`);
  }
  for (const crm of CRMS) {
    const byRemote = new Map(snap.links[crm].map((l) => [l.remote_id, l]));
    for (const deal of snap.deals[crm]) {
      const link = byRemote.get(deal.id);
      if (!link) problems.push(`${crm} deal ${deal.id} "${deal.fields.title}" is linked to no opportunity (carries ${deal.canonicalId ?? 'no canonical id'})`);
      else if (deal.canonicalId !== link.opportunity_id) problems.push(`${crm} deal ${deal.id} is linked to ${link.opportunity_id} but carries ${deal.canonicalId ?? 'no canonical id'}`);
      else if (!accounted.has(link.opportunity_id)) problems.push(`${crm} deal ${deal.id} is linked to an opportunity the scenario does not know: ${link.opportunity_id}`);
    }
  }
  return { problems, table };
}

function resolveBornIn(opp: Opp, snap: Snapshot): string | undefined {
  if (opp.origin === 'api') return undefined;
  const remoteId = opp.remote[opp.origin].id;
  return snap.links[opp.origin].find((l) => l.remote_id === remoteId)?.opportunity_id;
}

function checkIdentity(opp: Opp, id: string, snap: Snapshot, problems: string[]) {
  for (const crm of CRMS) {
    const carrying = snap.deals[crm].filter((d) => d.canonicalId === id);
    const link = snap.links[crm].find((l) => l.opportunity_id === id);
    const gone = opp.remote[crm].gone;
    if (gone) {
      if (!link?.remote_deleted_at) problems.push(`${opp.name}: its ${crm} deal was ${gone.how} by a person (round ${gone.round}), but the link is ${link ? 'not marked deleted' : 'missing'}`);
      if (carrying.length) problems.push(`${opp.name}: its ${crm} deal was ${gone.how} by a person, yet live ${crm} deal(s) ${carrying.map((d) => d.id).join(', ')} carry its id`);
      continue;
    }
    if (carrying.length !== 1) problems.push(`${opp.name}: expected exactly one ${crm} deal carrying its id, found ${carrying.length}${carrying.length ? `: ${carrying.map((d) => d.id).join(', ')}` : ''}`);
    if (!link) problems.push(`${opp.name}: no ${crm} link`);
    else if (link.remote_deleted_at) problems.push(`${opp.name}: ${crm} link marked deleted (remote ${link.remote_id}), but nobody deleted or merged away its deal`);
    else if (carrying.length === 1 && link.remote_id !== carrying[0]!.id) problems.push(`${opp.name}: ${crm} link points at ${link.remote_id}, the deal carrying its id is ${carrying[0]!.id}`);
  }
}

function checkValues(model: Model, opp: Opp, row: CanonicalRow, snap: Snapshot, problems: string[], table: string[]) {
  const canonical = canonicalFields(row);
  const remote: Partial<Record<Crm, Fields>> = {};
  for (const crm of CRMS) {
    if (opp.remote[crm].gone) continue;
    const deal = snap.deals[crm].find((d) => d.canonicalId === row.id);
    if (deal) remote[crm] = deal.fields;
  }
  table.push(`${opp.name} ${row.id}`);
  for (const field of FIELDS) {
    const cells = [`canonical=${JSON.stringify(canonical[field])}`];
    for (const crm of CRMS) {
      const fields = remote[crm];
      if (!fields) continue;
      cells.push(`${crm}=${JSON.stringify(fields[field])}`);
      if (comparable(field, crm, canonical.state) && !same(field, canonical[field], fields[field])) {
        problems.push(`${opp.name} ${field}: canonical ${JSON.stringify(canonical[field])} but ${crm} ${JSON.stringify(fields[field])}`);
      }
    }
    const expected = model.expect(opp, field);
    if (field !== 'lostReason' || canonical.state === 'lost') {
      if (!expected.allowed.some((v) => same(field, v, canonical[field]))) {
        const history = opp.writes[field].map((w) => `r${w.round}#${w.op} ${w.side}=${JSON.stringify(w.value)}`).join(', ');
        problems.push(
          `${opp.name} ${field}: ended ${JSON.stringify(canonical[field])}, but the policy keeps ${expected.strict ? JSON.stringify(expected.allowed[0]) : `one of ${JSON.stringify(expected.allowed)}`} (${expected.why}; writes: ${history})`,
        );
      }
    }
    table.push(`  ${field.padEnd(10)} ${cells.join('  ')}  expected ${JSON.stringify(expected.allowed)}`);
  }
}
