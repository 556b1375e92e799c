/**
 * Timing helpers for bench/inbound.ts: edits made as a person in one sandbox's UI, and the time
 * until the other CRM holds the new value.
 */
import { sql } from 'drizzle-orm';
import type { HubSpotSandbox } from '../src/sandbox/hubspot/index.ts';
import type { PipedriveSandbox } from '../src/sandbox/pipedrive/index.ts';
import { sleep, type Stack } from './inbound-stack.ts';

/**
 * Arrival is polled every POLL_MS by reading the sandbox's in-memory deal (what its API would
 * answer). Not over HTTP: polling Pipedrive's API every 10 ms would spend the sync's own burst
 * window (80 requests / 2 s per token) and tokens, and /_sandbox/state serialises every deal.
 */
export const POLL_MS = 10;

/** Polls `check` until it holds; false once `timeoutMs` has passed. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = POLL_MS): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return false;
}

/** A person's edit in one CRM's UI, and how to tell that the other CRM has it. */
export interface Direction {
  name: string;
  edit(value: number): Promise<void>;
  arrived(value: number): boolean;
}

// Bodies of the sandboxes' control API.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export async function sandboxState(baseUrl: string): Promise<Json> {
  return (await fetch(`${baseUrl}/_sandbox/state`)).json();
}

async function ui(baseUrl: string, path: string, body: unknown) {
  const response = await fetch(`${baseUrl}/_sandbox/ui${path}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${baseUrl} ${path} answered ${response.status}`);
  await response.arrayBuffer();
}

/** HubSpot UI edit of a deal's amount → the linked Pipedrive deal's value. */
export function hubspotToPipedrive(hubspot: HubSpotSandbox, pipedrive: PipedriveSandbox, deal: { hubspot: string; pipedrive: string }): Direction {
  return {
    name: 'HubSpot UI -> Pipedrive',
    edit: (value) => ui(hubspot.baseUrl, `/deals/${deal.hubspot}`, { amount: String(value) }),
    arrived: (value) => pipedrive.company.deal(Number(deal.pipedrive)).value === value,
  };
}

/** Pipedrive UI edit of a deal's value → the linked HubSpot deal's amount. */
export function pipedriveToHubSpot(hubspot: HubSpotSandbox, pipedrive: PipedriveSandbox, deal: { hubspot: string; pipedrive: string }): Direction {
  return {
    name: 'Pipedrive UI -> HubSpot',
    edit: (value) => ui(pipedrive.baseUrl, `/deals/${deal.pipedrive}`, { value }),
    arrived: (value) => Number(hubspot.portal.live(deal.hubspot).properties.amount) === value,
  };
}

export interface Latencies {
  samples: number[];
  /** Inbound jobs (of every account) waiting when each arrived edit was made, in the same order. */
  waitingAtEdit: number[];
  timeouts: number;
}

/** `n` edits in sequence with the values first, first + 1, …; `between` runs after each one. */
export async function editLatencies(stack: Stack, direction: Direction, n: number, first: number, timeoutMs: number, between: () => Promise<unknown>): Promise<Latencies> {
  const result: Latencies = { samples: [], waitingAtEdit: [], timeouts: 0 };
  for (let i = 0; i < n; i++) {
    const waiting = await stack.queues.inbound.getWaitingCount();
    const started = performance.now();
    await direction.edit(first + i);
    if (await waitFor(() => direction.arrived(first + i), timeoutMs)) {
      result.samples.push(performance.now() - started);
      result.waitingAtEdit.push(waiting);
    } else result.timeouts++;
    await between();
  }
  return result;
}

/** Nearest-rank percentile. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export function describe(result: Latencies, timeoutMs: number): string {
  const { samples, waitingAtEdit } = result;
  const ms = (v: number) => `${Math.round(v)} ms`;
  const timeouts = result.timeouts ? `, ${result.timeouts} TIMED OUT after ${timeoutMs / 1000} s` : '';
  if (!samples.length) return `no edit arrived${timeouts}`;
  const slowest = samples.indexOf(Math.max(...samples));
  return (
    `n=${samples.length}: median ${ms(percentile(samples, 50))}, p99 ${ms(percentile(samples, 99))}, min ${ms(Math.min(...samples))}, max ${ms(samples[slowest]!)}${timeouts}` +
    ` (inbound jobs waiting in the queue when an edit was made: median ${percentile(waitingAtEdit, 50)}, ${waitingAtEdit[slowest]} before the slowest)`
  );
}

/**
 * Nothing of these connections is left to do: no dirty rows, both sandboxes' webhook dispatchers
 * idle, and (when `queuesToo`) no job waiting or running in any queue. Checked twice, 100 ms apart.
 */
export async function settle(stack: Stack, baseUrls: string[], connectionIds: string[], queuesToo: boolean, timeoutMs = 30_000): Promise<boolean> {
  const ids = sql.join(connectionIds.map((id) => sql`${id}::uuid`), sql`, `);
  const quiet = async () => {
    if ((await stack.count(sql`SELECT count(*)::int AS n FROM outbox WHERE connection_id IN (${ids})`)) > 0) return false;
    for (const url of baseUrls) if (!(await sandboxState(url)).webhooks.idle) return false;
    if (!queuesToo) return true;
    for (const queue of [stack.queues.inbound, stack.queues.outbound, stack.queues.reconcile, stack.queues.events]) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
      if (Object.values(counts).some((n) => n > 0)) return false;
    }
    return true;
  };
  return waitFor(async () => (await quiet()) && (await sleep(100), await quiet()), timeoutMs, 20);
}
