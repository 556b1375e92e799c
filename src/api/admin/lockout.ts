import type { FastifyReply, FastifyRequest } from 'fastify';
import { lockedOutFor, recordFailure } from '../../model/admin/login-failures.ts';
import type { Database } from '../../model/store/db.ts';
import { sendProblem } from '../problem.ts';
import { tokenMatches } from './token.ts';

/** What every admin check needs: the token, where sessions and failures are kept, and the limits. */
export interface AdminAuth {
  /** ADMIN_TOKEN. Without it every admin route answers 503: the console is never open. */
  token: string | undefined;
  db: Database;
  /** ADMIN_SESSION_HOURS: a session's whole life, from login. */
  sessionHours: number;
  /** ADMIN_LOGIN_FAILURES_PER_MINUTE: wrong tokens a client may send before it must wait. */
  failuresPerMinute: number;
}

export type TokenVerdict = { ok: true } | { ok: false; retryAfter?: number };

/**
 * A token given at login or as a bearer. A wrong one is counted before it is answered, so
 * concurrent guesses cannot all slip in under the limit; the right one is refused too while the
 * client is locked out, or a guesser would learn which of its guesses was right.
 */
export async function verifyAdminToken(auth: AdminAuth & { token: string }, request: FastifyRequest, given: string): Promise<TokenVerdict> {
  if (tokenMatches(given, auth.token)) {
    const retryAfter = await lockedOutFor(auth.db, request.ip, auth.failuresPerMinute);
    return retryAfter === undefined ? { ok: true } : { ok: false, retryAfter };
  }
  const { failures, wait } = await recordFailure(auth.db, request.ip);
  return { ok: false, retryAfter: failures > auth.failuresPerMinute ? wait : undefined };
}

export function tooManyFailures(reply: FastifyReply, retryAfter: number, field: string) {
  const detail = `too many wrong admin tokens from this address: try again in ${retryAfter} s`;
  reply.header('retry-after', String(retryAfter));
  return sendProblem(reply, { status: 429, title: 'Too Many Requests', detail, errors: [{ field, message: detail }] });
}
