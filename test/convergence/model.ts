/**
 * What the scenario did, kept as the oracle's record: for every opportunity, each value written to
 * each synced field, by which side, in which round; which CRM deals a person deleted or merged away;
 * which opportunities were deleted through the API.
 *
 * Rounds are the unit of time the oracle reasons in. The operations of one round are issued a few
 * milliseconds apart, so the sync sees them as concurrent; between rounds the harness waits until
 * the whole system is quiet (nothing queued, nothing dirty, no webhook on its way). A round whose
 * quiet wait timed out is merged with the next one ("epoch"), so the oracle never assumes an order
 * it did not observe.
 */

export type Side = 'api' | 'hubspot' | 'pipedrive';
export type Crm = 'hubspot' | 'pipedrive';
export const CRMS: readonly Crm[] = ['hubspot', 'pipedrive'];

/** The canonical fields the oracle follows (mapped in both CRMs: see checker.ts for how). */
export const FIELDS = ['title', 'amount', 'closeDate', 'stage', 'state', 'lostReason'] as const;
export type Field = (typeof FIELDS)[number];
export type Value = string | null;
export type Values = Partial<Record<Field, Value>>;

/** HubSpot keeps state and stage in one property (dealstage): writes to either race as one. */
const DEALSTAGE_GROUP: readonly Field[] = ['state', 'stage', 'lostReason'];

export interface Write {
  round: number;
  op: number;
  side: Side;
  value: Value;
}

export interface RemoteDeal {
  /** The deal's id in that CRM once known (born there, or found by our canonical id). */
  id?: string;
  /** A person deleted it, or merged it into another deal: with `unlink`, no longer expected there. */
  gone?: { how: 'deleted' | 'merged'; round: number; op: number };
}

export interface Opp {
  name: string;
  origin: Side;
  bornRound: number;
  canonicalId?: string;
  remote: Record<Crm, RemoteDeal>;
  /** Deleted through the API: a tombstone that must stay deleted. */
  tombstone?: { round: number; op: number };
  writes: Record<Field, Write[]>;
  /** Fields some operation may have changed in ways the model does not track (reported as such). */
  loose: Map<Field, string>;
}

export interface Expectation {
  /** Values the field may end with. */
  allowed: Value[];
  /** True when exactly one value is allowed. */
  strict: boolean;
  /** Why the allowed set is what it is, for the failure report. */
  why: string;
}

export class Model {
  opps: Opp[] = [];
  /** Rounds whose start was not observed quiet: they belong to the previous round's epoch. */
  private unsettled = new Set<number>();
  /** Rounds in which a CRM may have dropped webhooks (a drop count was set and not yet used up). */
  private drops: Record<Crm, Set<number>> = { hubspot: new Set(), pipedrive: new Set() };

  add(origin: Side, round: number, op: number, values: Values, remote: Partial<Record<Crm, string>> = {}): Opp {
    const opp: Opp = {
      name: `o${this.opps.length + 1}`,
      origin,
      bornRound: round,
      remote: { hubspot: { id: remote.hubspot }, pipedrive: { id: remote.pipedrive } },
      writes: Object.fromEntries(FIELDS.map((f) => [f, []])) as unknown as Record<Field, Write[]>,
      loose: new Map(),
    };
    this.opps.push(opp);
    this.write(opp, round, op, origin, { state: 'open', lostReason: null, ...values });
    return opp;
  }

  write(opp: Opp, round: number, op: number, side: Side, values: Values) {
    for (const [field, value] of Object.entries(values) as [Field, Value][]) opp.writes[field].push({ round, op, side, value });
  }

  markUnsettled(round: number) {
    this.unsettled.add(round);
  }

  markDrops(crm: Crm, round: number) {
    this.drops[crm].add(round);
  }

  /** Whether any round of the seed set a CRM to drop webhooks (only reconciliation repairs those). */
  droppedWebhooks(): boolean {
    return CRMS.some((crm) => this.drops[crm].size > 0);
  }

  private mayDrop(crm: Crm, epoch: number): boolean {
    return [...this.drops[crm]].some((r) => this.epochOf(r) === epoch);
  }

  epochOf(round: number): number {
    let r = round;
    while (r > 0 && this.unsettled.has(r)) r--;
    return r;
  }

  /** The last value each field was given, in issue order: what a generator treats as "now". */
  latest(opp: Opp, field: Field): Value {
    return opp.writes[field].at(-1)?.value ?? null;
  }

  live(): Opp[] {
    return this.opps.filter((o) => !o.tombstone);
  }

