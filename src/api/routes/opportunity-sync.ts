import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../../model/store/db.ts';
import { getSyncTimeline, syncEventView, syncLinkView } from '../../model/sync-state/sync-timeline.ts';
import { problemView } from '../../model/sync-state/problems.ts';
import { idParams, listOf, pageQuery, problemSchema } from '../http.ts';

const tags = ['opportunities'];

export const timelineView = z
  .object({
    links: z.array(syncLinkView),
    problems: z.array(problemView.extend({ connectionId: z.uuid() })).describe('What keeps it from syncing cleanly with each CRM, by field'),
    events: listOf(syncEventView),
  })
  .meta({ id: 'SyncTimeline' });

export function opportunitySyncRoutes(app: FastifyInstance, db: Database) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get('/opportunities/:id/sync', {
    schema: {
      tags,
      description:
        'How the opportunity stands with each connected CRM, and its sync timeline newest first (paged by limit and cursor). ' +
        'A deleted opportunity keeps its timeline.',
      params: idParams,
      querystring: z.strictObject(pageQuery),
      response: { 200: timelineView, 400: problemSchema, 404: problemSchema },
    },
  }, (request) => getSyncTimeline(db, request.accountId, request.params.id, request.query));
}
