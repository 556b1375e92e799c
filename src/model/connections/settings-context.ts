import { eq } from 'drizzle-orm';
import type { Executor } from '../store/db.ts';
import { attributeDefinitions, users, type AttributeType } from '../store/schema.ts';

/** What a connection's settings are checked against on the account's side: its attributes and users. */
export interface AccountSide {
  attributes: Map<string, AttributeType>;
  userIds: Set<string>;
}

export async function accountSide(db: Executor, accountId: string): Promise<AccountSide> {
  const definitions = await db.select({ key: attributeDefinitions.key, type: attributeDefinitions.type }).from(attributeDefinitions).where(eq(attributeDefinitions.accountId, accountId));
  const people = await db.select({ id: users.id }).from(users).where(eq(users.accountId, accountId));
  return { attributes: new Map(definitions.map((d) => [d.key, d.type])), userIds: new Set(people.map((u) => u.id)) };
}
