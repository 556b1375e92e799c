import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Database } from '../../model/store/db.ts';
import { within } from '../../model/store/within.ts';
import { sendProblem } from '../problem.ts';

/** A dependency that does not answer within this is as good as down for a load balancer. */
const CHECK_TIMEOUT_MS = 2000;

async function check(what: () => Promise<unknown>): Promise<string> {
  try {
    await within(what(), CHECK_TIMEOUT_MS, `no answer within ${CHECK_TIMEOUT_MS} ms`);
    return 'ok';
  } catch (error) {
    return (error as Error).message || 'unreachable';
  }
}

/**
 * /healthz: the process is up (restart it if not). /readyz: it can do its work, so Postgres and,
 * when it serves sync, Redis answer (send it traffic only then). Neither needs a token: they say
 * nothing an outsider could use.
 */
export function healthRoutes(app: FastifyInstance, deps: { db: Database; redis?: Redis }) {
  app.get('/healthz', { schema: { hide: true } }, () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const checks: Record<string, string> = { postgres: await check(() => deps.db.execute(sql`SELECT 1`)) };
    if (deps.redis) checks.redis = await check(() => deps.redis!.ping());
    const failing = Object.entries(checks).filter(([, outcome]) => outcome !== 'ok');
    if (failing.length === 0) return { status: 'ready', checks };
    const detail = failing.map(([name, outcome]) => `${name}: ${outcome}`).join('; ');
    return sendProblem(reply, { status: 503, title: 'Service Unavailable', detail, errors: [], checks });
  });
}
