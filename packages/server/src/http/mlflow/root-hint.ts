import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';

/**
 * An MLflow client pointed at the server itself (`MLFLOW_TRACKING_URI={server}`) instead of a
 * workspace's tracking URI sends `/api/2.0/mlflow/…` to the root. Those requests get MLflow's error
 * body (404 ENDPOINT_NOT_FOUND, which the client shows as written) saying where the tracking URI is.
 * Public: a client without a token gets the same hint, which names nothing but this server's URL.
 */
export function mlflowRootHint(ctx: AppContext): string {
  const base = ctx.config.publicUrl;
  return (
    `This is the Atelier server root, not an MLflow tracking URI. Each workspace is its own tracking server at ` +
    `${base}/mlflow/v1.0/subscriptions/<subscriptionId>/resourceGroups/<resourceGroup>/providers/Microsoft.MachineLearningServices/workspaces/<name>: ` +
    `set MLFLOW_TRACKING_URI to it. Print it with \`atelier mlflow env -w <name> -g <resourceGroup>\` (both exports, token included), ` +
    `the SDK's workspace.getMlflowTrackingUri(), or read the workspace's ` +
    `properties.mlFlowTrackingUri (GET ${base}/subscriptions/<subscriptionId>/resourceGroups/<resourceGroup>/providers/Microsoft.MachineLearningServices/workspaces/<name>?api-version=2025-09-01).`
  );
}

export async function mlflowRootHintRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const message = mlflowRootHint(ctx);
  for (const root of ['/api', '/ajax-api']) {
    for (const version of ['2.0', '3.0']) {
      for (const family of ['mlflow', 'mlflow-artifacts']) {
        app.all(
          `${root}/${version}/${family}/*`,
          { config: { public: true }, schema: { hide: true } as object },
          async (_req, reply) => reply.status(404).send({ error_code: 'ENDPOINT_NOT_FOUND', message }),
        );
      }
    }
  }
}
