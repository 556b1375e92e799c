import type { Direction, SyncFields } from './fields.ts';
import { directionOf } from './diff.ts';
import { equivalent, sameValue } from './equality.ts';

export type Policy = 'newest' | 'canonical' | 'remote';

export interface MergeInput {
  /**
   * The values last agreed with this CRM (the link's base snapshot), and `pending`: what a push
   * was sending when it last started, written before it was sent and cleared once it was saved.
   */
  base: Partial<SyncFields> & { pending?: Partial<SyncFields>; unheld?: Partial<SyncFields> };
  /** The canonical opportunity now. */
  local: Partial<SyncFields>;
  /** The CRM's deal now, mapped to canonical terms; only the fields it speaks about. */
  remote: Partial<SyncFields>;
  /** When each canonical field last changed (opportunities.field_changed_at; attributes as `attributes.<key>`). */
  localChangedAt: Record<string, string>;
  /** When the remote side last changed: its deal version (or a per-field time when the CRM gives one). */
  remoteChangedAt: Date;
  policy: { default: Policy; fields: Partial<Record<keyof SyncFields, Policy>> };
  directions: Partial<Record<keyof SyncFields, Direction>>;
}

export interface Conflict {
  field: string;
  local: unknown;
  remote: unknown;
  rule: Policy;
  winner: 'canonical' | 'remote';
}

export interface MergeResult {
  /** Fields to write to the canonical opportunity. */
  toCanonical: Partial<SyncFields>;
  /** The new base snapshot for this link. */
  base: Partial<SyncFields>;
  conflicts: Conflict[];
  /** Nothing came in: every remote value equals the base or the canonical value (our own write coming back, or a repeat). */
  echo: boolean;
  /** Canonical won a conflict: the CRM holds a value it must be given back. */
  pushBack: boolean;
}

/** A lost deal whose base is abandoned has not changed state. */
const unchanged = equivalent;

type Decision = { take: boolean; agreed?: boolean; ours?: boolean; conflict?: Conflict };

function decide(field: string, key: keyof SyncFields, values: { base: unknown; local: unknown; remote: unknown }, input: MergeInput): Decision | undefined {
  const { base, local, remote } = values;
  if (unchanged(field, base, remote)) return undefined; // nothing came in
  // A push we made but never saved (its worker died after the CRM took it): our own write, not a
  // person's. The base learns it; if canonical has moved on since, the flush sends that.
  const pending = input.base.pending;
  if (pending && key in pending && key !== 'attributes' && equivalent(field, pending[key], remote)) return { take: false, ours: true };
  const direction = directionOf(key, input.directions);
  if (direction === 'outbound') return { take: false };
  // Already what the canonical side holds (our own write, seen before its push was saved): only the base moves.
  if (unchanged(field, local, remote)) return { take: false, agreed: true };
  // Canonical as last agreed: the base, or the value we sent that this CRM did not hold (a default
  // it filled in instead): a person's change in the CRM is then simply taken, not a conflict.
  const unheld = input.base.unheld;
  if (sameValue(field, local, base) || (key !== 'attributes' && unheld && key in unheld && sameValue(field, local, unheld[key]))) return { take: true };
  const rule: Policy = direction === 'inbound' ? 'remote' : (input.policy.fields[key] ?? input.policy.default);
  const localAt = Date.parse(input.localChangedAt[field] ?? '') || 0;
  const remoteWins = rule === 'remote' || (rule === 'newest' && input.remoteChangedAt.getTime() > localAt);
  return { take: remoteWins, conflict: { field, local, remote, rule, winner: remoteWins ? 'remote' : 'canonical' } };
}

/**
 * The three-way merge of one deal, field by field (attributes key by key). remote == base: nothing
 * came in. local == base: take the remote value. Both moved apart: a conflict, decided by the
 * field's policy (newest change time by default) and reported. The base moves to whatever both
 * sides now agree on; where canonical won, the outbound flush will carry it to the CRM.
 */
export function mergeDeal(input: MergeInput): MergeResult {
  const toCanonical: Partial<SyncFields> = {};
  const base: Partial<SyncFields> = { ...input.base };
  const conflicts: Conflict[] = [];
  let incoming = false;
  for (const key of Object.keys(input.remote) as (keyof SyncFields)[]) {
    if (key === 'attributes') continue;
    const decision = decide(key, key, { base: input.base[key], local: input.local[key], remote: input.remote[key] }, input);
    if (!decision) continue;
    if (decision.agreed || decision.ours) {
      // In canonical terms: an abandoned opportunity stays abandoned in the base, not lost.
      (base as Record<string, unknown>)[key] = decision.ours ? input.remote[key] : input.local[key];
      continue;
    }
    incoming = true;
    if (decision.conflict) conflicts.push(decision.conflict);
    // Taken, or outvoted in a conflict: either way the CRM's value is now known, so the same state
    // seen again (a duplicate webhook, a reconciliation) is nothing new, and the flush sends canonical.
    if (decision.take || decision.conflict) (base as Record<string, unknown>)[key] = input.remote[key];
    if (decision.take) (toCanonical as Record<string, unknown>)[key] = input.remote[key];
  }
  const remoteAttributes = input.remote.attributes ?? {};
  for (const attribute of Object.keys(remoteAttributes)) {
    const values = { base: input.base.attributes?.[attribute], local: input.local.attributes?.[attribute], remote: remoteAttributes[attribute] };
    const decision = decide(`attributes.${attribute}`, 'attributes', values, input);
    if (!decision) continue;
    if (decision.agreed) {
      base.attributes = { ...base.attributes, [attribute]: values.local };
      continue;
    }
    incoming = true;
    if (decision.conflict) conflicts.push(decision.conflict);
    if (decision.take || decision.conflict) base.attributes = { ...base.attributes, [attribute]: values.remote };
    if (decision.take) toCanonical.attributes = { ...toCanonical.attributes, [attribute]: values.remote };
  }
  forgetUnheldWhereBaseMoved(base as MergeInput['base'], input.base);
  const ours = Object.keys(input.base.pending ?? {}).some((key) => !sameValue(key, base[key as keyof SyncFields], input.local[key as keyof SyncFields]));
  return { toCanonical, base, conflicts, echo: !incoming, pushBack: ours || conflicts.some((c) => c.winner === 'canonical') };
}

/** A field whose base moved (taken, agreed) is no longer one the CRM failed to hold: it is sent again when canonical differs. */
function forgetUnheldWhereBaseMoved(base: MergeInput['base'], before: MergeInput['base']) {
  if (!before.unheld) return;
  const unheld = Object.fromEntries(Object.entries(before.unheld).filter(([key]) => sameValue(key, base[key as keyof SyncFields], before[key as keyof SyncFields])));
  if (Object.keys(unheld).length) base.unheld = unheld;
  else delete base.unheld;
}
