import type { Random } from './random.ts';

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/**
 * Authorization codes (single use), access tokens that expire, and refresh tokens that mint new
 * access tokens: the OAuth 2.0 mechanics both CRMs share. Each sandbox wraps it in its own error
 * bodies and response shape.
 */
export class OAuthTokens {
  private accessTokens = new Map<string, number>();
  private refreshTokens = new Set<string>();
  private codes = new Set<string>();
  /** Access tokens minted so far: tests count refreshes with it. */
  minted = 0;
  private readonly random: Random;
  private readonly prefix: string;
  private readonly lifetimeSeconds: number;

  constructor(random: Random, prefix: string, lifetimeSeconds: number) {
    this.random = random;
    this.prefix = prefix;
    this.lifetimeSeconds = lifetimeSeconds;
  }

  issueCode(): string {
    const code = this.random.uuid();
    this.codes.add(code);
    return code;
  }

  validAccessToken(token: string, now = Date.now()): boolean {
    const expiresAt = this.accessTokens.get(token);
    return expiresAt !== undefined && expiresAt > now;
  }

  /** Undefined when the code is unknown or already used. */
  exchangeCode(code: string | undefined): IssuedTokens | undefined {
    if (!code || !this.codes.delete(code)) return undefined;
    const refreshToken = `${this.prefix}-refresh-${this.random.uuid()}`;
    this.refreshTokens.add(refreshToken);
    return this.mint(refreshToken);
  }

  /** Undefined when the refresh token is unknown. */
  refresh(refreshToken: string | undefined): IssuedTokens | undefined {
    if (!refreshToken || !this.refreshTokens.has(refreshToken)) return undefined;
    return this.mint(refreshToken);
  }

  private mint(refreshToken: string): IssuedTokens {
    this.minted++;
    const accessToken = `${this.prefix}-access-${this.random.uuid()}`;
    this.accessTokens.set(accessToken, Date.now() + this.lifetimeSeconds * 1000);
    return { accessToken, refreshToken, expiresIn: this.lifetimeSeconds };
  }
}
