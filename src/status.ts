import type { Redis } from 'ioredis';
import { connectionHealth, type ConnectionHealth } from './orchestration/connection-health.ts';
import type { Database } from './model/store/db.ts';

/** One connection as `crm-sync status` reports it; `--json` prints these as they are. */
export interface ConnectionStatus {
  accountId: string;
  accountName: string;
  connectionId: string;
  provider: string;
  state: string;
  pendingOutbound: number;
  /** Records the connection cannot sync fully (GET /v1/connections/{id}/problems lists them). */
  recordsWithProblems: number;
  outboundLagSeconds: number | null;
  /** Age of the oldest received webhook not applied yet; null when none waits. */
  inboundLagSeconds: number | null;
  /** Received webhook events not applied yet, and deliveries set aside after their retries ran out. */
  inboundWaiting: number;
  inboundFailed: number;
  lastPulledAt: string | null;
  lastError: unknown;
  budget: ConnectionHealth['budget'];
  crmCalls: number;
  rateLimited: number;
  lastReconcile: { finishedAt: string; seen: number; drift: number; stopped?: string } | null;
}

const secondsSince = (at: Date | null | undefined, now: number) => (at ? Math.max(0, Math.round((now - at.getTime()) / 1000)) : null);

function toStatus(c: ConnectionHealth, now: number): ConnectionStatus {
  return {
    accountId: c.accountId,
    accountName: c.accountName,
    connectionId: c.connectionId,
    provider: c.provider,
    state: c.status,
    pendingOutbound: c.pendingOutbound,
    recordsWithProblems: c.recordsWithProblems,
    outboundLagSeconds: secondsSince(c.oldestDirtyAt, now),
    inboundLagSeconds: secondsSince(c.inbox?.oldestAt, now),
    inboundWaiting: c.inbox?.events ?? 0,
    inboundFailed: c.inbox?.failed ?? 0,
    lastPulledAt: c.lastPulledAt?.toISOString() ?? null,
    lastError: c.lastError,
    budget: c.budget,
    crmCalls: c.usage.calls,
    rateLimited: c.usage.rateLimited,
    lastReconcile: c.reconciliation.lastPass ?? null,
  };
}

export async function statusReport(deps: { db: Database; redis: Redis; prefix: string }, accountId?: string): Promise<ConnectionStatus[]> {
  const health = await connectionHealth(deps, { accountId, withLastPull: true });
  const now = Date.now();
  return health.map((c) => toStatus(c, now));
}

/** 42s, 7m, 3h, 2d: enough to tell fine from stuck. */
export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

const ago = (iso: string, now: number) => `${duration(Math.max(0, Math.round((now - Date.parse(iso)) / 1000)))} ago`;
const number = (n: number) => n.toLocaleString('en-US');

function errorText(error: unknown): string {
  if (error === null || error === undefined) return '-';
  const { code, message } = error as { code?: string; message?: string };
  const text = [code, message].filter(Boolean).join(': ') || JSON.stringify(error);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

function cells(s: ConnectionStatus, now: number): string[] {
  const outbound = s.outboundLagSeconds === null ? String(s.pendingOutbound) : `${number(s.pendingOutbound)} (oldest ${duration(s.outboundLagSeconds)})`;
  const failed = s.inboundFailed ? `, ${number(s.inboundFailed)} failed` : '';
  const waiting = s.inboundLagSeconds !== null ? `${number(s.inboundWaiting)} waiting (oldest ${duration(s.inboundLagSeconds)})${failed}` : undefined;
  const inbound = waiting ?? (s.lastPulledAt ? `idle, pulled ${ago(s.lastPulledAt, now)}` : 'idle');
  const share = s.budget.dailyLimit ? ` (${((100 * s.budget.usedToday) / s.budget.dailyLimit).toFixed(1)}%)` : '';
  const reconcile = s.lastReconcile ? `${ago(s.lastReconcile.finishedAt, now)}${s.lastReconcile.stopped ? ` (${s.lastReconcile.stopped})` : ''}` : 'never';
  // Active with records it cannot sync is not healthy: the count stands beside the state.
  const problems = s.recordsWithProblems ? `${number(s.recordsWithProblems)} record${s.recordsWithProblems === 1 ? '' : 's'}` : '-';
  // A spent budget stops the sync as surely as an error: the state says so, and until when.
  const state = s.budget.state === 'spent' ? `${s.state}, budget spent until ${s.budget.resetsAt}` : s.state;
  return [s.accountName, s.provider, s.connectionId, state, problems, outbound, inbound, `${number(s.budget.usedToday)} / ${number(s.budget.dailyLimit)}${share}`, reconcile, s.lastReconcile ? String(s.lastReconcile.drift) : '-', errorText(s.lastError)];
}

const HEADINGS = ['ACCOUNT', 'PROVIDER', 'CONNECTION', 'STATE', 'PROBLEMS', 'PENDING OUT', 'INBOUND', 'BUDGET TODAY', 'RECONCILED', 'DRIFT', 'LAST ERROR'];

/** Columns padded to their widest cell, two spaces apart: readable in a terminal, greppable in a log. */
export function statusTable(statuses: ConnectionStatus[], now = Date.now()): string {
  if (statuses.length === 0) return 'no connections';
  const rows = [HEADINGS, ...statuses.map((s) => cells(s, now))];
  const widths = HEADINGS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}
