import { and, gt, lt, or, eq, type SQL, type Column } from 'drizzle-orm';
import { invalid } from './errors.ts';

/** Lists are ordered by (created_at, id): both immutable, so a cursor never skips or repeats a row. */
export interface Page {
  limit: number;
  cursor?: string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface CursorPosition {
  createdAt: Date;
  id: string;
}

export function encodeCursor(row: CursorPosition): string {
  return Buffer.from(JSON.stringify([row.createdAt.toISOString(), row.id])).toString('base64url');
}

function decodeCursor(cursor: string): CursorPosition {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const date = new Date(createdAt);
    const year = date.getUTCFullYear();
    if (typeof id !== 'string' || !UUID.test(id) || Number.isNaN(date.getTime()) || year < 1 || year > 9999) throw new Error('bad cursor');
    return { createdAt: date, id };
  } catch {
    throw invalid([{ field: 'querystring.cursor', message: 'is not a cursor this API returned' }]);
  }
}

/** The condition "after the cursor" for a table's (created_at, id) columns. */
export function afterCursor(columns: { createdAt: Column; id: Column }, cursor: string | undefined): SQL | undefined {
  if (!cursor) return undefined;
  const at = decodeCursor(cursor);
  return or(gt(columns.createdAt, at.createdAt), and(eq(columns.createdAt, at.createdAt), gt(columns.id, at.id)));
}

/** Fetch limit + 1 rows, return limit of them and the cursor of the last when more exist. */
export function toPage<T extends CursorPosition>(rows: T[], limit: number): { rows: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const kept = rows.slice(0, limit);
  return { rows: kept, nextCursor: encodeCursor(kept[kept.length - 1]!) };
}

const SERIAL_ID = /^[1-9][0-9]{0,15}$/;

/**
 * Newest-first lists of append-only rows with a bigserial id (timelines, event deliveries). The
 * cursor is the one every list hands out (encodeCursor's [createdAt, id], the id as a string); the
 * id alone places the page, ids being monotonic.
 */
export function serialIdOfCursor(cursor: string): number {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof createdAt !== 'string' || Number.isNaN(new Date(createdAt).getTime())) throw new Error('bad cursor');
    if (typeof id !== 'string' || !SERIAL_ID.test(id) || !Number.isSafeInteger(Number(id))) throw new Error('bad cursor');
    return Number(id);
  } catch {
    throw invalid([{ field: 'querystring.cursor', message: 'is not a cursor this API returned' }]);
  }
}

/** The condition "older than the cursor" for a newest-first list by a bigserial id. */
export function olderThanCursor(idColumn: Column, cursor: string | undefined): SQL | undefined {
  return cursor ? lt(idColumn, serialIdOfCursor(cursor)) : undefined;
}

/** A newest-first page of bigserial rows: the cursor of its last row when more exist. */
export function toSerialPage<T extends { id: number; createdAt: Date }>(rows: T[], limit: number): { rows: T[]; nextCursor: string | null } {
  const { rows: kept, nextCursor } = toPage(rows.map((row) => ({ row, createdAt: row.createdAt, id: String(row.id) })), limit);
  return { rows: kept.map(({ row }) => row), nextCursor };
}
