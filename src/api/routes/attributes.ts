import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  attributeCreateSchema,
  attributePatchSchema,
  attributeView,
  createAttribute,
  deleteAttribute,
  listAttributes,
  patchAttribute,
  toAttributeView,
} from '../../model/accounts/attributes.ts';
import type { Database } from '../../model/store/db.ts';
import { listOf, pageQuery, problemSchema, respondToPost } from '../http.ts';

const tags = ['attributes'];
const keyParams = z.strictObject({ key: z.string().max(64) });

export function attributeRoutes(app: FastifyInstance, db: Database) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post('/attributes', {
    schema: { tags, body: attributeCreateSchema, response: { 201: attributeView, 400: problemSchema, 409: problemSchema } },
  }, (request, reply) =>
    respondToPost(db, request, reply, async (tx) => ({
      statusCode: 201,
      body: toAttributeView(await createAttribute(tx, request.accountId, request.body)),
    })),
  );

  r.get('/attributes', {
    schema: { tags, querystring: z.strictObject(pageQuery), response: { 200: listOf(attributeView), 400: problemSchema } },
  }, async (request) => {
    const { rows, nextCursor } = await listAttributes(db, request.accountId, request.query);
    return { data: rows.map(toAttributeView), nextCursor };
  });

  r.patch('/attributes/:key', {
    schema: {
      tags,
      description:
        'Changes the label, or replaces an enum attribute\'s options (add, reorder, remove). Stored values are kept: removing an ' +
        'option that a live opportunity still holds is refused with 409 naming the option. The type cannot change (400).',
      params: keyParams,
      body: attributePatchSchema,
      response: { 200: attributeView, 400: problemSchema, 404: problemSchema, 409: problemSchema },
    },
  }, async (request) => toAttributeView(await patchAttribute(db, request.accountId, request.params.key, request.body)));

  r.delete('/attributes/:key', {
    schema: {
      tags,
      description: 'Deletes the definition and removes its values from every opportunity.',
      params: keyParams,
      response: { 204: z.null(), 404: problemSchema },
    },
  }, async (request, reply) => {
    await deleteAttribute(db, request.accountId, request.params.key);
    return reply.code(204).send(null);
  });
}
