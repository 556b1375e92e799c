import { CRMS, type Crm, type Model, type Opp, type Value, type Values } from './model.ts';
import type { Rng } from './random.ts';
import { STAGES } from './tenant.ts';

/**
 * The operations a scenario is made of, chosen from the model's view of the world (which
 * opportunities exist, where their deals still are). Choices depend only on the seed and on the
 * operations before, so a seed replays the same story; whether an operation can run is decided
 * when it runs (a deal must have reached the CRM before a person there can edit it).
 */
export type Operation =
  | { kind: 'create'; side: 'api' | Crm; values: Required<Pick<Values, 'title' | 'amount' | 'stage' | 'closeDate'>> }
  | { kind: 'edit'; side: 'api' | Crm; opp: Opp; values: Values }
  | { kind: 'stage'; side: Crm; opp: Opp; stage: string }
  | { kind: 'won'; side: 'api' | Crm; opp: Opp }
  | { kind: 'lost'; side: 'api' | Crm; opp: Opp; reason: string }
  | { kind: 'reopen'; side: 'api' | 'pipedrive'; opp: Opp }
  | { kind: 'delete'; side: 'api' | Crm; opp: Opp }
  | { kind: 'merge'; side: Crm; keep: Opp; away: Opp };

export interface FaultPlan {
  crm: Crm;
  faults: { fail429?: number; fail5xx?: number; dropWebhooks?: number; duplicateWebhooks?: number; delayWebhooksMs?: number; reorderWebhooks?: boolean; latencyMs?: number };
}

export interface GeneratorOptions {
  /** Dropped webhooks lose events for good until a reconciliation pass: only with one. */
  drops: boolean;
}

const MAX_LIVE = 6;

export class Generator {
  private counter = 0;
  /** 429s a seed may still inject per CRM (each holds that connection back for its window). */
  private rateLimits: Record<Crm, number> = { hubspot: 1, pipedrive: 2 };
  private readonly rng: Rng;
  private readonly model: Model;
  private readonly seed: number;
  private readonly options: GeneratorOptions;

  constructor(seed: number, rng: Rng, model: Model, options: GeneratorOptions) {
    this.seed = seed;
    this.rng = rng;
    this.model = model;
    this.options = options;
  }

  private next() {
    return ++this.counter;
  }

