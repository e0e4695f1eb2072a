import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../app.js';
import { invalidateWorkspaceCache, mountMlflow } from './common.js';
import { createTrackingServices, trackingRoutes } from './tracking-routes.js';
import { deleteWorkspaceTracking } from '../../tracking/cleanup.js';

/**
 * Route families MLflow defines that another plugin serves or that are not built yet: a request
 * no plugin answered gets 501 (not built) for these, 404 ENDPOINT_NOT_FOUND for anything else.
 */
const KNOWN_FAMILIES = /^\/(ajax-)?api\/2\.0\/(mlflow|mlflow-artifacts)\/(registered-models|model-versions|logged-models|artifacts|traces|scorers|webhooks|gateway|prompts|mlflow-artifacts|datasets|users|permissions)(\/|$)/;

/** MLflow tracking core: experiments, runs, metrics, params, tags, datasets, below each workspace's tracking URI. */
export async function mlflowTracking(app: FastifyInstance, opts: { ctx: AppContext; services: Services }): Promise<void> {
  const { ctx } = opts;
  const svc = createTrackingServices(ctx);
  // A deleted workspace takes its tracking data with it.
  opts.services.workspaces.onWorkspaceDeleting.push(async (ws) => {
    invalidateWorkspaceCache(ctx, ws.id);
    if (ws.workspaceId) await deleteWorkspaceTracking(ctx.database, ws.workspaceId);
  });
  await mountMlflow(app, ctx, async (scope) => {
    await trackingRoutes(scope, ctx, svc);
    scope.setNotFoundHandler((req, reply) => {
      const path = req.url.split('?')[0]!.replace(/^\/mlflow\/v1\.0\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+/i, '');
      if (KNOWN_FAMILIES.test(path)) {
        void reply.status(501).send({ error_code: 'NOT_IMPLEMENTED', message: `${req.method} ${path} is not available on this server yet.` });
      } else {
        void reply.status(404).send({ error_code: 'ENDPOINT_NOT_FOUND', message: `No API endpoint ${req.method} ${path} below this tracking URI.` });
      }
    });
  });
}
