import { Type } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import {
  workspaceOf,
  listsArchived,
  queryFlag,
  type ResourceAction,
  type ResourceTypeDeclaration,
  type ResourceTypeRegistry,
} from '../resources/registry.js';
import { WORKSPACE, type WorkspaceService } from '../resources/workspaces.js';
import type { OperationService } from '../operations/operations.js';
import { NotFound } from '../errors.js';
import type { WorkspaceDiagnostics } from './diagnostics.js';
import { linkedServiceDefinition, type LinkedServiceService } from './linked-services.js';
import { datastoreDefinition, type DatastoreService } from './datastores.js';
import { connectionDefinition, type ConnectionService } from './connections.js';
import { peConnectionDefinition, privateEndpointDefinition, type PrivateEndpointService } from './private-endpoints.js';
import type { VersionedAssetService } from './versioned-assets.js';

const AssetName = Type.String({ maxLength: 260 });
const ASSETS = { read: 'control/read', write: 'assets/write', delete: 'assets/write' } as const;

/** The workspace a child type's request reached (the router resolves it). */
const ws = workspaceOf;

function datastoreType(datastores: DatastoreService): ResourceTypeDeclaration {
  return {
    ...datastoreDefinition,
    parent: WORKSPACE,
    param: 'name',
    nameSchema: AssetName,
    label: 'datastore',
    tag: 'Datastores',
    access: ASSETS,
    schema: { put: C.DatastoreBody, one: C.Datastore, list: C.DatastoreList },
    handlers: {
      list: (scope, page) => {
        const names = page.query.names
          ? page.query.names
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : undefined;
        return datastores.list(ws(scope), {
          after: page.after,
          top: page.top,
          isDefault: queryFlag(page.query, 'isDefault'),
          names,
        });
      },
      get: (scope, name) => datastores.get(ws(scope), name),
      put: (scope, name, body, by, pre) => datastores.put(ws(scope), name, body, by, pre.ifMatch),
      delete: (scope, name) => datastores.delete(ws(scope), name),
      toBody: (r) => datastores.toBody(r),
    },
    actions: [
      {
        name: 'listSecrets',
        access: ['secrets/read'],
        response: C.DatastoreSecrets,
        loads: false,
        run: (scope, name, body) =>
          datastores.listSecrets(ws(scope), name, { expirable: body?.expirableSecret === true }),
      },
    ],
  };
}

function connectionType(connections: ConnectionService): ResourceTypeDeclaration {
  return {
    ...connectionDefinition,
    parent: WORKSPACE,
    param: 'name',
    nameSchema: AssetName,
    label: 'connection',
    tag: 'Connections',
    access: ASSETS,
    // Azure answers 200 for a new connection too (WorkspaceConnections_Create has no 201); its SDKs insist.
    createdStatus: 200,
    // azureml-core's list_connections() speaks 2020-01-01, when the list was a bare array.
    bareListBefore: '2020-06-01',
    schema: { put: C.ConnectionBody, one: C.Connection, list: C.ConnectionList },
    handlers: {
      list: (scope, page) =>
        connections.list(ws(scope), {
          after: page.after,
          top: page.top,
          category: page.query.category || undefined,
          target: page.query.target || undefined,
        }),
      get: (scope, name) => connections.get(ws(scope), name),
      put: (scope, name, body, by) => connections.put(ws(scope), name, body, by),
      delete: (scope, name) => connections.delete(ws(scope), name),
      toBody: (r, { scope }) => connections.toBody(ws(scope), r),
    },
    template: connections.template,
    actions: [
      {
        name: 'listsecrets',
        access: ['secrets/read'],
        response: C.Connection,
        loads: false,
        run: async (scope, name) => connections.toBody(ws(scope), await connections.get(ws(scope), name), true),
      },
    ],
  };
}

const archived = listsArchived;