  title = () => `S${this.seed} title ${this.next()}`;
  amount = () => String(this.rng.int(1, 99) * 100 + this.next());
  closeDate = () => {
    const day = 1 + (this.next() % 28);
    return `2027-${String(this.rng.int(1, 12)).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  };
  stage = () => this.rng.pick(STAGES).key as string;
  reason = () => `reason ${this.next()}`;

  createValues() {
    return { title: this.title(), amount: this.amount(), stage: this.stage(), closeDate: this.closeDate() };
  }

  /** Faults for the next round, on each CRM independently. */
  faults(): FaultPlan[] {
    const rng = this.rng;
    return CRMS.flatMap((crm) => {
      if (!rng.chance(0.5)) return [];
      const faults: FaultPlan['faults'] = {};
      if (rng.chance(0.4)) faults.duplicateWebhooks = rng.int(1, 3);
      if (rng.chance(0.3)) faults.delayWebhooksMs = rng.pick([100, 300, 700]);
      if (rng.chance(0.3)) faults.reorderWebhooks = true;
      if (rng.chance(0.2)) faults.fail5xx = rng.int(1, 2);
      // A 429 holds the connection back for its window: 2 s at Pipedrive, HubSpot's ten-second
      // window 10 s. Rarer there, to keep CI short.
      if (rng.chance(crm === 'hubspot' ? 0.03 : 0.1) && this.rateLimits[crm]-- > 0) faults.fail429 = 1;
      if (rng.chance(0.15)) faults.latencyMs = rng.int(5, 40);
      if (this.options.drops && rng.chance(0.3)) faults.dropWebhooks = rng.int(1, 2);
      return Object.keys(faults).length ? [{ crm, faults }] : [];
    });
  }

  /** One operation, given the round's "hot" opportunity (operations gather on it to make conflicts). */
  operation(hot: Opp | undefined): Operation {
    const live = this.model.live();
    const canCreate = live.length < MAX_LIVE;
    if (live.length < 2) return { kind: 'create', side: this.rng.pick(['api', 'api', 'hubspot', 'pipedrive'] as const), values: this.createValues() };
    const target = (candidates: Opp[]) => (hot && candidates.includes(hot) && this.rng.chance(0.6) ? hot : this.rng.pick(candidates));
    const inCrm = (crm: Crm) => live.filter((o) => this.model.expectedIn(o, crm));
    const tombstoned = this.model.opps.filter((o) => o.tombstone);
    const closed = (o: Opp) => this.model.latest(o, 'state') !== 'open';

    type Choice = () => Operation;
    const choices: [Choice, number][] = [
      [() => ({ kind: 'create', side: 'api', values: this.createValues() }), canCreate ? 0.8 : 0],
      [() => ({ kind: 'edit', side: 'api', opp: target(live), values: this.editValues(true) }), 4],
      [() => ({ kind: 'won', side: 'api', opp: target(live) }), 0.8],
      [() => ({ kind: 'lost', side: 'api', opp: target(live), reason: this.reason() }), 0.8],
      [() => ({ kind: 'reopen', side: 'api', opp: target(live.filter(closed)) }), live.some(closed) ? 1 : 0],
      [() => ({ kind: 'delete', side: 'api', opp: target(live) }), 0.25],
    ];
    for (const crm of CRMS) {
      const deals = inCrm(crm);
      const has = deals.length > 0 ? 1 : 0;
      choices.push(
        [() => ({ kind: 'create', side: crm, values: this.createValues() }), canCreate ? 0.6 : 0],
        [() => ({ kind: 'edit', side: crm, opp: target(deals), values: this.editValues(false) }), 3 * has],
        [() => ({ kind: 'stage', side: crm, opp: target(deals), stage: this.stage() }), 1.5 * has],
        [() => ({ kind: 'won', side: crm, opp: target(deals) }), 0.8 * has],
        [() => ({ kind: 'lost', side: crm, opp: target(deals), reason: this.reason() }), 0.8 * has],
        [() => ({ kind: 'delete', side: crm, opp: target(deals) }), 0.3 * has],
        [() => this.merge(crm, deals, target), deals.length >= 2 ? 0.35 : 0],
        // A person editing the deal of an opportunity deleted through the API: must change nothing.
        [() => ({ kind: 'edit', side: crm, opp: this.rng.pick(tombstoned.filter((o) => !o.remote[crm].gone)), values: this.editValues(false) }), tombstoned.some((o) => !o.remote[crm].gone) ? 0.3 : 0],
      );
    }
    const pipedriveClosed = inCrm('pipedrive').filter(closed);
    choices.push([() => ({ kind: 'reopen', side: 'pipedrive', opp: target(pipedriveClosed) }), pipedriveClosed.length ? 0.6 : 0]);
    return this.rng.weighted(choices)!();
  }

  private merge(crm: Crm, deals: Opp[], target: (c: Opp[]) => Opp): Operation {
    const keep = target(deals);
    const away = this.rng.pick(deals.filter((o) => o !== keep));
    return { kind: 'merge', side: crm, keep, away };
  }

  /** Some of the fields both CRMs map; the API can also move the stage in the same patch. */
  private editValues(api: boolean): Values {
    const values: Record<string, Value> = {};
    const fields: [string, () => Value][] = [
      ['title', this.title],
      ['amount', this.amount],
      ['closeDate', this.closeDate],
      ...(api ? ([['stage', this.stage]] as [string, () => Value][]) : []),
    ];
    for (const [field, make] of fields) if (this.rng.chance(0.45)) values[field] = make();
    if (Object.keys(values).length === 0) {
      const [field, make] = this.rng.pick(fields);
      values[field] = make();
    }
    return values;
  }
}

export function describe(op: Operation): string {
  const who = op.side === 'api' ? 'API' : op.side === 'hubspot' ? 'HubSpot person' : 'Pipedrive person';
  switch (op.kind) {
    case 'create':
      return `${who}: create ${JSON.stringify(op.values)}`;
    case 'edit':
      return `${who}: edit ${op.opp.name} ${JSON.stringify(op.values)}`;
    case 'stage':
      return `${who}: move ${op.opp.name} to stage ${op.stage}`;
    case 'won':
      return `${who}: mark ${op.opp.name} won`;
    case 'lost':
      return `${who}: mark ${op.opp.name} lost (${op.reason})`;
    case 'reopen':
      return `${who}: reopen ${op.opp.name}`;
    case 'delete':
      return `${who}: delete ${op.opp.name}`;
    case 'merge':
      return `${who}: merge ${op.away.name} into ${op.keep.name}`;
  }
}
