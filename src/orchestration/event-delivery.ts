import type { Database } from '../model/store/db.ts';
import { claimHead, recordDelivered, recordFailure, type HeadClaim } from '../model/events/delivery-claims.ts';
import { open, type Keyring } from '../model/store/secrets.ts';
import { deactivateSubscription } from '../model/events/subscriptions.ts';
import { postEvent, SEND_TIMEOUT_MS, type SendResult } from './event-sender.ts';
import { signedHeaders } from './event-signature.ts';
import { allowList } from './event-target-rule.ts';

/** The retry schedule of a delivery (see eventsJobOptions in src/jobs/queues.ts). */
export const RETRY_BASE_MS = 5_000;
export const RETRY_CAP_MS = 3_600_000;
export const RETRY_WINDOW_MS = 3 * 24 * 3_600_000;
// A send holds its delivery for at most its timeout; the margin covers recording the outcome.
const LEASE_MS = SEND_TIMEOUT_MS + 20_000;
// Another worker is sending this subscription's head: look again soon, in case it stops before new events.
const BUSY_RECHECK_MS = 1_000;
// Then the job makes way for other subscriptions and queues itself again.
const DELIVERIES_PER_JOB = 50;

export interface EventDeps {
  db: Database;
  keyring: Keyring | undefined;
  /** The first retry's delay; tests shorten it. */
  retryBaseMs?: number | undefined;
  /** EVENT_TARGET_ALLOWED: internal receivers the operator admits (loopback, private, link-local are refused otherwise). */
  eventTargetsAllowed?: readonly string[] | undefined;
}

/** 5 s × 2^(attempt-1), capped at 1 h, with up to 10% jitter so failed receivers are not hit in lockstep. */
export function retryDelayMs(attempt: number, baseMs = RETRY_BASE_MS, retryAfterMs = 0): number {
  const backoff = Math.min(baseMs * 2 ** (attempt - 1), RETRY_CAP_MS);
  return Math.round(Math.min(Math.max(backoff * (1 + 0.1 * Math.random()), retryAfterMs), RETRY_CAP_MS));
}

type Claimed = Extract<HeadClaim, { kind: 'claimed' }>;

/** The body is serialised once and signed as those exact bytes. */
async function send(deps: EventDeps, { delivery, subscription }: Claimed): Promise<SendResult> {
  let secret: string;
  try {
    if (!deps.keyring) throw new Error('ENCRYPTION_KEY is not set');
    secret = open(subscription.secret, deps.keyring);
  } catch (error) {
    return { ok: false, statusCode: null, error: `cannot open the signing secret: ${(error as Error).message}` };
  }
  const { type, timestamp, data } = delivery.payload;
  const body = JSON.stringify({ type, timestamp, data });
  return postEvent(subscription.url, body, signedHeaders(secret, delivery.eventId, body), { allowed: allowList(deps.eventTargetsAllowed) });
}

/** Records a failed send; answers whether the head still blocks the subscription (and until when). */
async function recordFailedSend(deps: EventDeps, claim: Claimed, result: Extract<SendResult, { ok: false }>) {
  if (result.gone) await deactivateSubscription(deps.db, claim.subscription.id);
  const retryInMs = retryDelayMs(claim.delivery.attempts, deps.retryBaseMs, result.retryAfterMs);
  // A refused target stays refused until the operator or the URL changes: fail at once (a replay sends it again).
  const retryWindowMs = result.refused ? 0 : RETRY_WINDOW_MS;
  const status = await recordFailure(deps.db, claim.delivery, { statusCode: result.statusCode, error: result.error, retryInMs, retryWindowMs });
  return { blocked: status === 'pending', retryInMs };
}

function lookAgainInMs(claim: Exclude<HeadClaim, Claimed>): number | undefined {
  if (claim.kind === 'busy') return BUSY_RECHECK_MS;
  if (claim.kind === 'waiting') return claim.inMs;
  return undefined; // idle or inactive: the next event or reactivation brings a new run
}

export interface DeliveryRun {
  delivered: number;
  failed: number;
  /** When this subscription needs a run again, if it does. */
  lookAgainInMs?: number | undefined;
}

/** Sends a subscription's due deliveries in order until one fails, none is due, or the job has done its share. */
export async function deliverSubscription(deps: EventDeps, subscriptionId: string): Promise<DeliveryRun> {
  const run: DeliveryRun = { delivered: 0, failed: 0 };
  for (let i = 0; i < DELIVERIES_PER_JOB; i++) {
    const claim = await claimHead(deps.db, subscriptionId, LEASE_MS);
    if (claim.kind !== 'claimed') return { ...run, lookAgainInMs: lookAgainInMs(claim) };
    const result = await send(deps, claim);
    if (result.ok) {
      await recordDelivered(deps.db, claim.delivery, result.statusCode);
      run.delivered++;
      continue;
    }
    run.failed++;
    const { blocked, retryInMs } = await recordFailedSend(deps, claim, result);
    // A delivery that failed for good (or was replayed meanwhile) no longer holds the others back.
    if (blocked) return { ...run, lookAgainInMs: result.gone ? undefined : retryInMs };
  }
  return { ...run, lookAgainInMs: 0 };
}
