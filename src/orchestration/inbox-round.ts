import { connectionForWorker } from '../model/connections/connections.ts';
import { claimInbox, completeInbox, extendInbox, hasClaimableInbox, releaseInbox, type InboxClaim, type Release } from '../model/sync-state/inbox.ts';
import { recordSyncEvents } from '../model/sync-state/links.ts';
import { CrmError } from '../providers/errors.ts';
import { countRateLimited } from './crm-usage.ts';
import type { SyncDeps } from './deps.ts';
import { processDelivery, type InboundOutcome } from './inbound.ts';
import { RetrySoon } from './retry-soon.ts';

/**
 * Events per round: a busy connection's round ends (and its next one queues behind the other
 * connections' rounds) after about this many, so no tenant holds a worker for long.
 */
export const INBOX_ROUND_EVENTS = 500;
/** A round's lease on its rows; renewed while it runs, so only a dead worker's rows are taken over. */
const INBOX_LEASE_MS = 60_000;
/** Failed rounds: retried after 1 s, 2 s, 4 s … capped at 10 minutes; after 10 failures the rows are set aside. */
const INBOX_MAX_ATTEMPTS = 10;
const INBOX_MAX_BACKOFF_MS = 600_000;

export type InboxRound =
  | { kind: 'idle' | 'paused' | 'gone' }
  | { kind: 'applied'; outcome: InboundOutcome; deliveries: number; events: number; more: boolean }
  | { kind: 'retry'; retryInMs: number; error: string };

/**
 * One round of a connection's inbound sync: lease its oldest received webhooks, apply their events
 * together (each deal read once, merged once), delete the rows. A failure gives the rows back with
 * a delay; a paused connection's rows wait for it.
 */
export async function applyInboxRound(deps: SyncDeps, connectionId: string): Promise<InboxRound> {
  const connection = await connectionForWorker(deps.db, connectionId);
  if (!connection) return { kind: 'gone' };
  if (connection.status !== 'active') return { kind: 'paused' };
  const leaseMs = deps.leaseMs ?? INBOX_LEASE_MS;
  const claims = await claimInbox(deps.db, connectionId, INBOX_ROUND_EVENTS, leaseMs);
  if (claims.length === 0) return { kind: 'idle' };
  const heartbeat = setInterval(() => void extendInbox(deps.db, claims, leaseMs).catch(() => {}), leaseMs / 3);
  try {
    const events = claims.flatMap((c) => c.events);
    const outcome = await processDelivery(deps, { connectionId, events });
    if (outcome === 'gone') return { kind: 'gone' };
    if (outcome === 'paused') {
      await releaseInbox(deps.db, claims, { retryInMs: 0, countsAsAttempt: false, maxAttempts: INBOX_MAX_ATTEMPTS });
      return { kind: 'paused' };
    }
    await completeInbox(deps.db, claims);
    return { kind: 'applied', outcome, deliveries: claims.length, events: events.length, more: await hasClaimableInbox(deps.db, connectionId) };
  } catch (error) {
    return retryLater(deps, connectionId, connection.accountId, claims, error);
  } finally {
    clearInterval(heartbeat);
  }
}

/** How a failure is retried: a rate limit or a wait asked for costs no attempt; the rest back off. */
function releaseFor(claims: InboxClaim[], error: unknown): Release {
  const described = { message: (error as Error).message, ...(error instanceof CrmError && { code: error.code }) };
  if (error instanceof RetrySoon) return { retryInMs: error.delayMs, countsAsAttempt: false, error: described, maxAttempts: INBOX_MAX_ATTEMPTS };
  if (error instanceof CrmError && error.code === 'rate_limited') return { retryInMs: error.retryAfterMs ?? 1000, countsAsAttempt: false, error: described, maxAttempts: INBOX_MAX_ATTEMPTS };
  const attempts = Math.max(...claims.map((c) => c.attempts));
  return { retryInMs: Math.min(1000 * 2 ** attempts, INBOX_MAX_BACKOFF_MS), countsAsAttempt: true, error: described, maxAttempts: INBOX_MAX_ATTEMPTS };
}

async function retryLater(deps: SyncDeps, connectionId: string, accountId: string, claims: InboxClaim[], error: unknown): Promise<InboxRound> {
  if (error instanceof CrmError && error.status === 429) await countRateLimited(deps.redis, deps.prefix, connectionId).catch(() => {});
  const release = releaseFor(claims, error);
  const setAside = await releaseInbox(deps.db, claims, release);
  // Never dropped silently: deliveries whose retries ran out are on the connection's timeline (and in status).
  await recordSyncEvents(
    deps.db,
    setAside.map((c) => ({ accountId, opportunityId: null, connectionId, kind: 'inbound_failed', detail: { receivedAt: c.receivedAt.toISOString(), events: c.events.length, attempts: c.attempts + 1, error: release.error } })),
  );
  return { kind: 'retry', retryInMs: release.retryInMs, error: release.error!.message };
}
