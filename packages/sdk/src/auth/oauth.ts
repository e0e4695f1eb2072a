import { errorFromResponse, ServiceError } from '../errors.js';
import { fetchOrThrow, readBody } from '../http/fetch.js';
import { MANAGEMENT_AUDIENCE } from './authentication.js';

/** What the token endpoint gave, with the expiry made absolute. */
export interface TokenGrant {
  accessToken: string;
  /** Epoch milliseconds. */
  expiresOnTimestamp: number;
  /** Present when the server issues refresh tokens (asked for with `offline_access`). */
  refreshToken?: string;
}

/** The scope our SDK asks for: management API, plus a refresh token when the server gives them. */
export const DEFAULT_SCOPE = `${MANAGEMENT_AUDIENCE}/.default offline_access`;

/**
 * Calls the OAuth2 token endpoint `POST {endpoint}/{tenant}/oauth2/v2.0/token` (Entra ID v2 shape)
 * with a form body; used by the password login, refresh, and the other grant classes.
 */
export async function requestToken(
  endpoint: string,
  tenant: string,
  form: Record<string, string>,
): Promise<TokenGrant> {
  if (!/^[\w.-]{1,100}$/.test(tenant))
    throw new TypeError(`tenant '${tenant}' is invalid: use the server's tenant GUID or 'common'`);
  const res = await fetchOrThrow(`${endpoint}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form),
  });
  const { body, text } = await readBody(res);
  if (!res.ok)
    throw errorFromResponse(res.status, body, text, res.headers.get('x-ms-request-id') ?? undefined, 'sign-in failed');
  const b = body as { access_token?: unknown; expires_in?: unknown; refresh_token?: unknown } | undefined;
  if (!b || typeof b.access_token !== 'string')
    throw new ServiceError('the token endpoint answered without an access_token', { status: res.status });
  const expiresIn = Number(b.expires_in);
  const grant: TokenGrant = {
    accessToken: b.access_token,
    expiresOnTimestamp: Date.now() + (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : 3600_000),
  };
  if (typeof b.refresh_token === 'string' && b.refresh_token) grant.refreshToken = b.refresh_token;
  return grant;
}

export function passwordGrant(
  endpoint: string,
  tenant: string,
  username: string,
  password: string,
  scope = DEFAULT_SCOPE,
): Promise<TokenGrant> {
  return requestToken(endpoint, tenant, { grant_type: 'password', username, password, scope });
}

export function refreshGrant(
  endpoint: string,
  tenant: string,
  refreshToken: string,
  scope = DEFAULT_SCOPE,
): Promise<TokenGrant> {
  return requestToken(endpoint, tenant, { grant_type: 'refresh_token', refresh_token: refreshToken, scope });
}
