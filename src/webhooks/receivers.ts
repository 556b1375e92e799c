import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { enqueueDelivery, type InboundDelivery } from '../jobs/queues.ts';
import { REDIS_RETRY_AFTER_SECONDS } from '../jobs/redis.ts';
import { connectionByRemoteAccount, connectionForWorker, type ConnectionRow } from '../model/connections/connections.ts';
import type { Database } from '../model/store/db.ts';
import type { Provider } from '../model/store/schema.ts';
import { open, type Keyring } from '../model/store/secrets.ts';
import { providerModules } from '../providers/index.ts';
import type { ProviderModule, WebhookLookup, WebhookTarget } from '../providers/types.ts';

export interface WebhookDeps {
  db: Database;
  keyring: Keyring | undefined;
  inbound: Queue;
  /** The public address the CRM called: signatures may cover the exact URI. */
  publicUrl: string;
  /** The operator's app secret per CRM (public apps sign their webhooks with it). */
  appSecrets?: Partial<Record<Provider, string>>;
  /** Told how long each delivery took to answer, for the acknowledgement latency metric. */
  onAcknowledged?: (provider: Provider, status: number, seconds: number) => void;
  /** Told of events refused while others of the same request were taken (the request itself answered 200). */
  onEventsRefused?: (provider: Provider, reasonCode: string, count: number) => void;
}

const BODY_LIMIT = 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const answer = (reply: FastifyReply, status: number, message: string) => reply.code(status).send({ status, message });

function targetOf(connection: ConnectionRow, keyring: Keyring | undefined): WebhookTarget {
  const secret = connection.webhookSecret && keyring ? open(connection.webhookSecret, keyring) : undefined;
  return { id: connection.id, remoteAccountId: connection.remoteAccountId, secret };
}

/** Only this provider's connections are visible to its receiver. */
async function lookupFor(deps: WebhookDeps, provider: Provider, connectionId: string | undefined): Promise<WebhookLookup> {
  const named = connectionId && UUID.test(connectionId) ? await connectionForWorker(deps.db, connectionId) : undefined;
  return {
    named: named?.provider === provider ? targetOf(named, deps.keyring) : undefined,
    appSecret: deps.appSecrets?.[provider],
    async byRemoteAccounts(ids) {
      const found = await Promise.all(ids.map((id) => connectionByRemoteAccount(deps.db, provider, id)));
      return found.filter((c): c is ConnectionRow => c !== undefined).map((c) => targetOf(c, deps.keyring));
    },
  };
}

/**
 * Enqueues every delivery, then answers: 2xx only when Redis has them all, 503 with Retry-After so
 * the CRM retries (within a second when Redis is down: enqueueDelivery's wait is bounded).
 */
async function enqueueAll(reply: FastifyReply, request: FastifyRequest, queue: Queue, deliveries: InboundDelivery[]) {
  try {
    for (const delivery of deliveries) await enqueueDelivery(queue, delivery);
  } catch (error) {
    request.log.error({ err: { message: (error as Error).message } }, 'webhook could not be enqueued');
    return answer(reply.header('retry-after', String(REDIS_RETRY_AFTER_SECONDS)), 503, 'could not be queued; retry later');
  }
  return reply.code(200).send({ received: deliveries.reduce((n, d) => n + d.events.length, 0) });
}

async function receive(deps: WebhookDeps, module: ProviderModule, request: FastifyRequest<{ Params: { connectionId?: string } }>, reply: FastifyReply) {
  const lookup = await lookupFor(deps, module.id, request.params.connectionId);
  const rawBody = request.body as Buffer;
  const verdict = await module.webhooks.receive({ method: request.method, uri: deps.publicUrl + request.url, headers: request.headers, rawBody }, lookup);
  if ('refused' in verdict) {
    const { status, message, headers } = verdict.refused;
    return reply.headers(headers ?? {}).code(status).send({ status, message });
  }
  if (verdict.refusedEvents) {
    request.log.warn({ provider: module.id, refusedEvents: verdict.refusedEvents }, 'webhook events refused');
    deps.onEventsRefused?.(module.id, verdict.refusedEvents.reasonCode, verdict.refusedEvents.count);
  }
  const receivedAt = Date.now();
  const deliveries = verdict.deliveries.map((d) => ({ ...d, provider: module.id, receivedAt }));
  return enqueueAll(reply, request, deps.inbound, deliveries);
}

/**
 * POST /webhooks/<provider> (routed by the CRM account in the events) or
 * /webhooks/<provider>/{connectionId} (one URL per connection), per provider module: verify over
 * the raw bytes, parse, enqueue, answer. A paused connection still accepts: its events wait in the queue for it.
 */
export async function webhookReceivers(app: FastifyInstance, deps: WebhookDeps) {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // Raw bytes, whatever the content type says: signatures are over exactly what was sent.
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) => done(null, body));
    for (const module of Object.values(providerModules)) {
      const path = module.webhooks.routedBy === 'connection' ? `/webhooks/${module.id}/:connectionId` : `/webhooks/${module.id}`;
      scope.post(path, {
        // The CRMs time out and retry slow answers (HubSpot after 5 s): how fast we answer is worth watching.
        onResponse: async (_request, reply) => deps.onAcknowledged?.(module.id, reply.statusCode, reply.elapsedTime / 1000),
        handler: (request: FastifyRequest<{ Params: { connectionId?: string } }>, reply) => receive(deps, module, request, reply),
      });
    }
  });
}
