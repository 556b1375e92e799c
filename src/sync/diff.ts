import { syncedFields, type Direction, type SyncFields } from './fields.ts';
import { equivalent, sameValue } from './equality.ts';

/** A field's direction on a connection: what it sets, else the registry's default. */
export const directionOf = (name: keyof SyncFields, directions: Partial<Record<keyof SyncFields, Direction>>): Direction => directions[name] ?? syncedFields[name].direction;
const keyed = (name: keyof SyncFields) => syncedFields[name].equality === 'keyed';

/** A link's base: the values agreed with the CRM, and the canonical values it could not hold when last sent. */
export type Base = Partial<SyncFields> & { unheld?: Partial<SyncFields> };

/** The fields a connection sends out: all but those set to inbound only. */
export function outboundFields(fields: SyncFields, directions: Partial<Record<keyof SyncFields, Direction>>): Partial<SyncFields> {
  return Object.fromEntries(Object.entries(fields).filter(([name]) => directionOf(name as keyof SyncFields, directions) !== 'inbound')) as Partial<SyncFields>;
}

/**
 * What differs between the base (last agreed with this CRM) and the canonical state now. Custom
 * attributes compare key by key, so one changed attribute sends one value, and a removed one null.
 */
export function changedSince(base: Base, current: Partial<SyncFields>): Partial<SyncFields> {
  const changed: Partial<SyncFields> = {};
  for (const name of Object.keys(current) as (keyof SyncFields)[]) {
    // Sent before and not held (a stage this CRM has no mapping for): sending it again changes nothing.
    if (base.unheld && name in base.unheld && sameValue(name, base.unheld[name], current[name])) continue;
    if (keyed(name)) {
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
 * answer wins over what we sent (a value it normalised, a default it filled in), and the value it
 * could not take is remembered as unheld, so it is not sent again until canonical changes it.
 * Contacts and attributes the answer does not describe keep the pushed values.
 *
 * `refused`: the fields (and `attributes.<key>`) the mapping could not translate, so nothing was
 * written for them. The base never pretends they were: it keeps what the CRM holds (its answer, else
 * the old base), and they are not unheld, so every later push tries them again (a mapping added
 * since sends them) and records the problem again while it lasts.
 */
export function baseAfterWrite(base: Base, pushed: Partial<SyncFields>, answered: Partial<SyncFields> = {}, refused: string[] = []): Base {
  const next: Base = baseAfterPush(base, pushed);
  const unheld: Record<string, unknown> = { ...base.unheld };
  for (const name of Object.keys(pushed) as (keyof SyncFields)[]) {
    if (refused.includes(name)) {
      delete unheld[name];
      (next as Record<string, unknown>)[name] = name in answered ? answered[name] : base[name];
      continue;
    }
    if (name === 'contact' || name === 'attributes' || !(name in answered)) continue;
    delete unheld[name];
    // Held as sent (1200 for "1200.00", lost for abandoned): the canonical form stays the base.
    if (equivalent(name, pushed[name], answered[name])) continue;
    (next as Record<string, unknown>)[name] = answered[name];
    unheld[name] = pushed[name];
  }
  for (const key of refusedAttributes(refused, pushed)) {
    if (base.attributes && key in base.attributes) next.attributes = { ...next.attributes, [key]: base.attributes[key] };
    else delete next.attributes?.[key];
  }
  if (Object.keys(unheld).length) next.unheld = unheld as Partial<SyncFields>;
  else delete next.unheld;
  return next;
}

/**
 * After a create: the fields we left empty (not sent, so absent from the base) that the CRM filled
 * in by default (Pipedrive makes the token's user the owner) go into the base as the CRM holds them,
 * with canonical's empty value unheld. So the default's echo is nothing new, no push tries to clear
 * it, and a person's later change to that field in the CRM is a change like any other.
 */
export function withCrmDefaults(base: Base, answered: Partial<SyncFields> = {}): Base {
  const next: Base = { ...base };
  const unheld: Record<string, unknown> = { ...base.unheld };
  for (const name of Object.keys(answered) as (keyof SyncFields)[]) {
    if (name in base || name === 'contact' || name === 'attributes') continue;
    (next as Record<string, unknown>)[name] = answered[name];
    if (!sameValue(name, null, answered[name])) unheld[name] = null;
  }
  if (Object.keys(unheld).length) next.unheld = unheld as Partial<SyncFields>;
  return next;
}

const refusedAttributes = (refused: string[], pushed: Partial<SyncFields>) =>
  refused.flatMap((field) => (field.startsWith('attributes.') ? [field.slice('attributes.'.length)] : [])).filter((key) => pushed.attributes && key in pushed.attributes);

/**
 * Whether a CRM's deal says anything its base does not: a change we have not merged yet, whatever
 * its version says. Only fields the base holds count: an emptied base (a replay) asserts nothing.
 */
export function differsFromBase(base: Base, remote: Partial<SyncFields>): boolean {
  return (Object.keys(remote) as (keyof SyncFields)[]).some((name) => {
    if (!(name in base)) return false;
    if (keyed(name)) return Object.entries(remote.attributes ?? {}).some(([key, value]) => !sameValue(`attributes.${key}`, base.attributes?.[key], value));
    return !equivalent(name, base[name], remote[name]);
  });
}
