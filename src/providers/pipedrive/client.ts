import { v1, v2 } from 'pipedrive';
import { tagHttpStatus } from './errors.ts';

export interface PipedriveAuth {
  /** The API root, e.g. https://api.pipedrive.com, or an OAuth token's api_domain, or a sandbox. */
  baseUrl: string;
  apiToken?: string;
  accessToken?: string | (() => Promise<string>);
}

/**
 * SDK configurations for both API versions. The SDK's constructor ignores `baseOptions`, so it is
 * set afterwards: it carries the response transform that keeps error statuses (see errors.ts).
 */
export function pipedriveConfigurations(auth: PipedriveAuth) {
  const common = { apiKey: auth.apiToken, accessToken: auth.accessToken };
  const configV2 = new v2.Configuration({ ...common, basePath: `${auth.baseUrl}/api/v2` });
  const configV1 = new v1.Configuration({ ...common, basePath: `${auth.baseUrl}/v1` });
  for (const config of [configV1, configV2]) config.baseOptions = { transformResponse: [tagHttpStatus] };
  return { v1: configV1, v2: configV2 };
}
