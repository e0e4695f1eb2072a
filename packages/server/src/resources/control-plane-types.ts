import crypto from 'node:crypto';
import * as C from '@atelier/contracts';
import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import { InvalidInput } from '../errors.js';
import { groupId } from './arm-ids.js';
import { resourceId } from './resource-ids.js';
import { toArmBody, type ResourceDefinition, type ResourceEngine, type StoredResource } from './engine.js';
import { normaliseLocation, resourceGroupType, type ResourceGroupService } from './resource-groups.js';
import {
  insightsDef,
  keyVaultDef,
  registryDef,
  storageAccountDef,
  type DependentKind,
  type NewDependent,
} from './dependents.js';
import { WORKSPACE, workspaceDef, type WorkspaceService } from './workspaces.js';
import { logAnalyticsDef } from './templates/deployments.js';
import { queryFlag, type ResourceScope, type ResourceTypeDeclaration, type ResourceTypeRegistry } from './registry.js';

interface DependentSpec {
  def: ResourceDefinition;
  workspaceProperty: DependentKind;
  tag: string;
  label: string;
  globalName: boolean;
  create(d: NewDependent, by: Principal | string): Promise<StoredResource>;
  remove(id: string): Promise<boolean>;
  /** The body; `secrets` when the caller has secrets/read (Application Insights shows its key then). */
  body(r: StoredResource, secrets: boolean): Promise<Record<string, unknown>>;
}

/**
 * A dependent resource type (storage account, key vault, Application Insights, container
 * registry): PUT creates one (an existing one only gets new tags), GET, PATCH (tags), DELETE
 * (with its blobs, keys or secrets), lists per resource group and subscription; deployable by templates.
 */
function dependentType(
  engine: ResourceEngine,
  groups: ResourceGroupService,
  s: DependentSpec,
): ResourceTypeDeclaration {
  const idOf = (scope: ResourceScope, name: string) =>
    resourceId(scope.subscriptionId, scope.resourceGroup, s.def.type, name);
  const notFound = (scope: ResourceScope, name: string) =>
    `${s.label} '${name}' could not be found in resource group '${scope.resourceGroup}'`;
  return {
    ...s.def,
    param: 'name',
    label: s.label,
    tag: s.tag,
    access: { read: 'control/read', write: 'control/write', delete: 'control/write', secrets: 'secrets/read' },
    globalName: s.globalName,
    lists: { group: true, subscription: true },
    schema: {
      put: C.DependentResourceBody,
      patch: C.DependentResourcePatchBody,
      one: C.DependentResource,
      list: C.DependentResourceList,
    },
    summaries: {
      put: `Create a ${s.label} (or set the tags of an existing one)`,
      get: `Get a ${s.label}`,
      patch: `Set the tags of a ${s.label}`,
      delete: `Delete a ${s.label} (with its blobs, keys or secrets)`,
      listGroup: `List the ${s.label} resources of a resource group (paged)`,
      listSubscription: `List the ${s.label} resources of a subscription (paged)`,
    },
    handlers: {
      list: (scope, page) =>
        engine.list({
          type: s.def.type,
          subscriptionId: scope.subscriptionId,
          groupKey: scope.resourceGroup ? groupId(scope.subscriptionId, scope.resourceGroup) : undefined,
          after: page.after,
          top: page.top,
          visible: page.visible,
        }),
      get: (scope, name) => engine.require(idOf(scope, name), notFound(scope, name)),
      put: async (scope, name, body, by) => {
        const group = await groups.require(scope.subscriptionId, scope.resourceGroup);
        const id = idOf(scope, name);
        const existing = await engine.get(id);
        const b = body as { location?: string; tags?: Record<string, string> } | undefined;
        if (existing) {
          if (b?.location && normaliseLocation(b.location) !== existing.location)
            throw new InvalidInput(`location cannot change: the ${s.label} is in '${existing.location}'`, {
              code: 'INVALID_INPUT',
              target: 'location',
            });
          return { resource: await engine.patch(s.def, id, { tags: b?.tags ?? existing.tags }, by), created: false };
        }
        const resource = await s.create(
          {
            subscriptionId: scope.subscriptionId,
            resourceGroup: group.name,
            name,
            location: b?.location ? normaliseLocation(b.location) : group.location,
            tags: b?.tags,
          },
          by,
        );
        return { resource, created: true };
      },
      patch: (_scope, r, body, by) =>
        engine.patch(s.def, r.id, { tags: (body as { tags?: Record<string, string> } | undefined)?.tags }, by),
      delete: (scope, name) => s.remove(idOf(scope, name)),
      toBody: (r, { secrets }) => s.body(r, secrets),
    },
    remove: s.remove,
    workspaceProperty: s.workspaceProperty,
    provision: (d, by) => s.create(d, by),
    template: {
      async deploy(t, by) {
        const existing = await engine.get(t.id);
        if (existing) {
          if (existing.location && t.location !== existing.location)
            throw new InvalidInput(
              `location cannot change: ${s.label} '${existing.name}' is in '${existing.location}'`,
              { code: 'INVALID_INPUT', target: 'location' },
            );
          return {
            body: toArmBody(await engine.patch(s.def, t.id, { tags: t.tags ?? existing.tags }, by)),
            created: false,
          };
        }
        const made = await s.create(
          {
            subscriptionId: t.subscriptionId,
            resourceGroup: t.resourceGroup.name,
            name: t.name,
            location: t.location,
            tags: t.tags,
          },
          by,
        );
        return { body: toArmBody(made), created: true };
      },
      undo: async (id) => void (await s.remove(id)),
    },
  };
}

