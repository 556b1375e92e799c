import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../../model/store/db.ts';
import { createUser, listUsers, userCreateSchema, userView } from '../../model/accounts/users.ts';
import { listOf, pageQuery, problemSchema, respondToPost } from '../http.ts';

const tags = ['users'];

export function userRoutes(app: FastifyInstance, db: Database) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post('/users', {
    schema: { tags, body: userCreateSchema, response: { 201: userView, 400: problemSchema, 409: problemSchema } },
  }, (request, reply) =>
    respondToPost(db, request, reply, async (tx) => ({ statusCode: 201, body: await createUser(tx, request.accountId, request.body) })),
  );

  r.get('/users', {
    schema: { tags, querystring: z.strictObject(pageQuery), response: { 200: listOf(userView), 400: problemSchema } },
  }, (request) => listUsers(db, request.accountId, request.query));
}
