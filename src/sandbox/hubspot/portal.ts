import { defaultDealProperties, defaultOwners, defaultPipelines } from './defaults.ts';
import { HubSpotError, invalidProperty, notFound } from './errors.ts';
import type { ChangeSource, Contact, Deal, Owner, Pipeline, PropertyDefinition, Stage } from './model.ts';

export type DealEventType = 'deal.creation' | 'deal.propertyChange' | 'deal.deletion' | 'deal.restore' | 'deal.merge' | 'deal.associationChange';

export interface PortalEvent {
  subscriptionType: DealEventType;
  objectId: number;
  occurredAt: number;
  source: ChangeSource;
  propertyName?: string;
  propertyValue?: string;
  merge?: { primaryObjectId: number; mergedObjectIds: number[]; newObjectId: number; numberOfPropertiesMoved: number };
  association?: { fromObjectId: number; toObjectId: number; associationRemoved: boolean };
}

/** Deal-to-contact, HubSpot-defined (type 3), as the v4 associations API labels it. */
export const DEAL_TO_CONTACT = { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 3 } as const;

/** Properties HubSpot computes: a write to them is refused. */
const computed = new Set(['hs_object_id', 'createdate', 'hs_lastmodifieddate', 'hs_is_closed', 'hs_is_closed_won', 'hs_deal_stage_probability', 'hs_closed_won_date']);

export class Portal {
  readonly portalId: number;
  deals = new Map<string, Deal>();
  contacts = new Map<string, Contact>();
  /** Deal id → the ids of its associated contacts. */
  associations = new Map<string, Set<string>>();
  properties = new Map<string, PropertyDefinition>();
  pipelines: Pipeline[] = defaultPipelines();
  owners: Owner[] = defaultOwners();
  private nextId = 10_000_000_001;
  private readonly emit: (event: PortalEvent) => void;

  constructor(portalId: number, emit: (event: PortalEvent) => void) {
    this.portalId = portalId;
    this.emit = emit;
    this.reset();
  }

  /** Back to a new portal: no deals, the standard properties, pipelines and owners. */
  reset() {
    this.deals = new Map();
    this.contacts = new Map();
    this.associations = new Map();
    this.properties = new Map(defaultDealProperties().map((definition) => [definition.name, definition]));
    this.pipelines = defaultPipelines();
    this.owners = defaultOwners();
    this.nextId = 10_000_000_001;
  }

  /** A live or archived deal by id, following merges to the surviving deal. */
  resolve(id: string): Deal | undefined {
    let deal = this.deals.get(id);
    while (deal?.mergedInto) deal = this.deals.get(deal.mergedInto);
    return deal;
  }

  live(id: string): Deal {
    const deal = this.resolve(id);
    if (!deal || deal.archived) throw notFound(id);
    return deal;
  }

  /** Finds a live deal by a unique property's value (idProperty reads and upserts). */
  byUniqueProperty(name: string, value: string): Deal | undefined {
    for (const deal of this.deals.values()) {
      if (!deal.archived && !deal.mergedInto && deal.properties[name] === value) return deal;
    }
    return undefined;
  }

  assertUniqueProperty(name: string) {
    const definition = this.properties.get(name);
    if (!definition) throw new HubSpotError(400, 'VALIDATION_ERROR', `Property ${name} does not exist`);
    if (!definition.hasUniqueValue) {
      throw new HubSpotError(400, 'VALIDATION_ERROR', `${name} is not a unique identifier property; idProperty needs hasUniqueValue`);
    }
  }

  stage(stageId: string): { pipeline: Pipeline; stage: Stage } | undefined {
    for (const pipeline of this.pipelines) {
      const stage = pipeline.stages.find((s) => s.id === stageId);
      if (stage) return { pipeline, stage };
    }
    return undefined;
  }

  createDeal(input: Record<string, string | null>, source: ChangeSource, now = new Date()): Deal {
    const values = this.validate(input, undefined);
    const id = String(this.nextId++);
    const deal: Deal = { id, properties: {}, history: {}, createdAt: now, updatedAt: now, archived: false };
    const first = this.pipelines[0]!;
    const initial = { pipeline: first.id, dealstage: first.stages[0]!.id, ...values };
    this.write(deal, { ...initial, hs_object_id: id, createdate: now.toISOString() }, source, now);
    this.deals.set(id, deal);
    this.emit({ subscriptionType: 'deal.creation', objectId: Number(id), occurredAt: now.getTime(), source });
    return deal;
  }

