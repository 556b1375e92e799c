import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { connectionHealth } from '../../orchestration/connection-health.ts';
import { notifyAccount } from '../../jobs/notify.ts';
import { connectionForWorker } from '../../model/connections/connections.ts';
import { notFound } from '../../model/store/errors.ts';
import { conflictView, listConflicts, reviewConflict } from '../../model/sync-state/conflicts.ts';
import { listConnectionProblems, problemView } from '../../model/sync-state/problems.ts';
import { replayOpportunity } from '../../model/sync-state/replay.ts';
import { getAnySyncTimeline } from '../../model/sync-state/sync-timeline.ts';
import { idParams, listOf, pageQuery, problemSchema } from '../http.ts';
import { timelineView } from '../routes/opportunity-sync.ts';
import { failedJobView, listFailedJobs, queueNamed, retryAllFailed, retryFailedJob } from './failed-jobs.ts';
import type { AdminDeps } from './index.ts';

const withZod = (app: FastifyInstance) => app.withTypeProvider<ZodTypeProvider>();
type ZodApp = ReturnType<typeof withZod>;

const tags = ['admin'];
const accountQuery = { accountId: z.uuid('must be an account id (a UUID)').optional().describe('Only this account; every account without it') };
const retried = z.object({ queue: z.string(), retried: z.number().int().describe('Jobs moved back to waiting') });
const errors = { 400: problemSchema, 401: problemSchema, 404: problemSchema, 503: problemSchema };

function jobRoutes(r: ZodApp, deps: AdminDeps) {
  const queueParams = z.strictObject({ queue: z.string().min(1).max(100) });
  r.get('/jobs/failed', {
    schema: {
      tags,
      description: 'Failed jobs of every queue (or `queue`), newest first, with the error of their last attempt.',
      querystring: z.strictObject({ ...pageQuery, ...accountQuery, queue: z.string().min(1).max(100).optional() }),
      response: { 200: listOf(failedJobView), ...errors },
    },
  }, (request) => listFailedJobs(deps.db, deps.queues, request.query));

  r.post('/jobs/:queue/:jobId/retry', {
    schema: { tags, description: 'Retries one failed job now.', params: queueParams.extend({ jobId: z.string().min(1).max(200) }), querystring: z.strictObject(accountQuery), response: { 200: retried.extend({ jobId: z.string() }), 409: problemSchema, ...errors } },
  }, (request) => retryFailedJob(deps.db, queueNamed(deps.queues, request.params.queue), request.params.jobId, request.query.accountId));

  r.post('/jobs/:queue/retry', {
    schema: { tags, description: 'Retries every failed job of the queue (of one account, with accountId).', params: queueParams, querystring: z.strictObject(accountQuery), response: { 200: retried, ...errors } },
  }, (request) => retryAllFailed(deps.db, queueNamed(deps.queues, request.params.queue), request.query.accountId));
}

function conflictRoutes(r: ZodApp, deps: AdminDeps) {
  r.get('/conflicts', {
    schema: {
      tags,
      description: 'Conflicts the sync decided, newest first, with both values, the rule and the winner. `status=open` (the default) lists those nobody has reviewed.',
      querystring: z.strictObject({ ...pageQuery, ...accountQuery, status: z.enum(['open', 'reviewed', 'all']).default('open') }),
      response: { 200: listOf(conflictView), ...errors },
    },
  }, (request) => listConflicts(deps.db, request.query));

  r.post('/conflicts/:id/review', {
    schema: {
      tags,
      description: 'Marks a conflict reviewed; the review shows on the opportunity’s timeline. Reviewing twice changes nothing.',
      params: z.strictObject({ id: z.coerce.number().int().positive() }),
      querystring: z.strictObject(accountQuery),
      body: z.strictObject({ note: z.string().max(1000).optional() }).nullish(),
      response: { 200: conflictView, ...errors },
    },
  }, (request) => reviewConflict(deps.db, request.params.id, { accountId: request.query.accountId, note: request.body?.note }));
}

function opportunityRoutes(r: ZodApp, deps: AdminDeps) {
  r.get('/opportunities/:id/sync', {
    schema: {
      tags,
      description: 'What `GET /v1/opportunities/{id}/sync` answers (links, timeline newest first, paged by limit and cursor), for the opportunity of any account.',
      params: idParams,
      querystring: z.strictObject(pageQuery),
      response: { 200: timelineView, ...errors },
    },
  }, (request) => getAnySyncTimeline(deps.db, request.params.id, request.query));

  r.post('/opportunities/:id/replay', {
    schema: {
      tags,
      description: 'Pushes the opportunity’s canonical state to every connection of its account again, every field, as if never sent.',
      params: idParams,
      querystring: z.strictObject(accountQuery),
      response: { 202: z.object({ opportunityId: z.uuid(), accountId: z.uuid(), connections: z.number().int(), linksCleared: z.number().int() }), ...errors },
    },
  }, async (request, reply) => {
    const outcome = await replayOpportunity(deps.db, request.params.id, { accountId: request.query.accountId });
    // After commit; if Redis cannot take the flushes, the sweeper finds the dirty rows.
    await notifyAccount(deps.db, deps.outbound, outcome.accountId).catch((error: unknown) => request.log.warn({ err: error }, 'replay notify failed'));
    return reply.code(202).send(outcome);
  });
}

function connectionRoutes(r: ZodApp, deps: AdminDeps) {
  r.get('/connections', {
    schema: { tags, description: 'Every connection’s health: what `crm-sync status --json` prints.', querystring: z.strictObject(accountQuery) },
  }, async (request) => {
    const health = await connectionHealth(deps, { accountId: request.query.accountId, withLastPull: true });
    return { data: health.map((c) => ({ ...c, settings: undefined })) };
  });

  r.get('/connections/:id/problems', {
    schema: {
      tags,
      description: 'What `GET /v1/connections/{id}/problems` answers (the records the connection cannot sync fully: field, value, cause, since), for a connection of any account.',
      params: idParams,
      querystring: z.strictObject({ ...pageQuery, ...accountQuery }),
      response: { 200: listOf(problemView), ...errors },
    },
  }, async (request) => {
    const { accountId, ...page } = request.query;
    const connection = await connectionForWorker(deps.db, request.params.id);
    if (!connection || (accountId && connection.accountId !== accountId)) throw notFound('connection');
    return listConnectionProblems(deps.db, request.params.id, page);
  });
}

/** /admin/api: what an operator does about failed jobs, conflicts, opportunities a CRM lost and connections' problems. */
export function adminApiRoutes(app: FastifyInstance, deps: AdminDeps) {
  const r = withZod(app);
  for (const routes of [jobRoutes, conflictRoutes, opportunityRoutes, connectionRoutes]) routes(r, deps);
}
