import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { mountMlflow } from './common.js';

/**
 * Route families MLflow defines that another plugin serves or that are not built yet: a request
 * no plugin answered gets 501 (not built) for these, 404 ENDPOINT_NOT_FOUND for anything else.
 */
const KNOWN_FAMILIES = /^\/(ajax-)?api\/2\.0\/(mlflow|mlflow-artifacts)\/(registered-models|model-versions|logged-models|artifacts|traces|scorers|webhooks|gateway|prompts|mlflow-artifacts|datasets|users|permissions)(\/|$)/;

/** MLflow tracking core: experiments, runs, metrics, params, tags, datasets, below each workspace's tracking URI. */
export async function mlflowTracking(app: FastifyInstance, opts: { ctx: AppContext }): Promise<void> {
  const { ctx } = opts;
  await mountMlflow(app, ctx, async (scope) => {
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
