import { and, eq, inArray, isNull, notExists } from 'drizzle-orm';
import type { Executor } from '../store/db.ts';
import { deleteOpportunity } from '../opportunities/opportunities.ts';
import { opportunities, remoteAliases, remoteLinks } from '../store/schema.ts';

type Row = typeof opportunities.$inferSelect;

/** Only a live opportunity holds a reference: a deleted one's may be reused, as the API reuses it. */
export async function liveExternalRefTaken(tx: Executor, accountId: string, externalRef: string): Promise<boolean> {
  const [row] = await tx
    .select({ id: opportunities.id })
    .from(opportunities)
    .where(and(eq(opportunities.accountId, accountId), eq(opportunities.externalRef, externalRef), isNull(opportunities.deletedAt)));
  return row !== undefined;
}

/** The live opportunity carrying this external reference, locked, if this connection has no deal linked to it yet. */
export async function lockUnlinkedByExternalRef(tx: Executor, connectionId: string, accountId: string, externalRef: string): Promise<Row | undefined> {
  const linked = tx
    .select({ one: remoteLinks.id })
    .from(remoteLinks)
    .where(and(eq(remoteLinks.connectionId, connectionId), eq(remoteLinks.opportunityId, opportunities.id)));
  const [row] = await tx
    .select()
    .from(opportunities)
    .where(and(eq(opportunities.accountId, accountId), eq(opportunities.externalRef, externalRef), isNull(opportunities.deletedAt), notExists(linked)))
    .for('update');
  return row;
}

export async function lockOpportunityRow(tx: Executor, accountId: string, id: string): Promise<Row | undefined> {
  const [row] = await tx
    .select()
    .from(opportunities)
    .where(and(eq(opportunities.accountId, accountId), eq(opportunities.id, id), isNull(opportunities.deletedAt)))
    .for('update');
  return row;
}

/** This connection's link of an opportunity, whatever its remote id (not locked). */
export async function linkOfOpportunity(tx: Executor, connectionId: string, opportunityId: string) {
  const [link] = await tx
    .select()
    .from(remoteLinks)
    .where(and(eq(remoteLinks.connectionId, connectionId), eq(remoteLinks.opportunityId, opportunityId)));
  return link;
}

/** The link of a remote deal, locked: one deal's inbound work runs one at a time, others in parallel. */
export async function lockLinkByRemoteId(tx: Executor, connectionId: string, remoteId: string) {
  const [link] = await tx
    .select()
    .from(remoteLinks)
    .where(and(eq(remoteLinks.connectionId, connectionId), eq(remoteLinks.remoteId, remoteId)))
    .for('update');
  return link;
}

export async function savePulledLink(
  tx: Executor,
  link: { connectionId: string; opportunityId: string; remoteId: string },
  values: { base: Record<string, unknown>; remoteVersion: Date; remoteDeletedAt?: Date | null; lastError?: unknown },
) {
  const now = new Date();
  const set = {
    baseSnapshot: values.base as Record<string, unknown>,
    remoteVersion: values.remoteVersion,
    lastPulledAt: now,
    updatedAt: now,
    ...(values.remoteDeletedAt !== undefined ? { remoteDeletedAt: values.remoteDeletedAt } : {}),
    ...(values.lastError !== undefined ? { lastError: values.lastError } : {}),
  };
  await tx
    .insert(remoteLinks)
    .values({ ...link, ...set })
    .onConflictDoUpdate({ target: [remoteLinks.connectionId, remoteLinks.opportunityId], set: { remoteId: link.remoteId, ...set } });
}

/** A remote deletion under the `propagate` policy: the canonical opportunity goes too (soft, as the API's). */
export async function softDeleteOpportunity(tx: Executor, accountId: string, id: string) {
  await deleteOpportunity(tx, accountId, id).catch((error: { status?: number }) => {
    if (error.status !== 404) throw error; // already deleted
  });
}

/** Live links of deals a CRM merged away, locked. */
export async function lockLiveLinksByRemoteIds(tx: Executor, connectionId: string, remoteIds: string[]) {
  if (remoteIds.length === 0) return [];
  return tx
    .select()
    .from(remoteLinks)
    .where(and(eq(remoteLinks.connectionId, connectionId), inArray(remoteLinks.remoteId, remoteIds), isNull(remoteLinks.remoteDeletedAt)))
    .orderBy(remoteLinks.remoteId)
    .for('update');
}

/** The surviving deal of a merge takes over the link: same opportunity, same base, the new remote id. */
export async function moveLink(tx: Executor, linkId: string, remoteId: string) {
  await tx.update(remoteLinks).set({ remoteId, updatedAt: new Date() }).where(eq(remoteLinks.id, linkId));
}

/** Old id → surviving id, so late webhooks about a merged-away deal find the survivor. */
export async function saveAliases(tx: Executor, connectionId: string, oldRemoteIds: string[], newRemoteId: string) {
  if (oldRemoteIds.length === 0) return;
  await tx
    .insert(remoteAliases)
    .values(oldRemoteIds.map((oldRemoteId) => ({ connectionId, oldRemoteId, newRemoteId })))
    .onConflictDoUpdate({ target: [remoteAliases.connectionId, remoteAliases.oldRemoteId], set: { newRemoteId } });
}

/** Remote ids as they are now: a merged-away id becomes its survivor's. */
export async function resolveAliases(db: Executor, connectionId: string, remoteIds: string[]): Promise<string[]> {
  if (remoteIds.length === 0) return [];
  const aliases = await db
    .select()
    .from(remoteAliases)
    .where(and(eq(remoteAliases.connectionId, connectionId), inArray(remoteAliases.oldRemoteId, remoteIds)));
  const survivor = new Map(aliases.map((a) => [a.oldRemoteId, a.newRemoteId]));
  return [...new Set(remoteIds.map((id) => survivor.get(id) ?? id))];
}

/** Which of these remote ids this connection already links (aliases of merged deals aside). */
export async function linkedRemoteIds(db: Executor, connectionId: string, remoteIds: string[]): Promise<Set<string>> {
  if (remoteIds.length === 0) return new Set();
  const rows = await db
    .select({ remoteId: remoteLinks.remoteId })
    .from(remoteLinks)
    .where(and(eq(remoteLinks.connectionId, connectionId), inArray(remoteLinks.remoteId, remoteIds)));
  return new Set(rows.map((r) => r.remoteId));
}
