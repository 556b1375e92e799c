import type { FastifyInstance, FastifyRequest } from 'fastify';
import { accountForApiKey } from '../model/accounts/accounts.ts';
import type { Database } from '../model/store/db.ts';
import { sendProblem } from './problem.ts';

declare module 'fastify' {
  interface FastifyRequest {
    accountId: string;
  }
}

function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

/** Every /v1 request acts for exactly one account: the one its API key belongs to. */
export function requireApiKey(app: FastifyInstance, db: Database) {
  app.decorateRequest('accountId', '');
  app.addHook('onRequest', async (request, reply) => {
    const token = bearerToken(request);
    const accountId = token ? await accountForApiKey(db, token) : undefined;
    if (accountId) {
      request.accountId = accountId;
      return;
    }
    reply.header('www-authenticate', 'Bearer realm="crm-sync"');
    return sendProblem(reply, {
      status: 401,
      title: 'Unauthorized',
      detail: token ? 'the API key is unknown or revoked' : 'send an API key as "Authorization: Bearer <key>"',
      errors: [{ field: 'Authorization', message: token ? 'unknown or revoked API key' : 'missing' }],
    });
  });
}
