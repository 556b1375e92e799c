import { randomBytes } from 'node:crypto';
import type { CrmConnector, ParsedEvents, WebhookLookup, WebhookRequest, WebhookSetup, WebhookVerdict } from '../types.ts';
import { headerValue, parseJsonBody, tooDeep } from '../webhook-body.ts';
import { PipedriveConnector } from './connector.ts';
import { pipedriveWebhook, type PipedriveWebhook } from './payloads.ts';
import { basicAuthMatches } from './webhook-auth.ts';

const REMOTE_ID = /^\d{1,30}$/;

/** One URL per connection, with HTTP basic credentials only that connection knows. */
export async function receivePipedrive(request: WebhookRequest, lookup: WebhookLookup): Promise<WebhookVerdict> {
  const target = lookup.named;
  // An unknown connection gets the same 401 as wrong credentials: the URL reveals nothing.
  if (!target?.secret || !basicAuthMatches(headerValue(request.headers.authorization), JSON.parse(target.secret) as { user: string; password: string })) {
    return { refused: { status: 401, message: 'invalid credentials', headers: { 'www-authenticate': 'Basic realm="crm-sync"' } } };
  }
  const deep = tooDeep(request.rawBody);
  if (deep) return deep;
  const body = pipedriveWebhook.safeParse(parseJsonBody(request.rawBody));
  if (!body.success) return { refused: { status: 400, message: 'the body must be a Pipedrive webhook: a JSON object with meta' } };
  return { deliveries: [{ connectionId: target.id, events: [body.data] }] };
}

function idsOfEvent(event: Partial<PipedriveWebhook>): string[] | undefined {
  const meta = event.meta ?? {};
  const entity = meta.entity ?? meta.object;
  if (entity !== undefined && entity !== 'deal') return [];
  const id = String(meta.entity_id ?? meta.id);
  return entity === 'deal' && REMOTE_ID.test(id) ? [id] : undefined;
}

/**
 * Who closed a deal, where an event says so: an event whose status moved (v2 `data` and
 * `previous`, v1 `current`) names its user. Only that event: the deal read now may have been closed
 * by someone else than the user of a later, unrelated event in the same stream.
 */
function closerOf(event: Partial<PipedriveWebhook>): [string, string] | undefined {
  const meta = event.meta ?? {};
  const status = (event.data ?? event.current)?.status;
  const moved = event.previous?.status !== undefined && status !== event.previous.status;
  return moved && meta.user_id !== undefined ? [String(meta.entity_id ?? meta.id), String(meta.user_id)] : undefined;
}

export function parsePipedriveEvents(events: unknown[]): ParsedEvents {
  const ids = new Set<string>();
  const unreadable: unknown[] = [];
  const closers = new Map<string, string>();
  for (const raw of events) {
    const event = (raw ?? {}) as Partial<PipedriveWebhook>;
    const found = idsOfEvent(event);
    if (found) for (const id of found) ids.add(id);
    else unreadable.push(raw);
    const closer = closerOf(event);
    if (closer) closers.set(...closer);
  }
  return { ids: [...ids], unreadable, closers };
}

/** Webhooks v2 for every deal event, registered through the API with basic auth of this connection's own. */
export async function setUpPipedriveWebhooks(input: { connectionId: string; url: string; connector: CrmConnector }): Promise<WebhookSetup> {
  if (!(input.connector instanceof PipedriveConnector)) throw new Error('a Pipedrive connection needs a Pipedrive connector');
  const auth = { user: `crm-sync-${input.connectionId.slice(0, 8)}`, password: randomBytes(24).toString('base64url') };
  await input.connector.registerWebhook(input.url, auth);
  return { secret: JSON.stringify(auth), view: { url: input.url, registered: true } };
}
