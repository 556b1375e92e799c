import { OAuthTokens } from '../shared/oauth.ts';
import type { Random } from '../shared/random.ts';
import { HubSpotError } from './errors.ts';

const oauthError = (status: string, message: string) => new HubSpotError(400, status, message, { status });

/**
 * Private-app tokens never expire, but an admin may rotate one (Settings → Private apps → Rotate):
 * a new token, the old one expiring at once or left valid for a while. OAuth access tokens do
 * expire, and are renewed with a refresh token.
 */
export class TokenStore {
  /** The private app's current token. */
  privateAppToken: string;
  /** Every private-app token issued, oldest first, and whether HubSpot still takes it. */
  readonly privateAppTokens = new Map<string, boolean>();
  private readonly oauth: OAuthTokens;
  private readonly random: Random;
  /** Set by the control API: the app was uninstalled or the token rotated in HubSpot. */
  revoked = false;

  constructor(random: Random, accessTokenSeconds: number) {
    this.random = random;
    this.privateAppToken = this.newPrivateAppToken();
    this.oauth = new OAuthTokens(random, 'oauth-sandbox', accessTokenSeconds);
  }

  private newPrivateAppToken(): string {
    const token = `pat-sandbox-${this.random.uuid()}`;
    this.privateAppTokens.set(token, true);
    return token;
  }

  /** Rotates the private app's token; the old one stops working now unless `keepOld`. */
  rotatePrivateAppToken(keepOld: boolean): string {
    if (!keepOld) this.privateAppTokens.set(this.privateAppToken, false);
    this.privateAppToken = this.newPrivateAppToken();
    return this.privateAppToken;
  }

  valid(token: string): boolean {
    return !this.revoked && (this.privateAppTokens.get(token) === true || this.oauth.validAccessToken(token));
  }

  get oauthGrants(): number {
    return this.oauth.minted;
  }

  issueCode(): string {
    return this.oauth.issueCode();
  }

  /** POST /oauth/v1/token: authorization_code and refresh_token grants, client credentials in the form. */
  grant(form: Record<string, string | undefined>, clientId: string, clientSecret: string) {
    if (form.client_id !== clientId || form.client_secret !== clientSecret) {
      throw oauthError('BAD_CLIENT_ID', 'missing or invalid client_id or client_secret');
    }
    let issued;
    if (form.grant_type === 'authorization_code') {
      issued = this.oauth.exchangeCode(form.code);
      if (!issued) throw oauthError('BAD_AUTH_CODE', 'missing or unknown auth code');
    } else if (form.grant_type === 'refresh_token') {
      issued = this.oauth.refresh(form.refresh_token);
      if (!issued) throw oauthError('BAD_REFRESH_TOKEN', 'missing or unknown refresh token');
    } else {
      throw oauthError('BAD_GRANT_TYPE', 'grant_type must be authorization_code or refresh_token');
    }
    return { token_type: 'bearer', access_token: issued.accessToken, refresh_token: issued.refreshToken, expires_in: issued.expiresIn };
  }
}
