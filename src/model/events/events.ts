import { sql } from 'drizzle-orm';
import type { Executor } from '../store/db.ts';
import type { OpportunityView } from '../opportunities/opportunity-schema.ts';
import type { EventType } from '../store/schema.ts';

/**
 * Outbound events (DESIGN.md §5): what a canonical change means to a workflow, written to the
 * delivery outbox in the transaction of the change, so an event exists exactly when its change
 * committed. Every path that writes an opportunity (API, CRM sync, bulk deletes) calls this with
 * the opportunity before and after: null before is a create, null after a delete.
 */
export interface OpportunityChange {
  before: OpportunityView | null;
  after: OpportunityView | null;
}

export interface FieldChange {
  before: unknown;
  after: unknown;
}
export type FieldChanges = Record<string, FieldChange>;

export interface OpportunityEvent {
  type: EventType;
  data: { opportunity: OpportunityView; changes?: FieldChanges };
}

// Bookkeeping moves with every write and says nothing about what changed.
const untracked = new Set<keyof OpportunityView>(['id', 'version', 'createdAt', 'updatedAt']);

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Only the attribute keys that changed, an absent value as null. */
function attributeChange(before: Record<string, unknown>, after: Record<string, unknown>): FieldChange | undefined {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((key) => !same(before[key], after[key]));
  if (keys.length === 0) return undefined;
  const values = (from: Record<string, unknown>) => Object.fromEntries(keys.map((key) => [key, from[key] ?? null]));
  return { before: values(before), after: values(after) };
}

/** The fields that differ, each with its value before and after. */
export function changedFields(before: OpportunityView, after: OpportunityView): FieldChanges {
  const changes: FieldChanges = {};
  for (const field of Object.keys(after) as (keyof OpportunityView)[]) {
    if (untracked.has(field)) continue;
    if (field === 'attributes') {
      const change = attributeChange(before.attributes, after.attributes);
      if (change) changes.attributes = change;
    } else if (!same(before[field], after[field])) {
      changes[field] = { before: before[field], after: after[field] };
    }
  }
  return changes;
}

function pick(changes: FieldChanges, fields: string[]): FieldChanges {
  return Object.fromEntries(fields.filter((field) => changes[field]).map((field) => [field, changes[field]!]));
}

function event(type: EventType, opportunity: OpportunityView, changes?: FieldChanges): OpportunityEvent {
  return { type, data: changes ? { opportunity, changes } : { opportunity } };
}

/** external_ref.linked: the opportunity now carries a reference it did not carry before. */
function linkedEvents(before: OpportunityView | null, after: OpportunityView): OpportunityEvent[] {
  if (after.externalRef === null || after.externalRef === (before?.externalRef ?? null)) return [];
  return [event('external_ref.linked', after, { externalRef: { before: before?.externalRef ?? null, after: after.externalRef } })];
}

/** The events one change means, in the order a receiver should see them. */
export function eventsOf({ before, after }: OpportunityChange): OpportunityEvent[] {
  if (!after) return before ? [event('opportunity.deleted', before)] : [];
  if (!before) return [event('opportunity.created', after), ...linkedEvents(null, after)];
  const changes = changedFields(before, after);
  if (Object.keys(changes).length === 0) return [];
  const closedAs = changes.state && (after.state === 'won' || after.state === 'lost') ? after.state : undefined;
  return [
    event('opportunity.updated', after, changes),
    ...(changes.stage ? [event('opportunity.stage_changed', after, pick(changes, ['stage', 'pipeline']))] : []),
    ...(closedAs ? [event(`opportunity.${closedAs}`, after, pick(changes, ['state', 'closedAt', 'closedById', 'lostReason']))] : []),
    ...linkedEvents(before, after),
  ];
}

// Bulk changes (deleting a contact or an attribute definition) write their events in bounded statements.
const EVENTS_PER_STATEMENT = 500;

/**
 * One delivery row per event and active subscription of the account that asked for its type, in
 * one INSERT … SELECT: an account without subscriptions pays one index probe on subscriptions and
 * nothing more. Rows are numbered in event order, which is the order they are delivered in.
 */
async function insertDeliveries(tx: Executor, accountId: string, events: OpportunityEvent[], timestamp: string) {
  const rows = events.map((e) => ({ type: e.type, opportunityId: e.data.opportunity.id, payload: { type: e.type, timestamp, data: e.data } }));
  await tx.execute(sql`
    INSERT INTO event_deliveries (subscription_id, account_id, opportunity_id, event_id, type, payload)
    SELECT s.id, s.account_id, (e.item->>'opportunityId')::uuid, 'msg_' || replace(gen_random_uuid()::text, '-', ''),
           e.item->>'type', e.item->'payload'
      FROM jsonb_array_elements(${JSON.stringify(rows)}::jsonb) WITH ORDINALITY AS e(item, n)
      JOIN subscriptions s ON s.account_id = ${accountId} AND s.active AND (e.item->>'type') = ANY (s.event_types)
     ORDER BY e.n, s.created_at, s.id`);
}

export async function recordOpportunityEvents(tx: Executor, accountId: string, changes: OpportunityChange[]): Promise<void> {
  const events = changes.flatMap(eventsOf);
  const timestamp = new Date().toISOString();
  for (let i = 0; i < events.length; i += EVENTS_PER_STATEMENT) {
    await insertDeliveries(tx, accountId, events.slice(i, i + EVENTS_PER_STATEMENT), timestamp);
  }
}
