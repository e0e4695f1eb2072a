import type { Migration } from 'kysely';
import * as core from './0001-core.js';
import * as controlPlane from './0002-control-plane.js';
import * as globalNames from './0003-global-names.js';
import * as tracking from './0100-tracking.js';
import * as identity from './0200-identity.js';
import * as authorizationCodes from './0250-authorization-codes.js';
import * as metricBlockStats from './0260-metric-block-stats.js';
import * as personalAccessTokens from './0270-personal-access-tokens.js';
import * as managedIdentityPrincipals from './0280-managed-identity-principals.js';
import * as mlflowRegistry from './0150-mlflow-registry.js';
import * as mlflowLoggedModels from './0160-mlflow-logged-models.js';
import * as mlflowArtifactUploads from './0170-mlflow-artifact-uploads.js';
import * as metricBlocks from './0180-metric-blocks.js';
import * as trackingModelInputs from './0190-tracking-model-inputs.js';
import * as modelMetrics from './0195-model-metrics.js';
import * as vaultKeys from './0300-vault-keys.js';
import * as datastoreFolders from './0310-datastore-folders.js';
import * as blobProperties from './0450-blob-properties.js';
import * as environmentBuilds from './0460-environment-builds.js';
import * as environmentLabels from './0470-environment-labels.js';
import * as jobs from './0500-jobs.js';
import * as sweeps from './0550-sweeps.js';
import * as computeNodes from './0400-compute-nodes.js';
import * as deploymentPackages from './0600-deployment-packages.js';
import * as azureModels from './0675-azure-models.js';
import * as v1Images from './0930-v1-images.js';
import * as runDatastoreFiles from './0950-run-datastore-files.js';
import * as metricLogPoints from './0900-metric-log-points.js';
import * as datasetProfiles from './0951-dataset-profiles.js';
import * as runTextMetrics from './0960-run-text-metrics.js';

/**
 * Every migration, by name; Kysely applies them in name order. Each feature owns its own numbered
 * range so features never collide: 0001–0099 core/control plane, 0100–0199 tracking,
 * 0200–0299 identity, 0300–0399 workspace assets, 0400–0449 computes, 0450–0499 code assets, the
 * Blob REST subset, environment builds and labels, 0500–0599 jobs, 0600–0649 online deployments, 0675–0699 the Azure views of the model registry, 0900–0909 the store's write speed (tracking row shapes), 0930–0939 azureml-core's images (Image.create), 0950–0959 azureml-core's data plane (run files in datastores, dataset profiles).
 */
export const migrations: Record<string, Migration> = {
  '0001-core': core,
  '0002-control-plane': controlPlane,
  '0003-global-names': globalNames,
  '0100-tracking': tracking,
  '0150-mlflow-registry': mlflowRegistry,
  '0160-mlflow-logged-models': mlflowLoggedModels,
  '0170-mlflow-artifact-uploads': mlflowArtifactUploads,
  '0180-metric-blocks': metricBlocks,
  '0190-tracking-model-inputs': trackingModelInputs,
  '0195-model-metrics': modelMetrics,
  '0200-identity': identity,
  '0250-authorization-codes': authorizationCodes,
  '0260-metric-block-stats': metricBlockStats,
  '0270-personal-access-tokens': personalAccessTokens,
  '0280-managed-identity-principals': managedIdentityPrincipals,
  '0300-vault-keys': vaultKeys,
  '0310-datastore-folders': datastoreFolders,
  '0450-blob-properties': blobProperties,
  '0460-environment-builds': environmentBuilds,
  '0470-environment-labels': environmentLabels,
  '0500-jobs': jobs,
  '0550-sweeps': sweeps,
  '0400-compute-nodes': computeNodes,
  '0600-deployment-packages': deploymentPackages,
  '0675-azure-models': azureModels,
  '0900-metric-log-points': metricLogPoints,
  '0930-v1-images': v1Images,
  '0950-run-datastore-files': runDatastoreFiles,
  '0951-dataset-profiles': datasetProfiles,
  '0960-run-text-metrics': runTextMetrics,
};
