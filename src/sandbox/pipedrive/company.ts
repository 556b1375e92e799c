import { createHash } from 'node:crypto';
import { badRequest, notFound } from './errors.ts';
import type { ChangeSource, Deal, DealField, DealStatus, Person, Pipeline, Stage, User, Webhook } from './model.ts';

export interface DealEvent {
  action: 'create' | 'change' | 'delete';
  current: Deal;
  previous: Partial<Deal> | null;
  source: ChangeSource;
  userId: number;
  /** On the delete of a deal merged into another: the surviving deal. */
  mergedToId?: number;
}

/** What a client may set on a deal, as the v2 API names it. */
export type DealInput = Partial<
  Pick<Deal, 'title' | 'owner_id' | 'value' | 'currency' | 'person_id' | 'org_id' | 'stage_id' | 'pipeline_id' | 'probability' | 'lost_reason' | 'expected_close_date' | 'status' | 'custom_fields'>
>;

const writable: (keyof DealInput)[] = ['title', 'owner_id', 'value', 'currency', 'person_id', 'org_id', 'stage_id', 'pipeline_id', 'probability', 'lost_reason', 'expected_close_date', 'status', 'custom_fields'];
const DELETED_RETENTION_MS = 30 * 24 * 3600 * 1000;

function defaultStages(): Stage[] {
  const names: [string, number][] = [['Qualified', 10], ['Contact Made', 20], ['Demo Scheduled', 40], ['Proposal Made', 60], ['Negotiations Started', 80]];
  return names.map(([name, deal_probability], i) => ({ id: i + 1, name, order_nr: i + 1, pipeline_id: 1, deal_probability }));
}

export class Company {
  readonly companyId: number;
  deals = new Map<number, Deal>();
  fields: DealField[] = [];
  stages: Stage[] = [];
  pipelines: Pipeline[] = [];
  persons = new Map<number, Person>();
  users: User[] = [];
  webhooks: Webhook[] = [];
  private nextIds = { deal: 1, person: 1, webhook: 1, option: 1 };
  private readonly seed: number;
  private readonly emit: (event: DealEvent) => void;

  constructor(companyId: number, seed: number, emit: (event: DealEvent) => void) {
    this.companyId = companyId;
    this.seed = seed;
    this.emit = emit;
    this.reset();
  }

  reset() {
    this.deals = new Map();
    this.fields = [];
    this.stages = defaultStages();
    this.pipelines = [{ id: 1, name: 'Pipeline', order_nr: 1 }];
    this.persons = new Map();
    this.users = [
      { id: 1, name: 'Ana Admin', email: 'ana@sandbox.example' },
      { id: 2, name: 'Ben Seller', email: 'ben@sandbox.example' },
    ];
    this.webhooks = [];
    this.nextIds = { deal: 1, person: 1, webhook: 1, option: 1 };
  }

  /** Custom field keys are 40-character hex hashes, derived here from the seed and the field number. */
  addField(field_name: string, field_type: string, options: { label: string }[] | undefined): DealField {
    const field_code = createHash('sha1').update(`${this.seed}:${this.fields.length}:${field_name}`).digest('hex');
    const field: DealField = {
      field_code,
      field_name,
      field_type,
      options: options ? options.map((o) => ({ id: this.nextIds.option++, label: o.label })) : null,
      is_custom_field: true,
    };
    this.fields.push(field);
    return field;
  }

  deal(id: number): Deal {
    const deal = this.deals.get(id);
    if (!deal || deal.deleted_time) throw notFound();
    return deal;
  }

  /** Deleted deals stay listable with status=deleted for 30 days, then are gone. */
  visibleDeals(now = Date.now()): Deal[] {
    return [...this.deals.values()].filter((d) => !d.deleted_time || now - d.deleted_time.getTime() < DELETED_RETENTION_MS);
  }

  createDeal(input: DealInput, source: ChangeSource, userId = 1, now = new Date()): Deal {
    if (!input.title) throw badRequest('Title is required');
    this.check(input);
    const stage = this.stages.find((s) => s.id === (input.stage_id ?? this.stages[0]!.id))!;
    const deal: Deal = {
      id: this.nextIds.deal++,
      title: input.title,
      creator_user_id: userId,
      owner_id: input.owner_id ?? userId,
      value: input.value ?? 0,
      currency: input.currency ?? 'EUR',
      person_id: input.person_id ?? null,
      org_id: input.org_id ?? null,
      stage_id: stage.id,
      pipeline_id: stage.pipeline_id,
      probability: input.probability ?? null,
      lost_reason: null,
      expected_close_date: input.expected_close_date ?? null,
      status: 'open',
      add_time: now,
      update_time: now,
      stage_change_time: null,
      won_time: null,
      lost_time: null,
      close_time: null,
      deleted_time: null,
      custom_fields: Object.fromEntries(this.fields.map((f) => [f.field_code, null])),
    };
    Object.assign(deal.custom_fields, input.custom_fields);
    this.applyStatus(deal, input.status ?? 'open', input.lost_reason ?? null, now);
    this.deals.set(deal.id, deal);
    this.emit({ action: 'create', current: structuredClone(deal), previous: null, source, userId });
    return deal;
  }

