import type { CrmConnector, PullPage, RemoteState } from '../providers/types.ts';
import { connectionSettingsSchema, type ConnectionSettings } from '../sync/settings.ts';
import { connectionForWorker, type ConnectionRow } from '../model/connections/connections.ts';
import { markUnlinkedDirty } from '../model/sync-state/outbox.ts';
import { parseReconcileState, saveReconcileState, type PullPosition, type ReconcileState } from '../model/connections/reconcile-state.ts';
import { addContactsOfNewDeals, applyRemoteState, type ApplyResult } from './apply-remote.ts';
import { pacerFor, rateLimitsFor } from './connectors.ts';
import { connectionConnector } from './crm-connection.ts';
import type { SyncDeps } from './deps.ts';
import { BudgetShareSpent, ShareOfBudget } from './pacer.ts';

/**
 * A pass starts this far before where the last one ended: HubSpot's search index trails its writes
 * by a few seconds, and a deal it had not indexed yet must not fall behind the cursor for good.
 */
export const RECONCILE_OVERLAP_MS = 60_000;

export type PullTally = Record<ApplyResult, number> & { seen: number; pages: number };

export interface PullOptions {
  /** After each page that changed something: ask for the flushes that carry it on. */
  notify?: (accountId: string) => Promise<void>;
  onProgress?: (progress: { seen: number; total?: number }) => void;
}

type Phase = 'changes' | 'deletions';

const emptyTally = (): PullTally => ({ applied: 0, created: 0, echoes: 0, stale: 0, deleted: 0, ignored: 0, seen: 0, pages: 0 });
const drift = (t: PullTally) => t.applied + t.created + t.deleted;

interface Pull {
  deps: SyncDeps;
  connection: ConnectionRow;
  settings: ConnectionSettings;
  connector: CrmConnector;
  options: PullOptions;
  tally: PullTally;
}

async function applyPage(pull: Pull, states: RemoteState[]) {
  const { deps, connection, settings, tally } = pull;
  const before = drift(tally);
  await addContactsOfNewDeals(deps.db, pull.connector, connection.id, states);
  for (const state of states) {
    tally[await deps.db.transaction((tx) => applyRemoteState(tx, connection, settings, state))]++;
  }
  tally.seen += states.length;
  tally.pages++;
  if (drift(tally) > before) await pull.options.notify?.(connection.accountId);
}

/** Pages through one phase from `from`, saving where it stands after every page. */
async function pullPhase(pull: Pull, phase: Phase, from: PullPosition, save: (position: PullPosition) => Promise<void>) {
  let position: PullPosition | null = from;
  while (position) {
    const page: PullPage = await (phase === 'changes' ? pull.connector.changedSince(position, pull.settings) : pull.connector.deletedSince(position, pull.settings));
    await applyPage(pull, page.states);
    // Finished: the next pass starts from the newest change this one saw.
    const newest = page.states.reduce((max, s) => Math.max(max, s.version.getTime()), Date.parse(position.since));
    position = page.next;
    await save(position ?? { since: new Date(newest).toISOString() });
    pull.options.onProgress?.({ seen: pull.tally.seen, total: page.total });
  }
}

/** Where a phase starts: mid-page after an interrupted pass, or a little before the last pass ended. */
function startOf(saved: PullPosition | undefined, createdAt: Date): PullPosition {
  if (saved?.after) return saved;
  const since = Date.parse(saved?.since ?? createdAt.toISOString()) - RECONCILE_OVERLAP_MS;
  return { since: new Date(since).toISOString() };
}