/**
 * Workspaces: PUT (a new one is provisioned by an operation: 201 + Azure-AsyncOperation), GET (with
 * its private endpoint connections), PATCH (`force` for updateDependencies), DELETE (LRO: 202,
 * optionally with its dependents), lists per resource group and subscription, and the key actions.
 * Other modules add their workspace actions (diagnose: assets/types.ts).
 */
function workspaceType(engine: ResourceEngine, workspaces: WorkspaceService): ResourceTypeDeclaration {
  const PE_CONNECTIONS = `${WORKSPACE}/privateEndpointConnections`;
  return {
    ...workspaceDef,
    param: 'workspaceName',
    label: 'workspace',
    tag: 'Workspaces',
    // Its body holds no secrets (listKeys does, with secrets/read).
    access: { read: 'control/read', write: 'control/write', delete: 'control/write' },
    longRunning: true,
    longRunningDelete: true,
    template: 'deployments',
    lists: { group: true, subscription: true },
    schema: {
      put: C.WorkspaceBody,
      patch: C.WorkspacePatchBody,
      one: C.Workspace,
      list: C.WorkspaceList,
      query: { put: C.WorkspaceQuery, patch: C.WorkspacePatchQuery, delete: C.WorkspaceDeleteQuery },
    },
    summaries: {
      put: 'Create (LRO: 201 + Azure-AsyncOperation) or update (200) a workspace',
      get: 'Get a workspace',
      patch: 'Update the updatable fields of a workspace (also updateDependencies with force=true)',
      delete: 'Delete a workspace (LRO: 202), optionally with its dependent resources',
      listGroup: 'List the workspaces of a resource group (paged)',
      listSubscription: 'List the workspaces of a subscription (paged)',
    },
    handlers: {
      list: (scope, page) =>
        engine.list({
          type: WORKSPACE,
          subscriptionId: scope.subscriptionId,
          groupKey: scope.resourceGroup ? groupId(scope.subscriptionId, scope.resourceGroup) : undefined,
          after: page.after,
          top: page.top,
          visible: page.visible,
        }),
      get: (scope, name) => workspaces.require(scope.subscriptionId, scope.resourceGroup, name),
      put: (scope, name, body, by, pre) =>
        workspaces.put(scope.subscriptionId, scope.resourceGroup, name, body, by, pre),
      patch: (_scope, ws, body, by, req) =>
        workspaces.update(ws, body, by, req.pre, { force: queryFlag(req.query, 'force') ?? false }),
      delete: async (scope, name, by, req) => {
        const deleteDependentResources = queryFlag(req.query, 'deleteDependentResources') ?? false;
        queryFlag(req.query, 'forceToPurge');
        const op = await workspaces.delete(
          scope.subscriptionId,
          scope.resourceGroup,
          name,
          by,
          { deleteDependentResources },
          req.pre,
        );
        return op ?? false;
      },
      toBody: async (r, { detail }) => {
        const body = workspaces.toArm(r);
        if (!detail) return body;
        // A workspace's own GET carries its private endpoint connections (lists leave them out, as Azure does).
        const connections = await engine.scan({ type: PE_CONNECTIONS, groupKey: r.groupKey });
        const mine = connections.filter((c) => c.id.toLowerCase().startsWith(`${r.id.toLowerCase()}/`));
        const props = body.properties as Record<string, unknown>;
        props.privateEndpointConnections = mine.map((c) => toArmBody(c));
        props.privateLinkCount = mine.length;
        return body;
      },
    },
    actions: [
      {
        name: 'listKeys',
        access: ['secrets/read'],
        response: C.WorkspaceKeys,
        summary: 'The keys of the dependent resources, as the workspace holds them (needs secrets/read)',
        run: (_scope, _name, _body, _by, ws) => workspaces.listKeys(ws!),
      },
      {
        name: 'listStorageAccountKeys',
        access: ['secrets/read'],
        response: C.WorkspaceKeys,
        summary: 'The storage account key the workspace holds (needs secrets/read)',
        run: async (_scope, _name, _body, _by, ws) => ({
          userStorageKey: (await workspaces.listKeys(ws!)).userStorageKey,
        }),
      },
      {
        name: 'listNotebookKeys',
        access: ['secrets/read'],
        response: C.NotebookAccessKeys,
        summary: 'The notebook access keys (needs secrets/read)',
        run: async (_scope, _name, _body, _by, ws) => (await workspaces.listKeys(ws!)).notebookAccessKeys,
      },
      {
        name: 'resyncKeys',
        access: ['control/write'],
        summary: 'Copy the current keys of the dependent resources into the workspace (LRO: 202)',
        // Before 2021-04-01 resyncKeys was not long-running (clients of those versions accept only 200): done at once.
        accepted: (req) => req.apiVersion >= '2021-04-01',
        run: async (_scope, _name, _body, by, ws, req) => {
          if (req.apiVersion >= '2021-04-01') return workspaces.resyncKeys(ws!, by);
          await workspaces.resyncKeysNow(ws!);
          return undefined;
        },
      },
    ],
  };
}

