import type { AppContext } from '../context.js';
import type { ResourceGroupService } from './resource-groups.js';
import { ResourceEngine } from './engine.js';
import { OperationService } from '../operations/operations.js';
import { WorkspaceService } from './workspaces.js';

/** The control plane's services, reachable by every feature plugin as `services.*`. */
export interface ControlPlaneServices {
  /** Generic ARM resource storage (child resources of workspaces use it too). */
  resources: ResourceEngine;
  /** Long-running operations (status, heartbeat, crash recovery). */
  operations: OperationService;
  /** Workspaces, their dependents, and the onWorkspaceCreated / onWorkspaceDeleting hooks. */
  workspaces: WorkspaceService;
}

export function createControlPlaneServices(ctx: AppContext, groups: ResourceGroupService): ControlPlaneServices {
  const resources = new ResourceEngine(ctx);
  const operations = new OperationService(ctx);
  const workspaces = new WorkspaceService(ctx, resources, operations);
  groups.deleteHooks.push(async (groupKey) => workspaces.deleteGroupContents(groupKey));
  return { resources, operations, workspaces };
}
