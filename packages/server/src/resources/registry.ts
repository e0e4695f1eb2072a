import type { TSchema } from '@sinclair/typebox';
import type { Action } from '../identity/rbac.js';
import type { Principal } from '../identity/principals.js';
import type { Preconditions, ResourceDefinition, StoredResource } from './engine.js';
import type { WorkspaceInfo } from './workspace-info.js';
import type { Operation } from '../operations/operations.js';
import { InvalidInput, type ErrorCode, type RecordedError } from '../errors.js';
import { parseResourceId } from './resource-ids.js';

/**
 * The resource-type registry: each ARM type Atelier serves is declared once — its name rule and
 * immutable properties (the engine's `ResourceDefinition`), parent type, path parameter, access,
 * the handlers of its service, its actions, and whether ARM templates may deploy it. The generic
 * ARM router (http/arm/resource-router.ts) serves every declared type that has handlers — resource
 * groups (in a subscription) and role assignments (extension resources below any scope) as well as
 * the types in a resource group; template deployments, the resource provider list, resource-group
 * deletes and dependent checks read the registry instead of lists of their own. Modules register their types from their own
 * `services.ts` (as the control plane does for its dependent types).
 */

/** The workspace properties that name a dependent resource; which type serves each is declared here (`workspaceProperty`). */
export type DependentKind = 'storageAccount' | 'keyVault' | 'applicationInsights' | 'containerRegistry';

/** A dependent resource to make for a workspace. */
export interface NewDependent {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tags?: Record<string, string>;
}

/**
 * Where a type's resources sit (`placement`): in a resource group (`…/resourceGroups/{g}/providers/{type}/{name}`,
 * the default), directly in a subscription (`/subscriptions/{s}/…`: resource groups themselves), or as an
 * extension resource below any scope — the root, a subscription, a group, a resource or a child resource
 * (`{scope}/providers/{type}/{name}`: role assignments).
 */
export type Placement = 'resourceGroup' | 'subscription' | 'extension';

/** What every record a type's handlers serve has: its ARM id. */
export interface ArmRecord {
  id: string;
}

/** Where a request's resource lives: its resource group, and for workspace child types the workspace. */
export interface ResourceScope {
  subscriptionId: string;
  /** The resource group's name as the request gave it (the stored one for a workspace's children); '' outside a group. */
  resourceGroup: string;
  /** Of an extension resource: the id of what it extends ('/' for the root), as the request spelled it (normalised by the type's service). */
  scopeId?: string;
  /** The workspace of a type below `Microsoft.MachineLearningServices/workspaces` (resolved, access checked). */
  workspace?: WorkspaceInfo;
  /** Names of the parents between the workspace (or the group) and the resource, e.g. a data container's name for its versions. */
  parents: string[];
}

/** The workspace of a scope below `workspaces` (the router resolved it before calling a handler). */
export function workspaceOf(scope: ResourceScope): WorkspaceInfo {
  if (!scope.workspace) throw new Error('a workspace child type was reached without its workspace');
  return scope.workspace;
}

/** An optional boolean query parameter ('true'/'false', any case); 400 naming it otherwise. */
export function queryFlag(query: Record<string, string | undefined>, name: string): boolean | undefined {
  const v = query[name];
  if (v === undefined || v === '') return undefined;
  if (/^true$/i.test(v)) return true;
  if (/^false$/i.test(v)) return false;
  throw new InvalidInput(`query parameter ${name} must be true or false, got '${v}'`, {
    code: 'INVALID_QUERY_PARAMETER',
    target: name,
  });
}

/**
 * The edge's words for a recorded domain error (http/arm/errors.ts): bodies that carry one (a
 * failed template deployment's `properties.error`) translate it with these, once, at the edge.
 */
export interface ErrorWords {
  /** ARM's `{ code, message, target?, details? }`. */
  body(e: RecordedError): Record<string, unknown>;
  /** The HTTP status of its kind. */
  status(e: RecordedError | undefined): number;
  /**
   * A failed deployment operation's `statusCode`: the status of its kind, or the protocol's word for a
   * server error when the record has no kind (records from before domain codes).
   */
  operationStatusCode(e: RecordedError): string;
}

/** What a handler may need of the request beyond its path and body. */
export interface RequestInfo {
  /** The query string (the type's own parameters: `force`, `deleteDependentResources`, …). */
  query: Record<string, string | undefined>;
  /** If-Match / If-None-Match. */
  pre: Preconditions;
  /** The request's api-version (older ones of some types answer in older shapes). */
  apiVersion: string;
  errors: ErrorWords;
}

/** `listViewType=All` (or ArchivedOnly) includes archived asset containers and versions in a list. */
export function listsArchived(query: Record<string, string | undefined>): boolean {
  return /^all|archivedonly$/i.test(String(query.listViewType ?? ''));
}