/**
 * The control plane's resource types: resource groups, workspaces, the four dependent types and Log
 * Analytics workspaces (a record templates deploy); template deployments are declared once their
 * service exists (resources/control-plane.ts).
 */
export const BLOB_CONTAINER = 'Microsoft.Storage/storageAccounts/blobServices/containers';

export function registerControlPlaneTypes(
  ctx: AppContext,
  registry: ResourceTypeRegistry,
  engine: ResourceEngine,
  groups: ResourceGroupService,
  workspaces: WorkspaceService,
): void {
  const deps = workspaces.dependents;
  registry.register(resourceGroupType(groups));
  registry.register(workspaceType(engine, workspaces));
  registry.register(
    dependentType(engine, groups, {
      def: storageAccountDef,
      workspaceProperty: 'storageAccount',
      tag: 'Storage accounts',
      label: 'storage account',
      globalName: true,
      create: (d, by) => deps.createStorageAccount(d, by),
      remove: (id) => deps.deleteStorageAccount(id),
      body: async (r) => toArmBody(r),
    }),
  );
  // Blob containers as templates name them (azure-ai-ml's feature store puts its offline store in
  // one). Atelier's blob store has no container objects: every container name of an account exists,
  // empty until written (the Blob REST subset and datastores read and write any), so deploying one
  // checks its account and name and makes nothing; there is nothing to undo.
  registry.register({
    type: BLOB_CONTAINER,
    checkName(name) {
      if (!/^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/.test(name))
        throw new InvalidInput(
          `container name '${name}' is invalid: use 3–63 lower-case letters, digits and single hyphens`,
          { code: 'INVALID_RESOURCE_NAME', target: 'name' },
        );
    },
    param: 'containerName',
    label: 'blob container',
    tag: 'Storage accounts',
    access: { read: 'control/read', write: 'control/write', delete: 'control/write' },
    template: {
      async deploy(t) {
        const m =
          /^(.*\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+)\/blobServices\/([^/]+)\/containers\/([^/]+)$/i.exec(
            t.id,
          );
        if (!m || m[2] !== 'default')
          throw new InvalidInput(
            `blob container '${t.id}' must be named '{account}/default/{container}' (an account's only blob service is 'default')`,
            { code: 'INVALID_RESOURCE_NAME', target: 'name' },
          );
        registry.require(BLOB_CONTAINER).checkName(m[3]!);
        const account = await engine.require(m[1]!, `storage account '${m[1]!.split('/').pop()}' could not be found`);
        return {
          body: {
            id: `${account.id}/blobServices/default/containers/${m[3]}`,
            name: m[3],
            type: BLOB_CONTAINER,
            properties: { publicAccess: 'None', hasImmutabilityPolicy: false, hasLegalHold: false },
          },
          created: false,
        };
      },
      undo: async () => undefined,
    },
  });
  const storage = registry.require(storageAccountDef.type);
  // Its keys open every workspace's files in it (datastores, the blob REST routes).
  storage.guarded = ['listKeys', 'regenerateKey'];
  storage.actions = [
    {
      name: 'listKeys',
      access: ['secrets/read'],
      response: C.StorageAccountKeys,
      summary: 'The two access keys (needs secrets/read)',
      run: async (_scope, _name, _body, _by, r) => ({ keys: await deps.storageKeys(r!.id) }),
    },
    {
      name: 'regenerateKey',
      access: ['control/write', 'secrets/read'],
      body: C.RegenerateKeyBody,
      response: C.StorageAccountKeys,
      summary: 'Replace one access key with a new random one',
      run: async (_scope, _name, body, _by, r) => {
        await deps.regenerateStorageKey(r!.id, body.keyName as string);
        return { keys: await deps.storageKeys(r!.id) };
      },
    },
  ];
  registry.register(
    dependentType(engine, groups, {
      def: keyVaultDef,
      workspaceProperty: 'keyVault',
      tag: 'Key vaults',
      label: 'key vault',
      globalName: true,
      create: (d, by) => deps.createKeyVault(d, by),
      remove: (id) => deps.deleteKeyVaultIfUnused(id),
      // The data plane (secrets, keys) is served below the vault's own id (its `dataPlane`).
      body: async (r) => toArmBody(r, { ...r.properties, vaultUri: `${ctx.config.publicUrl}${r.id}/` }),
    }),
  );
  const vault = registry.require(keyVaultDef.type);
  // Removing a vault with what it depends on (a workspace's delete with its dependents, a group delete) does not ask.
  vault.remove = (id) => deps.deleteKeyVault(id);
  // Its data plane (Key Vault's secrets and keys: http/arm/assets/key-vault-data-plane.ts) holds what
  // its workspaces' connections and datastores keep secret: reachable only where they are.
  vault.dataPlane = { segments: ['secrets', 'keys'], notFound: 'KEY_VAULT_NOT_FOUND' };
  vault.guarded = ['secrets', 'keys'];
  registry.register(
    dependentType(engine, groups, {
      def: insightsDef,
      workspaceProperty: 'applicationInsights',
      tag: 'Application Insights',
      label: 'application insights component',
      globalName: false,
      create: (d, by) => deps.createInsights(d, by),
      remove: (id) => deps.deleteInsights(id),
      body: async (r, secrets) => {
        if (!secrets) return toArmBody(r);
        const ikey = await deps.instrumentationKey(r.id);
        return toArmBody(r, {
          ...r.properties,
          InstrumentationKey: ikey,
          ConnectionString: ikey ? deps.connectionString(ikey) : undefined,
        });
      },
    }),
  );
  registry.register(
    dependentType(engine, groups, {
      def: registryDef,
      workspaceProperty: 'containerRegistry',
      tag: 'Container registries',
      label: 'container registry',
      globalName: true,
      create: (d, by) => deps.createRegistry(d, by),
      remove: (id) => deps.deleteRegistry(id),
      body: async (r) => toArmBody(r),
    }),
  );
  registry.require(registryDef.type).actions = [
    {
      name: 'listCredentials',
      access: ['secrets/read'],
      response: C.RegistryCredentials,
      summary: 'The admin user name and passwords (needs secrets/read)',
      run: async (_scope, _name, _body, _by, r) => deps.registryCredentials(r!.id),
    },
    {
      name: 'regenerateCredential',
      access: ['control/write', 'secrets/read'],
      body: C.RegenerateCredentialBody,
      response: C.RegistryCredentials,
      summary: 'Replace one admin password',
      run: async (_scope, _name, body, _by, r) => {
        await deps.regenerateRegistryPassword(r!.id, body.name as string);
        return deps.registryCredentials(r!.id);
      },
    },
  ];
  // Log Analytics workspaces: a pure record (Atelier has no log analytics), only because the
  // default paths of both official Python clients deploy one next to Application Insights.
  registry.register({
    ...logAnalyticsDef,
    param: 'name',
    label: 'log analytics workspace',
    tag: 'Log Analytics',
    access: { read: 'control/read', write: 'control/write', delete: 'control/write' },
    template: {
      async deploy(t, by) {
        const existing = await engine.get(t.id);
        const props = (t.body.properties && typeof t.body.properties === 'object' ? t.body.properties : {}) as Record<
          string,
          unknown
        >;
        const { resource, created } = await engine.put(
          logAnalyticsDef,
          t.id,
          {
            location: t.location,
            tags: t.tags ?? existing?.tags ?? {},
            properties: {
              ...props,
              customerId: existing?.properties.customerId ?? crypto.randomUUID(),
              provisioningState: 'Succeeded',
            },
          },
          by,
        );
        return { body: toArmBody(resource), created };
      },
      undo: async (id) => void (await engine.delete(id)),
    },
  });
}
