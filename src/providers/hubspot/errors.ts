import { CrmError, codeForStatus, networkError, retryAfterHeader } from '../errors.ts';

/** The HubSpot SDK's ApiException carries code (the status), headers and the parsed body. */
interface ApiException {
  code: number;
  headers: Record<string, string>;
  body: unknown;
}

const isApiException = (error: unknown): error is ApiException =>
  typeof (error as ApiException)?.code === 'number' && typeof (error as ApiException).headers === 'object';

/** How long a HubSpot 429 asks for: Retry-After, else the rolling window, else the next UTC day for DAILY. */
function hubspotRetryAfter(headers: Record<string, string>, body: unknown): number | undefined {
  const explicit = retryAfterHeader(headers['retry-after']);
  if (explicit !== undefined) return explicit;
  const policy = (body as { policyName?: string } | undefined)?.policyName;
  if (policy === 'DAILY') {
    const now = new Date();
    return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime();
  }
  if (policy === 'SECONDLY') return 1000;
  return Number(headers['x-hubspot-ratelimit-interval-milliseconds'] ?? 10_000);
}

/** HubSpot's 429 for the day's budget (policy DAILY): nothing remains until the daily reset. */
export const isDailyLimit = (error: unknown): boolean =>
  isApiException(error) && error.code === 429 && (error.body as { policyName?: string } | undefined)?.policyName === 'DAILY';

export function hubspotError(error: unknown): CrmError {
  if (error instanceof CrmError) return error;
  if (!isApiException(error)) return networkError('hubspot', error);
  const code = codeForStatus(error.code);
  const body = error.body as { message?: string; category?: string } | undefined;
  return new CrmError('hubspot', code, `HubSpot ${error.code} ${body?.category ?? ''}: ${body?.message ?? ''}`.trim(), {
    status: error.code,
    retryAfterMs: code === 'rate_limited' ? hubspotRetryAfter(error.headers, error.body) : undefined,
  });
}
