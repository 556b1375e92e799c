import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Database, Executor } from '../model/store/db.ts';
import { invalid } from '../model/store/errors.ts';
import { requestFingerprint, runIdempotent } from '../model/store/idempotency.ts';

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('Page size, at most 500'),
  cursor: z.string().max(1000).optional().describe('The nextCursor of the previous page'),
};

export const listOf = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), nextCursor: z.string().nullable() });

export const idParams = z.strictObject({ id: z.uuid('must be a UUID') });

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number(),
    detail: z.string(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })),
  })
  .loose()
  .meta({ id: 'Problem' });

export const ifMatchHeaders = z.object({
  'if-match': z.string().optional().describe('The version you last read (the ETag of every response that returns the opportunity); 412 when it has moved on'),
});

/**
 * A route hook: a successful response carrying one versioned resource names its version in ETag,
 * the value a later If-Match gives back. Replays of idempotent POSTs pass through it too.
 */
export async function versionEtag(_request: FastifyRequest, reply: FastifyReply, payload: unknown) {
  const version = (payload as { version?: unknown } | null)?.version;
  if (reply.statusCode < 300 && typeof version === 'number') reply.header('etag', `"${version}"`);
  return payload;
}

/** `If-Match: 3`, `"3"` or `W/"3"` → 3. */
export function expectedVersion(request: FastifyRequest): number | undefined {
  const header = request.headers['if-match'];
  if (header === undefined) return undefined;
  const match = /^(?:W\/)?"?(\d{1,9})"?$/.exec(String(header).trim());
  if (!match) throw invalid([{ field: 'If-Match', message: 'must be a version number, e.g. "3"' }]);
  return Number(match[1]);
}

const idempotencyKey = z.string().min(1).max(255);

/**
 * Runs a POST's work and sends its response. With an Idempotency-Key header the work runs at most
 * once per key: a repeat with the same body gets the first response back.
 */
export async function respondToPost(
  db: Database,
  request: FastifyRequest,
  reply: FastifyReply,
  work: (tx: Executor) => Promise<{ statusCode: number; body: unknown }>,
) {
  const header = request.headers['idempotency-key'];
  if (header === undefined) {
    const response = await work(db);
    return reply.code(response.statusCode).send(response.body);
  }
  const key = idempotencyKey.safeParse(header);
  if (!key.success) throw invalid([{ field: 'Idempotency-Key', message: 'must be 1 to 255 characters' }]);
  const fingerprint = requestFingerprint(request.method, request.url, request.body);
  const response = await runIdempotent(db, request.accountId, key.data, fingerprint, work);
  if (response.replayed) reply.header('idempotent-replayed', 'true');
  return reply.code(response.statusCode).send(response.body);
}