  updateDeal(id: string, input: Record<string, string | null>, source: ChangeSource, now = new Date()): Deal {
    const deal = this.live(id);
    const changed = this.write(deal, this.validate(input, deal), source, now);
    for (const name of changed) {
      this.emit({
        subscriptionType: 'deal.propertyChange',
        objectId: Number(deal.id),
        occurredAt: now.getTime(),
        source,
        propertyName: name,
        propertyValue: deal.properties[name] ?? '',
      });
    }
    return deal;
  }

  archiveDeal(id: string, source: ChangeSource, now = new Date()) {
    const deal = this.resolve(id);
    if (!deal || deal.archived) return; // archiving is idempotent: 204 either way, like the real API
    deal.archived = true;
    deal.archivedAt = now;
    this.emit({ subscriptionType: 'deal.deletion', objectId: Number(deal.id), occurredAt: now.getTime(), source });
  }

  restoreDeal(id: string, source: ChangeSource, now = new Date()): Deal {
    const deal = this.resolve(id);
    if (!deal || !deal.archived) throw notFound(id);
    deal.archived = false;
    delete deal.archivedAt;
    this.touch(deal, now);
    this.emit({ subscriptionType: 'deal.restore', objectId: Number(deal.id), occurredAt: now.getTime(), source });
    return deal;
  }

  /**
   * Merges `mergeId` into `primaryId`. HubSpot keeps the primary's values, fills its empty
   * properties from the other deal, and gives the result a new id; both old ids resolve to it.
   */
  mergeDeals(primaryId: string, mergeId: string, source: ChangeSource, now = new Date()): Deal {
    const primary = this.live(primaryId);
    const merged = this.live(mergeId);
    if (primary.id === merged.id) throw new HubSpotError(400, 'VALIDATION_ERROR', 'Cannot merge an object with itself');
    const id = String(this.nextId++);
    // Like HubSpot, the survivor lists every id merged into it, earlier merges included, `;`-separated.
    const mergedIds = [primary, merged].flatMap((d) => [...(d.properties.hs_merged_object_ids?.split(';') ?? []), d.id]);
    const properties = { ...merged.properties, ...primary.properties, hs_object_id: id, hs_merged_object_ids: mergedIds.join(';') };
    const moved = Object.keys(merged.properties).filter((name) => !(name in primary.properties)).length;
    const survivor: Deal = { id, properties, history: { ...merged.history, ...primary.history }, createdAt: primary.createdAt, updatedAt: now, archived: false };
    this.touch(survivor, now);
    this.deals.set(id, survivor);
    primary.mergedInto = id;
    merged.mergedInto = id;
    this.emit({
      subscriptionType: 'deal.merge',
      objectId: Number(id),
      occurredAt: now.getTime(),
      source,
      merge: { primaryObjectId: Number(primary.id), mergedObjectIds: [Number(merged.id)], newObjectId: Number(id), numberOfPropertiesMoved: moved },
    });
    return survivor;
  }

  createContact(properties: Record<string, string>, now = new Date()): Contact {
    const email = properties.email?.toLowerCase();
    if (email && this.contactByEmail(email)) {
      throw new HubSpotError(409, 'CONFLICT', `Contact already exists. Existing ID: ${this.contactByEmail(email)!.id}`);
    }
    const id = String(this.nextId++);
    const contact: Contact = {
      id,
      properties: { ...properties, ...(email ? { email } : {}), hs_object_id: id, createdate: now.toISOString(), lastmodifieddate: now.toISOString() },
      history: {},
      createdAt: now,
      updatedAt: now,
      archived: false,
    };
    this.contacts.set(id, contact);
    return contact;
  }

  contactByEmail(email: string): Contact | undefined {
    return [...this.contacts.values()].find((c) => !c.archived && c.properties.email === email.toLowerCase());
  }

  contact(id: string): Contact {
    const contact = this.contacts.get(id);
    if (!contact || contact.archived) throw notFound(id);
    return contact;
  }

  /** Associates or dissociates a deal and a contact; a change fires deal.associationChange. */
  setAssociation(dealId: string, contactId: string, associated: boolean, source: ChangeSource, now = new Date()) {
    const deal = this.live(dealId);
    this.contact(contactId);
    const set = this.associations.get(deal.id) ?? new Set<string>();
    this.associations.set(deal.id, set);
    if (set.has(contactId) === associated) return;
    if (associated) set.add(contactId);
    else set.delete(contactId);
    this.emit({
      subscriptionType: 'deal.associationChange',
      objectId: Number(deal.id),
      occurredAt: now.getTime(),
      source,
      association: { fromObjectId: Number(deal.id), toObjectId: Number(contactId), associationRemoved: !associated },
    });
  }

