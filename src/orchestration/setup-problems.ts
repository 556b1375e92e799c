import { CrmError } from '../providers/errors.ts';
import { crmUrlAllowed, crmUrlRefusal } from '../providers/base-url.ts';
import { providerModule } from '../providers/index.ts';
import type { Provider } from '../model/store/schema.ts';
import { DomainError, invalid } from '../model/store/errors.ts';

interface Issue {
  path: readonly PropertyKey[];
  message: string;
  code?: string;
  keys?: readonly string[];
}

/** An unknown key is named itself (settings.bogus), not its parent object (or nothing, at the top). */
const perKey = (issue: Issue): Issue[] =>
  issue.code === 'unrecognized_keys' && issue.keys?.length ? issue.keys.map((key) => ({ path: [...issue.path, key], message: 'is not a known key' })) : [issue];

/** A 400 naming each failing field under `prefix` (credentials.accessToken, settings.stages.0.stageId). */
export function fieldProblems(prefix: string, issues: readonly Issue[]): DomainError {
  return invalid(issues.flatMap(perKey).map((i) => ({ field: [prefix, ...i.path.map(String)].filter(Boolean).join('.'), message: i.message })));
}

/** 400 naming `field` unless the CRM's credentials may go to this baseUrl (its own API or an operator-listed host). */
export function assertBaseUrl(provider: Provider, baseUrl: unknown, allowedHosts: readonly string[], field: string) {
  if (baseUrl === undefined) return;
  const module = providerModule(provider);
  if (typeof baseUrl !== 'string' || !crmUrlAllowed(module, baseUrl, allowedHosts)) {
    throw invalid([{ field, message: `is operator-only: ${typeof baseUrl === 'string' ? crmUrlRefusal(module, baseUrl) : 'must be a URL'}` }]);
  }
}

/**
 * What a CRM call made while setting a connection up becomes for the caller: credentials the CRM
 * refused are a 400 naming them; a CRM that could not be reached, failed, or answered something
 * unusable is a 502 naming the CRM; one that did not answer in time (CRM_*_TIMEOUT_MS) a 504 naming
 * it. Never a 500: none of these is crm-sync's own fault.
 */
export function setupProblem(provider: Provider, baseUrl: string | undefined) {
  const module = providerModule(provider);
  return (error: unknown): never => {
    if (error instanceof DomainError) throw error;
    // A token or code the CRM refused (a token endpoint's refusal may carry no status); a status-less
    // `forbidden` is our own URL rule refusing what the CRM answered (an api_domain), so not the caller's.
    const refused = error instanceof CrmError && (['unauthorized', 'validation'].includes(error.code) || (error.code === 'forbidden' && error.status !== undefined));
    if (refused) throw invalid([{ field: 'credentials', message: `${module.label} refused them${error.status ? ` (${error.status})` : ''}: ${error.message}` }]);
    const where = new URL(baseUrl ?? module.apiRoot).host;
    if (error instanceof CrmError && error.code === 'timeout') {
      const late = `${module.label} at ${where} did not answer in time`;
      throw new DomainError(504, 'Gateway Timeout', `${late}: ${error.message}`, [{ field: baseUrl ? 'baseUrl' : 'provider', message: late }], { provider });
    }
    const detail = error instanceof CrmError && error.code === 'network' ? `${module.label} could not be reached at ${where}` : `${module.label} at ${where} failed`;
    const cause = error instanceof Error ? error.message : String(error);
    throw new DomainError(502, 'Bad Gateway', `${detail}: ${cause}`, [{ field: baseUrl ? 'baseUrl' : 'provider', message: detail }], { provider });
  };
}
