import { CrmError, codeForStatus, networkError, retryAfterHeader } from '../errors.ts';

/**
 * The Pipedrive SDK rejects with the response body alone, so the status would be lost. Our
 * Configuration's `baseOptions.transformResponse` parses each body itself and, on an error status,
 * records the status and the rate-limit headers on the body under this symbol.
 */
const HTTP = Symbol('pipedrive.http');

interface HttpFacts {
  status: number;
  retryAfter?: string;
  rateLimitReset?: string;
}

export function tagHttpStatus(data: unknown, headers: Record<string, unknown> | undefined, status?: number): unknown {
  let body = data;
  if (typeof data === 'string' && data !== '') {
    try {
      body = JSON.parse(data);
    } catch {
      body = { success: false, error: data };
    }
  }
  if (status !== undefined && status >= 400 && body && typeof body === 'object') {
    const facts: HttpFacts = {
      status,
      retryAfter: headers?.['retry-after'] as string | undefined,
      rateLimitReset: headers?.['x-ratelimit-reset'] as string | undefined,
    };
    Object.defineProperty(body, HTTP, { value: facts, enumerable: false });
  }
  return body;
}

export function pipedriveError(error: unknown): CrmError {
  if (error instanceof CrmError) return error;
  const facts = (error as { [HTTP]?: HttpFacts } | undefined)?.[HTTP];
  if (!facts) return networkError('pipedrive', error);
  const code = codeForStatus(facts.status);
  const body = error as { error?: string; error_info?: string };
  const reset = facts.rateLimitReset === undefined ? undefined : Number(facts.rateLimitReset) * 1000;
  return new CrmError('pipedrive', code, `Pipedrive ${facts.status}: ${body.error ?? ''}`.trim(), {
    status: facts.status,
    retryAfterMs: code === 'rate_limited' ? (retryAfterHeader(facts.retryAfter) ?? reset ?? 2000) : undefined,
  });
}
