import type { AppContext } from './context.js';
import { createControlPlaneServices, type ControlPlaneServices } from './resources/control-plane.js';
import { createTrackingServices, type TrackingServices } from './tracking/services.js';
import { createAssetServices, type AssetServices } from './assets/services.js';
import { createIdentityServices, type IdentityServices } from './identity/services.js';
import { createDeploymentServices, type DeploymentServices } from './deployments/services.js';
import { createJobServices, type JobServices } from './jobs/services.js';
import { createCodeServices, type CodeServices } from './codes/services.js';
import { createEnvironmentBuildServices } from './environment-builds/services.js';
import type { EnvironmentBuildService } from './environment-builds/environment-builds.js';
import { createComputeServices } from './compute/services.js';
import type { ComputeService } from './compute/computes.js';
import { RunHistoryService } from './run-history/run-history.js';
import { createModelServices, type ModelServices } from './models/services.js';
import { V1ArtifactService } from './v1-artifacts/artifacts.js';
import { RunDatastoreFiles } from './v1-artifacts/datastore-files.js';
import { DatasetProfiles } from './v1-datasets/profiles.js';
import { V1EnvironmentService } from './v1-environments/environments.js';
import { EnvironmentLabels } from './v1-environments/labels.js';
import { V1DatasetService } from './v1-datasets/datasets.js';
import { createNetworkServices, type NetworkServices } from './network/services.js';
import { V1WebserviceDeployer } from './v1-webservices/deploy.js';
import { V1Images } from './v1-webservices/images.js';
import { V1ImagePackages } from './v1-webservices/image-packages.js';
import { V1ModelPackages } from './v1-webservices/model-packages.js';
import { V1Webservices } from './v1-webservices/webservices.js';
import { createV1ExecutionServices, type V1ExecutionServices } from './v1-execution/services.js';

/**
 * Every service of the server, made once per process from the context (config + database + keys).
 * HTTP plugins, a job worker and tests take them from here; none makes its own.
 */
export interface Services extends ControlPlaneServices {
  tracking: TrackingServices;
  assets: AssetServices;
  identity: IdentityServices;
  /** Online endpoints and deployments (`services.deployments` are ARM template deployments). */
  serving: DeploymentServices;
  jobs: JobServices;
  /** Code assets `W/codes` and the Blob REST subset (`blobs`) their uploads use. */
  codes: CodeServices;
  /** Python environments built from workspace environments, cached by spec hash (build records = images). */
  environmentBuilds: EnvironmentBuildService;
  /** Compute targets: capacity() for schedulers, setUsageSource() for the jobs module. */
  computes: ComputeService;
  /** azureml-core's v1 view (run history) of the tracking store. */
  runHistory: RunHistoryService;
  /** The Azure views (azureml-core's model management, ARM `W/models`) of the one model registry. */
  models: ModelServices;
  /** azureml-core's artifact service (run files = the MLflow run's artifacts). */
  v1Artifacts: V1ArtifactService;
  /** azureml-core's environment service over the workspace's environment versions. */
  v1Environments: V1EnvironmentService;
  /** azureml-core's dataset list over the workspace's data assets. */
  v1Datasets: V1DatasetService;
  datasetProfiles: DatasetProfiles;
  /** Virtual networks and subnets (private endpoints' ranges), private DNS zones and their links. */
  network: NetworkServices;
  /** azureml-core's Model.deploy / service.update over online endpoints and deployments. */
  v1Webservices: V1WebserviceDeployer;
  /** azureml-core's images: the build records of environments and deployment packages (read-only). */
  v1Images: V1Images;
  /** azureml-core's Image.create: packages of model + code + environment, built by uv (deploy_from_image serves them). */
  v1ImagePackages: V1ImagePackages;
  /** azureml-core's Model.package: Docker build contexts, and image packages through v1ImagePackages. */
  v1ModelPackages: V1ModelPackages;
  /** azureml-core's webservice view of the online endpoints (read, JSON-Patch traffic/replicas, logs). */
  v1WebserviceViews: V1Webservices;
  /** azureml-core's Experiment.submit(ScriptRunConfig): snapshots as code assets, runs as command jobs. */
  v1Execution: V1ExecutionServices;
}

/**
 * The composition root. Each module builds its services from what the modules before it made and
 * registers its own hooks (workspace created/deleting, key vault deleted, operation recovery) on
 * them; nothing here knows of HTTP. Order: control plane, then the modules that extend it.
 */
