import type { FastifyReply, FastifyRequest } from 'fastify';
import crypto from 'node:crypto';
import { AtelierError, TooManyRequests } from '../../errors.js';
import { OAuthError } from '../../identity/oauth-error.js';

/** OAuth2 error body (RFC 6749 §5.2) in the shape Entra ID uses, which MSAL parses. */
export function oauthErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  let status = 400;
  let error = 'invalid_request';
  let description = (err as Error)?.message ?? 'bad request';
  if (err instanceof OAuthError) {
    status = err.status;
    error = err.error;
  } else if (err instanceof TooManyRequests) {
    status = 429;
    error = 'temporarily_unavailable';
    if (err.target) void reply.header('retry-after', err.target);
  } else if (err instanceof AtelierError) {
    status = err.status === 401 ? 400 : err.status;
    error = err.status === 401 ? 'invalid_grant' : err.code.includes('_') ? err.code : err.status === 404 ? 'invalid_tenant' : 'invalid_request';
  } else if ((err as { validation?: unknown }).validation) {
    status = 400;
    error = 'invalid_request';
  } else if ((err as { statusCode?: number }).statusCode !== undefined && (err as { statusCode: number }).statusCode < 500) {
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
    timestamp: new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    trace_id: crypto.randomUUID(),
    correlation_id: (req.headers['client-request-id'] as string) ?? crypto.randomUUID(),
  });
}
