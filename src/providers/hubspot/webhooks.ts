import type { ParsedEvents, WebhookLookup, WebhookRequest, WebhookSetup, WebhookTarget, WebhookVerdict } from '../types.ts';
import { headerValue, parseJsonBody, tooDeep } from '../webhook-body.ts';
import { HUBSPOT_BATCH_MAX, hubspotBatch, type HubSpotEvent } from './payloads.ts';
import { verifyHubSpotSignature } from './signature.ts';

const REMOTE_ID = /^\d{1,30}$/;

function groupByPortal(events: HubSpotEvent[]): Map<string, HubSpotEvent[]> {
  const byPortal = new Map<string, HubSpotEvent[]>();
  for (const event of events) byPortal.set(String(event.portalId), [...(byPortal.get(String(event.portalId)) ?? []), event]);
  return byPortal;
}

/** Checks the v3 signature once per candidate secret. */
function signatureChecker(request: WebhookRequest): (secret: string | undefined) => boolean {
  const verdicts = new Map<string, boolean>();
  return (secret) => {
    if (!secret) return false;
    if (!verdicts.has(secret)) {
      verdicts.set(secret, verifyHubSpotSignature({
        secret,
        method: request.method,
        uri: request.uri,
        rawBody: request.rawBody,
        signature: headerValue(request.headers['x-hubspot-signature-v3']),
        timestamp: headerValue(request.headers['x-hubspot-request-timestamp']),
      }));
    }
    return verdicts.get(secret)!;
  };
}

const BAD_SIGNATURE = { refused: { status: 401 as const, message: 'missing, invalid or stale X-HubSpot-Signature-v3' } };

/**
 * One URL for every portal: the batch is split by portalId, and each portal's events are taken only
 * for a connection that the signature vouches for: signed with that connection's own secret (a
 * private app's client secret, which its tenant knows) or with the operator's app secret (known only
 * to HubSpot and the operator, so it vouches for every portal that installed the app). A tenant's
 * secret never carries another tenant's events: those are refused and reported, and a batch with
 * none accepted is a 401. Events of portals we do not sync are signed but not ours to keep.
 */
export async function receiveHubSpot(request: WebhookRequest, lookup: WebhookLookup): Promise<WebhookVerdict> {
  const deep = tooDeep(request.rawBody);
  if (deep) return deep;
  const parsed = hubspotBatch.safeParse(parseJsonBody(request.rawBody));
  if (!parsed.success) return { refused: { status: 400, message: `the body must be a JSON array of 1 to ${HUBSPOT_BATCH_MAX} events, each with a portalId` } };
  const byPortal = groupByPortal(parsed.data);
  const connections = await lookup.byRemoteAccounts([...byPortal.keys()]);
  const signed = signatureChecker(request);
  const vouched = (c: WebhookTarget) => signed(c.secret) || signed(lookup.appSecret);
  const accepted = connections.filter(vouched);
  const refused = connections.filter((c) => !vouched(c));
  if (accepted.length === 0 && (refused.length > 0 || !signed(lookup.appSecret))) return BAD_SIGNATURE;
  const eventsOf = (c: WebhookTarget) => byPortal.get(c.remoteAccountId!)!;
  return {
    deliveries: accepted.map((c) => ({ connectionId: c.id, events: eventsOf(c) })),
    ...(refused.length > 0 && {
      refusedEvents: {
        count: refused.reduce((n, c) => n + eventsOf(c).length, 0),
        connectionIds: refused.map((c) => c.id),
        reason: 'events of a portal whose connection’s secret did not sign the request',
        reasonCode: 'portal_not_signed',
      },
    }),
  };
}

/** The deal ids one event speaks about: [] when it is not about deals, undefined when we cannot read it. */
function idsOfEvent(raw: unknown): string[] | undefined {
  const event = (raw ?? {}) as Partial<HubSpotEvent>;
  if (!String(event.subscriptionType ?? '').startsWith('deal.')) return []; // contacts, companies: not ours to sync
  // An association change names the deal as fromObjectId (its contact is toObjectId).
  const own = event.subscriptionType === 'deal.associationChange' ? (event.objectId ?? event.fromObjectId) : (event.newObjectId ?? event.objectId);
  const ids = [own, ...(Array.isArray(event.mergedObjectIds) ? event.mergedObjectIds : [])].map(String);
  return ids.every((id) => REMOTE_ID.test(id)) ? ids : undefined;
}

/** Thin events name deals only; who closed a deal is not in them. */
export function parseHubSpotEvents(events: unknown[]): ParsedEvents {
  const ids = new Set<string>();
  const unreadable: unknown[] = [];
  for (const event of events) {
    const found = idsOfEvent(event);
    if (found) for (const id of found) ids.add(id);
    else unreadable.push(event);
  }
  return { ids: [...ids], unreadable, closers: new Map() };
}

/** HubSpot apps subscribe in the developer portal: we can only say where to point them. */
export async function setUpHubSpotWebhooks(input: { url: string; credentials: unknown; appSecret: string | undefined }): Promise<WebhookSetup> {
  const own = (input.credentials as { clientSecret?: string }).clientSecret;
  return {
    secret: own ?? input.appSecret ?? null,
    view: {
      url: input.url,
      registered: false,
      instructions: 'Set this as the target URL of your HubSpot app and subscribe to deal events; signatures are checked with the app’s client secret.',
    },
  };
}
