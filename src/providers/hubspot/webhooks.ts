import type { ParsedEvents, WebhookLookup, WebhookRequest, WebhookSetup, WebhookVerdict } from '../types.ts';
import { headerValue, parseJsonBody } from '../webhook-body.ts';
import { HUBSPOT_BATCH_MAX, hubspotBatch, type HubSpotEvent } from './payloads.ts';
import { verifyHubSpotSignature } from './signature.ts';

const REMOTE_ID = /^\d{1,30}$/;

/**
 * One URL for every portal: the batch is split by portalId, and it must be signed (v3, over the
 * raw bytes) with the app's secret or the secret of one of the portals it names.
 */
export async function receiveHubSpot(request: WebhookRequest, lookup: WebhookLookup): Promise<WebhookVerdict> {
  const parsed = hubspotBatch.safeParse(parseJsonBody(request.rawBody));
  if (!parsed.success) return { refused: { status: 400, message: `the body must be a JSON array of 1 to ${HUBSPOT_BATCH_MAX} events, each with a portalId` } };
  const byPortal = new Map<string, HubSpotEvent[]>();
  for (const event of parsed.data) byPortal.set(String(event.portalId), [...(byPortal.get(String(event.portalId)) ?? []), event]);
  const connections = await lookup.byRemoteAccounts([...byPortal.keys()]);
  const secrets = [lookup.appSecret, ...connections.map((c) => c.secret)].filter((s): s is string => Boolean(s));
  const signed = (secret: string) =>
    verifyHubSpotSignature({
      secret,
      method: request.method,
      uri: request.uri,
      rawBody: request.rawBody,
      signature: headerValue(request.headers['x-hubspot-signature-v3']),
      timestamp: headerValue(request.headers['x-hubspot-request-timestamp']),
    });
  if (!secrets.some(signed)) return { refused: { status: 401, message: 'missing, invalid or stale X-HubSpot-Signature-v3' } };
  // Events of portals we do not sync are signed but not ours to keep.
  return { deliveries: connections.map((c) => ({ connectionId: c.id, events: byPortal.get(c.remoteAccountId!)! })) };
}

/** The deal ids one event speaks about: [] when it is not about deals, undefined when we cannot read it. */
function idsOfEvent(raw: unknown): string[] | undefined {
  const event = (raw ?? {}) as Partial<HubSpotEvent>;
  if (!String(event.subscriptionType ?? '').startsWith('deal.')) return []; // contacts, companies: not ours to sync
  const ids = [event.newObjectId ?? event.objectId, ...(Array.isArray(event.mergedObjectIds) ? event.mergedObjectIds : [])].map(String);
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
