import { providerModules } from '../providers/index.ts';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Queue } from 'bullmq';
import type { SetupDeps } from '../orchestration/connection-setup.ts';
import { notifyAccount } from '../jobs/notify.ts';
import type { Database } from '../model/store/db.ts';
import { connectionRoutes } from './routes/connections.ts';
import { subscriptionRoutes } from './routes/subscriptions.ts';
import { webhookReceivers } from '../webhooks/receivers.ts';
import { adminConsole, type AdminOptions } from './admin/index.ts';
import { healthRoutes } from './admin/health.ts';
import { createServerMetrics } from './admin/metrics.ts';
import { requireApiKey } from './auth.ts';
import { registerJsonParser } from './json-body.ts';
import { registerProblemHandlers, sendProblem } from './problem.ts';
import { refuseUnstorableText } from './text-check.ts';
import { attributeRoutes } from './routes/attributes.ts';
import { contactRoutes } from './routes/contacts.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { opportunityRoutes } from './routes/opportunities.ts';
import { opportunitySyncRoutes } from './routes/opportunity-sync.ts';
import { userRoutes } from './routes/users.ts';

export interface ServerOptions {
  db: Database;
  logger: FastifyBaseLogger | false;
  /**
   * With it, /v1/connections and /v1/subscriptions are served and every canonical change asks for an
   * outbound flush and (given the events queue) the delivery of its events.
   */
  sync?: { setup: SetupDeps; outbound: Queue; inbound: Queue; reconcile?: Queue; events?: Queue };
  /** With it (and sync), the admin console: /admin/queues, /admin/api, /metrics. */
  admin?: AdminOptions;
}

const BODY_LIMIT = 1024 * 1024;
// External references are up to 255 characters, each up to 12 once percent-encoded (a 4-byte UTF-8 character).
const routerOptions = { maxParamLength: 255 * 12 };

const mutating = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function buildServer({ db, logger, sync, admin }: ServerOptions): Promise<FastifyInstance> {
  // Errors Fastify raises before routing (a URL that is not valid percent-encoding) are problems too.
  const frameworkErrors = (error: Error, _request: unknown, reply: import('fastify').FastifyReply) =>
    sendProblem(reply, { status: 400, title: 'Bad Request', detail: error.message, errors: [{ field: 'url', message: 'is not a valid URL' }] });
  const app = logger
    ? Fastify({ loggerInstance: logger, bodyLimit: BODY_LIMIT, routerOptions, frameworkErrors })
    : Fastify({ logger: false, bodyLimit: BODY_LIMIT, routerOptions, frameworkErrors });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerJsonParser(app);
  registerProblemHandlers(app);
  refuseUnstorableText(app);

  await app.register(swagger, {
    openapi: {
      info: { title: 'crm-sync', version: '1', description: `Canonical opportunities, synced with ${Object.values(providerModules).map((m) => m.label).join(' and ')}.` },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      tags: [{ name: 'opportunities', description: 'Every response that returns one opportunity carries its version as `ETag: "<version>"`, for `If-Match`.' }],
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const metrics = sync && admin ? createServerMetrics() : undefined;
  if (sync) {
    const { keyring, publicUrl, appSecrets } = sync.setup;
    await webhookReceivers(app, { db, keyring, inbound: sync.inbound, publicUrl, appSecrets, onAcknowledged: metrics?.webhookAcknowledged, onEventsRefused: metrics?.webhookEventsRefused });
  }
  healthRoutes(app, { db, redis: sync?.setup.redis });
  if (sync && admin && metrics) {
    const { redis, prefix, publicUrl } = sync.setup;
    const deps = { db, redis, prefix, queues: admin.queues, outbound: sync.outbound, inbound: sync.inbound };
    await adminConsole(app, { ...admin, deps, metrics, secureCookie: publicUrl.startsWith('https:') });
  }
  await app.register(
    async (v1) => {
      requireApiKey(v1, db);
      for (const routes of [opportunityRoutes, opportunitySyncRoutes, contactRoutes, userRoutes, attributeRoutes, metricsRoutes]) routes(v1, db);
      if (sync) {
        connectionRoutes(v1, sync.setup, sync.reconcile);
        subscriptionRoutes(v1, db, sync.setup.keyring, sync.setup.eventTargetsAllowed);
        // After the response, so the change has committed; a failure here is caught up by the sweeper.
        v1.addHook('onResponse', async (request, reply) => {
          if (!mutating.has(request.method) || reply.statusCode >= 400 || !request.accountId) return;
          await notifyAccount(db, sync.outbound, request.accountId, sync.events).catch((error: unknown) => request.log.warn({ err: error }, 'outbound notify failed'));
        });
      }
    },
    { prefix: '/v1' },
  );
  return app;
}
