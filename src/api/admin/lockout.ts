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
 * A token given at login or as a bearer. A locked-out client is refused before its token is even
 * compared (the right one too, or a guesser would learn which guess was right), with one read.
 * A wrong token is counted before it is answered, and the count decides: concurrent guesses cannot
 * all slip in under the limit.
 */
export async function verifyAdminToken(auth: AdminAuth & { token: string }, request: FastifyRequest, given: string): Promise<TokenVerdict> {
  const lockedOut = await lockedOutFor(auth.db, request.ip, auth.failuresPerMinute);
  if (lockedOut !== undefined) return { ok: false, retryAfter: lockedOut };
  if (tokenMatches(given, auth.token)) return { ok: true };
  const { failures, wait } = await recordFailure(auth.db, request.ip);
  return { ok: false, retryAfter: failures > auth.failuresPerMinute ? wait : undefined };
}

export function tooManyFailures(reply: FastifyReply, retryAfter: number, field: string) {
  const detail = `too many wrong admin tokens from this address: try again in ${retryAfter} s`;
  reply.header('retry-after', String(retryAfter));
  return sendProblem(reply, { status: 429, title: 'Too Many Requests', detail, errors: [{ field, message: detail }] });
}
