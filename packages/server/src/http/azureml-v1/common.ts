import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { toArmError } from '../arm/errors.js';
import { setRetryAfter } from '../error-status.js';

/** `W` below a v1 data-plane service prefix (`/history/v1.0`, `/credential/v2.0`, …). */
export const V1_WORKSPACE =
  '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.MachineLearningServices/workspaces/:workspaceName';

/**
 * Errors of the v1 data-plane services in their shape: ARM's `{error: {code, message}}` plus
 * `details: []` and `correlation` — azureml-core's ServiceException iterates `details` and fails
 * on a missing one.
 */
export function v1ErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toArmError(err);
  if (status >= 500) req.log.error({ err }, 'request failed');
  setRetryAfter(reply, err);
  void reply.status(status).send({
    error: { ...body.error, details: body.error.details ?? [] },
    correlation: { operation: req.id, request: req.id },
  });
}

/** A scope of v1 routes with the v1 error shape. */
export async function v1Scope(app: FastifyInstance, routes: (scope: FastifyInstance) => Promise<void>): Promise<void> {
  await app.register(async (scope) => {
    scope.setErrorHandler(v1ErrorHandler);
    // azureml-core sends some JSON bodies as `application/json-patch+json` (they are plain JSON).
    const json = scope.getDefaultJsonParser('error', 'error');
    scope.addContentTypeParser(/^application\/[\w.-]+\+json/i, { parseAs: 'string' }, (req, body, done) => {
      if (typeof body === 'string' && body.trim() === '') return done(null, undefined);
      void json(req, body as string, done);
    });
    await routes(scope);
  });
}

export const iso = (ms: number | undefined | null): string | undefined =>
  ms === undefined || ms === null ? undefined : new Date(ms).toISOString();