  updateDeal(id: number, input: DealInput, source: ChangeSource, userId = 1, now = new Date()): Deal {
    const deal = this.deal(id);
    this.check(input);
    const before = structuredClone(deal);
    const { status, custom_fields, lost_reason, ...plain } = input;
    Object.assign(deal, plain);
    if (custom_fields) Object.assign(deal.custom_fields, custom_fields);
    if (input.stage_id !== undefined && input.stage_id !== before.stage_id) {
      deal.pipeline_id = this.stages.find((s) => s.id === input.stage_id)!.pipeline_id;
      deal.stage_change_time = now;
    }
    if (status !== undefined || lost_reason !== undefined) this.applyStatus(deal, status ?? deal.status, lost_reason ?? deal.lost_reason, now);
    const previous = this.changedFields(before, deal);
    if (!previous) return deal;
    deal.update_time = now;
    this.emit({ action: 'change', current: structuredClone(deal), previous, source, userId });
    return deal;
  }

  deleteDeal(id: number, source: ChangeSource, userId = 1, now = new Date(), mergedToId?: number): Deal {
    const deal = this.deal(id);
    const before = structuredClone(deal);
    deal.deleted_time = now;
    deal.update_time = now;
    this.emit({ action: 'delete', current: structuredClone(deal), previous: before, source, userId, mergedToId });
    return deal;
  }

  /**
   * Merges deal `id` into `intoId`: the survivor keeps its values and takes the other's where it has
   * none. Webhooks v2 report it as a delete (with meta.merged_to_id) and a change, not as a merge.
   */
  mergeDeals(id: number, intoId: number, source: ChangeSource, userId = 1, now = new Date()): Deal {
    const merged = this.deal(id);
    const survivor = this.deal(intoId);
    if (merged.id === survivor.id) throw badRequest('A deal cannot be merged with itself');
    const fill: DealInput = {};
    if (survivor.person_id === null && merged.person_id !== null) fill.person_id = merged.person_id;
    const custom = Object.fromEntries(Object.entries(merged.custom_fields).filter(([k, v]) => v !== null && survivor.custom_fields[k] === null));
    if (Object.keys(custom).length) fill.custom_fields = custom;
    this.deleteDeal(id, source, userId, now, intoId);
    return this.updateDeal(intoId, fill, source, userId, now);
  }

  /** Won and lost times and the close time follow status, as the real API keeps them. */
  private applyStatus(deal: Deal, status: DealStatus, lostReason: string | null, now: Date) {
    if (status === deal.status) {
      if (status === 'lost') deal.lost_reason = lostReason;
      return;
    }
    deal.status = status;
    deal.won_time = status === 'won' ? now : null;
    deal.lost_time = status === 'lost' ? now : null;
    deal.close_time = status === 'open' ? null : now;
    deal.lost_reason = status === 'lost' ? lostReason : null;
  }

  private changedFields(before: Deal, after: Deal): Partial<Deal> | null {
    const previous: Record<string, unknown> = {};
    for (const key of Object.keys(after) as (keyof Deal)[]) {
      if (key === 'update_time') continue;
      if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) previous[key] = before[key];
    }
    return Object.keys(previous).length ? (previous as Partial<Deal>) : null;
  }

  private check(input: DealInput) {
    for (const key of Object.keys(input)) {
      if (!writable.includes(key as keyof DealInput)) throw badRequest(`Unknown field: ${key}`);
    }
    if (input.stage_id !== undefined && !this.stages.some((s) => s.id === input.stage_id)) throw badRequest('Stage not found');
    if (input.owner_id !== undefined && !this.users.some((u) => u.id === input.owner_id)) throw badRequest('Owner not found');
    if (input.status !== undefined && !['open', 'won', 'lost'].includes(input.status)) throw badRequest('Invalid status');
    if (input.person_id && !this.persons.has(input.person_id)) throw badRequest('Person not found');
    for (const key of Object.keys(input.custom_fields ?? {})) {
      if (!this.fields.some((f) => f.field_code === key)) throw badRequest(`Unknown custom field: ${key}`);
    }
  }

  addPerson(name: string, email: string | undefined, now = new Date()): Person {
    const person: Person = {
      id: this.nextIds.person++,
      name,
      owner_id: 1,
      emails: email ? [{ value: email, primary: true, label: 'work' }] : [],
      add_time: now,
      update_time: now,
    };
    this.persons.set(person.id, person);
    return person;
  }

  addWebhook(input: Omit<Webhook, 'id' | 'add_time' | 'failedFirstAttempts' | 'bannedUntil' | 'last_http_status' | 'last_delivery_time'>): Webhook {
    const webhook: Webhook = { ...input, id: this.nextIds.webhook++, add_time: new Date(), failedFirstAttempts: 0, bannedUntil: 0, last_http_status: null, last_delivery_time: null };
    this.webhooks.push(webhook);
    return webhook;
  }
}
