import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { enqueueInboxRound } from '../jobs/queues.ts';
import { connectionByRemoteAccount, connectionForWorker, type ConnectionRow } from '../model/connections/connections.ts';
import type { Database } from '../model/store/db.ts';
import type { Provider } from '../model/store/schema.ts';
import { open, type Keyring } from '../model/store/secrets.ts';
import { providerModules } from '../providers/index.ts';
import type { ProviderModule, WebhookLookup, WebhookTarget } from '../providers/types.ts';
import type { ReceivedDelivery } from '../model/sync-state/inbox.ts';
import { inboxWriter, type InboxWriter } from './inbox-writer.ts';

export interface WebhookDeps {
  db: Database;
  keyring: Keyring | undefined;
  /** Wakes the workers for a connection's stored webhooks (at most one round queued per connection). */
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

const WAKE_WARN_EVERY_MS = 10_000;

/** Seconds a CRM is asked to wait before retrying a webhook Postgres could not take. */
const STORE_RETRY_AFTER_SECONDS = 5;

/** Stores every delivery in the inbox, then answers: 2xx only once Postgres has them all, else 503 with Retry-After so the CRM retries. */
async function storeAll(reply: FastifyReply, request: FastifyRequest, writer: InboxWriter, deliveries: ReceivedDelivery[]) {
  try {
    if (deliveries.length) await writer.store(deliveries);
  } catch (error) {
    request.log.error({ err: { message: (error as Error).message } }, 'webhook could not be stored');
    return answer(reply.header('retry-after', String(STORE_RETRY_AFTER_SECONDS)), 503, 'could not be stored; retry later');
  }
  return reply.code(200).send({ received: deliveries.reduce((n, d) => n + d.events.length, 0) });
}

async function receive(deps: WebhookDeps, writer: InboxWriter, module: ProviderModule, request: FastifyRequest<{ Params: { connectionId?: string } }>, reply: FastifyReply) {
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
  return storeAll(reply, request, writer, verdict.deliveries);
}

/**
 * POST /webhooks/<provider> (routed by the CRM account in the events) or
 * /webhooks/<provider>/{connectionId} (one URL per connection), per provider module: verify over
 * the raw bytes, parse, store in the inbox, answer, wake the workers. A paused connection still
 * accepts: its events wait in the inbox for it. Redis down delays the wake-up, never the answer:
 * the sweeper finds stored webhooks nobody woke.
 */
export async function webhookReceivers(app: FastifyInstance, deps: WebhookDeps) {
  let warnedAt = 0;
  const warn = (error: unknown) => {
    // One line per interval, not one per request, while Redis is away.
    if (Date.now() - warnedAt < WAKE_WARN_EVERY_MS) return;
    warnedAt = Date.now();
    app.log.warn({ error: (error as Error).message }, 'inbox rounds not queued: the sweeper will start them once Redis is back');
  };
  const wake = (connectionIds: Set<string>) => {
    for (const id of connectionIds) enqueueInboxRound(deps.inbound, id).catch(warn);
  };
  const writer = inboxWriter(deps.db, wake);
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // Raw bytes, whatever the content type says: signatures are over exactly what was sent.
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) => done(null, body));
    for (const module of Object.values(providerModules)) {
      const path = module.webhooks.routedBy === 'connection' ? `/webhooks/${module.id}/:connectionId` : `/webhooks/${module.id}`;
      scope.post(path, {
        // The CRMs time out and retry slow answers (HubSpot after 5 s): how fast we answer is worth watching.
        onResponse: async (_request, reply) => deps.onAcknowledged?.(module.id, reply.statusCode, reply.elapsedTime / 1000),
        handler: (request: FastifyRequest<{ Params: { connectionId?: string } }>, reply) => receive(deps, writer, module, request, reply),
      });
    }
  });
}
