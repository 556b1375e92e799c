/**
 * How fast POST /webhooks/hubspot acknowledges signed 100-event batches: verify the v3 signature
 * over the raw body, route by portalId, enqueue in Redis, answer 200. The client runs in the same
 * process as the server, so the figures are a lower bound.
 */
import { createHmac } from 'node:crypto';
import { percentile } from './inbound-measure.ts';

export const EVENTS_PER_BATCH = 100;

export interface AckTarget {
  publicUrl: string;
  portalId: number;
  appId: number;
  clientSecret: string;
}

/** One fixed batch: amount changes of deals 1–100, event ids unique across batches. */
function batch(target: AckTarget, index: number): string {
  const occurredAt = 1_700_000_000_000 + index;
  return JSON.stringify(
    Array.from({ length: EVENTS_PER_BATCH }, (_, j) => ({
      eventId: index * EVENTS_PER_BATCH + j + 1,
      subscriptionId: 4,
      portalId: target.portalId,
      appId: target.appId,
      occurredAt,
      subscriptionType: 'deal.propertyChange',
      attemptNumber: 0,
      objectId: j + 1,
      propertyName: 'amount',
      propertyValue: String(index),
      changeSource: 'CRM_UI',
      sourceId: 'userId:9001',
    })),
  );
}

/** Signed as HubSpot does (and test/webhooks.test.ts): HMAC-SHA256 of POST + URI + body + timestamp, base64. */
function headers(secret: string, uri: string, body: string) {
  const timestamp = Date.now();
  const signature = createHmac('sha256', secret).update(`POST${uri}${body}${timestamp}`).digest('base64');
  return { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': String(timestamp) };
}

export interface AckResult {
  requests: number;
  seconds: number;
  latencies: number[];
  refused: number;
}

/** `requests` batches, `concurrency` in flight; the bodies are built before the clock starts. */
export async function postBatches(target: AckTarget, requests: number, concurrency: number, offset = 0): Promise<AckResult> {
  const uri = `${target.publicUrl}/webhooks/hubspot`;
  const bodies = Array.from({ length: requests }, (_, i) => batch(target, offset + i));
  const result: AckResult = { requests, seconds: 0, latencies: [], refused: 0 };
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < requests; i = next++) {
      const started = performance.now();
      const response = await fetch(uri, { method: 'POST', body: bodies[i], headers: headers(target.clientSecret, uri, bodies[i]!) });
      await response.arrayBuffer();
      result.latencies.push(performance.now() - started);
      if (response.status !== 200) result.refused++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

export function describeAck(result: AckResult): string {
  const perSecond = result.requests / result.seconds;
  const ms = (p: number) => `${percentile(result.latencies, p).toFixed(1)} ms`;
  const refused = result.refused ? `, ${result.refused} NOT answered 200` : '';
  return `${result.requests} requests in ${result.seconds.toFixed(2)} s = ${Math.round(perSecond)} requests/s = ${Math.round(perSecond * EVENTS_PER_BATCH).toLocaleString('en')} events/s; ack latency median ${ms(50)}, p99 ${ms(99)}${refused}`;
}
