import { CrmError } from '../providers/errors.ts';
import type { CrmConnector, PushRequest, PushResult } from '../providers/types.ts';
import { connectionSettingsSchema, type ConnectionSettings } from '../sync/settings.ts';
import { connectionForWorker, recordConnectionOutcome, type ConnectionRow } from '../model/connections/connections.ts';
import { loadForPush, markPendingPushes, recordLinkError, recordSyncEvents, savePushedLinks, type LinkRow, type LinkUpdate, type OpportunityRow, type SyncEvent } from '../model/sync-state/links.ts';
import { claimDirty, completeClaims, extendClaims, hasClaimableWork, markSentCreates, releaseClaims, type Claim } from '../model/sync-state/outbox.ts';
import type { SyncFields } from '../sync/fields.ts';
import { syncFieldsOf } from '../sync/fields.ts';
import { baseAfterWrite, changedSince, differsFromBase, outboundFields, withCrmDefaults, type Base } from '../sync/diff.ts';
import { setRecordProblems } from '../model/sync-state/problems.ts';
import { applyRemoteState } from './apply-remote.ts';
import { fromMapping, wholeRecord } from './record-problems.ts';
import { pacerFor } from './connectors.ts';
import { connectionConnector } from './crm-connection.ts';
import type { SyncDeps } from './deps.ts';
import { linkInterruptedCreates } from './interrupted-creates.ts';

/** Rows per flush: one HubSpot batch call. */
export const FLUSH_BATCH = 100;
/** A crashed flush's rows become claimable again after this long, unless the deps say otherwise. */
export const CLAIM_LEASE_MS = 60_000;

interface Work {
  claim: Claim;
  row: OpportunityRow;
  link: LinkRow | undefined;
  contact: SyncFields['contact'];
}

type Plan =
  | { kind: 'push'; work: Work; request: PushRequest }
  | { kind: 'remove'; work: Work }
  | { kind: 'nothing'; work: Work };

/** What a dirty row needs: a create, the changed fields, a delete per the policy, or nothing at all. */
function plan(work: Work, settings: ConnectionSettings): Plan {
  const { row, link } = work;
  if (row.deletedAt) {
    return link && !link.remoteDeletedAt && settings.deletePolicy === 'propagate' ? { kind: 'remove', work } : { kind: 'nothing', work };
  }
  // Unlinked: the deal was deleted or merged away in the CRM and the opportunity stays out of it.
  if (link?.remoteDeletedAt) return { kind: 'nothing', work };
  const current = outboundFields(syncFieldsOf(row, work.contact), settings.directions);
  const base = (link?.baseSnapshot ?? {}) as Partial<SyncFields> & { canonicalId?: string; contactRemoteId?: string };
  const fields = changedSince(link ? base : {}, current);
  // State, stage and pipeline travel together: a CRM may hold them in one property (HubSpot: a
  // reopen needs an open stage, a closed deal's stage is its won or lost stage, a stage belongs to
  // one pipeline), and the others take them as they are.
  if ('state' in fields || 'stage' in fields || 'pipeline' in fields) Object.assign(fields, { state: current.state, stage: current.stage, pipeline: current.pipeline });
  // A deal made in the CRM does not carry our id yet: the first push writes it even with nothing else to send.
  const tagged = base.canonicalId === row.id;
  if (link && tagged && Object.keys(fields).length === 0) return { kind: 'nothing', work };
  const replacedContact = 'contact' in fields ? (base.contact ?? null) : undefined;
  const replacedContactRemoteId = 'contact' in fields ? base.contactRemoteId : undefined;
  return { kind: 'push', work, request: { canonicalId: row.id, remoteId: link?.remoteId ?? null, fields, mayExist: work.claim.attempts > 1, replacedContact, replacedContactRemoteId } };
}

export interface FlushOutcome {
  pushed: number;
  removed: number;
  more: boolean;
}

/**
 * One round of outbound sync for a connection: lease dirty rows, push what changed since each
 * link's base, save links and bases, finish the rows no new edit touched meanwhile.
 */
