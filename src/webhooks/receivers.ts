import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { verifyHubSpotSignature } from '../providers/hubspot/signature.ts';
import { basicAuthMatches } from '../providers/pipedrive/webhook-auth.ts';
import { enqueueDelivery, type InboundDelivery } from '../jobs/queues.ts';
import { connectionByRemoteAccount, connectionForWorker, type ConnectionRow } from '../model/connections/connections.ts';
import type { Database } from '../model/store/db.ts';
import { open, type Keyring } from '../model/store/secrets.ts';

export interface WebhookDeps {
  db: Database;
  keyring: Keyring | undefined;
  inbound: Queue;
  /** The public address the CRM called: HubSpot signs the exact URI. */
  publicUrl: string;
  hubspotClientSecret?: string;
  /** Told how long each delivery took to answer, for the acknowledgement latency metric. */
  onAcknowledged?: (provider: 'hubspot' | 'pipedrive', status: number, seconds: number) => void;
}

/** HubSpot sends at most 100 events per request; Pipedrive one. */
const HUBSPOT_BATCH_MAX = 100;
const BODY_LIMIT = 1024 * 1024;

const answer = (reply: FastifyReply, status: number, message: string) => reply.code(status).send({ status, message });

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

function secretOf(connection: ConnectionRow, keyring: Keyring | undefined): string | undefined {
  if (!connection.webhookSecret || !keyring) return undefined;
  return open(connection.webhookSecret, keyring);
}

/** Enqueues every delivery, then answers: 2xx only when Redis has them all, 503 so the CRM retries. */
async function enqueueAll(reply: FastifyReply, request: FastifyRequest, queue: Queue, deliveries: InboundDelivery[]) {
  try {
    for (const delivery of deliveries) await enqueueDelivery(queue, delivery);
  } catch (error) {
    request.log.error({ err: error }, 'webhook could not be enqueued');
    return answer(reply, 503, 'could not be queued; retry later');
  }
  return reply.code(200).send({ received: deliveries.reduce((n, d) => n + d.events.length, 0) });
}

async function hubspot(deps: WebhookDeps, request: FastifyRequest, reply: FastifyReply) {
  const raw = request.body as Buffer;
  const events = parseJson(raw);
  if (!Array.isArray(events) || events.length === 0 || events.length > HUBSPOT_BATCH_MAX) {
    return answer(reply, 400, `the body must be a JSON array of 1 to ${HUBSPOT_BATCH_MAX} events`);
  }
  const byPortal = new Map<string, unknown[]>();
  for (const event of events) {
    const portalId = (event as { portalId?: unknown })?.portalId;
    if (typeof portalId !== 'number' && typeof portalId !== 'string') return answer(reply, 400, 'every event needs a portalId');
    byPortal.set(String(portalId), [...(byPortal.get(String(portalId)) ?? []), event]);
  }
  const connections = (await Promise.all([...byPortal.keys()].map((p) => connectionByRemoteAccount(deps.db, 'hubspot', p)))).filter(
    (c): c is ConnectionRow => c !== undefined,
  );
  // The app's own secret, or the private apps' secrets of the portals in this batch.
  const secrets = [deps.hubspotClientSecret, ...connections.map((c) => secretOf(c, deps.keyring))].filter((s): s is string => Boolean(s));
  const signed = (secret: string) =>
    verifyHubSpotSignature({
      secret,
      method: request.method,
      uri: deps.publicUrl + request.url,
      rawBody: raw,
      signature: request.headers['x-hubspot-signature-v3'] as string | undefined,
      timestamp: request.headers['x-hubspot-request-timestamp'] as string | undefined,
    });
  if (!secrets.some(signed)) return answer(reply, 401, 'missing, invalid or stale X-HubSpot-Signature-v3');
  const receivedAt = Date.now();
  // Events of portals we do not sync are signed but not ours to keep.
  const deliveries = connections.map((c) => ({ connectionId: c.id, provider: 'hubspot' as const, receivedAt, events: byPortal.get(c.remoteAccountId!)! }));
  return enqueueAll(reply, request, deps.inbound, deliveries);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function pipedrive(deps: WebhookDeps, request: FastifyRequest<{ Params: { connectionId: string } }>, reply: FastifyReply) {
  const { connectionId } = request.params;
  const connection = UUID.test(connectionId) ? await connectionForWorker(deps.db, connectionId) : undefined;
  const secret = connection?.provider === 'pipedrive' ? secretOf(connection, deps.keyring) : undefined;
  // An unknown connection gets the same 401 as wrong credentials: the URL reveals nothing.
  if (!secret || !basicAuthMatches(request.headers.authorization, JSON.parse(secret) as { user: string; password: string })) {
    return reply.header('www-authenticate', 'Basic realm="crm-sync"').code(401).send({ status: 401, message: 'invalid credentials' });
  }
  const body = parseJson(request.body as Buffer) as { meta?: unknown } | undefined;
  // v2 bodies are {meta, data, previous}; v1 registrations still send {meta, current, previous, event}.
  if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.meta !== 'object' || body.meta === null) {
    return answer(reply, 400, 'the body must be a Pipedrive webhook: a JSON object with meta');
  }
  return enqueueAll(reply, request, deps.inbound, [{ connectionId, provider: 'pipedrive', receivedAt: Date.now(), events: [body] }]);
}

/**
 * POST /webhooks/hubspot and /webhooks/pipedrive/{connectionId}: verify over the raw bytes, parse,
 * enqueue, answer. A paused connection still accepts: its events wait in the queue for it.
 */
export async function webhookReceivers(app: FastifyInstance, deps: WebhookDeps) {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // Raw bytes, whatever the content type says: signatures are over exactly what was sent.
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) => done(null, body));
    // The CRMs time out and retry slow answers (HubSpot after 5 s): how fast we answer is worth watching.
    scope.addHook('onResponse', async (request, reply) => {
      const provider = request.url.startsWith('/webhooks/hubspot') ? 'hubspot' : 'pipedrive';
      deps.onAcknowledged?.(provider, reply.statusCode, reply.elapsedTime / 1000);
    });
    scope.post('/webhooks/hubspot', (request, reply) => hubspot(deps, request, reply));
    scope.post('/webhooks/pipedrive/:connectionId', (request: FastifyRequest<{ Params: { connectionId: string } }>, reply) => pipedrive(deps, request, reply));
  });
}
