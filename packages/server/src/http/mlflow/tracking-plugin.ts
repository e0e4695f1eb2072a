import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { invalidateWorkspaceCache, mountMlflow } from './common.js';
import { createTrackingServices, trackingRoutes } from './tracking-routes.js';
import { deleteWorkspaceTracking } from '../../tracking/cleanup.js';

/**
 * Route families MLflow defines that another plugin serves or that are not built yet: a request
 * no plugin answered gets 501 (not built) for these, 404 ENDPOINT_NOT_FOUND for anything else.
 */
const KNOWN_FAMILIES = /^\/(ajax-)?api\/2\.0\/(mlflow|mlflow-artifacts)\/(registered-models|model-versions|logged-models|artifacts|traces|scorers|webhooks|gateway|prompts|mlflow-artifacts|datasets|users|permissions|assessments|secrets|endpoints|model-definitions|prompt-optimization|jobs)(\/|$)/;

/** MLflow feature families this server does not implement, named in their 501 answer (path below the tracking URI). */
const UNBUILT_FAMILIES: { path: RegExp; family: string }[] = [
  { path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/traces\/[^/]+\/assessments(\/|$)/, family: 'MLflow GenAI assessments (trace feedback and expectations)' },
  { path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/(traces|spans|get-trace-artifact)(\/|$)/, family: 'MLflow tracing (traces and spans)' },
  { path: /^\/v1\/traces\/?$/, family: 'OpenTelemetry trace ingestion (OTLP /v1/traces)' },
  { path: /^\/(ajax-api\/)?graphql\/?$/, family: "MLflow's GraphQL API" },
  { path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/(gateway|secrets|endpoints|model-definitions)(\/|$)/, family: 'the MLflow AI gateway (secrets, endpoints, model definitions, providers)' },
  { path: /^\/(ajax-)?api\/3\.0\/mlflow\/datasets(\/|$)/, family: 'MLflow GenAI evaluation datasets' },
  { path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/scorers(\/|$)/, family: 'MLflow GenAI scorers' },
  { path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/(webhooks)(\/|$)/, family: 'MLflow webhooks' },
  { path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/(prompts|prompt-optimization)(\/|$)/, family: 'the MLflow prompt registry API' },
  { path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/(users|permissions)(\/|$)/, family: "MLflow's basic-auth user and permission API (access is managed with Azure role assignments here)" },
  { path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/jobs(\/|$)/, family: 'MLflow server jobs' },
];

/** The MLflow server version this server answers to `GET <tracking URI>/version` (the client's feature checks read it). */
export const MLFLOW_SERVER_VERSION = '3.17.2';

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
    // As `mlflow server`: the version as plain text, so that clients can tell what the server supports.
    scope.get('/version', { schema: { tags: ['MLflow tracking'], summary: 'The MLflow server version this server speaks' } }, async (_req, reply) =>
      reply.type('text/plain; charset=utf-8').send(MLFLOW_SERVER_VERSION),
    );
    scope.setNotFoundHandler((req, reply) => {
      const path = req.url.split('?')[0]!.replace(/^\/mlflow\/v1\.0\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+/i, '').replace(/\/{2,}/g, '/');
      const unbuilt = UNBUILT_FAMILIES.find((f) => f.path.test(path));
      if (unbuilt) {
        void reply.status(501).send({ error_code: 'NOT_IMPLEMENTED', message: `${unbuilt.family} is not implemented by this server (${req.method} ${path}).` });
      } else if (KNOWN_FAMILIES.test(path)) {
        void reply.status(501).send({ error_code: 'NOT_IMPLEMENTED', message: `${req.method} ${path} is not available on this server yet.` });
      } else {
        void reply.status(404).send({ error_code: 'ENDPOINT_NOT_FOUND', message: `No API endpoint ${req.method} ${path} below this tracking URI.` });
      }
    });
  });
}
