import type { FastifyReply } from 'fastify';
import { AtelierError, type ErrorKind } from '../errors.js';

/**
 * The HTTP status of each kind of domain error, shared by the edges (ARM, the device page, and as
 * the starting point of MLflow's and OAuth's own tables).
 */
export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  precondition: 412,
  too_large: 413,
  too_many: 429,
  not_implemented: 501,
  internal: 500,
};

/**
 * A 429 says when to come back (RFC 9110 Retry-After): the seconds a TooManyRequests error names
 * (its target, e.g. the sign-in throttle's block), else 1. Every edge's error handler calls this;
 * `app.ts` adds 1 s to any other 429 that leaves without one (e.g. a full scoring queue).
 */
export function setRetryAfter(reply: FastifyReply, err: unknown): void {
  if (!(err instanceof AtelierError) || err.kind !== 'too_many') return;
  void reply.header('retry-after', /^\d+$/.test(err.target ?? '') ? err.target! : '1');
}
