import * as C from '@atelier/contracts';
import { Conflict, NotFound, NotImplemented, type RecordedError } from '../../errors.js';
import type { OperationService } from '../../operations/operations.js';
import { groupId } from '../arm-ids.js';
import type { ResourceEngine, StoredResource } from '../engine.js';
import type { ErrorWords, ResourceScope, ResourceTypeDeclaration } from '../registry.js';
import { DEPLOYMENT, deploymentDef, type DeploymentBody, type DeploymentService } from './deployments.js';

const SUB_MESSAGE =
  'subscription-level template deployments (PUT /subscriptions/{id}/providers/Microsoft.Resources/deployments/{name}) are not served; ' +
  'deploy to a resource group (…/resourcegroups/{group}/providers/Microsoft.Resources/deployments/{name}), where a nested deployment may still create resource groups.';

/** A deployment's ARM body, its recorded error (`properties.error`) in the edge's words. */
function deploymentBody(
  deployments: DeploymentService,
  r: StoredResource,
  errors: ErrorWords,
): Record<string, unknown> {
  const body = deployments.toArm(r);
  const p = body.properties as Record<string, unknown>;
  if (p.error) p.error = errors.body(p.error as RecordedError);
  return body;
}

/** A deployment's per-resource operations; a failed one gets the status of its error's kind. */
function deploymentOperations(
  deployments: DeploymentService,
  r: StoredResource,
  errors: ErrorWords,
): Record<string, unknown>[] {
  return deployments.operations(r).map((o) => {
    const p = o.properties as { statusCode?: string; statusMessage?: { status: string; error?: unknown } };
    const error = p.statusMessage?.error as RecordedError | undefined;
    if (error) {
      // 'Failed' is what the domain records; records from before domain codes hold the status already
      if (p.statusCode === 'Failed') p.statusCode = errors.operationStatusCode(error);
      p.statusMessage = { ...p.statusMessage!, error: errors.body(error) };
    }
    return o;
  });
}

/**
 * ARM template deployments (`Microsoft.Resources/deployments`) as a registry type: in a resource
 * group PUT (LRO: 201 + Azure-AsyncOperation at `{id}/operationStatuses/{operation}`), GET, list,
 * DELETE of the record (its resources stay; 409 while it runs), the `validate` action and the
 * `operations` and `operationStatuses/{id}` views; also reachable without `providers/Microsoft.Resources`
 * (older api-versions). At subscription level none are stored: the list is empty, a delete finds
 * nothing, anything else answers 501 with what to do. The template itself is evaluated by the
 * deployment service (resources/templates), which makes each resource through its type's `template`.
 */
export function deploymentType(
  deployments: DeploymentService,
  resources: ResourceEngine,
  operations: OperationService,
): ResourceTypeDeclaration {
  const notFound = (scope: ResourceScope, name: string) =>
    `deployment '${name}' could not be found in resource group '${scope.resourceGroup}'`;
  /** The deployment's id; a subscription-level one is refused (501). */
  const idOf = (scope: ResourceScope, name: string) => {
    if (!scope.resourceGroup) throw new NotImplemented(SUB_MESSAGE, { code: 'NOT_IMPLEMENTED' });
    return deployments.id(scope.subscriptionId, scope.resourceGroup, name);
  };
  const load = (scope: ResourceScope, name: string) =>
    resources.require(idOf(scope, name), notFound(scope, name), 'DEPLOYMENT_NOT_FOUND');
  return {
    ...deploymentDef,
    placement: ['resourceGroup', 'subscription'],
    paths: [`providers/${DEPLOYMENT}`, 'deployments'],
    param: 'deploymentName',
    label: 'deployment',
    tag: 'Template deployments',
    access: { read: 'control/read', write: 'control/write', delete: 'control/write' },
    longRunning: true,
    template: 'deployments',
    lists: { group: true },
    schema: { put: C.DeploymentBody, one: C.Deployment, list: C.DeploymentList },
    summaries: {
      put: 'Deploy an ARM template to a resource group (LRO: 201 + Azure-AsyncOperation)',
      get: 'Get a template deployment',
      delete: 'Delete the record of a template deployment (its resources stay)',
      listGroup: 'List the template deployments of a resource group (paged)',
      list: 'Subscription-level deployments (none are stored: always empty)',
    },
    handlers: {
      list: async (scope, page) => {
        if (!scope.resourceGroup) return { value: [], hasMore: false };
        return resources.list({
          type: DEPLOYMENT,
          subscriptionId: scope.subscriptionId,
          groupKey: groupId(scope.subscriptionId, scope.resourceGroup).toLowerCase(),
          after: page.after,
          top: page.top,
          visible: page.visible,
        });
      },
      get: (scope, name) => load(scope, name),
      put: async (scope, name, body, by) => {
        idOf(scope, name);
        const { resource, operation, created } = await deployments.put(
          scope.subscriptionId,
          scope.resourceGroup,
          name,
          body as unknown as DeploymentBody,
          by,
        );
        return { resource, operation, created };
      },
      statusPath: (r, op) => `${r.id}/operationStatuses/${op.id}`,
      delete: async (scope, name) => {
        if (!scope.resourceGroup) return false;
        const id = idOf(scope, name);
        const r = await resources.get(id);
        if (!r) return false;
        if (['Accepted', 'Running'].includes(String(r.properties.provisioningState)))
          throw new Conflict(`deployment '${r.name}' is still running; wait for it to end`, {
            code: 'DEPLOYMENT_ACTIVE',
          });
        return resources.delete(id);
      },
      toBody: (r, { errors }) => deploymentBody(deployments, r, errors),
    },
    actions: [
      {
        name: 'validate',
        access: ['control/write'],
        loads: false,
        body: C.DeploymentBody,
        response: C.Deployment,
        summary: 'Check a template deployment without deploying it',
        run: async (scope, name, body) => {
          const id = idOf(scope, name);
          const { run, plan } = await deployments.preflight(
            scope.subscriptionId,
            scope.resourceGroup,
            name,
            body as unknown as DeploymentBody,
          );
          return {
            id,
            name,
            type: DEPLOYMENT,
            properties: {
              provisioningState: 'Succeeded',
              mode: 'Incremental',
              parameters: run.reportedParameters(),
              validatedResources: plan.map((r) => ({ id: r.id })),
            },
          };
        },
      },
    ],
    views: [
      {
        path: 'operations',
        access: 'control/read',
        response: C.DeploymentOperationList,
        summary: 'The per-resource operations of a template deployment',
        run: async (_scope, r, _params, _by, req) => ({ value: deploymentOperations(deployments, r, req.errors) }),
      },
      {
        path: 'operationStatuses/:operationId',
        access: 'control/read',
        response: C.DeploymentOperationStatus,
        summary: 'Status of a template deployment (its Azure-AsyncOperation URL)',
        run: async (_scope, r, params, _by, req) => {
          const op = await operations.get(params.operationId!);
          if (!op || op.resourceId.toLowerCase() !== r.id.toLowerCase())
            throw new NotFound(`operation '${params.operationId}' could not be found`, {
              code: 'OPERATION_NOT_FOUND',
            });
          const body: Record<string, unknown> = { status: op.status === 'InProgress' ? 'Running' : op.status };
          if (op.error) body.error = req.errors.body((r.properties.error as RecordedError | undefined) ?? op.error);
          return body;
        },
      },
    ],
  };
}
