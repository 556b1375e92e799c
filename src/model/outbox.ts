import { sql } from 'drizzle-orm';
import type { Executor } from './db.ts';

/**
 * Marks opportunities dirty for every connection of their account, in the caller's transaction:
 * pending outbound work lives in Postgres, so losing Redis or a worker loses none of it. A row
 * that is already dirty gets a new generation, which tells a flush in progress that it must push
 * again. Paused and failing connections keep collecting work for when they come back.
 */
export async function markDirty(db: Executor, accountId: string, opportunityIds: string[]): Promise<void> {
  if (opportunityIds.length === 0) return;
  const ids = sql.join(opportunityIds.map((id) => sql`${id}`), sql`, `);
  await db.execute(sql`
    INSERT INTO outbox (connection_id, opportunity_id)
    SELECT c.id, o.id FROM connections c CROSS JOIN unnest(ARRAY[${ids}]::uuid[]) AS o(id)
     WHERE c.account_id = ${accountId}
    ON CONFLICT (connection_id, opportunity_id)
    DO UPDATE SET generation = outbox.generation + 1`);
}
