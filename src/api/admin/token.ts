import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/**
 * The admin token, and the browser session cookie that stands for it. The cookie never holds the
 * token: it names a session row in Postgres (src/model/admin/sessions.ts), so any serve process
 * accepts a cookie another one issued, and logout ends it everywhere at once.
 */
export const SESSION_COOKIE = 'crm_sync_admin';

/** Equal-length digests, compared in constant time: neither the token nor its length leaks. */
export function tokenMatches(given: string, token: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(token));
}

export function bearerToken(request: FastifyRequest): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
}

export function sessionCookie(request: FastifyRequest): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return value.join('=');
  }
  return undefined;
}

/** HttpOnly (no script reads it), SameSite=Strict (no other site sends it), Secure behind HTTPS. */
export function sessionCookieHeader(value: string, options: { secure: boolean; maxAge: number }): string {
  const attributes = [`${SESSION_COOKIE}=${value}`, 'Path=/admin', 'HttpOnly', 'SameSite=Strict', `Max-Age=${options.maxAge}`];
  if (options.secure) attributes.push('Secure');
  return attributes.join('; ');
}
