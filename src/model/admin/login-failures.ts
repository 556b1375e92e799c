import { sql } from 'drizzle-orm';
import type { Executor } from '../store/db.ts';
import { adminLoginFailures } from '../store/schema.ts';

/**
 * Failed admin logins and bearer tokens per client, counted in Postgres so that every serve
 * process enforces one limit (and it holds with Redis down). A window opens at a client's first
 * failure and lasts a minute; Postgres's clock decides, so the processes' clocks do not matter.
 */
const WINDOW = sql.raw(`interval '1 minute'`);
const secondsLeft = sql<number>`greatest(1, ceil(extract(epoch FROM ${adminLoginFailures.windowStartedAt} + ${WINDOW} - now())))::int`;

/** Seconds until the client may try again, when it has used up its failures; undefined when it may. */
export async function lockedOutFor(db: Executor, client: string, limit: number): Promise<number | undefined> {
  const [row] = await db
    .select({ wait: secondsLeft })
    .from(adminLoginFailures)
    .where(sql`${adminLoginFailures.client} = ${client} AND ${adminLoginFailures.failures} >= ${limit} AND ${adminLoginFailures.windowStartedAt} > now() - ${WINDOW}`);
  return row?.wait;
}

/** Counts one failure; a window that has passed starts again at one. Prunes every expired window. */
export async function recordFailure(db: Executor, client: string): Promise<{ failures: number; wait: number }> {
  const expired = sql`${adminLoginFailures.windowStartedAt} <= now() - ${WINDOW}`;
  // Rows another request holds are left for the next prune: concurrent failures never wait on each other.
  await db.execute(sql`DELETE FROM ${adminLoginFailures} WHERE ${adminLoginFailures.client} IN (
    SELECT ${adminLoginFailures.client} FROM ${adminLoginFailures} WHERE ${expired} AND ${adminLoginFailures.client} <> ${client} LIMIT 1000 FOR UPDATE SKIP LOCKED)`);
  const [row] = await db
    .insert(adminLoginFailures)
    .values({ client })
    .onConflictDoUpdate({
      target: adminLoginFailures.client,
      set: {
        failures: sql`CASE WHEN ${expired} THEN 1 ELSE ${adminLoginFailures.failures} + 1 END`,
        windowStartedAt: sql`CASE WHEN ${expired} THEN now() ELSE ${adminLoginFailures.windowStartedAt} END`,
      },
    })
    .returning({ failures: adminLoginFailures.failures, wait: secondsLeft });
  return row!;
}
