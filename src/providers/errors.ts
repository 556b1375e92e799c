import type { Provider } from '../model/store/schema.ts';
import { timeoutIn } from './timeouts.ts';

/**
 * Every CRM failure becomes one CrmError, decided by HTTP status and headers, never message text.
 * `retryable` errors go back to BullMQ's backoff; the rest stop retrying at once (UnrecoverableError)
 * and mark the connection (`scope: 'connection'`: credentials, permissions) or the link (`'record'`).
 */
export type CrmErrorCode =
  | 'rate_limited'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'validation'
  | 'server'
  | 'network'
  /** No connection, or no complete answer, within CRM_CONNECT_TIMEOUT_MS / CRM_REQUEST_TIMEOUT_MS. */
  | 'timeout';

export class CrmError extends Error {
  readonly provider: Provider | undefined;
  readonly code: CrmErrorCode;
  readonly retryable: boolean;
  readonly scope: 'connection' | 'record' | 'transient';
  readonly status: number | undefined;
  /** How long the CRM asked us to wait (429s), when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(
    provider: Provider | undefined,
    code: CrmErrorCode,
    message: string,
    details: { status?: number; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'CrmError';
    this.provider = provider;
    this.code = code;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.retryable = ['rate_limited', 'server', 'network', 'timeout'].includes(code);
    this.scope = this.retryable ? 'transient' : ['unauthorized', 'forbidden'].includes(code) ? 'connection' : 'record';
  }
}

const codeByStatus: [test: (status: number) => boolean, code: CrmErrorCode][] = [
  [(s) => s === 429, 'rate_limited'],
  [(s) => s === 401, 'unauthorized'],
  [(s) => s === 403, 'forbidden'],
  [(s) => s === 404 || s === 410, 'not_found'],
  [(s) => s === 409, 'conflict'],
  [(s) => s === 408 || s >= 500, 'server'],
  [(s) => s >= 400, 'validation'],
];

export function codeForStatus(status: number): CrmErrorCode {
  return codeByStatus.find(([test]) => test(status))?.[1] ?? 'server';
}

/** Retry-After in seconds or as an HTTP date. */
export function retryAfterHeader(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Connection resets, refused connections and timeouts: the request may not have arrived. */
export function networkError(provider: Provider, error: unknown): CrmError {
  const timeout = timeoutIn(error);
  if (timeout) return new CrmError(provider, 'timeout', `${provider} timed out: ${timeout.message}`);
  const cause = error as { code?: string; message?: string };
  return new CrmError(provider, 'network', `${provider} unreachable: ${cause.code ?? cause.message ?? 'network error'}`);
}