  private touch(deal: Deal, now: Date) {
    deal.updatedAt = now;
    deal.properties.hs_lastmodifieddate = now.toISOString();
  }

  /** Applies values, records history, recomputes stage-derived properties; returns the changed names. */
  private write(deal: Deal, values: Record<string, string>, source: ChangeSource, now: Date): string[] {
    const next = { ...deal.properties };
    for (const [name, value] of Object.entries(values)) {
      if (value === '') delete next[name];
      else next[name] = value;
    }
    Object.assign(next, this.stageDerived(deal.properties, next, now));
    const changed = [...new Set([...Object.keys(next), ...Object.keys(deal.properties)])].filter(
      (name) => next[name] !== deal.properties[name],
    );
    if (changed.length === 0) return [];
    for (const name of changed) {
      const entry = { value: next[name] ?? '', timestamp: now.toISOString(), sourceType: source.sourceType, sourceId: source.sourceId };
      deal.history[name] = [entry, ...(deal.history[name] ?? [])];
    }
    deal.properties = next;
    this.touch(deal, now);
    return changed;
  }

  /** Probability, closed flags and close dates follow the stage, as HubSpot computes them. */
  private stageDerived(before: Record<string, string>, after: Record<string, string>, now: Date) {
    const found = this.stage(after.dealstage ?? '');
    if (!found) return {};
    const won = found.stage.isClosed && found.stage.probability === 1;
    const movedToWon = won && before.dealstage !== after.dealstage;
    const derived: Record<string, string> = {
      hs_deal_stage_probability: String(found.stage.probability),
      hs_is_closed: String(found.stage.isClosed),
      hs_is_closed_won: String(won),
    };
    if (movedToWon) derived.hs_closed_won_date = now.toISOString();
    if (found.stage.isClosed && !after.closedate) derived.closedate = now.toISOString();
    return derived;
  }

  /** Checks each value against its property definition; returns them normalised as HubSpot stores them. */
  validate(input: Record<string, string | null>, existing: Deal | undefined): Record<string, string> {
    const values: Record<string, string> = {};
    for (const [name, raw] of Object.entries(input)) {
      const definition = this.properties.get(name);
      if (!definition) throw invalidProperty(name, `Property "${name}" does not exist`, 'PROPERTY_DOESNT_EXIST');
      if (computed.has(name)) throw invalidProperty(name, `"${name}" is a read only property; its value cannot be set.`, 'READ_ONLY_VALUE');
      const value = raw === null ? '' : String(raw);
      values[name] = value === '' ? '' : this.normalise(definition, value);
      if (definition.hasUniqueValue && value !== '') {
        const holder = this.byUniqueProperty(name, value);
        if (holder && holder.id !== existing?.id) {
          throw new HubSpotError(409, 'CONFLICT', `A deal with ${name}=${value} already exists`, { context: { id: [holder.id] } });
        }
      }
    }
    const stage = values.dealstage;
    if (stage && !this.stage(stage)) throw invalidProperty('dealstage', `${stage} was not one of the allowed options`);
    const owner = values.hubspot_owner_id;
    if (owner && !this.owners.some((o) => o.id === owner)) throw invalidProperty('hubspot_owner_id', `${owner} is not a valid owner id`);
    return values;
  }

  private normalise(definition: PropertyDefinition, value: string): string {
    switch (definition.type) {
      case 'number':
        if (!/^-?\d+(\.\d+)?$/.test(value.trim())) throw invalidProperty(definition.name, `${value} was not a valid number.`, 'INVALID_LONG');
        return value.trim();
      case 'datetime':
      case 'date': {
        const time = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
        if (Number.isNaN(time)) throw invalidProperty(definition.name, `${value} was not a valid date`, 'INVALID_DATE');
        return new Date(time).toISOString();
      }
      case 'bool':
        if (!['true', 'false'].includes(value)) throw invalidProperty(definition.name, `${value} was not a valid boolean`, 'INVALID_BOOLEAN');
        return value;
      case 'enumeration':
        if (definition.options.length && !definition.options.some((o) => o.value === value)) {
          throw invalidProperty(definition.name, `${value} was not one of the allowed options`);
        }
        return value;
      case 'string':
        return value;
    }
  }
}