export interface PageRequest<R extends ArmRecord = StoredResource> {
  after?: string;
  top: number;
  /** The query string's other parameters (filters of the type). */
  query: Record<string, string | undefined>;
  principal: Principal;
  /** Keeps only what the caller may see (RBAC), for types that are not below a workspace. */
  visible: (r: R) => Promise<boolean>;
}

export interface Page<R extends ArmRecord = StoredResource> {
  value: R[];
  hasMore: boolean;
  lastKey?: string;
}

/**
 * What the service of a type does for the generic router. `R` is the record it serves: a
 * StoredResource of the resource engine, or a row of its own (resource groups, role assignments).
 */
export interface ResourceHandlers<R extends ArmRecord = StoredResource> {
  list?(scope: ResourceScope, page: PageRequest<R>): Promise<Page<R>>;
  get(scope: ResourceScope, name: string, principal: Principal): Promise<R>;
  /**
   * ARM PUT: create or replace (or, for fixed-settings types, set tags). A long-running type returns
   * the operation that finishes it. Read-only types (a workspace's private link resources) have no PUT nor DELETE.
   */
  put?(
    scope: ResourceScope,
    name: string,
    body: Record<string, unknown>,
    principal: Principal,
    pre: Preconditions,
  ): Promise<{ resource: R; created: boolean; operation?: Operation }>;
  patch?(
    scope: ResourceScope,
    resource: R,
    body: Record<string, unknown>,
    principal: Principal,
    req: RequestInfo,
  ): Promise<R>;
  /**
   * Returns false when there was nothing to delete. A long-running delete returns the operation that
   * finishes it (ARM answers 202 with Azure-AsyncOperation and Location, as Azure does for computes);
   * `{ deleted }` answers 200 with the body of what was deleted (as Azure does for role assignments).
   */
  delete?(
    scope: ResourceScope,
    name: string,
    principal: Principal,
    req: RequestInfo,
  ): Promise<boolean | Operation | { deleted: R }>;
  /**
   * The ARM body; `secrets` when the caller may read the type's secrets (`access.secrets`); `detail`
   * for the GET of this one resource (a workspace's carries its private endpoint connections, lists leave them out).
   */
  toBody(
    resource: R,
    opts: { scope: ResourceScope; secrets: boolean; detail?: boolean; errors: ErrorWords },
  ): Promise<Record<string, unknown>> | Record<string, unknown>;
  /**
   * Where a long-running PUT's status is polled (Azure-AsyncOperation, relative to the server):
   * e.g. a template deployment's `{id}/operationStatuses/{operation}`. Without it, the operation's
   * own status URL with a Location twin (http/arm/lro.ts).
   */
  statusPath?(resource: R, operation: Operation): string;
}

/** A POST action on one resource (`…/{name}/{action}`). */
export interface ResourceAction<R extends ArmRecord = StoredResource> {
  name: string;
  /** Every action listed is required, in order (the first decides 404 for a caller without any role). */
  access: Action[];
  body?: TSchema;
  /** Schema of its answer (documents /openapi.json). */
  response?: TSchema;
  summary?: string;
  /**
   * `resource`: loaded with `handlers.get` unless `loads: false` (the action finds the resource
   * itself). What it returns is the answer (200); nothing answers an empty 200.
   */
  run(
    scope: ResourceScope,
    name: string,
    body: Record<string, unknown>,
    principal: Principal,
    resource: R | undefined,
    req: RequestInfo,
  ): Promise<unknown>;
  loads?: boolean;
  /**
   * A long-running action (Azure's 202 Accepted): `run` answers the Operation that finishes it, and
   * the router answers 202 with the LRO headers (Azure-AsyncOperation, Location, Retry-After). A
   * function decides per request (older api-versions of some actions answered 200 when done).
   */
  accepted?: boolean | ((req: RequestInfo) => boolean);
  /** Where a long-running action's result is read (the Location header; the operation's own status URL otherwise), e.g. `{id}/diagnoseResults/{operation}`. */
  resultPath?(resourceId: string, operation: Operation): string;
}

/**
 * A GET below one resource that is not a type of its own (`…/{name}/{path}`): a template
 * deployment's `operations`, `operationStatuses/{operationId}`. The resource is loaded first
 * (`handlers.get`) with `access`; `params` names the path's own parameters.
 */
export interface ResourceView<R extends ArmRecord = StoredResource> {
  /** Relative path, its parameters as `:name` (e.g. `operationStatuses/:operationId`). */
  path: string;
  access: Action;
  response?: TSchema;
  summary?: string;
  run(
    scope: ResourceScope,
    resource: R,
    params: Record<string, string>,
    principal: Principal,
    req: RequestInfo,
  ): Promise<unknown>;
}

