import { v1, v2 } from 'pipedrive';
import { crmAgents, type CrmTimeouts } from '../timeouts.ts';
import type { DailyBudget } from '../types.ts';
import { tagHttpStatus } from './errors.ts';

export interface PipedriveAuth {
  /** The API root, e.g. https://api.pipedrive.com, or an OAuth token's api_domain, or a sandbox. */
  baseUrl: string;
  apiToken?: string;
  accessToken?: string | (() => Promise<string>);
  /** Bounds on every call (CRM_CONNECT_TIMEOUT_MS, CRM_REQUEST_TIMEOUT_MS); the defaults when not given. */
  timeouts?: CrmTimeouts | undefined;
  /** Told what each answer's headers say of the company's daily token budget. */
  onDaily?: ((daily: DailyBudget) => void) | undefined;
}

/**
 * The company's daily token budget as Pipedrive's answers state it: x-daily-ratelimit-token-limit
 * and -remaining (sent by the live API, not in its docs: see src/sandbox/pipedrive/spec-deviations.ts;
 * https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting describes the budget, reset daily).
 */
export function pipedriveDaily(headers: Record<string, unknown> | undefined): DailyBudget | undefined {
  const limit = Number(headers?.['x-daily-ratelimit-token-limit']);
  const remaining = Number(headers?.['x-daily-ratelimit-token-remaining']);
  const given = headers?.['x-daily-ratelimit-token-limit'] !== undefined && headers?.['x-daily-ratelimit-token-remaining'] !== undefined;
  return given && Number.isFinite(limit) && Number.isFinite(remaining) ? { limit, remaining } : undefined;
}

/**
 * SDK configurations for both API versions. The SDK's constructor ignores `baseOptions`, so it is
 * set afterwards: it carries the response transform that keeps error statuses (see errors.ts), and
 * the agents that bound each call's connect and total time (axios sends through node:http).
 */
export function pipedriveConfigurations(auth: PipedriveAuth) {
  const common = { apiKey: auth.apiToken, accessToken: auth.accessToken };
  const configV2 = new v2.Configuration({ ...common, basePath: `${auth.baseUrl}/api/v2` });
  const configV1 = new v1.Configuration({ ...common, basePath: `${auth.baseUrl}/v1` });
  const agents = crmAgents(auth.timeouts);
  const transform = (data: unknown, headers: Record<string, unknown> | undefined, status?: number) => {
    const daily = pipedriveDaily(headers);
    if (daily) auth.onDaily?.(daily);
    return tagHttpStatus(data, headers, status);
  };
  for (const config of [configV1, configV2]) config.baseOptions = { transformResponse: [transform], httpAgent: agents.http, httpsAgent: agents.https };
  return { v1: configV1, v2: configV2 };
}
