import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { requireAdmin } from './guard.ts';
import type { AdminAuth } from './lockout.ts';
import { refreshSyncGauges, syncGauges, type GaugeDeps } from './sync-gauges.ts';

/**
 * One registry per server, not prom-client's global one: a process (or a test file) may build
 * several servers. What is truly per process lives here (webhook acknowledgement latency, the
 * process's own CPU, memory and event loop); everything global is read at scrape time.
 */
export function createServerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const webhookAck = new Histogram({
    name: 'crm_sync_webhook_ack_seconds',
    help: 'Time from receiving a CRM webhook to answering it (this process), by provider and status code',
    labelNames: ['provider', 'status'],
    // CRMs give up after seconds (HubSpot 5 s); the interesting part is well under one.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const eventsRefused = new Counter({
    name: 'crm_sync_webhook_events_refused_total',
    help: 'Webhook events this process refused although the request carrying them was taken (e.g. events of a CRM account whose secret did not sign the batch), by provider and reason',
    labelNames: ['provider', 'reason'],
    registers: [registry],
  });
  return {
    registry,
    webhookAcknowledged(provider: string, status: number, seconds: number) {
      webhookAck.observe({ provider, status: String(status) }, seconds);
    },
    webhookEventsRefused(provider: string, reason: string, count: number) {
      eventsRefused.inc({ provider, reason }, count);
    },
  };
}
export type ServerMetrics = ReturnType<typeof createServerMetrics>;

/** GET /metrics for Prometheus: bearer token only (a scraper has no browser session). */
export function metricsRoute(app: FastifyInstance, options: { auth: AdminAuth; metrics: ServerMetrics; sync: GaugeDeps }) {
  const gauges = syncGauges(options.metrics.registry);
  // Two scrapes at once share one refresh: both reset and refill the same gauges.
  let inFlight: Promise<string> | undefined;
  const scrape = () =>
    (inFlight ??= refreshSyncGauges(gauges, options.sync)
      .then(() => options.metrics.registry.metrics())
      .finally(() => {
        inFlight = undefined;
      }));
  app.get('/metrics', { schema: { hide: true }, onRequest: requireAdmin(options.auth, { cookie: false, loginRedirect: false }) }, async (_request, reply) => {
    const body = await scrape();
    return reply.type(options.metrics.registry.contentType).send(body);
  });
}
