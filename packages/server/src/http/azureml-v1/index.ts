import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { v1Scope } from './common.js';
import { secretsRoutes } from './secrets-routes.js';
import { datastoreV1Routes } from './datastore-routes.js';
import { runHistoryRoutes } from './run-history-routes.js';
import { modelManagementRoutes } from './model-routes.js';
import { rpComputeRoutes } from './compute-routes.js';
import { artifactRoutes } from './artifact-routes.js';
import { environmentRoutes } from './environment-routes.js';
import { datasetRoutes } from './dataset-routes.js';
import { modelManagementImageRoutes } from './modelmanagement-images.js';
import { modelManagementServiceRoutes } from './modelmanagement-services.js';
import { modelManagementPackageRoutes } from './modelmanagement-packages.js';
import { contentRoutes } from './content-routes.js';
import { executionRoutes } from './execution-routes.js';

/**
 * The v1 data-plane services azureml-core (the seed's SDK) calls at the addresses the discovery
 * document gives (this server): secrets, datastores, run history, artifacts, environments, datasets, models, webservices (online endpoints), images (build records), snapshots and submitted runs (content, execution). Each service's routes
 * are in their own file; all answer errors in the v1 shape (common.ts).
 */
export async function azuremlV1Feature(app: FastifyInstance, opts: { ctx: AppContext; services: Services }) {
  const { ctx, services } = opts;
  await v1Scope(app, async (scope) => {
    await scope.register(secretsRoutes, { ctx, vault: services.assets.vault });
    await scope.register(datastoreV1Routes, { ctx, datastores: services.assets.datastores });
    await scope.register(runHistoryRoutes, {
      ctx,
      history: services.runHistory,
      artifacts: services.v1Artifacts,
      jobRuns: services.v1Execution.runDetails,
    });
    await scope.register(artifactRoutes, { ctx, artifacts: services.v1Artifacts });
    await scope.register(environmentRoutes, { ctx, environments: services.v1Environments });
    await scope.register(datasetRoutes, { ctx, datasets: services.v1Datasets, profiles: services.datasetProfiles });
    await scope.register(modelManagementRoutes, { ctx, models: services.models.models });
    await scope.register(modelManagementImageRoutes, {
      ctx,
      images: services.v1Images,
      made: services.v1ImagePackages,
    });
    await scope.register(modelManagementPackageRoutes, {
      ctx,
      packages: services.v1ModelPackages,
      images: services.v1ImagePackages,
      operations: services.operations,
    });
    await scope.register(modelManagementServiceRoutes, {
      ctx,
      services: services.v1WebserviceViews,
      serving: services.serving,
      operations: services.operations,
      deployer: services.v1Webservices,
    });
    await scope.register(contentRoutes, { ctx, snapshots: services.v1Execution.snapshots });
    await scope.register(executionRoutes, {
      ctx,
      submissions: services.v1Execution.submissions,
      snapshots: services.v1Execution.snapshots,
      localRuns: services.v1Execution.localRuns,
      jobs: services.jobs.jobs,
    });
    await scope.register(rpComputeRoutes);
  });
}