export async function flushConnection(deps: SyncDeps, connectionId: string): Promise<FlushOutcome> {
  const connection = await connectionForWorker(deps.db, connectionId);
  if (!connection || connection.status !== 'active') return { pushed: 0, removed: 0, more: false };
  const settings = connectionSettingsSchema.parse(connection.settings);
  const pacer = pacerFor(deps.redis, deps.prefix, connectionId, connection.provider, settings, deps.maxPaceWaitMs);
  const connector = await connectionConnector(deps, connection, settings, pacer);

  const leaseMs = deps.leaseMs ?? CLAIM_LEASE_MS;
  const claims = await claimDirty(deps.db, connectionId, FLUSH_BATCH, leaseMs);
  if (claims.length === 0) return { pushed: 0, removed: 0, more: false };
  // A push can outlast the lease (rate-limit waits): renew it while this worker is alive, so no
  // other worker takes the rows over and pushes them a second time.
  const heartbeat = setInterval(() => void extendClaims(deps.db, claims, leaseMs).catch(() => {}), leaseMs / 3);
  try {
    return await flushClaims(deps, connection, settings, connector, pacer, claims);
  } finally {
    clearInterval(heartbeat);
  }
}

async function flushClaims(
  deps: SyncDeps,
  connection: ConnectionRow,
  settings: ConnectionSettings,
  connector: CrmConnector,
  pacer: { coolDown(ms: number): Promise<void> },
  claims: Claim[],
): Promise<FlushOutcome> {
  const connectionId = connection.id;
  const load = async () => new Map((await loadForPush(deps.db, connectionId, claims.map((c) => c.opportunityId))).map((l) => [l.row.id, l]));
  const planAll = (loaded: Awaited<ReturnType<typeof load>>) =>
    claims.flatMap((claim) => {
      const found = loaded.get(claim.opportunityId);
      return found ? [plan({ claim, ...found }, settings)] : [];
    });
  try {
    let plans = planAll(await load());
    // A create tried before may have reached the CRM: its deal is linked first, merged against what it sent.
    const retried = plans.flatMap((p) => (p.kind === 'push' && !p.work.link && p.work.claim.attempts > 1 ? [p.work.row.id] : []));
    if (retried.length && (await linkInterruptedCreates(deps.db, connection, settings, connector, retried))) plans = planAll(await load());
    // Only deals we are about to update are read first: an echo's flush that sends nothing reads nothing.
    const updating = plans.flatMap((p) => (p.kind === 'push' && p.work.link ? [p.work] : []));
    if (await catchUp(deps, connection, settings, connector, updating)) plans = planAll(await load());
    await markPendingPushes(deps.db, connectionId, plans.flatMap((p) => (p.kind === 'push' && p.work.link ? [{ opportunityId: p.work.row.id, fields: p.request.fields }] : [])));
    await markSentCreates(deps.db, connectionId, plans.flatMap((p) => (p.kind === 'push' && !p.work.link ? [{ opportunityId: p.work.row.id, fields: p.request.fields }] : [])));
    const results = await send(connector, plans, settings);
    await save(deps, connection.accountId, connectionId, plans, results, claims);
    return {
      pushed: plans.filter((p) => p.kind === 'push').length,
      removed: plans.filter((p) => p.kind === 'remove').length,
      more: await hasClaimableWork(deps.db, connectionId),
    };
  } catch (error) {
    await releaseClaims(deps.db, claims);
    await onFailure(deps, connectionId, pacer, error);
    throw error;
  }
}

/**
 * Read before write: a deal the CRM changed since we last saw it is merged in first (as a webhook
 * would, conflicts decided by policy), so a push never overwrites a change whose webhook is still
 * on its way. One batch read per flush (HubSpot: 1 call per 100 deals; Pipedrive: 10 tokens).
 */
async function catchUp(deps: SyncDeps, connection: ConnectionRow, settings: ConnectionSettings, connector: CrmConnector, works: Omit<Work, 'claim'>[]): Promise<boolean> {
  const linked = new Map(works.flatMap((w) => (w.link && !w.link.remoteDeletedAt && !w.row.deletedAt ? [[w.link.remoteId, w.link] as const] : [])));
  if (linked.size === 0) return false;
  const states = await connector.read([...linked.keys()], settings);
  // Pipedrive's update_time counts whole seconds: a person's edit in the second of our last write
  // has the same version, so the values decide too.
  const unseen = states.filter((s) => {
    const link = linked.get(s.remoteId);
    const known = link?.remoteVersion;
    return s.deleted || !known || s.version > known || (s.version.getTime() === known.getTime() && differsFromBase(link!.baseSnapshot as Base, s.fields));
  });
  for (const state of unseen) await deps.db.transaction((tx) => applyRemoteState(tx, connection, settings, state));
  return unseen.length > 0;
}

async function send(connector: CrmConnector, plans: Plan[], settings: ConnectionSettings): Promise<Map<string, PushResult>> {
  const pushes = plans.flatMap((p) => (p.kind === 'push' ? [p.request] : []));
  const results = new Map<string, PushResult>();
  for (const result of await pushIsolatingRecords(connector, pushes, settings)) results.set(result.canonicalId, result);
  for (const p of plans) {
    if (p.kind !== 'remove') continue;
    await connector.remove(p.work.link!.remoteId).catch((error: unknown) => {
      if (!(error instanceof CrmError && error.code === 'not_found')) throw error; // already gone is done
    });
  }
  return results;
}

