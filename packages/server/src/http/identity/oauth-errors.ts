import type { FastifyReply, FastifyRequest } from 'fastify';
import crypto from 'node:crypto';
import { AtelierError, type ErrorCode, type ErrorKind } from '../../errors.js';
import { HTTP_STATUS } from '../error-status.js';

/**
 * An OAuth2 error the token endpoint answers itself (RFC 6749 §5.2), with the exact `error` code
 * clients act on (`invalid_request`, `invalid_client`, `unsupported_grant_type`, …).
 */
export class OAuthError extends Error {
  readonly status: number;
  constructor(
    readonly error: string,
    message: string,
    status?: number,
  ) {
    super(message);
    this.name = 'OAuthError';
    this.status = status ?? (error === 'invalid_client' ? 401 : error === 'server_error' ? 500 : 400);
  }
}

/** The OAuth2 `error` codes this token service answers with (RFC 6749 §5.2, RFC 8628 §3.5, Entra ID). */
export const OAUTH_ERRORS = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_resource',
  'invalid_tenant',
  'authorization_pending',
  'slow_down',
  'access_denied',
  'expired_token',
  'temporarily_unavailable',
  'server_error',
] as const;

/** Each kind of domain error → OAuth2 `error` and status, unless `OAUTH_CODES` names the code. */
const BY_KIND: Readonly<Partial<Record<ErrorKind, { error: string; status: number }>>> = {
  // A credential that is wrong or gone is a bad grant to OAuth (400), not a 401.
  unauthenticated: { error: 'invalid_grant', status: 400 },
  not_found: { error: 'invalid_tenant', status: 404 },
  too_many: { error: 'temporarily_unavailable', status: 429 },
};

/** Domain code → OAuth2 `error` and status (RFC 6749 §5.2, RFC 8628 §3.5). */
export const OAUTH_CODES: Readonly<Partial<Record<ErrorCode, { error: string; status: number }>>> = {
  REFRESH_TOKEN_INVALID: { error: 'invalid_grant', status: 400 },
  DEVICE_CODE_INVALID: { error: 'invalid_grant', status: 400 },
  DEVICE_CODE_EXPIRED: { error: 'expired_token', status: 400 },
  SIGN_IN_DECLINED: { error: 'access_denied', status: 400 },
  SIGN_IN_PENDING: { error: 'authorization_pending', status: 400 },
  POLLING_TOO_FAST: { error: 'slow_down', status: 400 },
  UNKNOWN_TENANT: { error: 'invalid_tenant', status: 404 },
  AUTHORIZATION_CODE_INVALID: { error: 'invalid_grant', status: 400 },
  PKCE_REQUIRED: { error: 'invalid_request', status: 400 },
  UNKNOWN_CLIENT: { error: 'invalid_client', status: 401 },
  MANAGED_IDENTITY_CREDENTIAL: { error: 'invalid_client', status: 401 },
  REDIRECT_URI_NOT_ALLOWED: { error: 'invalid_grant', status: 400 },
};

/** A domain error as OAuth2's `error` and status; other kinds are `invalid_request` with their status. */
export function oauthErrorOf(err: AtelierError): { error: string; status: number } {
  return OAUTH_CODES[err.code] ?? BY_KIND[err.kind] ?? { error: 'invalid_request', status: HTTP_STATUS[err.kind] };
}

/** OAuth2 error body (RFC 6749 §5.2) in the shape Entra ID uses, which MSAL parses. */
export function oauthErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  let status: number;
  let error: string;
  let description = (err as Error)?.message ?? 'bad request';
  if (err instanceof OAuthError) {
    status = err.status;
    error = err.error;
  } else if (err instanceof AtelierError) {
    ({ status, error } = oauthErrorOf(err));
    if (err.kind === 'too_many' && err.target) void reply.header('retry-after', err.target);
  } else if ((err as { validation?: unknown }).validation) {
    status = 400;
    error = 'invalid_request';
  } else if (
    (err as { statusCode?: number }).statusCode !== undefined &&
    (err as { statusCode: number }).statusCode < 500
  ) {
    status = (err as { statusCode: number }).statusCode;
    error = 'invalid_request';
  } else {
    status = 500;
    error = 'server_error';
    description = 'the token service had an internal error';
    req.log.error({ err }, 'token endpoint failed');
  }
  void reply.status(status).send({
    error,
    error_description: description,
    error_codes: [],
    timestamp: new Date()
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z'),
    trace_id: crypto.randomUUID(),
    correlation_id: (req.headers['client-request-id'] as string) ?? crypto.randomUUID(),
  });
}
