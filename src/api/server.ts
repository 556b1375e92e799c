import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Database } from '../model/db.ts';
import { requireApiKey } from './auth.ts';
import { registerJsonParser } from './json-body.ts';
import { registerProblemHandlers } from './problem.ts';
import { attributeRoutes } from './routes/attributes.ts';
import { contactRoutes } from './routes/contacts.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { opportunityRoutes } from './routes/opportunities.ts';
import { userRoutes } from './routes/users.ts';

export interface ServerOptions {
  db: Database;
  logger: FastifyBaseLogger | false;
}

const BODY_LIMIT = 1024 * 1024;
// External references are up to 255 characters, each up to 12 once percent-encoded (a 4-byte UTF-8 character).
const routerOptions = { maxParamLength: 255 * 12 };

export async function buildServer({ db, logger }: ServerOptions): Promise<FastifyInstance> {
  const app = logger
    ? Fastify({ loggerInstance: logger, bodyLimit: BODY_LIMIT, routerOptions })
    : Fastify({ logger: false, bodyLimit: BODY_LIMIT, routerOptions });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerJsonParser(app);
  registerProblemHandlers(app);

  await app.register(swagger, {
    openapi: {
      info: { title: 'crm-sync', version: '1', description: 'Canonical opportunities, synced with HubSpot and Pipedrive.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(
    async (v1) => {
      requireApiKey(v1, db);
      for (const routes of [opportunityRoutes, contactRoutes, userRoutes, attributeRoutes, metricsRoutes]) routes(v1, db);
    },
    { prefix: '/v1' },
  );
  return app;
}
