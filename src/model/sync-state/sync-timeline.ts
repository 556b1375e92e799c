import { and, asc, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../store/db.ts';
import { notFound } from '../store/errors.ts';
import { olderThanCursor, serialIdOfCursor, toSerialPage, type Page } from '../store/pagination.ts';
import { connections, opportunities, providers, remoteLinks, syncEvents } from '../store/schema.ts';
import { problemsOfOpportunity } from './problems.ts';

/** How the opportunity stands with one connected CRM. Only link columns: no credentials or secrets. */
export const syncLinkView = z
  .object({
    connectionId: z.uuid(),
    provider: z.enum(providers),
    remoteId: z.string(),
    remoteVersion: z.iso.datetime().nullable().describe('hs_lastmodifieddate / update_time of the newest remote state seen'),
    base: z.record(z.string(), z.unknown()).describe('Canonical field values last agreed with this CRM: the base of the three-way merge'),
    lastPulledAt: z.iso.datetime().nullable(),
    lastPushedAt: z.iso.datetime().nullable(),
    remoteDeletedAt: z.iso.datetime().nullable(),
    lastError: z.unknown().nullable(),
  })
  .meta({ id: 'SyncLink' });

export const syncEventView = z
  .object({
    id: z.number().int(),
    kind: z.string().describe('What happened: a push, a pull, a conflict decided, an echo suppressed, an error'),
    connectionId: z.uuid().nullable(),
    field: z.string().nullable(),
    before: z.unknown().nullable(),
    after: z.unknown().nullable(),
    rule: z.string().nullable().describe('The conflict rule that decided, when one did'),
    detail: z.unknown().nullable(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'SyncEvent' });

type LinkView = z.infer<typeof syncLinkView>;
type EventView = z.infer<typeof syncEventView>;
type EventRow = typeof syncEvents.$inferSelect;

const iso = (at: Date | null) => at?.toISOString() ?? null;

/**
 * Tombstoned opportunities count: an admin reading the timeline of a deleted deal wants to see why it
 * went. Another account's id is as unknown as a made-up one.
 */
async function assertOpportunityOfAccount(db: Executor, accountId: string, opportunityId: string) {
  const [row] = await db
    .select({ id: opportunities.id })
    .from(opportunities)
    .where(and(eq(opportunities.accountId, accountId), eq(opportunities.id, opportunityId)));
  if (!row) throw notFound('opportunity');
}

async function listSyncLinks(db: Executor, accountId: string, opportunityId: string): Promise<LinkView[]> {
  const rows = await db
    .select({ link: remoteLinks, provider: connections.provider })
    .from(remoteLinks)
    .innerJoin(connections, eq(connections.id, remoteLinks.connectionId))
    .where(and(eq(connections.accountId, accountId), eq(remoteLinks.opportunityId, opportunityId)))
    .orderBy(asc(connections.createdAt), asc(connections.id));
  return rows.map(({ link, provider }) => ({
    connectionId: link.connectionId,
    provider,
    remoteId: link.remoteId,
    remoteVersion: iso(link.remoteVersion),
    base: link.baseSnapshot,
    lastPulledAt: iso(link.lastPulledAt),
    lastPushedAt: iso(link.lastPushedAt),
    remoteDeletedAt: iso(link.remoteDeletedAt),
    lastError: link.lastError ?? null,
  }));
}

function toEventView(row: EventRow): EventView {
  return {
    id: row.id,
    kind: row.kind,
    connectionId: row.connectionId,
    field: row.field,
    before: row.before ?? null,
    after: row.after ?? null,
    rule: row.rule,
    detail: row.detail ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

async function listSyncEvents(db: Executor, accountId: string, opportunityId: string, page: Page) {
  const rows = await db
    .select()
    .from(syncEvents)
    .where(and(eq(syncEvents.accountId, accountId), eq(syncEvents.opportunityId, opportunityId), olderThanCursor(syncEvents.id, page.cursor)))
    .orderBy(desc(syncEvents.id))
    .limit(page.limit + 1);
  const { rows: kept, nextCursor } = toSerialPage(rows, page.limit);
  return { data: kept.map(toEventView), nextCursor };
}

/** The links to every connected CRM and one page of the event timeline, newest first. */
export async function getSyncTimeline(db: Executor, accountId: string, opportunityId: string, page: Page) {
  // A bad cursor is a bad request whatever the id, like a bad limit (which the route's schema refuses first).
  if (page.cursor) serialIdOfCursor(page.cursor);
  await assertOpportunityOfAccount(db, accountId, opportunityId);
  const links = await listSyncLinks(db, accountId, opportunityId);
  const events = await listSyncEvents(db, accountId, opportunityId, page);
  return { links, problems: await problemsOfOpportunity(db, opportunityId), events };
}

/** The same view for the admin API, which reads every account's: the opportunity says whose it is. */
export async function getAnySyncTimeline(db: Executor, opportunityId: string, page: Page) {
  if (page.cursor) serialIdOfCursor(page.cursor);
  const [row] = await db.select({ accountId: opportunities.accountId }).from(opportunities).where(eq(opportunities.id, opportunityId));
  if (!row) throw notFound('opportunity');
  return getSyncTimeline(db, row.accountId, opportunityId, page);
}