  expectedIn(opp: Opp, crm: Crm): boolean {
    return !opp.tombstone && !opp.remote[crm].gone;
  }

  /**
   * The values a field may end with under the `newest` policy, epoch by epoch:
   * - an epoch in which one side wrote the field: that side's last value, and nothing else;
   * - an epoch in which several sides wrote it: any of their values (truly concurrent writes; which
   *   one is newest depends on deal versions the harness does not observe exactly);
   * - a write a person made to a deal they deleted or merged away in the same epoch may be lost
   *   (the deal is gone before the sync reads it): the values before it stay allowed;
   * - HubSpot holds state and stage in one property and shows no stage while closed: when a HubSpot
   *   person's dealstage change meets another state/stage change in the same epoch, whichever was
   *   written last in HubSpot wins there, so the values before the epoch stay allowed too.
   */
  expect(opp: Opp, field: Field): Expectation {
    const epochs = new Map<number, Write[]>();
    for (const w of opp.writes[field]) {
      const e = this.epochOf(w.round);
      epochs.set(e, [...(epochs.get(e) ?? []), w]);
    }
    let allowed: Value[] = [];
    const reasons: string[] = [];
    for (const epoch of [...new Set([...epochs.keys(), ...this.groupEpochs(opp)])].sort((a, b) => a - b)) {
      const writes = epochs.get(epoch) ?? [];
      const sides = new Set(writes.map((w) => w.side));
      const race = DEALSTAGE_GROUP.includes(field) && this.hubspotStageRace(opp, epoch);
      const fragile = writes.some((w) => this.lostWithDeal(opp, w) || (field === 'stage' && this.stageHiddenByClose(opp, w)));
      let next: Value[];
      if (writes.length === 0) next = allowed;
      else if (sides.size === 1) next = [writes.at(-1)!.value];
      else next = writes.map((w) => w.value);
      if ((race || fragile) && writes.length > 0) next = [...next, ...allowed];
      if (sides.size > 1) reasons.push(`round ${epoch}: concurrent writes by ${[...sides].join(' and ')}`);
      if (race) reasons.push(`round ${epoch}: HubSpot dealstage race`);
      if (fragile) reasons.push(`round ${epoch}: a person's write the sync may never have seen (deal gone, or webhook dropped and the stage hidden by a close)`);
      allowed = [...new Set(next)];
    }
    const loose = opp.loose.get(field);
    if (loose) {
      reasons.push(loose);
      allowed = [...new Set([...allowed, ...opp.writes[field].map((w) => w.value)])];
    }
    const last = opp.writes[field].at(-1);
    const why = reasons.length ? reasons.join('; ') : last ? `last written by ${last.side} in round ${this.epochOf(last.round)}` : 'never written';
    return { allowed, strict: allowed.length === 1, why };
  }

  private groupEpochs(opp: Opp): number[] {
    return DEALSTAGE_GROUP.flatMap((f) => opp.writes[f].map((w) => this.epochOf(w.round)));
  }

  /** Two or more operations changed state/stage in this epoch, one of them a HubSpot person's. */
  private hubspotStageRace(opp: Opp, epoch: number): boolean {
    const ops = new Map<number, Side>();
    for (const f of DEALSTAGE_GROUP) for (const w of opp.writes[f]) if (this.epochOf(w.round) === epoch) ops.set(w.op, w.side);
    return ops.size >= 2 && [...ops.values()].includes('hubspot');
  }

  /**
   * A person's write to a deal that is then deleted or merged away before the sync read it: in the
   * same epoch, or later when that CRM may have dropped the write's webhook (the deal is gone before
   * reconciliation, which unlinks it without reading what it last held).
   */
  private lostWithDeal(opp: Opp, write: Write): boolean {
    if (write.side === 'api') return false;
    const gone = opp.remote[write.side].gone;
    if (!gone || gone.op < write.op) return false;
    const epoch = this.epochOf(write.round);
    return this.epochOf(gone.round) === epoch || this.mayDrop(write.side, epoch);
  }

  /**
   * A HubSpot person's stage move whose webhook may have been dropped, followed by a close (from
   * any side): HubSpot then shows a closed stage, and no later read can see the stage moved to.
   */
  private stageHiddenByClose(opp: Opp, write: Write): boolean {
    if (write.side !== 'hubspot' || !this.mayDrop('hubspot', this.epochOf(write.round))) return false;
    return opp.writes.state.some((s) => s.op > write.op && s.value !== 'open');
  }
}
