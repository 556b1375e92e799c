import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from '../store/db.ts';
import { contacts, opportunities, opportunityContacts, remoteLinks, syncEvents } from '../store/schema.ts';

export type OpportunityRow = typeof opportunities.$inferSelect;
export type LinkRow = typeof remoteLinks.$inferSelect;

/** The opportunities (deleted ones too) and this connection's links to them. */
export async function loadForPush(db: Executor, connectionId: string, opportunityIds: string[]) {
  if (opportunityIds.length === 0) return [];
  const rows = await db.select().from(opportunities).where(inArray(opportunities.id, opportunityIds));
  const links = await db
    .select()
    .from(remoteLinks)
    .where(and(eq(remoteLinks.connectionId, connectionId), inArray(remoteLinks.opportunityId, opportunityIds)));
  const linkOf = new Map(links.map((l) => [l.opportunityId, l]));
  const primaries = await db
    .select({ opportunityId: opportunityContacts.opportunityId, email: contacts.email, name: contacts.name })
    .from(opportunityContacts)
    .innerJoin(contacts, eq(contacts.id, opportunityContacts.contactId))
    .where(and(inArray(opportunityContacts.opportunityId, opportunityIds), eq(opportunityContacts.isPrimary, true)));
  const contactOf = new Map(primaries.map((p) => [p.opportunityId, { email: p.email, name: p.name }]));
  return rows.map((row) => ({ row, link: linkOf.get(row.id), contact: contactOf.get(row.id) ?? null }));
}

export interface LinkUpdate {
  connectionId: string;
  opportunityId: string;
  remoteId: string;
  remoteVersion: Date | null;
  baseSnapshot: Record<string, unknown>;
  lastError: unknown;
  remoteDeletedAt?: Date | null;
}

/** After a push: remote ids, versions and the new agreed bases, in one statement, in the caller's transaction. */
export async function savePushedLinks(db: Executor, updates: LinkUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  const now = new Date();
  await db
    .insert(remoteLinks)
    .values(updates.map((u) => ({ ...u, lastPushedAt: now, updatedAt: now })))
    .onConflictDoUpdate({
      target: [remoteLinks.connectionId, remoteLinks.opportunityId],
      set: {
        remoteId: sql`excluded.remote_id`,
        // A version never goes backwards: a slow push must not hide a newer remote state.
        remoteVersion: sql`GREATEST(${remoteLinks.remoteVersion}, excluded.remote_version)`,
        baseSnapshot: sql`excluded.base_snapshot`,
        lastError: sql`excluded.last_error`,
        remoteDeletedAt: sql`COALESCE(excluded.remote_deleted_at, ${remoteLinks.remoteDeletedAt})`,
        lastPushedAt: now,
        updatedAt: now,
      },
    });
}

/**
 * Write-ahead for a push: what it is about to send goes into each link's base as `pending` before
 * the CRM sees it, so if the worker dies after the CRM took the write but before the new base was
 * saved, the merge recognises the CRM's value as our own write and not as a person's change.
 */
export async function markPendingPushes(db: Executor, connectionId: string, pushes: { opportunityId: string; fields: unknown }[]) {
  if (pushes.length === 0) return;
  await db.transaction(async (tx) => {
    for (const push of pushes) {
      await tx
        .update(remoteLinks)
        .set({ baseSnapshot: sql`${remoteLinks.baseSnapshot} || jsonb_build_object('pending', ${JSON.stringify(push.fields)}::jsonb)` })
        .where(and(eq(remoteLinks.connectionId, connectionId), eq(remoteLinks.opportunityId, push.opportunityId)));
    }
  });
}

export async function recordLinkError(db: Executor, connectionId: string, opportunityId: string, error: unknown) {
  await db
    .update(remoteLinks)
    .set({ lastError: error, updatedAt: new Date() })
    .where(and(eq(remoteLinks.connectionId, connectionId), eq(remoteLinks.opportunityId, opportunityId)));
}

export interface SyncEvent {
  accountId: string;
  opportunityId: string | null;
  connectionId: string | null;
  kind: string;
  field?: string | null;
  before?: unknown;
  after?: unknown;
  rule?: string | null;
  detail?: unknown;
}

export async function recordSyncEvents(db: Executor, events: SyncEvent[]): Promise<void> {
  if (events.length) await db.insert(syncEvents).values(events);
}
