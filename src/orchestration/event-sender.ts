import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { SignedHeaders } from './event-signature.ts';
import type { AllowList } from './event-target-rule.ts';
import { checkEventTarget, type Resolve, type ResolvedAddress } from './event-targets.ts';

/** Long enough for a receiver that does real work before it answers, short enough to hold no queue back for long. */
export const SEND_TIMEOUT_MS = 10_000;

export type SendResult =
  | { ok: true; statusCode: number }
  | { ok: false; statusCode: number | null; error: string; retryAfterMs?: number | undefined; gone?: boolean; refused?: boolean };

/** Retry-After as seconds or as an HTTP date. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The start of the receiver's answer, for the delivery's lastError: enough to debug, never the whole body. */
function leadingText(response: IncomingMessage, maxBytes = 500): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      response.destroy();
      resolve(Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8').trim());
    };
    response.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= maxBytes) done();
    });
    // A body cut short is still worth what arrived.
    response.once('end', done).once('error', done).once('close', done);
  });
}

class SendTimeout extends Error {
  override name = 'TimeoutError';
}

function networkError(error: unknown, timeoutMs: number): string {
  if (error instanceof SendTimeout) return `no answer within ${timeoutMs / 1000} s`;
  return error instanceof Error ? error.message : String(error);
}

/** Connects only to the addresses that were checked, whatever the name resolves to by now (DNS rebinding). */
function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const fitting = addresses.filter((a) => !options.family || a.family === options.family);
    const usable = fitting.length > 0 ? fitting : addresses;
    if (options.all) callback(null, usable);
    else callback(null, usable[0]!.address, usable[0]!.family);
  };
}

interface Answer {
  statusCode: number;
  retryAfter: string | undefined;
  text: string;
}

/**
 * One POST over a connection of its own (no pooled socket from an earlier check), bounded as a whole
 * by timeoutMs. node:http follows no redirects.
 */
function exchange(url: URL, addresses: ResolvedAddress[], body: string, headers: Record<string, string>, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup: pinnedLookup(addresses), agent: false });
    const timer = setTimeout(() => request.destroy(new SendTimeout()), timeoutMs);
    request.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.once('response', (response) => {
      const statusCode = response.statusCode ?? 0;
      const retryAfter = response.headers['retry-after'];
      const finish = (text: string) => {
        clearTimeout(timer);
        resolve({ statusCode, retryAfter, text });
      };
      if (statusCode >= 200 && statusCode < 300) {
        response.destroy();
        finish('');
      } else void leadingText(response).then(finish);
    });
    request.end(body);
  });
}

export interface SendOptions {
  /** EVENT_TARGET_ALLOWED, parsed. */
  allowed: AllowList;
  timeoutMs?: number | undefined;
  resolve?: Resolve | undefined;
}

/**
 * POSTs one event. The URL's host is resolved and every address checked first (event-target-rule.ts):
 * a refused target gets no connection at all. Only a 2xx is a delivery (Standard Webhooks):
 * redirects are not followed but count as failures, so a moved receiver is fixed by updating the
 * URL, not by guessing, and a redirect cannot lead to an address the check would refuse.
 */
export async function postEvent(url: string, body: string, headers: SignedHeaders, options: SendOptions): Promise<SendResult> {
  const timeoutMs = options.timeoutMs ?? SEND_TIMEOUT_MS;
  const target = await checkEventTarget(url, { allowed: options.allowed, resolve: options.resolve });
  if (target.kind === 'refused') return { ok: false, statusCode: null, error: `not sent: ${target.reason}`, refused: true };
  if (target.kind === 'unresolved') return { ok: false, statusCode: null, error: target.reason };
  try {
    const sent = { 'content-type': 'application/json', 'user-agent': 'crm-sync-webhooks/1', ...headers };
    const answer = await exchange(new URL(url), target.addresses, body, sent, timeoutMs);
    if (answer.statusCode >= 200 && answer.statusCode < 300) return { ok: true, statusCode: answer.statusCode };
    return {
      ok: false,
      statusCode: answer.statusCode,
      error: answer.text ? `HTTP ${answer.statusCode}: ${answer.text}` : `HTTP ${answer.statusCode}`,
      retryAfterMs: retryAfterMs(answer.retryAfter ?? null),
      gone: answer.statusCode === 410,
    };
  } catch (error) {
    return { ok: false, statusCode: null, error: networkError(error, timeoutMs) };
  }
}
