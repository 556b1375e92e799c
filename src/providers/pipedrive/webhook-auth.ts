import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares HTTP basic credentials in constant time (hashing first, so lengths leak nothing either). */
export function basicAuthMatches(header: string | undefined, expected: { user: string; password: string }): boolean {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return false;
  const given = createHash('sha256').update(Buffer.from(match[1]!, 'base64')).digest();
  const wanted = createHash('sha256').update(`${expected.user}:${expected.password}`).digest();
  return timingSafeEqual(given, wanted);
}
