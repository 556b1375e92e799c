import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../store/db.ts';
import { connections } from '../store/schema.ts';

const position = z.object({ since: z.string(), after: z.string().optional() });

/** connections.reconcile_cursor: where reconciliation and backfill stand, saved after every page. */
export const reconcileStateSchema = z.object({
  /** When the last pass started: the next one is due `reconcileIntervalSeconds` later. */
  lastRunAt: z.string().optional(),
  changes: position.optional(),
  deletions: position.optional(),
  /** The last finished pass: what it found that webhooks had not brought (drift). */
  lastPass: z.object({ finishedAt: z.string(), seen: z.number(), drift: z.number(), stopped: z.string().optional() }).optional(),
  backfill: z
    .object({ startedAt: z.string(), position: position.nullable(), seen: z.number(), total: z.number().optional(), finishedAt: z.string().optional() })
    .optional(),
});
export type ReconcileState = z.infer<typeof reconcileStateSchema>;
export type PullPosition = z.infer<typeof position>;

export function parseReconcileState(value: unknown): ReconcileState {
  const parsed = reconcileStateSchema.safeParse(value ?? {});
  // A cursor this version cannot read starts over: reconciliation re-reads, it never skips.
  return parsed.success ? parsed.data : {};
}

/** A new connection is reconciled from its creation on; what existed before is for backfill. */
export function initialReconcileState(now = new Date()): ReconcileState {
  const since = now.toISOString();
  return { lastRunAt: since, changes: { since }, deletions: { since } };
}

export async function saveReconcileState(db: Executor, connectionId: string, change: (state: ReconcileState) => ReconcileState) {
  await db.transaction(async (tx) => {
    const [row] = await tx.select({ cursor: connections.reconcileCursor }).from(connections).where(eq(connections.id, connectionId)).for('update');
    if (!row) return;
    await tx
      .update(connections)
      .set({ reconcileCursor: change(parseReconcileState(row.cursor)) })
      .where(eq(connections.id, connectionId));
  });
}

/** Active connections whose next reconciliation is due. */
export async function connectionsDueForReconcile(db: Executor, intervalMsOf: (settings: unknown) => number, now = new Date()): Promise<string[]> {
  const rows = await db
    .select({ id: connections.id, settings: connections.settings, cursor: connections.reconcileCursor })
    .from(connections)
    .where(eq(connections.status, 'active'));
  return rows
    .filter((row) => {
      const interval = intervalMsOf(row.settings);
      const last = Date.parse(parseReconcileState(row.cursor).lastRunAt ?? '') || 0;
      return last + interval <= now.getTime();
    })
    .map((row) => row.id);
}
