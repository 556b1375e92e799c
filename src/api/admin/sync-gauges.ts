import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { connectionHealth, type ConnectionHealth } from '../../orchestration/connection-health.ts';
import { recentEventCounts } from '../../model/connections/connection-health.ts';
import type { Database } from '../../model/store/db.ts';

export interface GaugeDeps {
  db: Database;
  redis: Redis;
  prefix: string;
  queues: Queue[];
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
const CONNECTION_LABELS = ['provider', 'account', 'connection'] as const;
const HOUR_MS = 3600_000;

/**
 * Figures read from Postgres and Redis at scrape time: every serve process answers the same for
 * work done by any worker anywhere. The lifetime counts kept in Redis (CRM calls, 429s, BullMQ's
 * completed and failed) are exposed as counters: Prometheus's rate() copes with the rare reset.
 */
export function syncGauges(registry: Registry) {
  const registers = [registry];
  const gauge = (name: string, help: string, labelNames: readonly string[]) => new Gauge({ name, help, labelNames, registers });
  const counter = (name: string, help: string, labelNames: readonly string[]) => new Counter({ name, help, labelNames, registers });
  return {
    queueJobs: gauge('crm_sync_queue_jobs', 'Jobs in a queue, by state (waiting, active, delayed, failed)', ['queue', 'state']),
    oldestWaiting: gauge('crm_sync_queue_oldest_waiting_age_seconds', 'Age of the oldest job waiting in a queue; 0 when none waits', ['queue']),
    jobsCompleted: counter('crm_sync_jobs_completed_total', 'Jobs completed, all workers together', ['queue']),
    jobsFailed: counter('crm_sync_jobs_failed_total', 'Jobs failed for good (attempts spent or unrecoverable), all workers together', ['queue']),
    crmCalls: counter('crm_sync_crm_api_calls_total', 'Requests made to the CRM API, all workers together', CONNECTION_LABELS),
    crmRateLimited: counter('crm_sync_crm_api_rate_limited_total', '429 responses from the CRM API, all workers together', CONNECTION_LABELS),
    budgetUsed: gauge('crm_sync_crm_budget_used_today', "The connection's daily CRM budget spent today (UTC): requests or tokens, as its CRM counts them", CONNECTION_LABELS),
    budgetLimit: gauge('crm_sync_crm_budget_daily_limit', "The connection's daily CRM budget: the CRM's own figure once its answers gave it", CONNECTION_LABELS),
    budgetRemaining: gauge('crm_sync_crm_budget_remaining', "What remains of the connection's daily CRM budget today, as the CRM last said it (else as we count it)", CONNECTION_LABELS),
    budgetSpent: gauge('crm_sync_crm_budget_spent', "1 while the connection's daily CRM budget is spent (nothing is sent until it resets), else 0", CONNECTION_LABELS),
    outboundPending: gauge('crm_sync_outbound_pending', 'Opportunities waiting to be pushed to the CRM', CONNECTION_LABELS),
    recordsWithProblems: gauge('crm_sync_records_with_problems', 'Opportunities the connection cannot sync fully: a value it could not map, write or read (GET /v1/connections/{id}/problems)', CONNECTION_LABELS),
    inboundWaiting: gauge('crm_sync_inbound_waiting_events', 'Received webhook events stored in the inbox and not applied yet', CONNECTION_LABELS),
    inboundLag: gauge('crm_sync_inbound_lag_seconds', 'Age of the oldest received webhook not applied yet; 0 when none waits', CONNECTION_LABELS),
    inboundFailed: gauge('crm_sync_inbound_failed_deliveries', 'Received webhooks set aside after their retries ran out (on the connection timeline as inbound_failed)', CONNECTION_LABELS),
    outboundLag: gauge('crm_sync_outbound_lag_seconds', 'Age of the oldest opportunity waiting to be pushed; 0 when none waits', CONNECTION_LABELS),
    conflicts: gauge('crm_sync_conflicts_last_hour', 'Conflicts decided in the last hour', CONNECTION_LABELS),
    echoes: gauge('crm_sync_echoes_suppressed_last_hour', 'Echoes of our own writes suppressed in the last hour', CONNECTION_LABELS),
    ignored: gauge('crm_sync_ignored_edits_last_hour', 'CRM edits of deals whose opportunity was deleted, recorded on its timeline and not synced, in the last hour', CONNECTION_LABELS),
    drift: gauge('crm_sync_reconcile_drift', 'Changes the last reconciliation pass found that webhooks had not brought', CONNECTION_LABELS),
    lastReconcile: gauge('crm_sync_reconcile_last_pass_timestamp_seconds', 'When the last reconciliation pass finished (Unix time)', CONNECTION_LABELS),
    connections: gauge('crm_sync_connections', 'Connections, by provider and state', ['provider', 'state']),
  };
}
export type SyncGauges = ReturnType<typeof syncGauges>;

const ageSeconds = (since: number, now: number) => Math.max(0, (now - since) / 1000);

async function refreshQueue(gauges: SyncGauges, queue: Queue, now: number) {
  const counts = await queue.getJobCounts(...QUEUE_STATES);
  for (const state of QUEUE_STATES) gauges.queueJobs.set({ queue: queue.name, state }, counts[state] ?? 0);
  const [oldest] = await queue.getJobs(['wait'], 0, 0, true);
  gauges.oldestWaiting.set({ queue: queue.name }, oldest ? ageSeconds(oldest.timestamp + (oldest.opts.delay ?? 0), now) : 0);
  // Only the running totals: the per-minute data points stay in Redis.
  gauges.jobsCompleted.inc({ queue: queue.name }, (await queue.getMetrics('completed', 0, 0)).meta.count);
  gauges.jobsFailed.inc({ queue: queue.name }, (await queue.getMetrics('failed', 0, 0)).meta.count);
}

function refreshConnection(gauges: SyncGauges, c: ConnectionHealth, now: number) {
  const labels = { provider: c.provider, account: c.accountId, connection: c.connectionId };
  gauges.crmCalls.inc(labels, c.usage.calls);
  gauges.crmRateLimited.inc(labels, c.usage.rateLimited);
  gauges.budgetUsed.set(labels, c.budget.usedToday);
  gauges.budgetLimit.set(labels, c.budget.dailyLimit);
  if (c.budget.remaining !== null) gauges.budgetRemaining.set(labels, c.budget.remaining);
  gauges.budgetSpent.set(labels, c.budget.state === 'spent' ? 1 : 0);
  gauges.outboundPending.set(labels, c.pendingOutbound);
  gauges.recordsWithProblems.set(labels, c.recordsWithProblems);
  gauges.outboundLag.set(labels, c.oldestDirtyAt ? ageSeconds(c.oldestDirtyAt.getTime(), now) : 0);
  gauges.inboundWaiting.set(labels, c.inbox?.events ?? 0);
  gauges.inboundLag.set(labels, c.inbox ? ageSeconds(c.inbox.oldestAt.getTime(), now) : 0);
  gauges.inboundFailed.set(labels, c.inbox?.failed ?? 0);
  gauges.conflicts.set(labels, 0);
  gauges.echoes.set(labels, 0);
  gauges.ignored.set(labels, 0);
  const lastPass = c.reconciliation.lastPass;
  if (lastPass) {
    gauges.drift.set(labels, lastPass.drift);
    gauges.lastReconcile.set(labels, Date.parse(lastPass.finishedAt) / 1000);
  }
  gauges.connections.inc({ provider: c.provider, state: c.status });
}

async function refreshRecentEvents(gauges: SyncGauges, deps: GaugeDeps, health: ConnectionHealth[], now: number) {
  const byId = new Map(health.map((c) => [c.connectionId, c]));
  for (const { connectionId, kind, count } of await recentEventCounts(deps.db, ['conflict', 'echo_suppressed', 'ignored'], new Date(now - HOUR_MS))) {
    const c = byId.get(connectionId);
    if (!c) continue;
    const labels = { provider: c.provider, account: c.accountId, connection: c.connectionId };
    ({ conflict: gauges.conflicts, echo_suppressed: gauges.echoes, ignored: gauges.ignored })[kind as 'conflict']?.set(labels, count);
  }
}

/** Starts from nothing each time, so a deleted connection or queue leaves no stale series behind. */
export async function refreshSyncGauges(gauges: SyncGauges, deps: GaugeDeps): Promise<void> {
  const now = Date.now();
  for (const metric of Object.values(gauges)) metric.reset();
  for (const queue of deps.queues) await refreshQueue(gauges, queue, now);
  const health = await connectionHealth(deps);
  for (const c of health) refreshConnection(gauges, c, now);
  await refreshRecentEvents(gauges, deps, health, now);
}
