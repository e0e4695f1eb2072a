import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { MLFLOW_PREFIX, invalidateWorkspaceCache, mountMlflow } from './common.js';
import { trackingRoutes } from './tracking-routes.js';
import { mlflowRootHintRoutes } from './root-hint.js';

/**
 * Route families MLflow defines that another plugin serves or that are not built yet: a request
 * no plugin answered gets 501 (not built) for these, 404 ENDPOINT_NOT_FOUND for anything else.
 */
const KNOWN_FAMILIES =
  /^\/(ajax-)?api\/2\.0\/(mlflow|mlflow-artifacts)\/(registered-models|model-versions|logged-models|artifacts|traces|scorers|webhooks|gateway|prompts|mlflow-artifacts|datasets|users|permissions|assessments|secrets|endpoints|model-definitions|prompt-optimization|jobs)(\/|$)/;

/** MLflow feature families this server does not implement, named in their 501 answer (path below the tracking URI). */
const UNBUILT_FAMILIES: { path: RegExp; family: string }[] = [
  {
    path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/traces\/[^/]+\/assessments(\/|$)/,
    family: 'MLflow GenAI assessments (trace feedback and expectations)',
  },
  {
    path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/(traces|spans|get-trace-artifact)(\/|$)/,
    family: 'MLflow tracing (traces and spans)',
  },
  { path: /^\/v1\/traces\/?$/, family: 'OpenTelemetry trace ingestion (OTLP /v1/traces)' },
  { path: /^\/(ajax-api\/)?graphql\/?$/, family: "MLflow's GraphQL API" },
  {
    path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/(gateway|secrets|endpoints|model-definitions)(\/|$)/,
    family: 'the MLflow AI gateway (secrets, endpoints, model definitions, providers)',
  },
  { path: /^\/(ajax-)?api\/3\.0\/mlflow\/datasets(\/|$)/, family: 'MLflow GenAI evaluation datasets' },
  { path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/scorers(\/|$)/, family: 'MLflow GenAI scorers' },
  { path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/(webhooks)(\/|$)/, family: 'MLflow webhooks' },
  {
    path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/(prompts|prompt-optimization)(\/|$)/,
    family: 'the MLflow prompt registry API',
  },
  {
    path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/(users|permissions)(\/|$)/,
    family: "MLflow's basic-auth user and permission API (access is managed with Azure role assignments here)",
  },
  { path: /^\/(ajax-)?api\/[23]\.0\/mlflow\/jobs(\/|$)/, family: 'MLflow server jobs' },
];

/**
 * The methods the app serves for a path below a tracking URI (`/api/2.0/mlflow/runs/get`), from
 * the routes as registered (case-insensitive, trailing slash ignored, as the router matches).
 */
function routeMethods(routes: readonly { method: string; url: string }[]): (path: string) => string[] {
  const patterns = new Map<string, { re: RegExp; methods: Set<string> }>();
  for (const r of routes) {
    if (!r.url.startsWith(MLFLOW_PREFIX) || r.method === 'HEAD') continue;
    const suffix = r.url.slice(MLFLOW_PREFIX.length).replace(/\/$/, '');
    let entry = patterns.get(suffix.toLowerCase());
    if (!entry) {
      // `:param` is one segment, a final `*` anything (find-my-way's syntax).
      const source = suffix
        .split('/')
        .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      entry = { re: new RegExp(`^${source}/?$`, 'i'), methods: new Set() };
      patterns.set(suffix.toLowerCase(), entry);
    }
    entry.methods.add(r.method);
  }
  return (path) => {
    const found = new Set<string>();
    for (const { re, methods } of patterns.values()) if (re.test(path)) for (const m of methods) found.add(m);
    return [...found].sort();
  };
}

/** The MLflow server version this server answers to `GET <tracking URI>/version` (the client's feature checks read it). */
export const MLFLOW_SERVER_VERSION = '3.17.2';

/** MLflow tracking core: experiments, runs, metrics, params, tags, datasets, below each workspace's tracking URI. */
export async function mlflowTracking(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx, services } = opts;
  // This edge's cache of workspace resolutions forgets a deleted workspace at once (the tracking
  // module removes its data itself: tracking/services.ts).
  services.workspaces.onWorkspaceDeleting.push(async (ws) => invalidateWorkspaceCache(ctx, ws.id));
  // A client pointed at the server root instead of a tracking URI is told where that is.
  await mlflowRootHintRoutes(app, ctx);
  await mountMlflow(app, ctx, async (scope) => {
    await trackingRoutes(scope, ctx, services.tracking);
    // As `mlflow server`: the version as plain text, so that clients can tell what the server supports.
    scope.get(
      '/version',
      { schema: { tags: ['MLflow tracking'], summary: 'The MLflow server version this server speaks' } },
      async (_req, reply) => reply.type('text/plain; charset=utf-8').send(MLFLOW_SERVER_VERSION),
    );
    let methodsOf: ((path: string) => string[]) | undefined;
    scope.setNotFoundHandler((req, reply) => {
      const path = req.url
        .split('?')[0]!
        .replace(
          /^\/mlflow\/v1\.0\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+/i,
          '',
        )
        .replace(/\/{2,}/g, '/');
      // A route this server serves, asked with another method: 405 naming the methods it takes.
      methodsOf ??= routeMethods(req.server.registeredRoutes);
      const allowed = methodsOf(path);
      const unbuilt = UNBUILT_FAMILIES.find((f) => f.path.test(path));
      if (allowed.length) {
        void reply
          .status(405)
          .header('allow', allowed.join(', '))
          .send({
            error_code: 'BAD_REQUEST',
            message: `${req.method} is not allowed on ${path}: use ${allowed.join(' or ')}.`,
          });
      } else if (unbuilt) {
        void reply.status(501).send({
          error_code: 'NOT_IMPLEMENTED',
          message: `${unbuilt.family} is not implemented by this server (${req.method} ${path}).`,
        });
      } else if (KNOWN_FAMILIES.test(path)) {
        void reply.status(501).send({
          error_code: 'NOT_IMPLEMENTED',
          message: `${req.method} ${path} is not available on this server yet.`,
        });
      } else {
        void reply.status(404).send({
          error_code: 'ENDPOINT_NOT_FOUND',
          message: `No API endpoint ${req.method} ${path} below this tracking URI.`,
        });
      }
    });
  });
}
