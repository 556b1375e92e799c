import { HubSpotError } from './errors.ts';
import type { Random } from './random.ts';

interface AccessToken {
  expiresAt: number;
}

/** Private-app tokens never expire; OAuth access tokens do, and are renewed with a refresh token. */
export class TokenStore {
  readonly privateAppToken: string;
  private accessTokens = new Map<string, AccessToken>();
  private refreshTokens = new Set<string>();
  private codes = new Set<string>();
  private readonly random: Random;
  private readonly accessTokenSeconds: number;

  constructor(random: Random, accessTokenSeconds: number) {
    this.random = random;
    this.accessTokenSeconds = accessTokenSeconds;
    this.privateAppToken = `pat-sandbox-${random.uuid()}`;
  }

  valid(token: string, now = Date.now()): boolean {
    if (token === this.privateAppToken) return true;
    const access = this.accessTokens.get(token);
    return access !== undefined && access.expiresAt > now;
  }

  issueCode(): string {
    const code = this.random.uuid();
    this.codes.add(code);
    return code;
  }

  /** POST /oauth/v1/token: authorization_code and refresh_token grants. */
  grant(form: Record<string, string | undefined>, clientId: string, clientSecret: string) {
    if (form.client_id !== clientId || form.client_secret !== clientSecret) {
      throw new HubSpotError(400, 'BAD_CLIENT_ID', 'missing or invalid client_id or client_secret', { status: 'BAD_CLIENT_ID' });
    }
    if (form.grant_type === 'authorization_code') {
      if (!form.code || !this.codes.delete(form.code)) throw new HubSpotError(400, 'BAD_AUTH_CODE', 'missing or unknown auth code', { status: 'BAD_AUTH_CODE' });
    } else if (form.grant_type === 'refresh_token') {
      if (!form.refresh_token || !this.refreshTokens.has(form.refresh_token)) {
        throw new HubSpotError(400, 'BAD_REFRESH_TOKEN', 'missing or unknown refresh token', { status: 'BAD_REFRESH_TOKEN' });
      }
    } else {
      throw new HubSpotError(400, 'BAD_GRANT_TYPE', 'grant_type must be authorization_code or refresh_token', { status: 'BAD_GRANT_TYPE' });
    }
    const accessToken = `oauth-sandbox-${this.random.uuid()}`;
    this.accessTokens.set(accessToken, { expiresAt: Date.now() + this.accessTokenSeconds * 1000 });
    const refreshToken = form.refresh_token ?? `refresh-${this.random.uuid()}`;
    this.refreshTokens.add(refreshToken);
    return { token_type: 'bearer', access_token: accessToken, refresh_token: refreshToken, expires_in: this.accessTokenSeconds };
  }
}
