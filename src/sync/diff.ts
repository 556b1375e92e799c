import type { SyncFields } from '../model/sync-fields.ts';
import { equivalent, sameValue } from './equality.ts';

type Direction = 'both' | 'inbound' | 'outbound';

/** The fields a connection sends out: all but those set to inbound only. */
export function outboundFields(fields: SyncFields, directions: Partial<Record<keyof SyncFields, Direction>>): Partial<SyncFields> {
  return Object.fromEntries(Object.entries(fields).filter(([name]) => directions[name as keyof SyncFields] !== 'inbound')) as Partial<SyncFields>;
}

/**
 * What differs between the base (last agreed with this CRM) and the canonical state now. Custom
 * attributes compare key by key, so one changed attribute sends one value, and a removed one null.
 */
export function changedSince(base: Partial<SyncFields>, current: Partial<SyncFields>): Partial<SyncFields> {
  const changed: Partial<SyncFields> = {};
  for (const name of Object.keys(current) as (keyof SyncFields)[]) {
    if (name === 'attributes') {
      const before = base.attributes ?? {};
      const after = current.attributes ?? {};
      const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => !sameValue(`attributes.${k}`, before[k], after[k]));
      if (keys.length) changed.attributes = Object.fromEntries(keys.map((k) => [k, after[k] ?? null]));
    } else if (!sameValue(name, base[name], current[name])) {
      (changed as Record<string, unknown>)[name] = current[name];
    }
  }
  return changed;
}

/** The base after the CRM accepted `pushed`: the old base with the pushed values laid over it. */
export function baseAfterPush(base: Partial<SyncFields>, pushed: Partial<SyncFields>): Partial<SyncFields> {
  const attributes = { ...base.attributes, ...pushed.attributes };
  for (const [key, value] of Object.entries(attributes)) if (value === null) delete attributes[key];
  return { ...base, ...pushed, attributes };
}

/**
 * The base after a push, corrected by what the CRM says it holds now: for each field we sent, its
 * answer wins over what we sent (a value it could not take, a default it filled in). Contacts and
 * attributes the answer does not describe keep the pushed values.
 */
export function baseAfterWrite(base: Partial<SyncFields>, pushed: Partial<SyncFields>, answered: Partial<SyncFields> = {}): Partial<SyncFields> {
  const next = baseAfterPush(base, pushed);
  for (const name of Object.keys(pushed) as (keyof SyncFields)[]) {
    if (name === 'contact' || name === 'attributes' || !(name in answered)) continue;
    // Held as sent (1200 for "1200.00", lost for abandoned): the canonical form stays the base.
    if (!equivalent(name, pushed[name], answered[name])) (next as Record<string, unknown>)[name] = answered[name];
  }
  return next;
}
