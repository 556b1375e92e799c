import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Database } from '../../model/store/db.ts';
import { adminApiRoutes } from './api-routes.ts';
import { queueBoard } from './board.ts';
import { requireAdmin } from './guard.ts';
import type { AdminAuth } from './lockout.ts';
import { loginRoutes } from './login.ts';
import { metricsRoute, type ServerMetrics } from './metrics.ts';

export interface AdminOptions {
  /** ADMIN_TOKEN. Without it every admin route answers 503: the console is never open. */
  token: string | undefined;
  /** Every queue: bull-board shows them, /metrics measures them, the admin API retries their failures. */
  queues: Queue[];
  /** ADMIN_SESSION_HOURS: the longest a console session lasts from login (12 by default). */
  sessionHours?: number;
  /** ADMIN_LOGIN_FAILURES_PER_MINUTE: wrong tokens per client address per minute before 429 (10 by default). */
  loginFailuresPerMinute?: number;
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
  const { deps } = options;
  const auth: AdminAuth = { token: options.token, db: deps.db, sessionHours: options.sessionHours ?? 12, failuresPerMinute: options.loginFailuresPerMinute ?? 10 };
  await loginRoutes(app, { auth, secureCookie: options.secureCookie });
  metricsRoute(app, { auth, metrics: options.metrics, sync: deps });
  await app.register(async (scope) => {
    scope.addHook('onRequest', requireAdmin(auth, { cookie: true, loginRedirect: true }));
    await queueBoard(scope, deps.queues);
    await scope.register(async (api) => adminApiRoutes(api, deps), { prefix: '/admin/api' });
  });
}
