import type { AppContext } from '../context.js';
import type { ControlPlaneServices } from '../resources/control-plane.js';
import { resolveWorkspaceById } from '../resources/workspaces.js';
import { COMPUTE_TYPE, ComputeService } from './computes.js';
import { computeType } from './types.js';

export type { ComputeCapacity, ComputeUsage, ComputeUsageSource } from './computes.js';

/**
 * Builds the compute service and plugs it into the control plane: its resource type for the
 * generic ARM router, recovery of creates a crashed server left half-made, the nodes of a deleted
 * workspace's computes forgotten, and idle nodes sent away by the operation sweeper.
 */
export function createComputeServices(ctx: AppContext, cp: ControlPlaneServices): ComputeService {
  const computes = new ComputeService(ctx, cp.resources, cp.operations);
  cp.types.register(computeType(computes));
  cp.operations.onRecover('compute.create', async (_op, journal) => computes.recoverCreate(journal));
  cp.workspaces.onWorkspaceDeleting.push(async (w) => computes.nodes.forget(`${w.id}/computes/`, false));
  // Idle nodes leave on time even when nobody looks at their cluster.
  cp.operations.onSweep(async () => {
    for (const r of await cp.resources.scan({ type: COMPUTE_TYPE, provisioningStates: ['Succeeded'] })) {
      if (r.properties.computeType !== 'AmlCompute') continue;
      const w = await resolveWorkspaceById(ctx, r.parentId!).catch(() => undefined);
      if (w) await computes.reconcile(w, r);
    }
  });
  return computes;
}
