import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Queue } from 'bullmq';
import { connectionCreateSchema, createConnection, type SetupDeps } from '../../orchestration/connection-setup.ts';
import { enqueuePull } from '../../jobs/queues.ts';
import { pacerFor } from '../../orchestration/connectors.ts';
import { connectionSettingsSchema } from '../../sync/settings.ts';
import { connectionView, deleteConnection, getConnection, listConnections, setStatus, updateSettings, type ConnectionView } from '../../model/connections/connections.ts';
import { DomainError } from '../../model/store/errors.ts';
import { idParams, problemSchema } from '../http.ts';

const tags = ['connections'];
const errors = { 400: problemSchema, 404: problemSchema, 409: problemSchema, 503: problemSchema };
const detailed = connectionView.extend({ budgetUsedToday: z.number().describe('Requests or tokens, as the CRM counts them, spent today (UTC)') });
const created = connectionView.extend({ webhook: z.record(z.string(), z.unknown()) });

const backfillAccepted = z.object({ connectionId: z.uuid(), status: z.literal('queued') });

export function connectionRoutes(app: FastifyInstance, deps: SetupDeps, reconcile?: Queue) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const startBackfill = async (connectionId: string) => {
    if (!reconcile) throw new DomainError(503, 'Service Unavailable', 'this server has no sync queues: backfill cannot start');
    await enqueuePull(reconcile, 'backfill', connectionId);
  };
  const withBudget = async (view: ConnectionView) => {
    const settings = connectionSettingsSchema.parse(view.settings);
    return { ...view, budgetUsedToday: await pacerFor(deps.redis, deps.prefix, view.id, view.provider, settings).spentToday() };
  };

  r.post('/connections', { schema: { tags, body: connectionCreateSchema, response: { 201: created, ...errors } } }, async (request, reply) => {
    const connection = await createConnection(deps, request.accountId, request.body);
    if (request.body.initialSync === 'backfill') await startBackfill(connection.id);
    return reply.code(201).send(connection);
  });
  r.get('/connections', { schema: { tags, response: { 200: z.object({ data: z.array(detailed) }) } } }, async (request) => ({
    data: await Promise.all((await listConnections(deps.db, request.accountId)).map(withBudget)),
  }));
  r.get('/connections/:id', { schema: { tags, params: idParams, response: { 200: detailed, ...errors } } }, async (request) =>
    withBudget(await getConnection(deps.db, request.accountId, request.params.id)),
  );
  r.patch('/connections/:id', {
    schema: { tags, params: idParams, body: z.record(z.string(), z.unknown()).describe('Any subset of the settings'), response: { 200: connectionView, ...errors } },
  }, (request) => updateSettings(deps.db, request.accountId, request.params.id, request.body, (merged) => connectionSettingsSchema.safeParse(merged)));
  r.post('/connections/:id/pause', { schema: { tags, params: idParams, response: { 200: connectionView, ...errors } } }, (request) =>
    setStatus(deps.db, request.accountId, request.params.id, 'paused'),
  );
  r.post('/connections/:id/resume', { schema: { tags, params: idParams, response: { 200: connectionView, ...errors } } }, (request) =>
    setStatus(deps.db, request.accountId, request.params.id, 'active'),
  );
  // 202: the import runs in the workers; GET /v1/connections/{id} shows how far it got (reconciliation.backfill).
  r.post('/connections/:id/backfill', { schema: { tags, params: idParams, response: { 202: backfillAccepted, ...errors } } }, async (request, reply) => {
    await getConnection(deps.db, request.accountId, request.params.id);
    await startBackfill(request.params.id);
    return reply.code(202).send({ connectionId: request.params.id, status: 'queued' as const });
  });
  r.delete('/connections/:id', { schema: { tags, params: idParams, response: { 204: z.null(), ...errors } } }, async (request, reply) => {
    await deleteConnection(deps.db, request.accountId, request.params.id);
    return reply.code(204).send(null);
  });
}
