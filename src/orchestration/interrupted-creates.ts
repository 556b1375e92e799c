import type { CrmConnector, PullCursor } from '../providers/types.ts';
import type { ConnectionSettings } from '../sync/settings.ts';
import type { ConnectionRow } from '../model/connections/connections.ts';
import type { Database } from '../model/store/db.ts';
import { sentCreatesOf } from '../model/sync-state/outbox.ts';
import { applyRemoteState } from './apply-remote.ts';

/** Pages of recent changes a retried create reads to find the deal its first attempt may have made. */
const RECOVERY_PAGES = 2;
/** Read from a little before the first attempt: clocks differ, and a CRM's search index trails. */
const RECOVERY_OVERLAP_MS = 60_000;

/**
 * A retried create whose first attempt may have reached the CRM (the flush failed before saving
 * its link, with a write-ahead of what it sent): the deal is looked for among the CRM's recent
 * changes and, if found, linked by merging it three-way against what that create sent, as a
 * webhook would. A person's edit of the new deal meanwhile is kept and reaches the other CRMs;
 * creating again would have overwritten it (Pipedrive's recovery search updates the deal with
 * every canonical value, HubSpot's upsert too). Not found (the first attempt never got through,
 * or the CRM has not indexed it yet), the create goes ahead as before. Answers whether it linked any.
 */
export async function linkInterruptedCreates(db: Database, connection: ConnectionRow, settings: ConnectionSettings, connector: CrmConnector, opportunityIds: string[]): Promise<boolean> {
  const sent = await sentCreatesOf(db, connection.id, opportunityIds);
  if (sent.size === 0) return false;
  const first = Math.min(...[...sent.values()].map((s) => Date.parse(s.at)));
  let cursor: PullCursor | null = { since: new Date(first - RECOVERY_OVERLAP_MS).toISOString() };
  let linked = 0;
  for (let page = 0; cursor && page < RECOVERY_PAGES && linked < sent.size; page++) {
    const { states, next }: Awaited<ReturnType<CrmConnector['changedSince']>> = await connector.changedSince(cursor, settings);
    for (const state of states) {
      if (!state.canonicalId || !sent.has(state.canonicalId)) continue;
      // This flush holds the row: the deal is its own create, not one to wait for.
      await db.transaction((tx) => applyRemoteState(tx, connection, settings, state, { ownCreate: true }));
      linked++;
    }
    cursor = next;
  }
  return linked > 0;
}
