import { and, asc, countDistinct, eq, gt, notInArray, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../store/db.ts';
import { invalid } from '../store/errors.ts';
import { opportunities, problemDirections, syncProblems } from '../store/schema.ts';

export type ProblemDirection = (typeof syncProblems.$inferSelect)['direction'];

/** One thing that kept a record from syncing: a field (null for the record as a whole), the value, why. */
export interface RecordProblem {
  field: string | null;
  value: string | null;
  cause: string;
}

export interface ProblemKey {
  connectionId: string;
  opportunityId: string;
  direction: ProblemDirection;
}

const WHOLE_RECORD = '';

/**
 * What the latest push (or pull) of a record found wrong, replacing what the previous one found in
 * the same direction: problems it no longer has are cleared; a problem seen again keeps its `since`
 * unless its value or cause changed (then it is a new problem). Pushes and pulls never clear each other's.
 */
export async function setRecordProblems(db: Executor, key: ProblemKey, problems: RecordProblem[]): Promise<void> {
  const { connectionId, opportunityId, direction } = key;
  const rows = dedupe(problems).map((p) => ({ connectionId, opportunityId, direction, field: p.field ?? WHOLE_RECORD, value: p.value, cause: p.cause.slice(0, 2000) }));
  const fields = rows.map((r) => r.field);
  const sameRecord = and(eq(syncProblems.connectionId, key.connectionId), eq(syncProblems.opportunityId, key.opportunityId), eq(syncProblems.direction, key.direction));
  await db.delete(syncProblems).where(fields.length ? and(sameRecord, notInArray(syncProblems.field, fields)) : sameRecord);
  if (rows.length === 0) return;
  await db
    .insert(syncProblems)
    .values(rows)
    .onConflictDoUpdate({
      target: [syncProblems.connectionId, syncProblems.opportunityId, syncProblems.direction, syncProblems.field],
      set: {
        since: sql`case when ${syncProblems.value} is not distinct from excluded.value and ${syncProblems.cause} = excluded.cause then ${syncProblems.since} else now() end`,
        value: sql`excluded.value`,
        cause: sql`excluded.cause`,
        lastSeenAt: sql`now()`,
      },
    });
}

/** The deal is gone from the CRM (deleted, merged away): nothing about it is a problem any more, either way. */
export async function clearRecordProblems(db: Executor, key: Omit<ProblemKey, 'direction'>): Promise<void> {
  await db.delete(syncProblems).where(and(eq(syncProblems.connectionId, key.connectionId), eq(syncProblems.opportunityId, key.opportunityId)));
}

/** The last problem named for a field wins, as the connector's last word on it. */
function dedupe(problems: RecordProblem[]): RecordProblem[] {
  return [...new Map(problems.map((p) => [p.field ?? WHOLE_RECORD, p])).values()];
}

/** One problem of one record with one connection, as admins and the API see it. */
export const problemView = z
  .object({
    opportunityId: z.uuid(),
    title: z.string(),
    direction: z.enum(problemDirections).describe('push: writing to the CRM; pull: reading from it'),
    field: z.string().nullable().describe('The canonical field, or null when the record as a whole failed'),
    value: z.string().nullable().describe('The value that could not be written or read'),
    cause: z.string(),
    since: z.iso.datetime().describe('When this problem was first seen'),
    lastSeenAt: z.iso.datetime().describe('The latest push or pull that still had it'),
  })
  .meta({ id: 'SyncProblem' });

export type ProblemView = z.infer<typeof problemView>;

function toView(row: typeof syncProblems.$inferSelect & { title: string }): ProblemView {
  return {
    opportunityId: row.opportunityId,
    title: row.title,
    direction: row.direction,
    field: row.field === WHOLE_RECORD ? null : row.field,
    value: row.value,
    cause: row.cause,
    since: row.since.toISOString(),
    lastSeenAt: row.lastSeenAt.toISOString(),
  };
}

interface ProblemCursor {
  opportunityId: string;
  direction: string;
  field: string;
}

function decodeProblemCursor(cursor: string): ProblemCursor {
  try {
    const [opportunityId, direction, field] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof opportunityId !== 'string' || typeof direction !== 'string' || typeof field !== 'string') throw new Error('bad cursor');
    if (!/^[0-9a-f-]{36}$/i.test(opportunityId)) throw new Error('bad cursor');
    return { opportunityId, direction, field };
  } catch {
    throw invalid([{ field: 'querystring.cursor', message: 'is not a cursor this API returned' }]);
  }
}

const encodeProblemCursor = (row: ProblemCursor) => Buffer.from(JSON.stringify([row.opportunityId, row.direction, row.field])).toString('base64url');

/** A connection's problems, by record then direction and field (a stable order for cursors). */
export async function listConnectionProblems(db: Executor, connectionId: string, page: { limit: number; cursor?: string | undefined }) {
  const at = page.cursor ? decodeProblemCursor(page.cursor) : undefined;
  const after = at
    ? or(
        gt(syncProblems.opportunityId, at.opportunityId),
        and(eq(syncProblems.opportunityId, at.opportunityId), gt(syncProblems.direction, at.direction as ProblemDirection)),
        and(eq(syncProblems.opportunityId, at.opportunityId), eq(syncProblems.direction, at.direction as ProblemDirection), gt(syncProblems.field, at.field)),
      )
    : undefined;
  const rows = await db
    .select({ ...tableColumns, title: opportunities.title })
    .from(syncProblems)
    .innerJoin(opportunities, eq(opportunities.id, syncProblems.opportunityId))
    .where(and(eq(syncProblems.connectionId, connectionId), after))
    .orderBy(asc(syncProblems.opportunityId), asc(syncProblems.direction), asc(syncProblems.field))
    .limit(page.limit + 1);
  const kept = rows.slice(0, page.limit);
  const last = kept[kept.length - 1];
  return { data: kept.map(toView), nextCursor: rows.length > page.limit && last ? encodeProblemCursor(last) : null };
}

const tableColumns = {
  connectionId: syncProblems.connectionId,
  opportunityId: syncProblems.opportunityId,
  direction: syncProblems.direction,
  field: syncProblems.field,
  value: syncProblems.value,
  cause: syncProblems.cause,
  since: syncProblems.since,
  lastSeenAt: syncProblems.lastSeenAt,
};

/** How many of a connection's records have at least one problem. */
export async function countProblemRecords(db: Executor, connectionId: string): Promise<number> {
  const [row] = await db.select({ n: countDistinct(syncProblems.opportunityId) }).from(syncProblems).where(eq(syncProblems.connectionId, connectionId));
  return row?.n ?? 0;
}

/** One opportunity's problems with every connection, for its sync view. */
export async function problemsOfOpportunity(db: Executor, opportunityId: string) {
  const rows = await db
    .select({ ...tableColumns, title: opportunities.title })
    .from(syncProblems)
    .innerJoin(opportunities, eq(opportunities.id, syncProblems.opportunityId))
    .where(eq(syncProblems.opportunityId, opportunityId))
    .orderBy(asc(syncProblems.connectionId), asc(syncProblems.direction), asc(syncProblems.field));
  return rows.map((row) => ({ connectionId: row.connectionId, ...toView(row) }));
}
