import { createHmac, randomBytes } from 'node:crypto';
import { and, eq, isNull, lt, gt, sql } from 'drizzle-orm';
import type { Executor } from '../store/db.ts';
import { adminSessions } from '../store/schema.ts';

/** Serve processes on other machines may issue a cookie a little ahead of this clock. */
const CLOCK_SKEW_SECONDS = 60;
const VALUE = /^(\d{1,12})\.([\w-]{43})$/;

/** The stored id: the cookie keyed by ADMIN_TOKEN, so a new token ends every session. */
const idHash = (token: string, value: string) => createHmac('sha256', token).update(`crm-sync admin session:${value}`).digest('hex');

export const sessionSeconds = (hours: number) => Math.max(1, Math.round(hours * 3600));

/**
 * A new session of `hours` from now. The cookie value is `<expiry>.<256 random bits>`: the expiry is
 * there so a cookie claiming more than the cap is refused before any lookup; the row decides.
 */
export async function startSession(db: Executor, token: string, hours: number, now = Date.now()) {
  const maxAgeSeconds = sessionSeconds(hours);
  const expires = Math.floor(now / 1000) + maxAgeSeconds;
  const value = `${expires}.${randomBytes(32).toString('base64url')}`;
  // Expired rows are of no use to anyone: each login clears them.
  await db.delete(adminSessions).where(lt(adminSessions.expiresAt, sql`now()`));
  await db.insert(adminSessions).values({ idHash: idHash(token, value), expiresAt: new Date(expires * 1000) });
  return { value, maxAgeSeconds };
}

/** Only a session this server issued, not ended, not expired, and no longer than the cap allows. */
export async function sessionActive(db: Executor, token: string, value: string, hours: number, now = Date.now()): Promise<boolean> {
  const match = VALUE.exec(value);
  if (!match) return false;
  const expires = Number(match[1]);
  if (expires * 1000 <= now || expires > now / 1000 + sessionSeconds(hours) + CLOCK_SKEW_SECONDS) return false;
  const [row] = await db
    .select({ idHash: adminSessions.idHash })
    .from(adminSessions)
    .where(and(eq(adminSessions.idHash, idHash(token, value)), isNull(adminSessions.endedAt), gt(adminSessions.expiresAt, sql`now()`)));
  return row !== undefined;
}

/** Logout: the row stays (until it expires) but the cookie stops working on every process at once. */
export async function endSession(db: Executor, token: string, value: string): Promise<void> {
  if (!VALUE.test(value)) return;
  await db
    .update(adminSessions)
    .set({ endedAt: sql`now()` })
    .where(and(eq(adminSessions.idHash, idHash(token, value)), isNull(adminSessions.endedAt)));
}
