import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../../model/store/db.ts';
import { externalRef, isoDateTime } from '../../model/store/fields.ts';
import {
  closeOpportunity,
  createOpportunity,
  deleteOpportunity,
  getByExternalRef,
  getOpportunity,
  listOpportunities,
  patchOpportunity,
  reopenOpportunity,
  upsertByExternalRef,
} from '../../model/opportunities/opportunities.ts';
import {
  opportunityCloseSchema,
  opportunityCreateSchema,
  opportunityPatchSchema,
  opportunityUpsertSchema,
  opportunityView,
} from '../../model/opportunities/opportunity-schema.ts';
import { opportunityStates } from '../../model/store/schema.ts';
import { expectedVersion, idParams, ifMatchHeaders, listOf, pageQuery, problemSchema, respondToPost, versionEtag } from '../http.ts';

const tags = ['opportunities'];
/** Every response with one opportunity carries its version as ETag (for If-Match). */
const etag = { preSerialization: versionEtag };
const errors = { 400: problemSchema, 404: problemSchema, 409: problemSchema, 412: problemSchema };

const listQuery = z.strictObject({
  ...pageQuery,
  state: z.enum(opportunityStates).optional(),
  filter: z.enum(['open', 'recently_won', 'recently_lost']).optional(),
  within: z.coerce.number().int().min(1).max(31_536_000).default(120).describe('Window of recently_* in seconds'),
  stage: z.string().max(100).optional(),
  assigneeId: z.uuid().optional(),
  contactId: z.uuid().optional(),
  updatedSince: isoDateTime.transform((v) => new Date(v)).optional(),
});

const refParams = z.strictObject({ ref: externalRef });
const closeResponse = opportunityView.extend({
  warnings: z.array(z.object({ code: z.string(), message: z.string() })),
});

export function opportunityRoutes(app: FastifyInstance, db: Database) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post('/opportunities', {
    ...etag,
    schema: { tags, body: opportunityCreateSchema, response: { 201: opportunityView, ...errors } },
  }, (request, reply) =>
    respondToPost(db, request, reply, async (tx) => ({
      statusCode: 201,
      body: await createOpportunity(tx, request.accountId, request.body),
    })),
  );

  r.get('/opportunities', {
    schema: { tags, querystring: listQuery, response: { 200: listOf(opportunityView), 400: problemSchema } },
  }, (request) => {
    const { limit, cursor, ...filters } = request.query;
    return listOpportunities(db, request.accountId, filters, { limit, cursor });
  });

  r.get('/opportunities/:id', {
    ...etag,
    schema: { tags, params: idParams, response: { 200: opportunityView, ...errors } },
  }, (request) => getOpportunity(db, request.accountId, request.params.id));

  r.patch('/opportunities/:id', {
    ...etag,
    schema: { tags, params: idParams, headers: ifMatchHeaders, body: opportunityPatchSchema, response: { 200: opportunityView, ...errors } },
  }, (request) =>
    patchOpportunity(db, request.accountId, request.params.id, request.body, expectedVersion(request)),
  );

  r.delete('/opportunities/:id', {
    schema: { tags, params: idParams, headers: ifMatchHeaders, response: { 204: z.null(), ...errors } },
  }, async (request, reply) => {
    await deleteOpportunity(db, request.accountId, request.params.id, expectedVersion(request));
    return reply.code(204).send(null);
  });

  r.post('/opportunities/:id/close', {
    ...etag,
    schema: { tags, params: idParams, headers: ifMatchHeaders, body: opportunityCloseSchema, response: { 200: closeResponse, ...errors } },
  }, (request, reply) =>
    respondToPost(db, request, reply, async (tx) => {
      const { opportunity, warnings } = await closeOpportunity(
        tx, request.accountId, request.params.id, request.body, expectedVersion(request),
      );
      return { statusCode: 200, body: { ...opportunity, warnings } };
    }),
  );

  r.post('/opportunities/:id/reopen', {
    ...etag,
    schema: { tags, params: idParams, headers: ifMatchHeaders, response: { 200: opportunityView, ...errors } },
  }, (request, reply) =>
    respondToPost(db, request, reply, async (tx) => ({
      statusCode: 200,
      body: await reopenOpportunity(tx, request.accountId, request.params.id, expectedVersion(request)),
    })),
  );

  r.put('/opportunities/by-external-ref/:ref', {
    ...etag,
    schema: { tags, params: refParams, body: opportunityUpsertSchema, response: { 200: opportunityView, 201: opportunityView, ...errors } },
  }, async (request, reply) => {
    const { created, opportunity } = await upsertByExternalRef(db, request.accountId, request.params.ref, request.body);
    return reply.code(created ? 201 : 200).send(opportunity);
  });

  r.get('/opportunities/by-external-ref/:ref', {
    ...etag,
    schema: { tags, params: refParams, response: { 200: opportunityView, ...errors } },
  }, (request) => getByExternalRef(db, request.accountId, request.params.ref));
}