/** A versioned asset kind (data, environments): its containers and their immutable versions. */
function versionedTypes(svc: VersionedAssetService, tag: string): ResourceTypeDeclaration[] {
  const Version = svc.kind.segment === 'data' ? C.DataVersion : C.EnvironmentVersion;
  const container: ResourceTypeDeclaration = {
    ...svc.def.container,
    parent: WORKSPACE,
    param: 'name',
    nameSchema: AssetName,
    label: svc.kind.label,
    tag,
    access: ASSETS,
    schema: { put: C.AssetBody, one: C.AssetContainer, list: C.Paged(C.AssetContainer) },
    handlers: {
      list: (scope, page) =>
        svc.listContainers(ws(scope), { after: page.after, top: page.top, includeArchived: archived(page.query) }),
      get: (scope, name) => svc.getContainer(ws(scope), name),
      put: (scope, name, b, by) => svc.putContainer(ws(scope), name, b, by),
      delete: (scope, name) => svc.deleteContainer(ws(scope), name),
      toBody: (r) => svc.toBody(r),
    },
  };
  const version: ResourceTypeDeclaration = {
    ...svc.def.version,
    parent: svc.kind.containerType,
    param: 'version',
    nameSchema: Type.String({ maxLength: 100 }),
    label: `${svc.kind.label} version`,
    tag,
    access: ASSETS,
    schema: { put: C.AssetBody, one: Version, list: C.Paged(Version) },
    handlers: {
      list: (scope, page) =>
        svc.listVersions(ws(scope), scope.parents[0]!, {
          after: page.after,
          top: page.top,
          includeArchived: archived(page.query),
          orderBy: page.query.$orderBy ?? page.query.$orderby,
        }),
      get: (scope, v) => svc.getVersion(ws(scope), scope.parents[0]!, v),
      put: (scope, v, b, by) => svc.putVersion(ws(scope), scope.parents[0]!, v, b, by),
      delete: (scope, v) => svc.deleteVersion(ws(scope), scope.parents[0]!, v),
      toBody: (r) => svc.toBody(r),
    },
  };
  return [container, version];
}

function privateEndpointTypes(endpoints: PrivateEndpointService): ResourceTypeDeclaration[] {
  return [
    {
      ...privateEndpointDefinition,
      param: 'name',
      nameSchema: Type.String({ maxLength: 80 }),
      label: 'private endpoint',
      tag: 'Private endpoints',
      access: { read: 'control/read', write: 'control/write', delete: 'control/write' },
      lists: { group: true, subscription: true },
      schema: { put: C.PrivateEndpointBody, one: C.PrivateEndpoint, list: C.Paged(C.PrivateEndpoint) },
      summaries: {
        put: 'Create or update a private endpoint (its subnet names the networks it admits)',
        get: 'Get a private endpoint',
        delete: 'Delete a private endpoint and its connection on the workspace',
        listGroup: 'List the private endpoints of a resource group (paged)',
        listSubscription: 'List the private endpoints of a subscription (paged)',
      },
      handlers: {
        list: (scope, page) =>
          endpoints.listEndpoints(scope.subscriptionId, scope.resourceGroup || undefined, {
            after: page.after,
            top: page.top,
            visible: page.visible,
          }),
        get: (scope, name) => endpoints.getEndpoint(scope.subscriptionId, scope.resourceGroup, name),
        put: (scope, name, body, by) => endpoints.put(scope.subscriptionId, scope.resourceGroup, name, body, by),
        delete: (scope, name) => endpoints.deleteEndpoint(scope.subscriptionId, scope.resourceGroup, name),
        toBody: (r) => endpoints.toBody(r),
      },
    },
    {
      ...peConnectionDefinition,
      parent: WORKSPACE,
      param: 'name',
      nameSchema: AssetName,
      label: 'private endpoint connection',
      tag: 'Private endpoints',
      // Approving or rejecting is an Owner's decision (access/write).
      access: { read: 'control/read', write: 'access/write', delete: 'control/write' },
      // PUT sets the state of a connection its endpoint made: 200.
      createdStatus: 200,
      schema: {
        put: C.PrivateEndpointConnectionBody,
        one: C.PrivateEndpointConnection,
        list: C.Paged(C.PrivateEndpointConnection),
      },
      handlers: {
        list: (scope, page) => endpoints.listConnections(ws(scope), { after: page.after, top: page.top }),
        get: (scope, name) => endpoints.getConnection(ws(scope), name),
        put: async (scope, name, body, by) => ({
          resource: await endpoints.setConnectionState(ws(scope), name, body, by),
          created: false,
        }),
        delete: (scope, name) => endpoints.deleteConnection(ws(scope), name),
        toBody: (r) => endpoints.toBody(r),
      },
    },
  ];
}