export function createServices(ctx: AppContext): Services {
  const controlPlane = createControlPlaneServices(ctx);
  const tracking = createTrackingServices(ctx, controlPlane);
  const assets = createAssetServices(ctx, controlPlane);
  const network = createNetworkServices(ctx, controlPlane, assets);
  const identity = createIdentityServices(ctx, controlPlane);
  const codes = createCodeServices(ctx, controlPlane, assets);
  const serving = createDeploymentServices(ctx, controlPlane, tracking);
  const computes = createComputeServices(ctx, controlPlane);
  const jobs = createJobServices(ctx, controlPlane, tracking, assets);
  const environmentBuilds = createEnvironmentBuildServices(ctx, assets);
  // Jobs run in built environments, from code snapshots.
  jobs.ports.environmentBuilds = environmentBuilds;
  jobs.ports.codes = codes.codes;
  jobs.ports.computes = computes;
  // Computes show the nodes their jobs use (currentNodeCount, nodeStateCounts, allocationState).
  computes.setUsageSource(jobs.scheduler);
  // What deployments' scoring scripts come from.
  serving.deployments.codes = codes.codes;
  // …and the Python they run in (an environmentId, or an MLflow model's own requirements).
  serving.deployments.environments = environmentBuilds;
  // …and the attached Ray clusters endpoints may run their deployments on (Ray Serve).
  serving.endpoints.computes = computes;
  // …and a compute is not deleted under an endpoint that serves on it.
  computes.users.push((tx, computeId) => serving.endpoints.onCompute(tx, computeId));
  // An environment or code version a queued or running job or a deployment names is not deleted;
  // those write holding the versions they name.
  jobs.jobs.versions.codes = codes.codes.versions;
  serving.deployments.versions = { environments: assets.environments, codes: codes.codes.versions };
  // …and a model version a deployment (or an azureml-core webservice, made of deployments) serves
  // is not deleted, nor its model; a deployment is written holding the versions it serves.
  tracking.registry.versionUsers.push((tx, ws, name, versions) =>
    serving.deployments.usingModel(tx, ws.workspaceId, name, versions),
  );
  for (const versions of [assets.environments, codes.codes.versions])
    versions.users.push(
      (tx, ws, key) => jobs.jobs.usingVersion(tx, ws, key),
      (tx, ws, key) => serving.deployments.usingVersion(tx, ws, key),
    );
  const runHistory = new RunHistoryService(tracking, ctx.database);
  controlPlane.workspaces.onWorkspaceDeleting.push(async (w) => runHistory.forgetWorkspace(w));
  // Experiment.delete takes the experiment's (ended) jobs with it.
  runHistory.jobs = { delete: (ws, name) => jobs.jobs.delete(ws, name) };
  const models = createModelServices(ctx, controlPlane, tracking, assets, runHistory);
  // Run files azureml-core uploads into a datastore are files of the run's artifact tree (one store).
  const runDatastoreFiles = new RunDatastoreFiles(ctx, assets.datastores);
  tracking.artifacts.linked = runDatastoreFiles;
  controlPlane.workspaces.onWorkspaceDeleting.push(async (w) => runDatastoreFiles.forgetWorkspace(w));
  const v1Artifacts = new V1ArtifactService(
    ctx,
    tracking.artifacts,
    runHistory,
    (id) => controlPlane.workspaces.dependents.storageKeys(id),
    runDatastoreFiles,
  );
  // Model.register's uploaded files (origin LocalUpload) are found through the artifact service.
  models.models.artifactLocator = (ws, origin, container, path) => v1Artifacts.locate(ws, origin, container, path);
  const environmentLabels = new EnvironmentLabels(ctx);
  controlPlane.workspaces.onWorkspaceDeleting.push(async (w) => environmentLabels.forgetWorkspace(w));
  const v1Environments = new V1EnvironmentService(
    assets.environments,
    environmentBuilds,
    controlPlane.operations,
    environmentLabels,
    computes,
    assets.datastores,
  );
  const v1Datasets = new V1DatasetService(assets.data);
  // Dataset profiles: computed by the server from the datasets' files, kept as files of completed runs.
  const datasetProfiles = new DatasetProfiles(ctx, v1Datasets, assets.datastores, runHistory, v1Artifacts, (ws, name) =>
    computes.get(ws, name),
  );
  controlPlane.workspaces.onWorkspaceDeleting.push(async (w) => datasetProfiles.forgetWorkspace(w));
  const v1Webservices = new V1WebserviceDeployer(
    ctx,
    serving,
    models.models,
    v1Artifacts,
    v1Environments,
    assets.environments,
    codes.codes,
    controlPlane.operations,
  );
  const v1ImagePackages = new V1ImagePackages(
    ctx,
    v1Webservices,
    serving,
    models.models,
    v1Artifacts,
    environmentBuilds,
    codes.codes,
    controlPlane.operations,
  );
  controlPlane.workspaces.onWorkspaceDeleting.push(async (w) => v1ImagePackages.forgetWorkspace(w));
  // Webservice.deploy_from_image serves an image Image.create made.
  v1Webservices.imageSource = (ws, id) => v1ImagePackages.deploymentProps(ws, id);
  const v1ModelPackages = new V1ModelPackages(
    v1Webservices,
    v1ImagePackages,
    serving.models,
    v1Artifacts,
    controlPlane.operations,
  );
  const v1Images = new V1Images(ctx, environmentBuilds, serving.packages, v1ImagePackages);
  const v1WebserviceViews = new V1Webservices(serving, models.models, v1Images, v1Environments);
  const v1Execution = createV1ExecutionServices(ctx, controlPlane, assets, codes, jobs, v1Environments, runHistory);
  return {
    ...controlPlane,
    tracking,
    assets,
    identity,
    codes,
    environmentBuilds,
    serving,
    computes,
    jobs,
    runHistory,
    models,
    v1Artifacts,
    v1Environments,
    v1Datasets,
    datasetProfiles,
    network,
    v1Webservices,
    v1Images,
    v1ImagePackages,
    v1ModelPackages,
    v1WebserviceViews,
    v1Execution,
  };
}