/** How ARM templates (Microsoft.Resources/deployments) deploy a type. */
export interface TemplateSupport {
  /**
   * Creates the resource, or updates an existing one, from a template resource's evaluated body.
   * `created`: the deployment made it (and removes it with `undo` when the deployment fails).
   */
  deploy(r: TemplateResource, by: Principal): Promise<{ body: Record<string, unknown>; created: boolean }>;
  undo(id: string): Promise<void>;
}

export interface TemplateResource {
  id: string;
  subscriptionId: string;
  resourceGroup: { name: string; location: string };
  name: string;
  /** The body's location, or the group's. */
  location: string;
  tags?: Record<string, string>;
  body: Record<string, unknown>;
  /** Of an extension resource (role assignments): the id of what it extends ('/' for the root). */
  scopeId?: string;
}

export interface ResourceTypeDeclaration<R extends ArmRecord = StoredResource> extends ResourceDefinition {
  /** Full ARM type, e.g. `Microsoft.MachineLearningServices/workspaces/datastores`. */
  type: string;
  /** The parent's ARM type; absent for a type directly in a resource group. */
  parent?: string;
  /**
   * Where a top-level type's resources sit (default `resourceGroup`); several when a type is served
   * at more than one (its handlers see `scope.resourceGroup` '' outside a group). Children sit below their parent.
   */
  placement?: Placement | Placement[];
  /**
   * The path of its collection below its parent or placement when it is not `providers/{type}`
   * (a child's: its last type segment): resource groups are `resourceGroups`. Further entries are
   * older spellings served too, left out of /openapi.json (template deployments without `providers/Microsoft.Resources`).
   */
  paths?: string[];
  /** Path parameter of its name (`name`; `workspaceName` for workspaces; `version` for versions). */
  param: string;
  /** TypeBox schema of that path parameter. */
  nameSchema?: TSchema;
  /** What it is called in messages ('storage account'). */
  label: string;
  /** OpenAPI tag of its routes. */
  tag: string;
  /** RBAC actions on it: GET/list, PUT/PATCH, DELETE; `secrets` shows secrets in bodies when the caller has it. */
  access: { read: Action; write: Action; delete: Action; secrets?: Action };
  /** Long-running: PUT starts an operation (`put` returns it; 201 + Azure-AsyncOperation, Location, Retry-After); otherwise it is done when PUT answers. */
  longRunning?: boolean;
  /** DELETE answers 202 with the operation that finishes it (its `delete` handler returns the operation). */
  longRunningDelete?: boolean;
  /** Globally unique names on this server (`global_names`). */
  globalName?: boolean;
  /** Status of a PUT that created it (Azure answers 200 for some types, e.g. connections). */
  createdStatus?: 200 | 201;
  /**
   * Schemas (TypeBox, from @atelier/contracts): bodies of PUT and PATCH, the answers (one resource,
   * a page of them), and the query strings of PUT, PATCH and DELETE when the type takes more than api-version.
   */
  schema?: {
    put?: TSchema;
    patch?: TSchema;
    one?: TSchema;
    list?: TSchema;
    query?: { put?: TSchema; patch?: TSchema; delete?: TSchema };
  };
  /** OpenAPI summaries. */
  summaries?: {
    put?: string;
    get?: string;
    patch?: string;
    delete?: string;
    listGroup?: string;
    listSubscription?: string;
    list?: string;
  };
  /** Served by the generic ARM router when present (types without handlers are records: template-only or served by their own protocol). */
  handlers?: ResourceHandlers<R>;
  /** HEAD on one resource answers 204 when the caller sees it and 404 otherwise (ARM's check-existence). */
  head?: boolean;
  /**
   * api-versions older than this answer the list as a bare JSON array of every item (no `value`,
   * no paging), as those versions did: azureml-core lists connections with 2020-01-01.
   */
  bareListBefore?: string;
  /** Lists of a top-level type in a resource group: per resource group and per subscription. */
  lists?: { group?: boolean; subscription?: boolean };
  actions?: ResourceAction<R>[];
  /** GETs below one resource that are not types of their own. */
  views?: ResourceView<R>[];
  /** Deployable by ARM templates: how, or 'deployments' when the deployment service handles it itself. */
  template?: TemplateSupport | 'deployments';
  /** Removes one resource with what belongs to it (its keys, blobs, secrets); resource-group deletes use it. */
  remove?(id: string): Promise<boolean>;
  /**
   * For the types a workspace depends on: the workspace property naming one (`storageAccount`, …).
   * A role on a workspace naming the resource also grants its data plane (`dataPlane`).
   */
  workspaceProperty?: DependentKind;
  /**
   * Paths below each resource (`secrets`, `keys`, `listKeys`) that open what its workspaces keep
   * secret: reachable only from where every workspace using it (`workspaceProperty`) is reachable
   * (publicNetworkAccess, approved private endpoints). The app-wide network check reads this.
   */
  guarded?: string[];
  /**
   * A data plane below each resource, in another protocol than ARM (Key Vault's `{vault}/secrets…`,
   * `{vault}/keys…`): its path segments. Served by its own route module with the router's path,
   * access and network checks (`dataPlaneResource` in http/arm/resource-router.ts).
   */
  dataPlane?: { segments: string[]; notFound?: ErrorCode };
  /** Makes a new one for a workspace being provisioned (`remove` deletes it again). */
  provision?(d: NewDependent, by: Principal | string): Promise<StoredResource>;
}

