import path from 'node:path';
import type { AppContext } from '../context.js';
import type { ControlPlaneServices } from '../resources/control-plane.js';
import type { TrackingServices } from '../tracking/services.js';
import { OnlineEndpointService, DEPLOYMENT_TYPE, ENDPOINT_TYPE } from './online-endpoints.js';
import { OnlineDeploymentService } from './online-deployments.js';
import { ModelSource } from './model-source.js';
import { ServingRuntimes } from './serving.js';
import { LocalEngine } from './engines/local/local-engine.js';
import { registerDeploymentTypes } from './types.js';
import { DeploymentPackages } from './packages.js';
import { RayServeEngine } from './engines/ray-serve/ray-serve-engine.js';
import { WORKER_PY } from './engines/local/worker-source.js';

/** Online endpoints and deployments, and the deployments running in this process. */
export interface DeploymentServices {
  endpoints: OnlineEndpointService;
  deployments: OnlineDeploymentService;
  runtimes: ServingRuntimes;
  /** Records of what each provisioning assembled (with environment builds, the workspace's images). */
  packages: DeploymentPackages;
  /** The registry's model files as local folders (cached), as deployments and v1 packages read them. */
  models: ModelSource;
}

/**
 * Builds the deployments module: endpoints and deployments as resource types of the registry,
 * models read from the one registry (tracking), instances run by the local engine, or by Ray Serve
 * on the cluster of an endpoint's attached Ray compute (one engine per cluster). A deleted
 * workspace stops its deployments' instances; `ctx.onClose` stops every instance.
 */
export function createDeploymentServices(
  ctx: AppContext,
  cp: ControlPlaneServices,
  tracking: TrackingServices,
): DeploymentServices {
  const servingDir = path.join(ctx.config.home, 'serving');
  const runtimes = new ServingRuntimes();
  const endpoints = new OnlineEndpointService(ctx, cp.resources, runtimes);
  const packages = new DeploymentPackages(ctx);
  const models = new ModelSource(path.join(servingDir, 'models'), tracking.registry, tracking.artifacts);
  const deployments = new OnlineDeploymentService(
    ctx,
    cp.resources,
    cp.operations,
    endpoints,
    models,
    runtimes,
    new LocalEngine(servingDir),
    ctx.config.servingPython,
    packages,
  );
  const rayEngines = new Map<string, RayServeEngine>();
  deployments.rayServe = (dashboardUrl) => {
    let e = rayEngines.get(dashboardUrl);
    if (!e) {
      e = new RayServeEngine({
        dashboardUrl,
        workerSource: WORKER_PY,
        httpPort: ctx.config.rayServePort,
        tmpDir: path.join(servingDir, 'tmp'),
      });
      rayEngines.set(dashboardUrl, e);
    }
    return e;
  };
  registerDeploymentTypes(cp.types, { endpoints, deployments });
  cp.workspaces.onWorkspaceDeleting.push(async (ws) => {
    const eps = await cp.resources.list({ type: ENDPOINT_TYPE, parentId: ws.id, top: 100_000 });
    for (const ep of eps.value) {
      const ds = await cp.resources.list({ type: DEPLOYMENT_TYPE, parentId: ep.id, top: 100_000 });
      for (const d of ds.value) await runtimes.remove(d.id);
      await endpoints.keys.forget(ep.id);
    }
    await packages.forgetWorkspace(ws);
  });
  ctx.onClose.push(() => runtimes.stopAll());
  return { endpoints, deployments, runtimes, packages, models };
}
