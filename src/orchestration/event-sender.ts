import type { SignedHeaders } from './event-signature.ts';

/** Long enough for a receiver that does real work before it answers, short enough to hold no queue back for long. */
export const SEND_TIMEOUT_MS = 10_000;

export type SendResult =
  | { ok: true; statusCode: number }
  | { ok: false; statusCode: number | null; error: string; retryAfterMs?: number | undefined; gone?: boolean };

/** Retry-After as seconds or as an HTTP date. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The start of the receiver's answer, for the delivery's lastError: enough to debug, never the whole body. */
async function leadingText(response: Response, maxBytes = 500): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A body cut short is still worth what arrived.
  } finally {
    void reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8').trim();
}

function networkError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/**
 * POSTs one event. Only a 2xx is a delivery (Standard Webhooks): redirects are not followed but
 * count as failures, so a moved receiver is fixed by updating the URL, not by guessing.
 */
export async function postEvent(url: string, body: string, headers: SignedHeaders, timeoutMs = SEND_TIMEOUT_MS): Promise<SendResult> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'crm-sync-webhooks/1', ...headers },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status >= 200 && response.status < 300) {
      await response.body?.cancel().catch(() => {});
      return { ok: true, statusCode: response.status };
    }
    const text = await leadingText(response);
    return {
      ok: false,
      statusCode: response.status,
      error: text ? `HTTP ${response.status}: ${text}` : `HTTP ${response.status}`,
      retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
      gone: response.status === 410,
    };
  } catch (error) {
    return { ok: false, statusCode: null, error: networkError(error, timeoutMs) };
  }
}
