import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Database } from '../../model/store/db.ts';
import { metricsQuerySchema, metricsView, opportunityMetrics } from '../../model/opportunities/metrics.ts';
import { problemSchema } from '../http.ts';

export function metricsRoutes(app: FastifyInstance, db: Database) {
  app.withTypeProvider<ZodTypeProvider>().get('/metrics/opportunities', {
    schema: {
      tags: ['metrics'],
      querystring: metricsQuerySchema,
      response: { 200: metricsView, 400: problemSchema },
    },
  }, (request) => opportunityMetrics(db, request.accountId, request.query));
}
