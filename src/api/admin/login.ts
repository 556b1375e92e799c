import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { endSession, startSession } from '../../model/admin/sessions.ts';
import { sendProblem } from '../problem.ts';
import { adminClosed } from './guard.ts';
import { tooManyFailures, verifyAdminToken, type AdminAuth } from './lockout.ts';
import { sessionCookie, sessionCookieHeader } from './token.ts';

export interface LoginOptions {
  auth: AdminAuth;
  /** Mark the cookie Secure: the public address is HTTPS even when TLS ends at a proxy. */
  secureCookie: boolean;
}

// No script and nothing from elsewhere: the page is the form and nothing else.
const PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

function loginPage(message?: string): string {
  const notice = message ? `<p class="error">${message}</p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>crm-sync admin</title>
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:5rem auto}input,button{font-size:1rem;width:100%;padding:.5rem;margin:.3rem 0;box-sizing:border-box}.error{color:#b00}</style>
</head><body>
<h1>crm-sync admin</h1>${notice}
<form method="post" action="/admin/login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form></body></html>`;
}

const sendPage = (reply: FastifyReply, status: number, message?: string) =>
  reply.code(status).header('content-security-policy', PAGE_POLICY).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(loginPage(message));

const fromForm = (request: FastifyRequest) => request.headers['content-type']?.startsWith('application/x-www-form-urlencoded') ?? false;

function refused(request: FastifyRequest, reply: FastifyReply, retryAfter: number | undefined) {
  if (retryAfter !== undefined) {
    if (!fromForm(request)) return tooManyFailures(reply, retryAfter, 'token');
    return sendPage(reply.header('retry-after', String(retryAfter)), 429, `Too many wrong tokens from this address: try again in ${retryAfter} seconds.`);
  }
  if (fromForm(request)) return sendPage(reply, 401, 'That is not the admin token.');
  return sendProblem(reply, { status: 401, title: 'Unauthorized', detail: 'the admin token is wrong', errors: [{ field: 'token', message: 'is not the admin token' }] });
}

async function login(options: LoginOptions, request: FastifyRequest, reply: FastifyReply) {
  const { auth } = options;
  if (!auth.token) return adminClosed(reply);
  const given = (request.body as { token?: unknown } | undefined)?.token;
  const verdict = await verifyAdminToken({ ...auth, token: auth.token }, request, typeof given === 'string' ? given : '');
  if (!verdict.ok) return refused(request, reply, verdict.retryAfter);
  const session = await startSession(auth.db, auth.token, auth.sessionHours);
  const secure = options.secureCookie || request.protocol === 'https';
  reply.header('set-cookie', sessionCookieHeader(session.value, { secure, maxAge: session.maxAgeSeconds }));
  // A form gets the console; a script gets the cookie and nothing else.
  return fromForm(request) ? reply.redirect('/admin/queues', 303) : reply.code(204).send();
}

/** GET/POST /admin/login and POST /admin/logout: the browser's way in, by the same token. */
export async function loginRoutes(app: FastifyInstance, options: LoginOptions) {
  await app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) =>
      done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    scope.get('/admin/login', { schema: { hide: true } }, (_request, reply) => (options.auth.token ? sendPage(reply, 200) : adminClosed(reply)));
    scope.post('/admin/login', { schema: { hide: true } }, (request, reply) => login(options, request, reply));
    scope.post('/admin/logout', { schema: { hide: true } }, async (request, reply) => {
      const cookie = sessionCookie(request);
      // Ended in Postgres, not only forgotten by this browser: a copy of the cookie stops working too.
      if (cookie !== undefined && options.auth.token) await endSession(options.auth.db, options.auth.token, cookie);
      const secure = options.secureCookie || request.protocol === 'https';
      return reply.header('set-cookie', sessionCookieHeader('', { secure, maxAge: 0 })).redirect('/admin/login', 303);
    });
  });
}
