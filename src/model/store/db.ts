import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

export type Database = PostgresJsDatabase<typeof schema>;
/** A transaction or the database itself: store functions accept either so callers choose the boundary. */
export type Executor = Pick<Database, 'select' | 'insert' | 'update' | 'delete' | 'execute' | 'transaction'>;

export interface DatabaseHandle {
  db: Database;
  close(): Promise<void>;
}

/**
 * Seconds to wait for a connection to Postgres (postgres.js waits 30 by default): a database that
 * does not answer fails the request (503) instead of holding it. A refused connection fails at once.
 */
const CONNECT_TIMEOUT_SECONDS = 10;

export function connectDatabase(url: string, options: { max?: number } = {}): DatabaseHandle {
  const client = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    onnotice: () => {},
  });
  const db = drizzle(client, { schema });
  return { db, close: () => client.end({ timeout: 5 }) };
}
