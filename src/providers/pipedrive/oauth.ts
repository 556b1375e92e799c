import { v2 } from 'pipedrive';
import { CrmError } from '../errors.ts';
import { crmAgents, type CrmTimeouts } from '../timeouts.ts';
import type { OAuthApp, OAuthCredentials, OAuthGrant } from '../types.ts';
import { pipedriveError } from './errors.ts';

/** Pipedrive's token endpoint is on its own host, not the API's. */
export const PIPEDRIVE_OAUTH_ROOT = 'https://oauth.pipedrive.com';

/** The code or refresh grant through the SDK's OAuth client; the answer says the account's api_domain. */
export async function grantPipedriveTokens(app: OAuthApp, grant: OAuthGrant, host: string, timeouts?: CrmTimeouts): Promise<OAuthCredentials> {
  const { clientId, clientSecret } = app;
  const oauth = new v2.OAuth2Configuration({ clientId, clientSecret, redirectUri: 'code' in grant ? grant.redirectUri : 'http://localhost', host });
  // Its axios instance is private in the SDK's types but is what posts to the token endpoint: bounded like every call.
  const agents = crmAgents(timeouts);
  Object.assign((oauth as unknown as { axios: { defaults: object } }).axios.defaults, { httpAgent: agents.http, httpsAgent: agents.https });
  if ('refreshToken' in grant) oauth.updateToken({ access_token: '', refresh_token: grant.refreshToken } as never);
  const tokens = await ('code' in grant ? oauth.authorize(grant.code) : oauth.tokenRefresh()).catch((error: unknown) => Promise.reject(tokenEndpointError(error)));
  return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token, issuedAt: Date.now(), expiresAt: Date.now() + tokens.expires_in * 1000, apiDomain: tokens.api_domain };
}

/**
 * The SDK's OAuth client has its own HTTP client, which we cannot give our status-keeping
 * transform: it rejects with the error body alone. A body means the endpoint answered and refused
 * the grant (its 400/401); no body means it was not reached.
 */
function tokenEndpointError(error: unknown): CrmError {
  const body = error as { error?: unknown; message?: unknown } | undefined;
  if (body && typeof body === 'object' && !(error instanceof Error) && (body.error || body.message)) {
    return new CrmError('pipedrive', 'validation', `Pipedrive token endpoint refused the grant: ${String(body.error ?? body.message)}`);
  }
  return pipedriveError(error);
}