/**
 * A record-level refusal (one invalid deal) fails a whole batch call; the batch is then retried
 * deal by deal so that only the bad deal is set aside, with its error, and the rest go through.
 */
async function pushIsolatingRecords(connector: CrmConnector, pushes: PushRequest[], settings: ConnectionSettings): Promise<PushResult[]> {
  if (pushes.length === 0) return [];
  try {
    return await connector.push(pushes, settings);
  } catch (error) {
    if (!(error instanceof CrmError) || error.scope !== 'record') throw error;
    if (pushes.length === 1) return [{ canonicalId: pushes[0]!.canonicalId, problems: [], error }];
    const results: PushResult[] = [];
    for (const push of pushes) results.push(...(await pushIsolatingRecords(connector, [push], settings)));
    return results;
  }
}

async function save(deps: SyncDeps, accountId: string, connectionId: string, plans: Plan[], results: Map<string, PushResult>, claims: Claim[]) {
  await deps.db.transaction(async (tx) => {
    const events: SyncEvent[] = [];
    const links: LinkUpdate[] = [];
    for (const p of plans) {
      const opportunityId = p.work.row.id;
      const problemKey = { connectionId, opportunityId, direction: 'push' as const };
      if (p.kind === 'remove') {
        await setRecordProblems(tx, problemKey, []);
        links.push({ connectionId, opportunityId, remoteId: p.work.link!.remoteId, remoteVersion: null, baseSnapshot: p.work.link!.baseSnapshot, lastError: null, remoteDeletedAt: new Date() });
        events.push({ accountId, opportunityId, connectionId, kind: 'push_delete', detail: { remoteId: p.work.link!.remoteId } });
      }
      if (p.kind !== 'push') continue;
      const result = results.get(opportunityId);
      if (result?.error) {
        events.push({ accountId, opportunityId, connectionId, kind: 'push_failed', after: p.request.fields, detail: { error: result.error.message } });
        if (p.work.link) await recordLinkError(tx, connectionId, opportunityId, { message: result.error.message });
        await setRecordProblems(tx, problemKey, wholeRecord(result.error.message));
        continue;
      }
      if (!result?.remoteId) continue;
      // The push is saved: what it was sending is no longer pending.
      const { pending: _pending, contactRemoteId: knownContact, ...base } = (p.work.link?.baseSnapshot ?? {}) as Partial<SyncFields> & { pending?: unknown; contactRemoteId?: string };
      const problems = result.problems.length ? { mapping: result.problems } : null;
      await setRecordProblems(tx, problemKey, fromMapping(result.problems));
      const written = baseAfterWrite(base, p.request.fields, result.fields, result.problems.map((m) => m.field));
      // The CRM's id of the primary contact (where the CRM says it) is kept until the contact changes: replacing it then needs no search.
      const contactRemoteId = 'contact' in p.request.fields ? result.contactRemoteId : knownContact;
      const baseSnapshot = { ...(p.work.link ? written : withCrmDefaults(written, result.fields)), canonicalId: opportunityId, ...(contactRemoteId ? { contactRemoteId } : {}) };
      links.push({ connectionId, opportunityId, remoteId: result.remoteId, remoteVersion: result.version ?? null, baseSnapshot, lastError: problems, remoteDeletedAt: null });
      events.push({ accountId, opportunityId, connectionId, kind: p.work.link ? 'push_update' : 'push_create', after: p.request.fields, detail: { remoteId: result.remoteId, ...problems } });
    }
    await savePushedLinks(tx, links);
    await recordSyncEvents(tx, events);
    await completeClaims(tx, claims);
  });
  await recordConnectionOutcome(deps.db, connectionId, {});
}

/** A 429 holds back this connection; revoked credentials stop it; the rest is for BullMQ's backoff. */
async function onFailure(deps: SyncDeps, connectionId: string, pacer: { coolDown(ms: number): Promise<void> }, error: unknown) {
  if (!(error instanceof CrmError)) return;
  if (error.code === 'rate_limited' && error.retryAfterMs) await pacer.coolDown(error.retryAfterMs);
  if (error.scope === 'connection') {
    await recordConnectionOutcome(deps.db, connectionId, { error: { code: error.code, message: error.message }, fatal: true });
  } else if (!error.retryable || error.code !== 'rate_limited') {
    await recordConnectionOutcome(deps.db, connectionId, { error: { code: error.code, message: error.message } });
  }
}
