/**
 * How the SDK gets a bearer token. Every way of signing in (a fixed token, a callback, the CLI
 * profile, and the service-principal / device-code classes) implements `Authentication`.
 */
export interface AccessToken {
  token: string;
  /** When it expires, epoch milliseconds (0 = unknown: used until the server refuses it). */
  expiresOnTimestamp: number;
}

export interface GetTokenOptions {
  /** The server the token is for (no trailing slash). */
  endpoint: string;
  /** The audience asked for, e.g. `https://management.azure.com`. */
  audience: string;
  /** The server refused the last token: get a new one if this source can. */
  forceRefresh?: boolean;
}

export interface Authentication {
  getToken(opts: GetTokenOptions): Promise<AccessToken>;
  /** A short description for messages ("token from ATELIER_TOKEN", "profile of admin at …"). */
  readonly description: string;
}

/** The audience our SDK asks for: Azure's management resource, which the server accepts. */
export const MANAGEMENT_AUDIENCE = 'https://management.azure.com';

/** Reads the `exp` claim of a JWT without verifying it (the server verifies); 0 when absent. */
export function jwtExpiry(token: string): number {
  const claims = jwtClaims(token);
  return typeof claims.exp === 'number' ? claims.exp * 1000 : 0;
}

/** The claims of a JWT, unverified (for display and expiry only). Empty for a token that is not a JWT. */
export function jwtClaims(token: string): Record<string, unknown> {
  const parts = token.split('.');
  if (parts.length !== 3) return {};
  try {
    const claims = JSON.parse(base64UrlText(parts[1]!)) as unknown;
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Decodes base64url (as JWTs carry their parts) to UTF-8 text, with web APIs only (also in a browser). */
export function base64UrlText(part: string): string {
  const b64 = part
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(part.length / 4) * 4, '=');
  const binary = atob(b64);
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

export type TokenCallback = (audience: string) => string | AccessToken | Promise<string | AccessToken>;

/**
 * A fixed bearer token, or a callback that returns one for an audience (the seed's
 * `TokenAuthentication(get_token_for_audience)`). A callback is asked again whenever the token
 * it gave is about to expire or the server refused it.
 */
export class TokenAuthentication implements Authentication {
  readonly description: string;
  private cached?: AccessToken;
  constructor(
    private readonly source: string | TokenCallback,
    description?: string,
  ) {
    if (typeof source === 'string' && !source.trim())
      throw new TypeError('TokenAuthentication needs a non-empty token or a callback');
    if (typeof source !== 'string' && typeof source !== 'function')
      throw new TypeError('TokenAuthentication takes a token string or a callback (audience) => token');
    this.description =
      description ?? (typeof source === 'string' ? 'a bearer token given to the SDK' : 'a token callback');
  }
  async getToken(opts: GetTokenOptions): Promise<AccessToken> {
    if (typeof this.source === 'string')
      return { token: this.source.trim(), expiresOnTimestamp: jwtExpiry(this.source.trim()) };
    const fresh =
      this.cached &&
      !opts.forceRefresh &&
      (this.cached.expiresOnTimestamp === 0 || this.cached.expiresOnTimestamp - Date.now() > 60_000);
    if (fresh) return this.cached!;
    const got = await this.source(opts.audience);
    const token: AccessToken = typeof got === 'string' ? { token: got, expiresOnTimestamp: jwtExpiry(got) } : got;
    if (!token || typeof token.token !== 'string' || !token.token)
      throw new TypeError('the token callback of TokenAuthentication returned no token');
    this.cached = token;
    return token;
  }
}