/** Linked services `W/linkedServices/{name}`: records of external workspaces linked to this one. */
function linkedServiceType(linked: LinkedServiceService): ResourceTypeDeclaration {
  return {
    ...linkedServiceDefinition,
    parent: WORKSPACE,
    param: 'name',
    nameSchema: AssetName,
    label: 'linked service',
    tag: 'Linked services',
    access: { read: 'control/read', write: 'control/write', delete: 'control/write' },
    schema: { put: C.LinkedServiceBody, one: C.LinkedService, list: C.Paged(C.LinkedService) },
    handlers: {
      list: (scope, page) => linked.list(ws(scope), { after: page.after, top: page.top }),
      get: (scope, name) => linked.get(ws(scope), name),
      put: (scope, name, body, by) => linked.put(ws(scope), name, body, by),
      delete: (scope, name) => linked.delete(ws(scope), name),
      toBody: (r) => linked.toBody(r),
    },
  };
}

/**
 * `POST W/diagnose` (LRO: 202; Azure-AsyncOperation gives the status, Location —
 * `W/diagnoseResults/{operationId}`, http/arm/operation-routes.ts — the report when done).
 */
function diagnoseAction(a: AssetTypeServices): ResourceAction {
  return {
    name: 'diagnose',
    access: ['control/read'],
    body: Type.Optional(C.DiagnoseBody),
    summary: 'Diagnose the workspace (LRO: 202; Location gives the report when done)',
    accepted: true,
    resultPath: (id, op) => `${id}/diagnoseResults/${op.id}`,
    run: async (_scope, _name, _body, by, r) => {
      const w = a.workspaces.info(r!);
      if (w.provisioningState === 'Deleting' || w.provisioningState === 'Creating')
        throw new NotFound(
          `workspace '${w.name}' is ${w.provisioningState.toLowerCase()}; try again when it is ready`,
          {
            code: 'WORKSPACE_NOT_FOUND',
          },
        );
      return a.operations.start(
        'workspaces.diagnose',
        { id: w.id, subscriptionId: w.subscriptionId, location: w.location },
        by.id,
        async (journal) => {
          await journal.record({ diagnose: await a.diagnostics.run(w) });
        },
      );
    },
  };
}

/** The services of the asset module's resource types. */
export interface AssetTypeServices {
  datastores: DatastoreService;
  connections: ConnectionService;
  data: VersionedAssetService;
  environments: VersionedAssetService;
  endpoints: PrivateEndpointService;
  linked: LinkedServiceService;
  diagnostics: WorkspaceDiagnostics;
  workspaces: WorkspaceService;
  operations: OperationService;
}

/** The asset module's resource types, registered from assets/services.ts. */
export function registerAssetTypes(registry: ResourceTypeRegistry, a: AssetTypeServices): void {
  registry.register(datastoreType(a.datastores));
  registry.register(connectionType(a.connections));
  for (const t of versionedTypes(a.data, 'Data')) registry.register(t);
  for (const t of versionedTypes(a.environments, 'Environments')) registry.register(t);
  for (const t of privateEndpointTypes(a.endpoints)) registry.register(t);
  registry.register(linkedServiceType(a.linked));
  // The workspace's diagnose action is the assets' (it reads datastores, the vault and network rules).
  const workspace = registry.require(WORKSPACE);
  workspace.actions = [...(workspace.actions ?? []), diagnoseAction(a)];
}
