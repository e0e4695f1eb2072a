import { Type } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import { workspaceOf, type ResourceTypeDeclaration, type ResourceTypeRegistry } from '../resources/registry.js';
import { WORKSPACE } from '../resources/workspaces.js';
import { endpointDefinition, type OnlineEndpointService } from './online-endpoints.js';
import { deploymentDefinition, type OnlineDeploymentService } from './online-deployments.js';

const Name = Type.String({ maxLength: 32 });
/** Deploying is a data scientist's work (assets/write); keys and tokens need secrets/read. */
const ACCESS = {
  read: 'control/read',
  write: 'assets/write',
  delete: 'assets/write',
  secrets: 'secrets/read',
} as const;

const ws = workspaceOf;

function endpointType(endpoints: OnlineEndpointService): ResourceTypeDeclaration {
  return {
    ...endpointDefinition,
    parent: WORKSPACE,
    param: 'name',
    nameSchema: Name,
    label: 'online endpoint',
    tag: 'Online endpoints',
    access: ACCESS,
    schema: {
      put: C.OnlineEndpointBody,
      patch: C.OnlineEndpointPatch,
      one: C.OnlineEndpoint,
      list: C.OnlineEndpointList,
    },
    summaries: {
      put: 'Create or update an online endpoint (authMode, traffic, mirrorTraffic)',
      get: 'An online endpoint with its scoringUri',
      list: 'The online endpoints of a workspace',
      patch: 'Change the traffic, mirror traffic, description or tags of an online endpoint',
      delete: 'Delete an online endpoint with its deployments',
    },
    handlers: {
      list: (scope, page) =>
        endpoints.list(ws(scope), { after: page.after, top: page.top, name: page.query.name || undefined }),
      get: (scope, name) => endpoints.get(ws(scope), name),
      put: (scope, name, body, by) => endpoints.put(ws(scope), name, body, by),
      patch: (scope, r, body, by) => endpoints.patch(ws(scope), r, body, by),
      delete: (scope, name) => endpoints.delete(ws(scope), name),
      toBody: (r, { scope }) => endpoints.toBody(ws(scope), r),
    },
    actions: [
      {
        name: 'listKeys',
        access: ['secrets/read'],
        response: C.EndpointKeys,
        summary: 'The keys of a Key endpoint',
        run: (_scope, _name, _body, _by, r) => endpoints.listKeys(r!),
      },
      {
        name: 'regenerateKeys',
        access: ['assets/write', 'secrets/read'],
        body: C.RegenerateEndpointKeysBody,
        response: Type.Object({}),
        summary: 'Replace the primary or secondary key of a Key endpoint',
        run: async (scope, _name, body, _by, r) => {
          await endpoints.regenerateKeys(ws(scope), r!, body);
          return {};
        },
      },
      {
        name: 'token',
        access: ['secrets/read'],
        response: C.EndpointAuthToken,
        summary: 'A bearer token for the scoring URI of an AMLToken endpoint',
        run: (_scope, _name, _body, _by, r) => endpoints.token(r!),
      },
    ],
  };
}

function deploymentType(deployments: OnlineDeploymentService): ResourceTypeDeclaration {
  return {
    ...deploymentDefinition,
    parent: endpointDefinition.type,
    param: 'deploymentName',
    nameSchema: Name,
    label: 'online deployment',
    tag: 'Online endpoints',
    access: ACCESS,
    longRunning: true,
    schema: {
      put: C.OnlineDeploymentBody,
      patch: C.OnlineDeploymentPatch,
      one: C.OnlineDeployment,
      list: C.OnlineDeploymentList,
    },
    summaries: {
      put: 'Create or update a deployment: its instances start in a long-running operation',
      get: 'A deployment of an online endpoint',
      list: 'The deployments of an online endpoint',
      patch: 'Change the tags or sku.capacity of a deployment',
      delete: 'Delete a deployment (its traffic must be 0) and stop its instances',
    },
    handlers: {
      list: (scope, page) => deployments.list(ws(scope), scope.parents[0]!, { after: page.after, top: page.top }),
      get: (scope, name) => deployments.get(ws(scope), scope.parents[0]!, name),
      put: (scope, name, body, by) => deployments.put(ws(scope), scope.parents[0]!, name, body, by),
      patch: (scope, r, body, by) => deployments.patch(ws(scope), r, body, by),
      delete: (scope, name) => deployments.delete(ws(scope), scope.parents[0]!, name),
      toBody: (r) => deployments.toBody(r),
    },
    actions: [
      {
        name: 'getLogs',
        access: ['control/read'],
        body: C.DeploymentLogsBody,
        response: C.DeploymentLogs,
        summary: 'The last lines of the log of a deployment’s instances',
        run: (_scope, _name, body, _by, r) => deployments.getLogs(r!, body),
      },
    ],
  };
}

/** The deployments module's resource types, registered from deployments/services.ts. */
export function registerDeploymentTypes(
  registry: ResourceTypeRegistry,
  s: { endpoints: OnlineEndpointService; deployments: OnlineDeploymentService },
): void {
  registry.register(endpointType(s.endpoints));
  registry.register(deploymentType(s.deployments));
}
