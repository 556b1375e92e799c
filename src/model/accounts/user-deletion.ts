import { and, eq, isNull, or, sql } from 'drizzle-orm';
import { applyFieldChanges } from '../opportunities/opportunities.ts';
import type { Executor } from '../store/db.ts';
import { conflict, invalid, notFound, type FieldError } from '../store/errors.ts';
import { connections, opportunities, users } from '../store/schema.ts';

type Owners = { userId: string; ownerId: string }[];

const ownersOf = (settings: Record<string, unknown>): Owners => (Array.isArray(settings.owners) ? (settings.owners as Owners) : []);

/** What still names a user: live opportunities (assignee, closer) and connections' owner maps. */
async function referencesTo(tx: Executor, accountId: string, userId: string) {
  const named = await tx
    .select()
    .from(opportunities)
    .where(and(eq(opportunities.accountId, accountId), isNull(opportunities.deletedAt), or(eq(opportunities.assigneeId, userId), eq(opportunities.closedById, userId))))
    .orderBy(opportunities.id)
    .for('update');
  const mapping = (await tx.select().from(connections).where(eq(connections.accountId, accountId)).for('update')).filter((c) =>
    ownersOf(c.settings).some((o) => o.userId === userId),
  );
  return { named, mapping };
}

function refusal(userId: string, refs: Awaited<ReturnType<typeof referencesTo>>) {
  const assigned = refs.named.filter((o) => o.assigneeId === userId).length;
  const closed = refs.named.filter((o) => o.closedById === userId).length;
  const errors: FieldError[] = [
    ...(assigned ? [{ field: 'assigneeId', message: `${assigned} opportunities are assigned to this user` }] : []),
    ...(closed ? [{ field: 'closedById', message: `${closed} opportunities were closed by this user` }] : []),
    ...refs.mapping.map((c) => ({ field: `connections.${c.id}.settings.owners`, message: 'maps a CRM owner to this user' })),
  ];
  return conflict(
    `the user is still referenced (${errors.map((e) => e.message).join('; ')}); delete with ?reassignTo=<userId> to hand these over`,
    { references: { assignedOpportunities: assigned, closedOpportunities: closed, connectionIds: refs.mapping.map((c) => c.id) } },
    errors,
  );
}

/**
 * Deletes a user. Without `reassignTo` a user still referenced is refused (409, naming what refers
 * to them). With it: their opportunities are assigned to that user, `closedById` naming them is
 * cleared (the other user did not close those), and owner-map entries move to that user. Each
 * opportunity changed gets a new version and syncs.
 */
export async function deleteUser(db: Executor, accountId: string, id: string, reassignTo?: string): Promise<void> {
  await db.transaction(async (tx) => {
    const [user] = await tx.select({ id: users.id }).from(users).where(and(eq(users.accountId, accountId), eq(users.id, id))).for('update');
    if (!user) throw notFound('user');
    if (reassignTo !== undefined) {
      if (reassignTo === id) throw invalid([{ field: 'reassignTo', message: 'must be another user' }]);
      const [heir] = await tx.select({ id: users.id }).from(users).where(and(eq(users.accountId, accountId), eq(users.id, reassignTo))).for('key share');
      if (!heir) throw invalid([{ field: 'reassignTo', message: 'no such user' }]);
    }
    const refs = await referencesTo(tx, accountId, id);
    if (refs.named.length + refs.mapping.length > 0) {
      if (reassignTo === undefined) throw refusal(id, refs);
      await handOver(tx, id, reassignTo, refs);
    }
    await tx.delete(users).where(eq(users.id, id));
  });
}

async function handOver(tx: Executor, from: string, to: string, refs: Awaited<ReturnType<typeof referencesTo>>) {
  for (const row of refs.named) {
    await applyFieldChanges(tx, row, {
      ...(row.assigneeId === from ? { assigneeId: to } : {}),
      ...(row.closedById === from ? { closedById: null } : {}),
    });
  }
  for (const connection of refs.mapping) {
    const owners = ownersOf(connection.settings).map((o) => (o.userId === from ? { ...o, userId: to } : o));
    await tx
      .update(connections)
      .set({ settings: { ...connection.settings, owners }, updatedAt: sql`now()` })
      .where(eq(connections.id, connection.id));
  }
}
