import type { CrmConnector, RemoteState } from '../providers/types.ts';
import type { ConnectionSettings } from '../sync/settings.ts';
import type { ConnectionRow } from '../model/connections/connections.ts';
import type { Database, Executor } from '../model/store/db.ts';
import { recordSyncEvents, type LinkRow, type SyncEvent } from '../model/sync-state/links.ts';
import { applyFieldChanges } from '../model/opportunities/opportunities.ts';
import { isBeingPushed, markDirty, sentCreatesOf } from '../model/sync-state/outbox.ts';
import {
  lockLinkByRemoteId,
  lockLiveLinksByRemoteIds,
  lockOpportunityRow,
  linkedRemoteIds,
  linkOfOpportunity,
  lockUnlinkedByExternalRef,
  moveLink,
  saveAliases,
  savePulledLink,
  softDeleteOpportunity,
} from '../model/sync-state/remote-changes.ts';
import { decideUpdate, pullProblems } from '../sync/apply-decision.ts';
import { clearRecordProblems, setRecordProblems } from '../model/sync-state/problems.ts';
import { createFromRemote } from './canonical-writes.ts';
import { validInbound } from './inbound-validation.ts';
import { fromMapping } from './record-problems.ts';
import { ignoreEditOfDeleted } from './deleted-edits.ts';
import { RetrySoon } from './retry-soon.ts';

/**
 * Deals we have no link for may become opportunities: their primary contact comes along (matched
 * by email or created). Read before the transactions, and only for those: updates never pay for it.
 */
export async function addContactsOfNewDeals(db: Database, connector: CrmConnector, connectionId: string, states: RemoteState[]): Promise<void> {
  const linked = await linkedRemoteIds(db, connectionId, states.map((s) => s.remoteId));
  // A deal carrying our id is one of ours: adopted, it keeps the canonical contact.
  const fresh = states.filter((s) => !s.deleted && !s.canonicalId && !linked.has(s.remoteId));
  if (fresh.length === 0) return;
  const contacts = await connector.contactsOf(fresh);
  for (const state of fresh) {
    const contact = contacts.get(state.remoteId);
    if (contact) state.fields.contact = contact;
  }
}

/** What one remote deal state did to the canonical store (`ignored`: an edit of a deal whose opportunity was deleted, recorded). */
export type ApplyResult = 'applied' | 'created' | 'echoes' | 'stale' | 'deleted' | 'ignored';

type Recorder = (opportunityId: string, kind: string, extra?: Partial<SyncEvent>) => void;

export interface ApplyOptions {
  /** The caller is the flush that holds this opportunity's create: no waiting for it (interrupted-creates.ts). */
  ownCreate?: boolean;
}

/**
 * One remote deal as the CRM has it now, merged into the canonical store in the caller's
 * transaction, under a lock on its link: webhooks, reconciliation and backfill all come here.
 */
export async function applyRemoteState(tx: Executor, connection: ConnectionRow, settings: ConnectionSettings, received: RemoteState, options: ApplyOptions = {}): Promise<ApplyResult> {
  const state = await validInbound(tx, connection.accountId, received);
  const events: SyncEvent[] = [];
  const record: Recorder = (opportunityId, kind, extra = {}) =>
    events.push({ accountId: connection.accountId, opportunityId, connectionId: connection.id, kind, ...extra });
  const result = await decide(tx, connection, settings, state, record, options);
  await recordSyncEvents(tx, events);
  return result;
}

async function decide(tx: Executor, connection: ConnectionRow, settings: ConnectionSettings, state: RemoteState, record: Recorder, options: ApplyOptions = {}): Promise<ApplyResult> {
  if (state.mergedFrom?.length) await absorbMerged(tx, connection, settings, state, record);
  const link = await lockLinkByRemoteId(tx, connection.id, state.remoteId);
  if (!link) {
    if (state.deleted) return 'stale';
    const linked = await linkNewDeal(tx, connection, state, record, options);
    // Our own create whose link was never saved: now linked with what it sent as the base, the deal is merged as any update.
    return linked === 'merge' ? decide(tx, connection, settings, state, record) : linked;
  }
  if (state.deleted) {
    if (link.remoteDeletedAt) return 'stale';
    await endLink(tx, connection, settings, link, record, state.mergedInto);
    return 'deleted';
  }
  const row = await lockOpportunityRow(tx, connection.accountId, link.opportunityId);
  if (!row) return ignoreEditOfDeleted(tx, connection, settings, link, state, record);
  const decision = decideUpdate({ link, row, state, settings });
  if (decision.outcome === 'stale') return 'stale';
  const keys = { connectionId: connection.id, opportunityId: link.opportunityId, remoteId: link.remoteId };
  await savePulledLink(tx, keys, { ...decision.link, remoteDeletedAt: null });
  await setRecordProblems(tx, { ...keys, direction: 'pull' }, fromMapping(state.problems));
  // One write, from the row as locked: a closer and the fields of one event never make two versions.
  if (Object.keys(decision.changes).length) await applyFieldChanges(tx, row, decision.changes);
  if (decision.pushBack) await markDirty(tx, connection.accountId, [row.id]);
  for (const entry of decision.timeline) record(row.id, entry.kind, entry);
  return decision.outcome;
}

