import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { connectDatabase, type Database } from '../../src/model/store/db.ts';
import { dropDatabase, migrateDatabase } from '../../src/model/store/migrate.ts';

export { dropDatabase };

const serverUrl = process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/crm_sync';

export interface TestDatabase {
  url: string;
  db: Database;
  /** Raw SQL on the same database, for setting up states the API cannot (a close time in the past). */
  sql: postgres.Sql;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file; `drop` removes it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const url = new URL(serverUrl);
  url.pathname = `/crm_sync_test_${randomBytes(6).toString('hex')}`;
  await migrateDatabase(url.toString());
  const handle = connectDatabase(url.toString(), { max: 20 });
  const sql = postgres(url.toString(), { max: 2, onnotice: () => {} });
  return {
    url: url.toString(),
    db: handle.db,
    sql,
    async drop() {
      await handle.close();
      await sql.end();
      await dropDatabase(url.toString());
    },
  };
}

