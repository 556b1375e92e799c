import { and, asc, count, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../store/db.ts';
import { conflict, notFound } from '../store/errors.ts';
import { parseReconcileState, reconcileStateSchema } from './reconcile-state.ts';
import { connections, outbox, providers, type Provider } from '../store/schema.ts';
import { countProblemRecords } from '../sync-state/problems.ts';

type Row = typeof connections.$inferSelect;
export type ConnectionRow = Row;

export const connectionView = z
  .object({
    id: z.uuid(),
    provider: z.enum(providers),
    status: z.enum(['active', 'paused', 'error']),
    remoteAccountId: z.string().nullable(),
    settings: z.record(z.string(), z.unknown()),
    pendingOutbound: z.number().int(),
    recordsWithProblems: z.number().int().describe('Opportunities with at least one sync problem (GET /v1/connections/{id}/problems lists them)'),
    lastSuccessAt: z.iso.datetime().nullable().describe('The last flush that went through'),
    lastError: z
      .object({ code: z.string(), message: z.string(), at: z.iso.datetime().nullable().describe('When it happened') })
      .loose()
      .nullable()
      .describe('The latest failure, until a later success clears it (the timeline keeps every one)'),
    webhookSecretStored: z.boolean().describe('Whether this connection has its own secret to verify the CRM’s webhooks with'),
    reconciliation: reconcileStateSchema.describe('Where reconciliation stands (cursors, last pass, its drift) and the last backfill'),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Connection' });
export type ConnectionView = z.infer<typeof connectionView>;

/** Never the credentials or the webhook secret: those leave the database only to a worker. */
function toView(row: Row, pendingOutbound: number, recordsWithProblems = 0): ConnectionView {
  return {
    id: row.id,
    provider: row.provider,
    status: row.status,
    remoteAccountId: row.remoteAccountId,
    settings: row.settings,
    pendingOutbound,
    recordsWithProblems,
    lastSuccessAt: row.lastSuccessAt?.toISOString() ?? null,
    lastError: errorView(row.lastError),
    webhookSecretStored: row.webhookSecret !== null,
    reconciliation: parseReconcileState(row.reconcileCursor),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Every error shown carries its time; one stored before errors did has none (null), never a made-up one. */
function errorView(stored: unknown): ConnectionView['lastError'] {
  if (stored === null || stored === undefined) return null;
  const error = stored as { code?: unknown; message?: unknown; at?: unknown };
  return { ...error, code: String(error.code ?? 'unknown'), message: String(error.message ?? ''), at: typeof error.at === 'string' ? error.at : null };
}

async function counts(db: Executor, connectionId: string) {
  const [dirty] = await db.select({ n: count() }).from(outbox).where(eq(outbox.connectionId, connectionId));
  return [dirty?.n ?? 0, await countProblemRecords(db, connectionId)] as const;
}

const owned = (accountId: string, id: string) => and(eq(connections.accountId, accountId), eq(connections.id, id));

export interface NewConnection {
  id?: string;
  accountId: string;
  provider: Provider;
  credentials: string;
  credentialsKeyId: string;
  webhookSecret: string | null;
  remoteAccountId: string;
  /** Validated by the caller (src/sync/settings.ts): the store keeps them as given. */
  settings: Record<string, unknown>;
  reconcileCursor?: unknown;
}

export async function insertConnection(db: Executor, input: NewConnection): Promise<ConnectionView> {
  const [row] = await db.insert(connections).values(input).onConflictDoNothing().returning();
  if (!row) throw conflict(`this ${input.provider} account (${input.remoteAccountId}) is already connected`, {}, [{ field: 'credentials', message: 'already connected' }]);
  return toView(row, 0);
}

export async function getConnection(db: Executor, accountId: string, id: string) {
  const [row] = await db.select().from(connections).where(owned(accountId, id));
  if (!row) throw notFound('connection');
  return toView(row, ...(await counts(db, id)));
}

export async function listConnections(db: Executor, accountId: string) {
  const rows = await db.select().from(connections).where(eq(connections.accountId, accountId)).orderBy(asc(connections.createdAt));
  return Promise.all(rows.map(async (row) => toView(row, ...(await counts(db, row.id)))));
}

/** The account's connection row (sealed credentials included: for orchestration, never for a view). */
export async function ownedConnection(db: Executor, accountId: string, id: string): Promise<Row> {
  const [row] = await db.select().from(connections).where(owned(accountId, id));
  if (!row) throw notFound('connection');
  return row;
}

/** Stores settings the caller has validated (src/orchestration/settings-update.ts). */
export async function saveSettings(db: Executor, accountId: string, id: string, settings: Record<string, unknown>) {
  const [row] = await db.update(connections).set({ settings, updatedAt: new Date() }).where(owned(accountId, id)).returning({ id: connections.id });
  if (!row) throw notFound('connection');
  return getConnection(db, accountId, id);
}

export async function setStatus(db: Executor, accountId: string, id: string, status: 'active' | 'paused') {
  const [row] = await db.update(connections).set({ status, updatedAt: new Date(), ...(status === 'active' ? { lastError: null } : {}) }).where(owned(accountId, id)).returning();
  if (!row) throw notFound('connection');
  return getConnection(db, accountId, id);
}

export async function deleteConnection(db: Executor, accountId: string, id: string) {
  const [row] = await db.delete(connections).where(owned(accountId, id)).returning({ id: connections.id });
  if (!row) throw notFound('connection');
}

/** For workers only: the row with its sealed credentials. */
export async function connectionForWorker(db: Executor, id: string): Promise<Row | undefined> {
  const [row] = await db.select().from(connections).where(eq(connections.id, id));
  return row;
}

export async function recordConnectionOutcome(db: Executor, id: string, outcome: { error?: { code: string; message: string }; fatal?: boolean }) {
  const values = outcome.error
    ? { lastError: { ...outcome.error, at: new Date().toISOString() }, ...(outcome.fatal ? { status: 'error' as const } : {}) }
    : // A success clears the error it follows: lastError shows what is wrong now, the timeline what went wrong before.
      { lastSuccessAt: new Date(), lastError: null };
  await db.update(connections).set({ ...values, updatedAt: new Date() }).where(eq(connections.id, id));
}

export async function connectionIdsOfAccount(db: Executor, accountId: string): Promise<string[]> {
  const rows = await db.select({ id: connections.id }).from(connections).where(eq(connections.accountId, accountId));
  return rows.map((r) => r.id);
}

/** After an OAuth refresh: the new tokens, sealed with the current key. */
export async function updateCredentials(db: Executor, id: string, credentials: string, credentialsKeyId: string) {
  await db.update(connections).set({ credentials, credentialsKeyId, updatedAt: new Date() }).where(eq(connections.id, id));
}

/**
 * Credential rotation: new sealed credentials (and webhook secret, when they carry one). With
 * `reactivate`, a connection stopped by refused credentials is active again, its error cleared.
 */
export async function replaceCredentials(db: Executor, id: string, next: { credentials: string; credentialsKeyId: string; webhookSecret?: string; reactivate: boolean }) {
  const { credentials, credentialsKeyId, webhookSecret, reactivate } = next;
  await db
    .update(connections)
    .set({ credentials, credentialsKeyId, ...(webhookSecret ? { webhookSecret } : {}), ...(reactivate ? { status: 'active' as const, lastError: null } : {}), updatedAt: new Date() })
    .where(eq(connections.id, id));
}

/** Webhook routing: the connections of one CRM account (HubSpot portalId, Pipedrive company id). */
export async function connectionByRemoteAccount(db: Executor, provider: Provider, remoteAccountId: string): Promise<Row | undefined> {
  const [row] = await db
    .select()
    .from(connections)
    .where(and(eq(connections.provider, provider), eq(connections.remoteAccountId, remoteAccountId)));
  return row;
}
