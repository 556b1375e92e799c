import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { sessionActive } from '../../model/admin/sessions.ts';
import { sendProblem } from '../problem.ts';
import { tooManyFailures, verifyAdminToken, type AdminAuth } from './lockout.ts';
import { bearerToken, sessionCookie } from './token.ts';

export interface GuardOptions {
  /** Browsers carry the session cookie; scripts and Prometheus send the bearer token. */
  cookie: boolean;
  /** A browser asking for a page without a session goes to the login form instead of a 401. */
  loginRedirect: boolean;
}

/** Never open: without ADMIN_TOKEN the admin routes say why they are closed. */
export function adminClosed(reply: FastifyReply) {
  return sendProblem(reply, {
    status: 503,
    title: 'Service Unavailable',
    detail: 'ADMIN_TOKEN is not set: the admin console stays closed until it is configured',
    errors: [],
  });
}

function unauthorized(reply: FastifyReply, detail: string, cookie: boolean) {
  reply.header('www-authenticate', 'Bearer realm="crm-sync admin"');
  const field = cookie ? 'Authorization or session cookie' : 'Authorization';
  return sendProblem(reply, { status: 401, title: 'Unauthorized', detail, errors: [{ field, message: detail }] });
}

const wantsPage = (request: FastifyRequest) => request.method === 'GET' && /text\/html/.test(request.headers.accept ?? '');

export function requireAdmin(auth: AdminAuth, options: GuardOptions): onRequestAsyncHookHandler {
  return async (request, reply) => {
    const token = auth.token;
    if (!token) return adminClosed(reply);
    const bearer = bearerToken(request);
    if (bearer !== undefined) {
      const verdict = await verifyAdminToken({ ...auth, token }, request, bearer);
      if (verdict.ok) return;
      if (verdict.retryAfter !== undefined) return tooManyFailures(reply, verdict.retryAfter, 'Authorization');
      return unauthorized(reply, 'the admin token is wrong', options.cookie);
    }
    // A session cookie is 256 random bits: not worth guessing, so a stale one counts no failure.
    const cookie = options.cookie ? sessionCookie(request) : undefined;
    if (cookie !== undefined && (await sessionActive(auth.db, token, cookie, auth.sessionHours))) return;
    if (options.loginRedirect && wantsPage(request)) return reply.redirect('/admin/login', 302);
    const detail = cookie !== undefined ? 'the admin session has expired or is not valid: log in again' : 'send the admin token as "Authorization: Bearer <token>"';
    return unauthorized(reply, detail, options.cookie);
  };
}