async function openPull(deps: SyncDeps, connectionId: string, options: PullOptions, budgetShare: boolean): Promise<Pull | undefined> {
  const connection = await connectionForWorker(deps.db, connectionId);
  if (!connection || connection.status !== 'active') return undefined;
  const settings = connectionSettingsSchema.parse(connection.settings);
  const ownPacer = pacerFor(deps.redis, deps.prefix, connection.id, connection.provider, settings, deps.maxPaceWaitMs);
  const cap = Math.floor(rateLimitsFor(connection.provider, settings).daily * settings.reconcileBudgetShare);
  const pacer = budgetShare ? new ShareOfBudget(ownPacer, deps.redis, { prefix: deps.prefix, connectionId, cap }) : ownPacer;
  const connector = await connectionConnector(deps, connection, settings, pacer);
  return { deps, connection, settings, connector, options, tally: emptyTally() };
}

export type ReconcileOutcome = PullTally & { skipped?: 'inactive'; stopped?: 'budget' };

/**
 * One reconciliation pass: every deal modified (then deleted) since the cursor, merged like a
 * webhook would be, within the connection's share of the daily budget. What it finds that the
 * webhooks had not brought is the drift, kept with the cursor.
 */
export async function reconcileConnection(deps: SyncDeps, connectionId: string, options: PullOptions = {}): Promise<ReconcileOutcome> {
  const pull = await openPull(deps, connectionId, options, true);
  if (!pull) return { ...emptyTally(), skipped: 'inactive' };
  const state = parseReconcileState(pull.connection.reconcileCursor);
  const save = (change: (s: ReconcileState) => ReconcileState) => saveReconcileState(deps.db, connectionId, change);
  await save((s) => ({ ...s, lastRunAt: new Date().toISOString() }));
  let stopped: 'budget' | undefined;
  try {
    for (const phase of ['changes', 'deletions'] as const) {
      await pullPhase(pull, phase, startOf(state[phase], pull.connection.createdAt), (position) => save((s) => ({ ...s, [phase]: position })));
    }
  } catch (error) {
    if (!(error instanceof BudgetShareSpent)) throw error;
    stopped = 'budget';
  }
  const lastPass = { finishedAt: new Date().toISOString(), seen: pull.tally.seen, drift: drift(pull.tally), ...(stopped ? { stopped } : {}) };
  await save((s) => ({ ...s, lastPass }));
  return { ...pull.tally, ...(stopped ? { stopped } : {}) };
}

export type BackfillOutcome = PullTally & { skipped?: 'inactive'; total?: number };

/**
 * Imports every deal the CRM has, matching existing opportunities by our canonical id, then by the
 * external reference where the connection maps one: never a second opportunity for one deal. Then
 * the opportunities still without a deal there are pushed. It resumes where it stood if it was
 * interrupted; reconciliation's cursor is left alone.
 */
export async function backfillConnection(deps: SyncDeps, connectionId: string, options: PullOptions = {}): Promise<BackfillOutcome> {
  const pull = await openPull(deps, connectionId, options, false);
  if (!pull) return { ...emptyTally(), skipped: 'inactive' };
  const saved = parseReconcileState(pull.connection.reconcileCursor).backfill;
  const resume = saved && !saved.finishedAt ? saved : undefined;
  const startedAt = resume?.startedAt ?? new Date().toISOString();
  // HubSpot's first search page counts everything; later windows count only what is left of them.
  let total = resume?.total;
  const onProgress = ({ seen }: { seen: number; total?: number }, first?: number) => options.onProgress?.({ seen, total: (total ??= first) });
  pull.options = { ...options, onProgress: (p) => onProgress(p, p.total) };
  const save = (position: PullPosition | null, finishedAt?: string) =>
    saveReconcileState(deps.db, connectionId, (s) => ({ ...s, backfill: { startedAt, position, seen: pull.tally.seen, total, finishedAt } }));
  await pullPhase(pull, 'changes', resume?.position ?? { since: new Date(0).toISOString() }, (position) => save(position));
  await markUnlinkedDirty(deps.db, pull.connection.accountId, connectionId);
  await save(null, new Date().toISOString());
  await options.notify?.(pull.connection.accountId);
  return { ...pull.tally, total };
}
