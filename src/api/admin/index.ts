import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Database } from '../../model/store/db.ts';
import { adminApiRoutes } from './api-routes.ts';
import { queueBoard } from './board.ts';
import { requireAdmin } from './guard.ts';
import { loginRoutes } from './login.ts';
import { metricsRoute, type ServerMetrics } from './metrics.ts';

export interface AdminOptions {
  /** ADMIN_TOKEN. Without it every admin route answers 503: the console is never open. */
  token: string | undefined;
  /** Every queue: bull-board shows them, /metrics measures them, the admin API retries their failures. */
  queues: Queue[];
}

export interface AdminDeps {
  db: Database;
  redis: Redis;
  prefix: string;
  queues: Queue[];
  outbound: Queue;
  inbound: Queue;
}

/**
 * The operator's side of the server: /admin/login, bull-board at /admin/queues and the admin API
 * at /admin/api (bearer token or the login's session cookie), and /metrics (bearer token only).
 */
export async function adminConsole(app: FastifyInstance, options: AdminOptions & { deps: AdminDeps; metrics: ServerMetrics; secureCookie: boolean }) {
  const { token, deps } = options;
  await loginRoutes(app, { token, secureCookie: options.secureCookie });
  metricsRoute(app, { token, metrics: options.metrics, sync: deps });
  await app.register(async (scope) => {
    scope.addHook('onRequest', requireAdmin(token, { cookie: true, loginRedirect: true }));
    await queueBoard(scope, deps.queues);
    await scope.register(async (api) => adminApiRoutes(api, deps), { prefix: '/admin/api' });
  });
}
