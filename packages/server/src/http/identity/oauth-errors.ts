import type { FastifyReply, FastifyRequest } from 'fastify';
import crypto from 'node:crypto';
import { AtelierError } from '../../errors.js';

/** OAuth2 error body (RFC 6749 §5.2) in the shape Entra ID uses, which MSAL parses. */
export function oauthErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  let status = 400;
  let error = 'invalid_request';
  let description = (err as Error)?.message ?? 'bad request';
  if (err instanceof AtelierError) {
    status = err.status === 401 ? 400 : err.status;
    error = err.status === 401 ? 'invalid_grant' : err.status === 429 ? 'temporarily_unavailable' : err.code.includes('_') ? err.code : 'invalid_request';
    if (err.status === 401 && err.code === 'invalid_client') { status = 401; error = 'invalid_client'; }
  } else if ((err as { validation?: unknown }).validation) {
    status = 400;
    error = 'invalid_request';
  } else if (!((err as { statusCode?: number }).statusCode! < 500)) {
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
