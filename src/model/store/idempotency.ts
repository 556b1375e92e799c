import { createHash } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Executor } from './db.ts';
import { DomainError } from './errors.ts';
import { idempotencyKeys } from './schema.ts';

export interface StoredResponse {
  statusCode: number;
  body: unknown;
}

export function requestFingerprint(method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${path}\n${JSON.stringify(body ?? null)}`).digest('hex');
}

/**
 * Runs `work` at most once per (account, key). The key row is inserted first, in the same
 * transaction as the work: a concurrent request with the same key blocks on it until this one
 * commits and then replays the stored response; a failure rolls the key back so a retry can run.
 */
export async function runIdempotent(
  db: Executor,
  accountId: string,
  key: string,
  fingerprint: string,
  work: (tx: Executor) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  return db.transaction(async (tx) => {
    const [claimed] = await tx
      .insert(idempotencyKeys)
      .values({ accountId, key, requestHash: fingerprint, statusCode: 0, responseBody: {} })
      .onConflictDoNothing()
      .returning({ key: idempotencyKeys.key });
    if (!claimed) return { ...(await storedResponse(tx, accountId, key, fingerprint)), replayed: true };
    const response = await work(tx);
    await tx
      .update(idempotencyKeys)
      .set({ statusCode: response.statusCode, responseBody: response.body as object })
      .where(and(eq(idempotencyKeys.accountId, accountId), eq(idempotencyKeys.key, key)));
    return { ...response, replayed: false };
  });
}

async function storedResponse(tx: Executor, accountId: string, key: string, fingerprint: string) {
  const [stored] = await tx
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.accountId, accountId), eq(idempotencyKeys.key, key)));
  if (stored!.requestHash !== fingerprint) {
    throw new DomainError(
      422,
      'Unprocessable Content',
      'this Idempotency-Key was already used with a different request',
      [{ field: 'Idempotency-Key', message: 'reused with a different method, path or body' }],
    );
  }
  return { statusCode: stored!.statusCode, body: stored!.responseBody };
}
