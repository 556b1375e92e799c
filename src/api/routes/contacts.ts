import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  contactCreateSchema,
  contactPatchSchema,
  contactView,
  createContact,
  deleteContact,
  getContact,
  listContactOpportunities,
  listContacts,
  patchContact,
} from '../../model/opportunities/contacts.ts';
import type { Database } from '../../model/store/db.ts';
import { opportunityView } from '../../model/opportunities/opportunity-schema.ts';
import { idParams, listOf, pageQuery, problemSchema, respondToPost } from '../http.ts';

const tags = ['contacts'];
const errors = { 400: problemSchema, 404: problemSchema };

export function contactRoutes(app: FastifyInstance, db: Database) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post('/contacts', { schema: { tags, body: contactCreateSchema, response: { 201: contactView, ...errors } } }, (request, reply) =>
    respondToPost(db, request, reply, async (tx) => ({
      statusCode: 201,
      body: await createContact(tx, request.accountId, request.body),
    })),
  );

  r.get('/contacts', {
    schema: { tags, querystring: z.strictObject(pageQuery), response: { 200: listOf(contactView), ...errors } },
  }, (request) => listContacts(db, request.accountId, request.query));

  r.get('/contacts/:id', { schema: { tags, params: idParams, response: { 200: contactView, ...errors } } }, (request) =>
    getContact(db, request.accountId, request.params.id),
  );

  r.patch('/contacts/:id', {
    schema: { tags, params: idParams, body: contactPatchSchema, response: { 200: contactView, ...errors } },
  }, (request) => patchContact(db, request.accountId, request.params.id, request.body));

  r.delete('/contacts/:id', {
    schema: {
      tags,
      description: 'Deletes the contact and the opportunities whose primary contact it is; detaches it from the others.',
      params: idParams,
      response: { 204: z.null(), ...errors },
    },
  }, async (request, reply) => {
    await deleteContact(db, request.accountId, request.params.id);
    return reply.code(204).send(null);
  });

  r.get('/contacts/:id/opportunities', {
    schema: { tags, params: idParams, querystring: z.strictObject(pageQuery), response: { 200: listOf(opportunityView), ...errors } },
  }, (request) => listContactOpportunities(db, request.accountId, request.params.id, request.query));
}