/** The deal is gone from the CRM: unlink (the default) keeps the opportunity; propagate deletes it, and so from the other CRMs per their policy. */
async function endLink(tx: Executor, connection: ConnectionRow, settings: ConnectionSettings, link: LinkRow, record: Recorder, mergedInto?: string) {
  const keys = { connectionId: connection.id, opportunityId: link.opportunityId, remoteId: link.remoteId };
  await savePulledLink(tx, keys, { base: link.baseSnapshot, remoteVersion: link.remoteVersion ?? new Date(0), remoteDeletedAt: new Date() });
  await clearRecordProblems(tx, keys);
  if (settings.deletePolicy === 'propagate') await softDeleteOpportunity(tx, connection.accountId, link.opportunityId);
  record(link.opportunityId, mergedInto ? 'remote_merge' : 'remote_delete', { rule: settings.deletePolicy, detail: { remoteId: link.remoteId, mergedInto } });
}

/**
 * A deal that absorbed others in a merge. The opportunity whose canonical id the survivor carries
 * (HubSpot keeps the primary's values) moves its link to the survivor; the merged-away deals'
 * opportunities lose theirs, as a delete would take them. Once done, nothing is left to absorb.
 */
async function absorbMerged(tx: Executor, connection: ConnectionRow, settings: ConnectionSettings, state: RemoteState, record: Recorder) {
  const merged = await lockLiveLinksByRemoteIds(tx, connection.id, state.mergedFrom!);
  if (merged.length === 0) return;
  await saveAliases(tx, connection.id, state.mergedFrom!, state.remoteId);
  const survivorLinked = await lockLinkByRemoteId(tx, connection.id, state.remoteId);
  const keeper = survivorLinked ? undefined : (merged.find((l) => l.opportunityId === state.canonicalId) ?? merged[0]);
  if (keeper) {
    await moveLink(tx, keeper.id, state.remoteId);
    record(keeper.opportunityId, 'remote_merge_survivor', { detail: { from: keeper.remoteId, to: state.remoteId } });
  }
  for (const link of merged) if (link !== keeper) await endLink(tx, connection, settings, link, record, state.remoteId);
}

/** A deal we have no link for: one of ours (by canonical id or external reference), or new to the account. */
async function linkNewDeal(tx: Executor, connection: ConnectionRow, state: RemoteState, record: Recorder, options: ApplyOptions): Promise<ApplyResult | 'merge'> {
  const match = await adoptOrCreate(tx, connection, state, options);
  const keys = { connectionId: connection.id, opportunityId: match.id, remoteId: state.remoteId };
  if (match.sent) {
    await savePulledLink(tx, keys, { base: { ...match.sent.fields, canonicalId: match.id }, remoteVersion: new Date(0), remoteDeletedAt: null });
    record(match.id, 'link_adopted', { after: state.fields, detail: { remoteId: state.remoteId, matchedBy: match.matchedBy, base: 'what our interrupted create sent' } });
    return 'merge';
  }
  // The base records whether the deal carries our id; if not, the next flush writes it there.
  const base = { ...state.fields, ...(state.canonicalId === match.id ? { canonicalId: match.id } : {}) };
  await savePulledLink(tx, keys, { base, remoteVersion: state.version, remoteDeletedAt: null, lastError: pullProblems(null, state) });
  await setRecordProblems(tx, { ...keys, direction: 'pull' }, fromMapping(state.problems));
  record(match.id, match.created ? 'pull_create' : 'link_adopted', { after: state.fields, detail: { remoteId: state.remoteId, matchedBy: match.matchedBy } });
  return match.created ? 'created' : 'applied';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Match {
  id: string;
  created: boolean;
  matchedBy?: 'canonicalId' | 'externalRef';
  /** What our own create of the deal sent, when its flush failed before saving the link. */
  sent?: { fields: Record<string, unknown> };
}

/**
 * A deal carrying our id that we have no link for may be our own create whose flush has not saved
 * its link yet (the CRM's webhook outran the commit, or a workflow in the CRM edited the new deal at
 * once). Adopting it would make canonical win over what the CRM changed; once the link is saved the
 * event is an ordinary update with a base, so it waits for that. Checked in this order, each
 * statement seeing the latest commits, so a flush that commits in between is seen by the second.
 */
async function waitForOwnCreate(tx: Executor, connectionId: string, opportunityId: string, remoteId: string) {
  const pushing = await isBeingPushed(tx, connectionId, opportunityId);
  const saved = !pushing && (await linkOfOpportunity(tx, connectionId, opportunityId))?.remoteId === remoteId;
  if (pushing || saved) throw new RetrySoon(`the create of opportunity ${opportunityId} is still being saved`);
}

/**
 * Our canonical id on the deal first, then the ERP's external reference where the connection maps
 * one: either relinks an existing opportunity (the canonical side wins a relink, so the flush sends
 * what the CRM lacks), unless the deal is our own create whose flush failed after the CRM took it:
 * then it is merged three-way against what that create sent (a person may have edited it since).
 * Anything else is a deal new to the account.
 */
async function adoptOrCreate(tx: Executor, connection: ConnectionRow, state: RemoteState, options: ApplyOptions): Promise<Match> {
  const { accountId } = connection;
  const byId = state.canonicalId && UUID.test(state.canonicalId) ? await lockOpportunityRow(tx, accountId, state.canonicalId) : undefined;
  const byRef = !byId && state.externalRef ? await lockUnlinkedByExternalRef(tx, connection.id, accountId, state.externalRef) : undefined;
  if (byId && !options.ownCreate) await waitForOwnCreate(tx, connection.id, byId.id, state.remoteId);
  const sent = byId && (await sentCreatesOf(tx, connection.id, [byId.id])).get(byId.id);
  if (sent) return { id: byId.id, created: false, matchedBy: 'canonicalId', sent };
  const found = byId ?? byRef;
  if (found) {
    await markDirty(tx, accountId, [found.id]);
    return { id: found.id, created: false, matchedBy: byId ? 'canonicalId' : 'externalRef' };
  }
  return { id: await createFromRemote(tx, accountId, state.fields, state.externalRef), created: true };
}
