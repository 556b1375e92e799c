import { syncedFields, type Equality } from './fields.ts';

/** A field's equality rule from the registry; attribute keys (`attributes.<key>`) compare exactly. */
const equalityOf = (field: string): Equality | undefined => (syncedFields as Record<string, { equality: Equality }>)[field]?.equality;

/**
 * When two values of a synced field mean the same, by the field's equality rule. CRMs hand amounts back in their own form
 * ("1200.00" goes in, HubSpot answers "1200.00", Pipedrive the number 1200): as exact decimals
 * those are one amount, and treating them as a change would make conflicts and pushes out of nothing.
 */
export function sameValue(field: string, a: unknown, b: unknown): boolean {
  if (equalityOf(field) === 'decimal' && a != null && b != null) return canonicalDecimal(String(a)) === canonicalDecimal(String(b));
  return canonicalJson(a ?? null) === canonicalJson(b ?? null);
}

/**
 * JSON with object keys in one order: a base snapshot comes back from jsonb with its keys
 * reordered (shortest first), and `{name, email}` must still equal `{email, name}`, or the primary
 * contact would differ from its base on every push and be looked up in the CRM each time.
 */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : v,
  );
}

/** A canonical value and what a CRM holds for it: the CRMs know no "abandoned", they hold it as lost. */
export function equivalent(field: string, canonical: unknown, remote: unknown): boolean {
  if (equalityOf(field) === 'state' && canonical === 'abandoned' && remote === 'lost') return true;
  return sameValue(field, canonical, remote);
}

/** "1200.50" → "1200.5", "-0.0" → "0", "007" → "7": trailing and leading zeros carry no value. */
function canonicalDecimal(value: string): string {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(value.trim());
  if (!match) return value;
  const whole = match[2]!.replace(/^0+(?=\d)/, '') || '0';
  const fraction = (match[3] ?? '').replace(/0+$/, '');
  const sign = match[1] === '-' && (whole !== '0' || fraction) ? '-' : '';
  return `${sign}${whole}${fraction ? `.${fraction}` : ''}`;
}
