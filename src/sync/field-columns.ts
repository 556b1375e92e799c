import type { opportunities } from '../model/store/schema.ts';
import { syncedFields, syncFieldKeys, type SyncFields } from './fields.ts';

type Row = typeof opportunities.$inferSelect;

type SyncedColumn = NonNullable<(typeof syncedFields)[keyof typeof syncedFields]['column']>;

/** Column values of an opportunity, as a change from a CRM writes them: the registry's columns and the closing ones. */
export type ColumnChanges = Partial<Pick<Row, SyncedColumn | 'closedById' | 'closedAt'>>;

/** Attribute values after a CRM's change: null removes a key, anything else sets it. */
function mergedAttributes(current: Record<string, unknown>, incoming: Record<string, unknown>) {
  const merged = { ...current };
  for (const [key, value] of Object.entries(incoming)) {
    if (value === null || value === undefined) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

/**
 * Who closed the deal, as the CRM says: `closer` is the mapped user of the event that moved its
 * status. `fill`: the deal is already closed here without a closer (the close came in first by
 * another way), and this event names who made it.
 */
export interface Closer {
  userId: string | null;
  fill?: boolean;
}

/**
 * A CRM's values of sync fields as column changes of the opportunity, for every field the
 * registry stores in a column; a state change opens or closes as the API would (closed_at, the
 * closer, a reopen clears the lost reason).
 */
export function columnChangesOf(row: Row | undefined, fields: Partial<SyncFields>, closer: Closer = { userId: null }): ColumnChanges {
  const changes: Record<string, unknown> = {};
  for (const key of syncFieldKeys) {
    const column = syncedFields[key].column;
    if (!column || key === 'state' || fields[key] === undefined) continue;
    changes[column] = key === 'attributes' ? mergedAttributes(row?.attributes ?? {}, fields.attributes!) : fields[key];
  }
  const state = fields.state;
  if (state && state !== row?.state) {
    Object.assign(changes, { state, closedAt: state === 'open' ? null : new Date(), closedById: state === 'open' ? null : closer.userId });
    if (state === 'open') changes.lostReason = null;
  } else if (closer.fill && closer.userId) {
    changes.closedById = closer.userId;
  }
  return changes as ColumnChanges;
}
