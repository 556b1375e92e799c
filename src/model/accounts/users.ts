import { and, asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../store/db.ts';
import { conflict, notFound } from '../store/errors.ts';
import { email, name } from '../store/fields.ts';
import { afterCursor, toPage, type Page } from '../store/pagination.ts';
import { users } from '../store/schema.ts';

export const userCreateSchema = z.strictObject({ name, email });
export type UserCreate = z.output<typeof userCreateSchema>;
export const userPatchSchema = userCreateSchema.partial();
export type UserPatch = z.output<typeof userPatchSchema>;

export const userView = z
  .object({ id: z.uuid(), name: z.string(), email: z.string(), createdAt: z.iso.datetime() })
  .meta({ id: 'User' });

function toUserView(row: typeof users.$inferSelect): z.infer<typeof userView> {
  return { id: row.id, name: row.name, email: row.email, createdAt: row.createdAt.toISOString() };
}

export async function createUser(db: Executor, accountId: string, input: UserCreate) {
  const [row] = await db.insert(users).values({ accountId, ...input }).onConflictDoNothing().returning();
  if (!row) throw emailTaken(input.email);
  return toUserView(row);
}

const emailTaken = (email: string) => conflict(`a user with email ${email} already exists`, {}, [{ field: 'email', message: 'already used' }]);

function isUniqueViolation(error: unknown): boolean {
  const pg = ((error as { cause?: unknown }).cause ?? error) as { code?: string; constraint_name?: string };
  return pg.code === '23505' && pg.constraint_name === 'users_account_email_uq';
}

/** Renames a user or changes their email; an email another user of the account has is a 409. */
export async function patchUser(db: Executor, accountId: string, id: string, input: UserPatch) {
  try {
    const [row] = await db.transaction((tx) =>
      tx.update(users).set({ ...input, updatedAt: new Date() }).where(and(eq(users.accountId, accountId), eq(users.id, id))).returning(),
    );
    if (!row) throw notFound('user');
    return toUserView(row);
  } catch (error) {
    if (input.email && isUniqueViolation(error)) throw emailTaken(input.email);
    throw error;
  }
}

export async function listUsers(db: Executor, accountId: string, page: Page) {
  const rows = await db
    .select()
    .from(users)
    .where(and(eq(users.accountId, accountId), afterCursor(users, page.cursor)))
    .orderBy(asc(users.createdAt), asc(users.id))
    .limit(page.limit + 1);
  const { rows: kept, nextCursor } = toPage(rows, page.limit);
  return { data: kept.map(toUserView), nextCursor };
}

/** Every user of the account with their email: owners in the CRMs are matched by it. */
export async function accountUsers(db: Executor, accountId: string) {
  return db.select({ id: users.id, email: users.email }).from(users).where(eq(users.accountId, accountId));
}
