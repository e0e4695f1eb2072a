/**
 * An OAuth2 error (RFC 6749 §5.2, RFC 8628 §3.5) with the exact `error` code clients act on
 * (`authorization_pending`, `slow_down`, `invalid_grant`, `invalid_client`, …).
 */
export class OAuthError extends Error {
  readonly status: number;
  constructor(readonly error: string, message: string, status?: number) {
    super(message);
    this.name = 'OAuthError';
    this.status = status ?? (error === 'invalid_client' ? 401 : error === 'server_error' ? 500 : 400);
  }
}
