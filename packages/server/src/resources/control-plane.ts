import type { AppContext } from '../context.js';
import { ResourceGroupService } from './resource-groups.js';
import { ResourceEngine } from './engine.js';
import { OperationService } from '../operations/operations.js';
import { WorkspaceService } from './workspaces.js';
import { DeploymentService } from './templates/deployments.js';
import { ResourceTypeRegistry } from './registry.js';
import { registerControlPlaneTypes } from './control-plane-types.js';
import { deploymentType } from './templates/deployment-type.js';

/** The control plane's services, reachable by every module and feature plugin as `services.*`. */
export interface ControlPlaneServices {
  groups: ResourceGroupService;
  /** Every ARM resource type served (modules register theirs); the generic ARM router serves them. */
  types: ResourceTypeRegistry;
  /** Generic ARM resource storage (child resources of workspaces use it too). */
  resources: ResourceEngine;
  /** Long-running operations (status, heartbeat, crash recovery). */
  operations: OperationService;
  /** Workspaces, their dependents, and the onWorkspaceCreated / onWorkspaceDeleting hooks. */
  workspaces: WorkspaceService;
  /** ARM template deployments (Microsoft.Resources/deployments). */
  deployments: DeploymentService;
}

export function createControlPlaneServices(ctx: AppContext): ControlPlaneServices {
  const groups = new ResourceGroupService(ctx);
  const resources = new ResourceEngine(ctx);
  const operations = new OperationService(ctx);
  const workspaces = new WorkspaceService(ctx, resources, operations);
  const types = new ResourceTypeRegistry();
  registerControlPlaneTypes(ctx, types, resources, groups, workspaces);
  workspaces.dependents.types = types;
  groups.deleteHooks.push(async (groupKey) => workspaces.deleteGroupContents(groupKey));
  const deployments = new DeploymentService(ctx, { groups, types, resources, operations, workspaces });
  types.register(deploymentType(deployments, resources, operations));
  return { groups, types, resources, operations, workspaces, deployments };
}
