/** Compute targets in the SDK: `ComputeTarget`, `AmlCompute`, `RayCompute`, `ws.computeTargets()`, `ws.getDefaultComputeTarget()`. */
import { Workspace } from '../workspace/workspace.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { DEFAULT_CPU_CLUSTER_NAME, DEFAULT_GPU_CLUSTER_NAME } from '../constants.js';
import { ComputeTarget } from './compute-target.js';

export {
  ComputeTarget,
  AmlCompute,
  RayCompute,
  computeBody,
  type AmlComputeProvisioningConfiguration,
  type RayAttachConfiguration,
  type ComputeConfiguration,
  type ComputeStatus,
  type ComputeResource,
  type ComputeNode,
  type NodeStateCounts,
  type ComputeWorkspace,
} from './compute-target.js';

declare module '../workspace/workspace.js' {
  interface Workspace {
    /** The workspace's compute targets by name (azureml-core `Workspace.compute_targets`). */
    computeTargets(): Promise<Map<string, ComputeTarget>>;
    /**
     * The default compute of a kind: `cpu-cluster` or `gpu-cluster` (azureml-core
     * `get_default_compute_target`); undefined when the workspace has none (the seed's None).
     */
    getDefaultComputeTarget(type: 'CPU' | 'GPU'): Promise<ComputeTarget | undefined>;
  }
}

Workspace.prototype.computeTargets = async function () {
  return new Map((await ComputeTarget.list(this)).map((t) => [t.name, t]));
};

Workspace.prototype.getDefaultComputeTarget = async function (type) {
  const kind = String(type).toUpperCase();
  if (kind !== 'CPU' && kind !== 'GPU')
    throw new ValidationError(`getDefaultComputeTarget takes 'CPU' or 'GPU', got '${String(type)}'`, {
      target: 'type',
    });
  try {
    return await ComputeTarget.get(this, kind === 'CPU' ? DEFAULT_CPU_CLUSTER_NAME : DEFAULT_GPU_CLUSTER_NAME);
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
};
