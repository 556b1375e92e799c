import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../../model/store/db.ts';
import { deleteUser } from '../../model/accounts/user-deletion.ts';
import { createUser, listUsers, patchUser, userCreateSchema, userPatchSchema, userView } from '../../model/accounts/users.ts';
import { id } from '../../model/store/fields.ts';
import { idParams, listOf, pageQuery, problemSchema, respondToPost } from '../http.ts';

const tags = ['users'];
const errors = { 400: problemSchema, 404: problemSchema, 409: problemSchema };

const deleteQuery = z.strictObject({
  reassignTo: id.optional().describe('Another user of the account who takes over what still names this one'),
});

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

  r.patch('/users/:id', {
    schema: {
      tags,
      description: 'Renames a user or changes their email (409 when another user of the account has it). CRM owners are matched to users by email when a connection is set up.',
      params: idParams,
      body: userPatchSchema,
      response: { 200: userView, ...errors },
    },
  }, (request) => patchUser(db, request.accountId, request.params.id, request.body));

  r.delete('/users/:id', {
    schema: {
      tags,
      description:
        'Deletes a user. A user still named by a live opportunity (as assignee or closer) or by a connection\'s owner map is refused ' +
        'with 409, the problem naming each (`errors`, and counts and connection ids in `references`). With `reassignTo`, the user\'s ' +
        'opportunities are assigned to that user, `closedById` naming the deleted user is cleared (the other user did not close them), ' +
        'and owner-map entries move to that user; every opportunity changed gets a new version and syncs. Deleted opportunities ' +
        'lose the reference silently.',
      params: idParams,
      querystring: deleteQuery,
      response: { 204: z.null(), ...errors },
    },
  }, async (request, reply) => {
    await deleteUser(db, request.accountId, request.params.id, request.query.reassignTo);
    return reply.code(204).send(null);
  });
}
