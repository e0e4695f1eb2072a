import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidInput } from '../../errors.js';
import type { Operation } from '../../operations/operations.js';
import type { Preconditions } from '../../resources/engine.js';

/** The status URL of an operation (Azure-AsyncOperation); `&type=location` makes it the Location URL. */
export function operationUrl(publicUrl: string, op: Operation, apiVersion: string): string {
  return `${publicUrl}/subscriptions/${op.subscriptionId}/providers/Microsoft.MachineLearningServices/locations/${encodeURIComponent(op.location)}/workspaceOperationsStatus/${op.id}?api-version=${encodeURIComponent(apiVersion)}`;
}

/** Sets the ARM LRO headers: Azure-AsyncOperation, Location and Retry-After. */
export function setLroHeaders(reply: FastifyReply, publicUrl: string, op: Operation, req: FastifyRequest): void {
  const v = String((req.query as Record<string, unknown>)['api-version'] ?? '2025-09-01');
  const url = operationUrl(publicUrl, op, v);
  void reply.header('Azure-AsyncOperation', url).header('Location', `${url}&type=location`).header('Retry-After', '1');
}

/** If-Match / If-None-Match of a request. */
export function preconditions(req: FastifyRequest): Preconditions {
  const h = req.headers;
  const pre: Preconditions = {};
  if (typeof h['if-match'] === 'string') pre.ifMatch = h['if-match'];
  if (typeof h['if-none-match'] === 'string') pre.ifNoneMatch = h['if-none-match'];
  return pre;
}

/** Parses an optional boolean query flag ('true'/'false', any case). */
export function boolQuery(req: FastifyRequest, name: string): boolean {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined || v === '') return false;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw new InvalidInput(`query parameter ${name} must be true or false, got '${String(v)}'`, {
    code: 'INVALID_QUERY_PARAMETER',
    target: name,
  });
}
