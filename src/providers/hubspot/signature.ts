import { createHmac, timingSafeEqual } from 'node:crypto';

/** HubSpot's limit on a v3 signature's age. */
export const SIGNATURE_MAX_AGE_MS = 5 * 60_000;

/**
 * Checks X-HubSpot-Signature-v3: base64 HMAC-SHA256, keyed with the app's client secret, of
 * method + the exact request URI + the raw body bytes + the timestamp header. Constant-time.
 */
export function verifyHubSpotSignature(input: {
  secret: string;
  method: string;
  uri: string;
  rawBody: Buffer;
  signature: string | undefined;
  timestamp: string | undefined;
  now?: number;
}): boolean {
  const { secret, method, uri, rawBody, signature, timestamp } = input;
  if (!signature || !timestamp || !/^\d+$/.test(timestamp)) return false;
  const age = (input.now ?? Date.now()) - Number(timestamp);
  if (age > SIGNATURE_MAX_AGE_MS || age < -SIGNATURE_MAX_AGE_MS) return false;
  const expected = createHmac('sha256', secret)
    .update(Buffer.concat([Buffer.from(method + uri), rawBody, Buffer.from(timestamp)]))
    .digest();
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
