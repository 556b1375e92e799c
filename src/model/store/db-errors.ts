import { DrizzleQueryError } from 'drizzle-orm/errors';
import postgres from 'postgres';

/**
 * What a database failure means to a caller, and what of it may be written to a log. postgres.js
 * and drizzle errors carry the query's parameters (API-key hashes, customer data) in fields and,
 * for drizzle, in the message itself; a unique violation names the values in its detail.
 */

/** Postgres could not take the query now: try again shortly (SQLSTATE). */
const UNAVAILABLE_SQLSTATES = new Set([
  '53300', // too_many_connections
  '53000', // insufficient_resources
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, in recovery)
]);
/** The connection itself failed (node's socket errors, postgres.js's own codes). */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

const codeOf = (error: unknown) => (error && typeof error === 'object' && 'code' in error ? String((error as { code: unknown }).code) : undefined);

/** The error and its causes (drizzle wraps the driver's error), and the parts of an AggregateError. */
function* chain(error: unknown, depth = 0): Generator<unknown> {
  if (!error || typeof error !== 'object' || depth > 5) return;
  yield error;
  if (error instanceof AggregateError) for (const part of error.errors) yield* chain(part, depth + 1);
  yield* chain((error as { cause?: unknown }).cause, depth + 1);
}

export function databaseUnavailable(error: unknown): boolean {
  for (const link of chain(error)) {
    const code = codeOf(link);
    if (code === undefined) continue;
    if (link instanceof postgres.PostgresError ? UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08') : UNREACHABLE_CODES.has(code)) return true;
  }
  return false;
}

const isDatabaseError = (error: unknown) => error instanceof DrizzleQueryError || error instanceof postgres.PostgresError;

export const involvesDatabase = (error: unknown) => [...chain(error)].some(isDatabaseError);

/** The stack's frames only: its first line repeats the message, which may hold the values. */
const frames = (stack: string | undefined) => (stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at ')).join('\n');

/** `invalid input syntax for type uuid: "<value>"` and its kind end in the value that failed. */
const withoutValue = (message: string) => message.replace(/: ".*"$/s, ': "[redacted]"');

/** A database error (and its causes) for a log: codes, names and the query text, never the values. */
export function loggableDatabaseError(error: unknown, depth = 0): Record<string, unknown> {
  if (!(error instanceof Error) || depth > 5) return { type: typeof error };
  const cause = error.cause === undefined ? {} : { cause: loggableDatabaseError(error.cause, depth + 1) };
  if (error instanceof DrizzleQueryError) {
    return { type: 'DrizzleQueryError', message: `Failed query: ${error.query}`, query: error.query, stack: frames(error.stack), ...cause };
  }
  if (error instanceof postgres.PostgresError) {
    const { code, severity, routine, hint, schema_name: schema, table_name: table, column_name: column, constraint_name: constraint } = error;
    return { type: 'PostgresError', message: withoutValue(error.message), code, severity, routine, hint, schema, table, column, constraint, stack: frames(error.stack), ...cause };
  }
  // A socket or driver error (ECONNREFUSED, CONNECT_TIMEOUT): only what names the failure.
  return { type: error.name, message: error.message, code: codeOf(error), stack: frames(error.stack), ...cause };
}
