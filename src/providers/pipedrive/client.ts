import { v1, v2 } from 'pipedrive';
import { crmAgents, type CrmTimeouts } from '../timeouts.ts';
import { tagHttpStatus } from './errors.ts';

export interface PipedriveAuth {
  /** The API root, e.g. https://api.pipedrive.com, or an OAuth token's api_domain, or a sandbox. */
  baseUrl: string;
  apiToken?: string;
  accessToken?: string | (() => Promise<string>);
  /** Bounds on every call (CRM_CONNECT_TIMEOUT_MS, CRM_REQUEST_TIMEOUT_MS); the defaults when not given. */
  timeouts?: CrmTimeouts | undefined;
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
  for (const config of [configV1, configV2]) config.baseOptions = { transformResponse: [tagHttpStatus], httpAgent: agents.http, httpsAgent: agents.https };
  return { v1: configV1, v2: configV2 };
}
