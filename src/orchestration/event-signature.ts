import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com, spec 1.0.0, symmetric scheme): the
 * secret is "whsec_" + base64 of the key bytes, and the HMAC key is those decoded bytes, not the
 * string. The signed content is "{webhook-id}.{webhook-timestamp}.{body}", the body exactly as
 * sent; the signature is "v1," + base64 of its HMAC-SHA256. The timestamp is the attempt's, in
 * Unix seconds, so a retry carries a new timestamp and signature under the same webhook-id.
 */
export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

const SECRET_PREFIX = 'whsec_';

export function signingKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('not a whsec_ signing secret');
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

export function signatureOf(secret: string, id: string, timestamp: number, body: string): string {
  const digest = createHmac('sha256', signingKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${digest}`;
}

export function signedHeaders(secret: string, id: string, body: string, now = new Date()): SignedHeaders {
  const timestamp = Math.floor(now.getTime() / 1000);
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signatureOf(secret, id, timestamp, body) };
}
