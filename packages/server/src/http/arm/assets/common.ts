import type { FastifyRequest } from 'fastify';
import * as C from '@atelier/contracts';
import type { AppContext } from '../../../context.js';
import type { Action } from '../../../identity/rbac.js';
import { resolveWorkspace, type WorkspaceInfo } from '../../../resources/workspaces.js';
import { resourceId } from '../../../resources/resource-ids.js';
import { InvalidInput, NotFound } from '../../../errors.js';

/** `W`: the ARM id of a workspace, as a route prefix. */
export const W =
  '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.MachineLearningServices/workspaces/:workspaceName';

export const WParams = C.WorkspaceParams;
export const WNameParams = C.WorkspaceChildParams;
export const WVersionParams = C.WorkspaceVersionParams;
export type WParamsT = C.WorkspaceParams;

/**
 * The workspace of a request under W, once the caller is allowed `action` on it. A caller without
 * any role on the workspace gets 404, as if it did not exist.
 */
export async function workspaceFor(ctx: AppContext, req: FastifyRequest, action: Action): Promise<WorkspaceInfo> {
  const p = req.params as WParamsT;
  const id = resourceId(
    p.subscriptionId,
    p.resourceGroupName,
    'Microsoft.MachineLearningServices/workspaces',
    p.workspaceName,
  );
  const missing = `workspace '${p.workspaceName}' could not be found in resource group '${p.resourceGroupName}'`;
  await ctx.access.require(req.principal.id, id, action, missing);
  const ws = await resolveWorkspace(ctx, p.subscriptionId, p.resourceGroupName, p.workspaceName);
  if (ws.provisioningState === 'Deleting' || ws.provisioningState === 'Creating') {
    throw new NotFound(`workspace '${ws.name}' is ${ws.provisioningState.toLowerCase()}; try again when it is ready`, {
      code: 'WORKSPACE_NOT_FOUND',
    });
  }
  return ws;
}

/** Parses an optional boolean query parameter ('true'/'false'). */
export function boolQuery(req: FastifyRequest, name: string): boolean | undefined {
  const v = (req.query as Record<string, string | undefined>)[name];
  if (v === undefined || v === '') return undefined;
  if (/^true$/i.test(v)) return true;
  if (/^false$/i.test(v)) return false;
  throw new InvalidInput(`query parameter ${name} must be true or false, got '${v}'`, {
    code: 'INVALID_QUERY_PARAMETER',
    target: name,
  });
}
