import type { ConnectionSettings } from './settings.ts';
import { columnChangesOf, type ColumnChanges } from './field-columns.ts';
import type { MappingProblem, SyncFields } from './fields.ts';
import type { opportunities } from '../model/store/schema.ts';
import { syncFieldsOf } from './fields.ts';
import { mergeDeal } from './merge.ts';

type OpportunityRow = typeof opportunities.$inferSelect;

/** What a CRM says about one linked deal now (a connector's RemoteState). */
export interface RemoteDeal {
  remoteId: string;
  version: Date;
  fields: Partial<SyncFields>;
  /** The CRM user whose event moved the deal's status, where the event says. */
  changedBy?: string;
  problems: MappingProblem[];
}

/** The link as stored: the base agreed with this CRM, the version last seen, its problems. */
export interface LinkState {
  remoteVersion: Date | null;
  remoteDeletedAt: Date | null;
  baseSnapshot: unknown;
  lastError: unknown;
}

/** One line of the opportunity's timeline (sync_events), without its ids. */
export interface TimelineEntry {
  kind: string;
  field?: string;
  before?: unknown;
  after?: unknown;
  rule?: string;
  detail?: unknown;
}

export type UpdateDecision =
  | { outcome: 'stale' }
  | {
      outcome: 'echoes' | 'applied';
      /** The link after this state: the new base, the version seen, its problems (undefined: unchanged). */
      link: { base: Record<string, unknown>; remoteVersion: Date; lastError: unknown };
      /** What to write to the opportunity, in one write; empty when nothing changes. */
      changes: ColumnChanges;
      /** Canonical holds a value this CRM must be given (back): mark the opportunity dirty. */
      pushBack: boolean;
      timeline: TimelineEntry[];
    };

/**
 * What a pull says about the link's problems: its own mapping problems, or, when it has none, it
 * clears only what an earlier pull reported. A push's problem (a value this CRM cannot hold) stays
 * until a push no longer has it. `undefined` leaves the link's error as it is.
 */
export function pullProblems(current: unknown, state: Pick<RemoteDeal, 'problems'>): unknown {
  if (state.problems.length) return { mapping: state.problems, from: 'pull' };
  return (current as { from?: string } | null)?.from === 'pull' ? null : undefined;
}

/**
 * One live, linked deal's state against the canonical opportunity, decided without I/O: stale
 * versions never win; the three-way merge says what canonical takes, what the base becomes and
 * whether canonical must go back; who closed the deal is filled in when the event names them.
 */
export function decideUpdate(input: { link: LinkState; row: OpportunityRow; state: RemoteDeal; settings: Pick<ConnectionSettings, 'owners' | 'conflictPolicy' | 'directions'> }): UpdateDecision {
  const { link, row, state, settings } = input;
  // Webhooks come late, twice and out of order: a state older than the one we have never wins.
  if (link.remoteVersion && state.version < link.remoteVersion) return { outcome: 'stale' };
  const merged = mergeDeal({
    base: link.baseSnapshot as Partial<SyncFields>,
    local: syncFieldsOf(row),
    remote: state.fields,
    localChangedAt: row.fieldChangedAt,
    remoteChangedAt: state.version,
    policy: settings.conflictPolicy,
    directions: settings.directions,
  });
  const timeline: TimelineEntry[] = [];
  // A live deal whose link was marked deleted has been restored (HubSpot's recycle bin): relinked.
  // While it was gone no flush wrote to it, so what canonical changed meanwhile differs from the
  // base (still what the deal held when it went) and must go to it now: the restore's webhook
  // carries the old values, an echo to the merge, so it is the restore itself that asks for a push.
  const restored = Boolean(link.remoteDeletedAt);
  if (restored) timeline.push({ kind: 'remote_restore', detail: { remoteId: state.remoteId } });
  const userId = settings.owners.find((o) => o.ownerId === state.changedBy)?.userId ?? null;
  // The close came in first by another way (a flush's read, reconciliation); this event says who made it.
  const fill = Boolean(userId) && row.state !== 'open' && row.state === state.fields.state && !row.closedById;
  const linkAfter = { base: merged.base as Record<string, unknown>, remoteVersion: state.version, lastError: pullProblems(link.lastError, state) };
  const seen = { remoteId: state.remoteId, version: state.version.toISOString() };
  if (merged.echo) {
    // Our own write coming back (or a repeat): it changes nothing, but the timeline says it came.
    // A restore with nothing new in it is no echo: the link came back, and the flush it asks for
    // is woken at once (an echo wakes none).
    if (!restored) timeline.push({ kind: 'echo_suppressed', detail: seen });
    return { outcome: restored ? 'applied' : 'echoes', link: linkAfter, changes: columnChangesOf(row, {}, { userId, fill }), pushBack: merged.pushBack || restored, timeline };
  }
  for (const c of merged.conflicts) timeline.push({ kind: 'conflict', field: c.field, before: c.local, after: c.remote, rule: c.rule, detail: { winner: c.winner } });
  timeline.push({ kind: 'pull_update', after: merged.toCanonical, detail: seen });
  return { outcome: 'applied', link: linkAfter, changes: columnChangesOf(row, merged.toCanonical, { userId, fill }), pushBack: merged.pushBack || restored, timeline };
}
