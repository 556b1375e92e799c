import { and, eq, isNotNull } from 'drizzle-orm';
import type { RemoteState } from '../providers/types.ts';
import type { ConnectionSettings } from '../sync/settings.ts';
import { changedSince, differsFromBase, type Base } from '../sync/diff.ts';
import type { ConnectionRow } from '../model/connections/connections.ts';
import type { Executor } from '../model/store/db.ts';
import { opportunities } from '../model/store/schema.ts';
import type { LinkRow, SyncEvent } from '../model/sync-state/links.ts';
import { savePulledLink } from '../model/sync-state/remote-changes.ts';

/** Why such an edit goes nowhere, on the timeline of the deleted opportunity. */
const WHY =
  'the opportunity was deleted: its deal stays in the CRM (the unlink delete policy, or a person restored it) and edits to it are not synced; ' +
  'recreate the opportunity or delete the deal';

/**
 * A linked deal that changed in the CRM after its opportunity was deleted canonically. Under the
 * `unlink` policy the delete left the deal live there (and under `propagate` a person may restore
 * it), so people may go on editing it: the edit is not taken (the opportunity stays deleted), but
 * it is never dropped silently either. It lands on the deleted opportunity's timeline as
 * `ignored`, once per remote version (counted in /metrics). A repeat or a stale state is stale.
 */
export async function ignoreEditOfDeleted(
  tx: Executor,
  connection: ConnectionRow,
  settings: ConnectionSettings,
  link: LinkRow,
  state: RemoteState,
  record: (opportunityId: string, kind: string, extra?: Partial<SyncEvent>) => void,
): Promise<'ignored' | 'stale'> {
  const [tombstone] = await tx
    .select({ id: opportunities.id })
    .from(opportunities)
    .where(and(eq(opportunities.accountId, connection.accountId), eq(opportunities.id, link.opportunityId), isNotNull(opportunities.deletedAt)));
  if (!tombstone) return 'stale';
  const base = link.baseSnapshot as Base;
  const newer = !link.remoteVersion || state.version > link.remoteVersion;
  if (!newer && !differsFromBase(base, state.fields)) return 'stale';
  // The version is kept so that this edit is recorded once; the base stays what was last agreed.
  await savePulledLink(tx, { connectionId: connection.id, opportunityId: link.opportunityId, remoteId: link.remoteId }, { base: link.baseSnapshot, remoteVersion: state.version });
  const changes = changedSince(base, state.fields);
  if (Object.keys(changes).length === 0) return 'stale';
  record(link.opportunityId, 'ignored', { after: changes, rule: settings.deletePolicy, detail: { remoteId: link.remoteId, version: state.version.toISOString(), reason: WHY } });
  return 'ignored';
}
