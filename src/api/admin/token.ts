import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/**
 * The admin token and the browser session made from it. The cookie never holds the token: it holds
 * an expiry and an HMAC of that expiry keyed by the token, so it proves the token was known without
 * revealing it, dies on its own, and dies at once when ADMIN_TOKEN is rotated. No session store,
 * so any serve process accepts a cookie another one issued.
 */
export const SESSION_COOKIE = 'crm_sync_admin';
export const SESSION_SECONDS = 12 * 3600;

/** Equal-length digests, compared in constant time: neither the token nor its length leaks. */
export function tokenMatches(given: string, token: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(token));
}

const sessionMac = (token: string, expires: number) => createHmac('sha256', token).update(`crm-sync admin session:${expires}`).digest('base64url');

export function newSession(token: string, now = Date.now()): string {
  const expires = Math.floor(now / 1000) + SESSION_SECONDS;
  return `${expires}.${sessionMac(token, expires)}`;
}

export function sessionValid(value: string, token: string, now = Date.now()): boolean {
  const match = /^(\d{1,12})\.([\w-]{43})$/.exec(value);
  if (!match) return false;
  const expires = Number(match[1]);
  const matches = timingSafeEqual(Buffer.from(match[2]!), Buffer.from(sessionMac(token, expires)));
  return matches && expires * 1000 > now;
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
export function sessionCookieHeader(value: string, options: { secure: boolean; maxAge?: number }): string {
  const attributes = [`${SESSION_COOKIE}=${value}`, 'Path=/admin', 'HttpOnly', 'SameSite=Strict', `Max-Age=${options.maxAge ?? SESSION_SECONDS}`];
  if (options.secure) attributes.push('Secure');
  return attributes.join('; ');
}
