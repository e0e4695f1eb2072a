import type { FastifyInstance } from 'fastify';
import type { AppContext } from './context.js';
import type { Services } from './services.js';
import { mlflowTracking } from './http/mlflow/tracking-plugin.js';
import { mlflowArtifactRoutes } from './http/mlflow/artifact-routes.js';
import { mlflowRegistryRoutes } from './http/mlflow/registry-routes.js';
import { mlflowLoggedModelRoutes } from './http/mlflow/logged-model-routes.js';
import { controlPlaneFeature } from './http/arm/control-plane.js';
import { identityFeature } from './http/identity/identity-feature.js';
import { assetsFeature, networkAccessFeature } from './http/arm/assets/index.js';
import { azuremlV1Feature } from './http/azureml-v1/index.js';
import { blobRestFeature } from './http/blob-rest/index.js';
import { imagesFeature } from './http/environment-builds/image-routes.js';
import { studioFeature } from './http/studio/studio-routes.js';
import { scoringFeature } from './http/scoring/scoring-routes.js';
import { jobsFeature } from './http/jobs/jobs-feature.js';

/**
 * The feature plugins, each in its own folder, registered in this order after the core routes.
 * Adding a feature = one import and one line here.
 */
export type Feature = (app: FastifyInstance, opts: { ctx: AppContext; services: Services }) => Promise<void>;

export const features: Feature[] = [
  networkAccessFeature,
  mlflowTracking,
  mlflowArtifactRoutes,
  mlflowRegistryRoutes,
  mlflowLoggedModelRoutes,
  controlPlaneFeature,
  identityFeature,
  assetsFeature,
  azuremlV1Feature,
  blobRestFeature,
  imagesFeature,
  studioFeature,
  scoringFeature,
  jobsFeature,
];
