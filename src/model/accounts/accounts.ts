import { createHash, randomBytes } from 'node:crypto';
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Executor } from '../store/db.ts';
import { notFound } from '../store/errors.ts';
import { accounts, apiKeys } from '../store/schema.ts';

const KEY_PREFIX = 'crm_';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new key is shown once; only its hash is stored. */
export async function createApiKey(db: Executor, accountId: string) {
  const [account] = await db.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, accountId));
  if (!account) throw notFound('account');
  const apiKey = KEY_PREFIX + randomBytes(32).toString('base64url');
  const [row] = await db
    .insert(apiKeys)
    .values({ accountId, keyHash: hashApiKey(apiKey), prefix: apiKey.slice(0, 12) })
    .returning({ id: apiKeys.id });
  return { keyId: row!.id, apiKey };
}

export async function createAccount(db: Executor, input: { name: string; defaultCurrency?: string }) {
  return db.transaction(async (tx) => {
    const [account] = await tx.insert(accounts).values(input).returning({ id: accounts.id });
    const key = await createApiKey(tx, account!.id);
    return { accountId: account!.id, ...key };
  });
}

export async function revokeApiKey(db: Executor, keyId: string): Promise<void> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  if (!row) throw notFound('active API key');
}

/** The account a bearer key belongs to, or undefined for an unknown or revoked key. */
export async function accountForApiKey(db: Executor, apiKey: string): Promise<string | undefined> {
  const [row] = await db
    .select({ accountId: apiKeys.accountId })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, hashApiKey(apiKey)), isNull(apiKeys.revokedAt)));
  return row?.accountId;
}

/** Every account, oldest first: for operators (the CLI), never for the API. */
export async function listAccounts(db: Executor) {
  const rows = await db.select().from(accounts).orderBy(asc(accounts.createdAt), asc(accounts.id));
  return rows.map((a) => ({ accountId: a.id, name: a.name, defaultCurrency: a.defaultCurrency, createdAt: a.createdAt.toISOString() }));
}

/**
 * An account's API keys, revoked ones too, oldest first. The prefix (the key's first characters,
 * stored to tell keys apart) is shown; the key itself is never stored and its hash is never shown.
 */
export async function listApiKeys(db: Executor, accountId: string) {
  const [account] = await db.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, accountId));
  if (!account) throw notFound('account');
  const rows = await db
    .select({ id: apiKeys.id, prefix: apiKeys.prefix, createdAt: apiKeys.createdAt, revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .where(eq(apiKeys.accountId, accountId))
    .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
  return rows.map((k) => ({ keyId: k.id, prefix: k.prefix, createdAt: k.createdAt.toISOString(), revokedAt: k.revokedAt?.toISOString() ?? null }));
}
