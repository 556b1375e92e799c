import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OAuthTokens } from '../shared/oauth.ts';
import { PipedriveError } from './errors.ts';

export type CredentialKind = 'api_token' | 'oauth' | 'none';

/** The token a request carries: an OAuth bearer token, or an API token by header or query parameter. */
export function credential(request: FastifyRequest): { value: string; kind: CredentialKind } {
  const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
  if (bearer) return { value: bearer, kind: 'oauth' };
  const apiToken = request.headers['x-api-token'] ?? (request.query as Record<string, string | undefined>).api_token;
  return apiToken ? { value: String(apiToken), kind: 'api_token' } : { value: '', kind: 'none' };
}

export interface OAuthApp {
  clientId: string;
  clientSecret: string;
  oauth: OAuthTokens;
  /** Where the SDK sends API calls after the grant: the sandbox itself. */
  apiDomain: () => string;
}

/** POST /oauth/token: client credentials in HTTP basic auth, the grant in the form body. */
function grant(request: FastifyRequest<{ Body: Record<string, string> }>, app: OAuthApp) {
  const basic = Buffer.from((request.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
  if (basic !== `${app.clientId}:${app.clientSecret}`) throw new PipedriveError(401, 'invalid_client', 'Client authentication failed');
  const form = request.body ?? {};
  const issued =
    form.grant_type === 'authorization_code' ? app.oauth.exchangeCode(form.code) : form.grant_type === 'refresh_token' ? app.oauth.refresh(form.refresh_token) : undefined;
  if (!issued) throw new PipedriveError(400, 'invalid_grant', 'The authorization code or refresh token is invalid, used or expired');
  return issued;
}

/** Pipedrive's token endpoint (oauth.pipedrive.com/oauth/token), served on the sandbox's own origin. */
export function oauthRoutes(server: FastifyInstance, app: OAuthApp) {
  // The SDK posts the grant form-encoded, as the real endpoint requires.
  server.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  server.post('/oauth/token', async (request: FastifyRequest<{ Body: Record<string, string> }>) => {
    const issued = grant(request, app);
    return {
      access_token: issued.accessToken,
      token_type: 'Bearer',
      refresh_token: issued.refreshToken,
      scope: 'base,deals:full,contacts:full,users:read,webhooks:full',
      expires_in: issued.expiresIn,
      api_domain: app.apiDomain(),
    };
  });
}
