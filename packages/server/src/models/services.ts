import type { AppContext } from '../context.js';
import type { ControlPlaneServices } from '../resources/control-plane.js';
import type { TrackingServices } from '../tracking/services.js';
import type { RunHistoryService } from '../run-history/run-history.js';
import { AzureModelService } from './azure-models.js';

/** The Azure views of the one model registry (azureml-core's model management, ARM `W/models`). */
export interface ModelServices {
  models: AzureModelService;
}

export function createModelServices(
  ctx: AppContext,
  cp: ControlPlaneServices,
  tracking: TrackingServices,
  runHistory: RunHistoryService,
): ModelServices {
  const models = new AzureModelService(ctx, tracking.registry, runHistory);
  cp.workspaces.onWorkspaceDeleting.push(async (ws) => {
    if (ws.workspaceId) await models.deleteWorkspace(ws.workspaceId);
  });
  return { models };
}