/** Provider entries that are not resource types (operation status, role definitions, …), listed with the declared types. */
const PROVIDER_EXTRAS: Record<string, string[]> = {
  'Microsoft.MachineLearningServices': ['workspaces/computes', 'locations/workspaceOperationsStatus'],
  'Microsoft.Insights': ['eventtypes'],
  'Microsoft.Authorization': ['roleDefinitions'],
};

/** The placements of a declaration (a child type's are its top-level ancestor's). */
export function placementsOf(t: ResourceTypeDeclaration<ArmRecord>): Placement[] {
  const p = t.placement ?? 'resourceGroup';
  return Array.isArray(p) ? p : [p];
}

export class ResourceTypeRegistry {
  private readonly types = new Map<string, ResourceTypeDeclaration<ArmRecord>>();

  /** Declares a type (its parent first). `R`: the records its handlers serve. */
  register<R extends ArmRecord>(t: ResourceTypeDeclaration<R>): void {
    const key = t.type.toLowerCase();
    if (this.types.has(key)) throw new Error(`resource type ${t.type} is declared twice`);
    if (t.parent && !this.types.has(t.parent.toLowerCase()))
      throw new Error(`resource type ${t.type}: declare its parent ${t.parent} first`);
    if (t.parent && t.placement) throw new Error(`resource type ${t.type}: a child type sits below its parent`);
    if (placementsOf(t as ResourceTypeDeclaration<ArmRecord>).length === 0)
      throw new Error(`resource type ${t.type}: placement lists no placement`);
    this.types.set(key, t as unknown as ResourceTypeDeclaration<ArmRecord>);
  }

  get(type: string): ResourceTypeDeclaration<ArmRecord> | undefined {
    return this.types.get(type.toLowerCase());
  }

  require(type: string): ResourceTypeDeclaration<ArmRecord> {
    const t = this.get(type);
    if (!t) throw new Error(`resource type ${type} is not declared`);
    return t;
  }

  all(): ResourceTypeDeclaration<ArmRecord>[] {
    return [...this.types.values()];
  }

  /** The chain of declarations from the top-level type down to `t`. */
  chain(t: ResourceTypeDeclaration<ArmRecord>): ResourceTypeDeclaration<ArmRecord>[] {
    const out = [t];
    while (out[0]!.parent) out.unshift(this.require(out[0]!.parent));
    return out;
  }

  /** The type a workspace's dependency property (`storageAccount`, `keyVault`, …) names. */
  dependent(kind: DependentKind): ResourceTypeDeclaration<ArmRecord> {
    const t = this.all().find((x) => x.workspaceProperty === kind);
    if (!t) throw new Error(`no resource type serves the workspace dependency ${kind}`);
    return t;
  }

  /** Types an ARM template may deploy. */
  deployable(): ResourceTypeDeclaration<ArmRecord>[] {
    return this.all().filter((t) => t.template);
  }

  /** Resource provider namespaces and their types (relative to the namespace), as `GET …/providers/{namespace}` lists them. */
  namespaces(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const t of this.all()) {
      const [ns, ...rest] = t.type.split('/');
      (out[ns!] ??= []).push(rest.join('/'));
    }
    for (const [ns, extra] of Object.entries(PROVIDER_EXTRAS))
      out[ns] = [...(out[ns] ?? []), ...extra.filter((e) => !(out[ns] ?? []).includes(e))];
    return out;
  }

  /** Deletes a resource through its type's `remove` (keys, blobs, secrets too), or says it has none. */
  async remove(id: string): Promise<boolean | undefined> {
    const t = this.get(parseResourceId(id).type);
    return t?.remove ? t.remove(id) : undefined;
  }

  /** Checks that `id` names a resource of `type` (400 naming `target` otherwise). */
  checkType(id: string, type: string, target: string): void {
    const p = parseResourceId(id, target);
    if (p.type.toLowerCase() !== type.toLowerCase())
      throw new InvalidInput(`${target} must be the id of a ${type}, got a ${p.type}`, {
        code: 'INVALID_RESOURCE_TYPE',
        target,
      });
  }
}
