import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Queue } from 'bullmq';
import { connectionCreateSchema, createConnection, type SetupDeps } from '../../orchestration/connection-setup.ts';
import { credentialRotationSchema, rotateCredentials } from '../../orchestration/credential-rotation.ts';
import { updateConnectionSettings } from '../../orchestration/settings-update.ts';
import { enqueuePull } from '../../jobs/queues.ts';
import { budgetFigures, budgetView } from '../../orchestration/budget.ts';
import { connectionSettingsSchema } from '../../sync/settings.ts';
import { connectionView, deleteConnection, getConnection, listConnections, setStatus, type ConnectionView } from '../../model/connections/connections.ts';
import { listConnectionProblems, problemView } from '../../model/sync-state/problems.ts';
import { DomainError } from '../../model/store/errors.ts';
import { idParams, listOf, pageQuery, problemSchema } from '../http.ts';
import { budgetSpentWarning, connectionWarnings, warningView } from './connection-warnings.ts';

const tags = ['connections'];
const errors = { 400: problemSchema, 404: problemSchema, 409: problemSchema, 502: problemSchema, 503: problemSchema, 504: problemSchema };
const warned = connectionView.extend({ warnings: z.array(warningView).describe('What keeps this connection from syncing fully although it is active, e.g. webhooks it cannot verify') });
const detailed = warned.extend({
  budgetUsedToday: z.number().describe('Requests or tokens, as the CRM counts them, spent today (UTC)'),
  budget: budgetView.describe("Today's daily CRM budget; when spent, nothing is sent to the CRM until resetsAt (and warnings say budget_spent)"),
});
const created = warned.extend({ webhook: z.record(z.string(), z.unknown()) });

const backfillAccepted = z.object({ connectionId: z.uuid(), status: z.literal('queued') });

const PATCH_DESCRIPTION = [
  'Changes the connection’s settings. Each top-level key given **replaces** that key’s value whole: a list (`stages`, `pipelines`, `owners`, `attributes`) or map',
  '(`closedStages`, `directions`, `conflictPolicy`, `limits`) given is the new list or map, not merged into the old one; keys left out keep their values.',
  'Checked against the account (attribute keys and types, users) and, when a key naming something in the CRM is given (pipelines, stages, closed stages,',
  'attributes, externalRefField, sourceField), against what the CRM has now, read through the connection: a 400 lists every failing field path in `errors[]`;',
  'a CRM that cannot be read answers 502. `baseUrl` is operator-only (a host in CRM_BASE_URL_HOSTS or the CRM’s own API root).',
  'When a mapping (stages, pipelines, owners, attributes, fields, directions) changed, the records whose last push to this connection had a problem are pushed again.',
].join(' ');

const ROTATE_DESCRIPTION = [
  'Replaces the connection’s credentials: a new token (and, where the CRM signs webhooks with one, the app’s client secret), or an OAuth code to re-grant.',
  'They are checked against the CRM like a new connection’s and must open the same CRM account (409 naming `credentials` otherwise). Links, bases and settings stay;',
  'the credentials are sealed with the current encryption key; a connection stopped because the CRM refused its credentials is active again.',
].join(' ');

export function connectionRoutes(app: FastifyInstance, deps: SetupDeps, reconcile?: Queue) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const startBackfill = async (connectionId: string) => {
    if (!reconcile) throw new DomainError(503, 'Service Unavailable', 'this server has no sync queues: backfill cannot start');
    await enqueuePull(reconcile, 'backfill', connectionId);
  };
  const withWarnings = <T extends ConnectionView>(view: T) => ({ ...view, warnings: connectionWarnings(view, deps.appSecrets) });
  const withBudget = async (view: ConnectionView) => {
    const settings = connectionSettingsSchema.parse(view.settings);
    // One bounded read: a Redis that does not answer makes the budget `unknown`, not the request hang.
    const { view: budget, spentByUs } = await budgetFigures(deps, { id: view.id, provider: view.provider, settings });
    // The same figure as budget.used (the CRM's count once its headers gave one), kept for older clients.
    const budgetUsedToday = budget.used ?? spentByUs ?? 0;
    const withWarning = withWarnings(view);
    if (budget.state === 'spent') withWarning.warnings.push(budgetSpentWarning(view.provider, budget));
    return { ...withWarning, budgetUsedToday, budget };
  };

  r.post('/connections', { schema: { tags, body: connectionCreateSchema, response: { 201: created, ...errors } } }, async (request, reply) => {
    const connection = await createConnection(deps, request.accountId, request.body);
    if (request.body.initialSync === 'backfill') await startBackfill(connection.id);
    return reply.code(201).send(withWarnings(connection));
  });
  r.get('/connections', { schema: { tags, response: { 200: z.object({ data: z.array(detailed) }) } } }, async (request) => ({
    data: await Promise.all((await listConnections(deps.db, request.accountId)).map(withBudget)),
  }));
  r.get('/connections/:id', { schema: { tags, params: idParams, response: { 200: detailed, ...errors } } }, async (request) =>
    withBudget(await getConnection(deps.db, request.accountId, request.params.id)),
  );
  r.patch('/connections/:id', {
    schema: { tags, description: PATCH_DESCRIPTION, params: idParams, body: z.record(z.string(), z.unknown()).describe('Any subset of the settings'), response: { 200: warned, ...errors } },
  }, async (request) => withWarnings(await updateConnectionSettings(deps, request.accountId, request.params.id, request.body)));
  r.put('/connections/:id/credentials', {
    schema: { tags, description: ROTATE_DESCRIPTION, params: idParams, body: credentialRotationSchema, response: { 200: warned, ...errors } },
  }, async (request) => withWarnings(await rotateCredentials(deps, request.accountId, request.params.id, request.body.credentials)));
  r.get('/connections/:id/problems', {
    schema: {
      tags,
      description: 'The records this connection cannot sync fully, one entry per record, direction and field: the value, the cause and since when. A problem goes away with the next push (or pull) of the record that no longer has it.',
      params: idParams,
      querystring: z.strictObject(pageQuery),
      response: { 200: listOf(problemView), ...errors },
    },
  }, async (request) => {
    await getConnection(deps.db, request.accountId, request.params.id);
    return listConnectionProblems(deps.db, request.params.id, request.query);
  });
  r.post('/connections/:id/pause', { schema: { tags, params: idParams, response: { 200: warned, ...errors } } }, async (request) =>
    withWarnings(await setStatus(deps.db, request.accountId, request.params.id, 'paused')),
  );
  r.post('/connections/:id/resume', { schema: { tags, params: idParams, response: { 200: warned, ...errors } } }, async (request) =>
    withWarnings(await setStatus(deps.db, request.accountId, request.params.id, 'active')),
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
