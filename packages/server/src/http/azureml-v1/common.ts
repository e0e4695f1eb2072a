import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NotImplemented } from '../../errors.js';
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

/**
 * The v1 data-plane services of azureml-core's clients (azureml/_restclient, _execution): a request
 * below one of these prefixes that no route serves is a route of that service not built here.
 */
const V1_SERVICE = new RegExp(
  `^/(?:(${[
    'history',
    'metric',
    'artifact',
    'content',
    'dataset',
    'data',
    'datacache',
    'datastore',
    'credential',
    'environment',
    'modelmanagement',
    'modelregistry',
    'execution',
    'jasmine',
    'hyperdrive',
  ].join('|')})/v\\d+(?:\\.\\d+)?|(rp)/[^/]+)(?:/|$)`,
  'i',
);

/**
 * For a request no route served: a 501 naming the v1 service and route when the path is below a v1
 * data-plane service prefix (answered through `v1ErrorHandler`, so azureml-core shows its message
 * instead of failing on a body without `details`); undefined for any other path.
 */
const V1_METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE']);

export function unbuiltV1Route(method: string, url: string): NotImplemented | undefined {
  // Only the methods azureml-core's REST clients send: another method (TRACE, OPTIONS, …) on a v1 path
  // names no operation a service could build, so it stays a plain 404.
  if (!V1_METHODS.has(method.toUpperCase())) return undefined;
  const path = url.split('?')[0]!;
  const m = V1_SERVICE.exec(path);
  if (!m) return undefined;
  const service = (m[1] ?? m[2])!.toLowerCase();
  const route = path.replace(
    /\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+/i,
    '/{workspace}',
  );
  return new NotImplemented(
    `Atelier does not serve ${method} ${route} of the azureml v1 '${service}' service (not built; see docs/clients.md)`,
    { code: 'NOT_IMPLEMENTED' },
  );
}

export const iso = (ms: number | undefined | null): string | undefined =>
  ms === undefined || ms === null ? undefined : new Date(ms).toISOString();
