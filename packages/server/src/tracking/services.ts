import type { AppContext } from '../context.js';
import type { ControlPlaneServices } from '../resources/control-plane.js';
import { ExperimentService } from './experiments/experiments.js';
import { RunService } from './runs/runs.js';
import { MetricService } from './metrics/metrics.js';
import { ArtifactService } from './artifacts/artifacts.js';
import { TrackingExperimentLookup } from './logged-models/logged-models-experiments.js';
import { LoggedModelService } from './logged-models/logged-models.js';
import { RegistryService } from './registry/registry.js';
import { deleteWorkspaceTracking } from './cleanup.js';

/** The tracking module's services (MLflow semantics), keyed by workspace GUID. */
export interface TrackingServices {
  experiments: ExperimentService;
  runs: RunService;
  metrics: MetricService;
  artifacts: ArtifactService;
  /** Experiments and runs as logged models read them. */
  experimentLookup: TrackingExperimentLookup;
  loggedModels: LoggedModelService;
  registry: RegistryService;
}

/** Builds the tracking services; a deleted workspace takes its tracking data, registry, logged models, unfinished uploads and artifacts with it. */
export function createTrackingServices(ctx: AppContext, controlPlane: ControlPlaneServices): TrackingServices {
  const experiments = new ExperimentService(ctx.database);
  const runs = new RunService(ctx.database, experiments, (e) =>
    ctx.log.warn({ err: e }, 'refreshing tracking table statistics failed'),
  );
  ctx.onClose.push(() => runs.idle());
  const artifacts = new ArtifactService(ctx);
  const experimentLookup = new TrackingExperimentLookup(ctx, experiments);
  const loggedModels = new LoggedModelService(ctx, experimentLookup, artifacts);
  const registry = new RegistryService(ctx, loggedModels);
  const s: TrackingServices = {
    experiments,
    runs,
    metrics: new MetricService(ctx.database),
    artifacts,
    experimentLookup,
    loggedModels,
    registry,
  };

  controlPlane.workspaces.onWorkspaceDeleting.push(async (ws) => {
    if (!ws.workspaceId) return;
    await deleteWorkspaceTracking(ctx.database, ws.workspaceId);
    await registry.deleteWorkspace(ws.workspaceId);
    await loggedModels.deleteWorkspace(ws.workspaceId);
    await artifacts.deleteWorkspaceArtifacts({
      workspaceId: ws.workspaceId,
      storageAccountId: ws.storageAccountId ?? null,
    });
  });
  return s;
}
