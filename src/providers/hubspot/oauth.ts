import { Client } from '@hubspot/api-client';
import { crmAgentFor, type CrmTimeouts } from '../timeouts.ts';
import type { OAuthApp, OAuthCredentials, OAuthGrant } from '../types.ts';
import { hubspotError } from './errors.ts';

/** HubSpot's token endpoint lives on the API root (POST /oauth/v1/token), through its SDK. */
export async function grantHubSpotTokens(app: OAuthApp, grant: OAuthGrant, apiRoot: string, timeouts?: CrmTimeouts): Promise<OAuthCredentials> {
  const client = new Client({ basePath: apiRoot, numberOfApiCallRetries: 0, httpAgent: crmAgentFor(apiRoot, timeouts) });
  const { clientId, clientSecret } = app;
  const tokens = await ('code' in grant
    ? client.oauth.tokensApi.create('authorization_code', grant.code, grant.redirectUri, clientId, clientSecret)
    : client.oauth.tokensApi.create('refresh_token', undefined, undefined, clientId, clientSecret, grant.refreshToken)
  ).catch((error: unknown) => Promise.reject(hubspotError(error)));
  return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, issuedAt: Date.now(), expiresAt: Date.now() + tokens.expiresIn * 1000 };
}
