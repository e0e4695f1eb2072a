import { ArmClient, type ArmResponse, type OperationProgress } from '../http/client.js';
import type { Authentication, AccessToken } from '../auth/authentication.js';
import { MANAGEMENT_AUDIENCE } from '../auth/authentication.js';
import { resolveConnection, type ConnectionOptions } from '../connection.js';
import {
  ConfigurationError,
  ConflictError,
  NotFoundError,
  NotImplementedError,
  ServiceError,
  ValidationError,
} from '../errors.js';
import {
  AmlCompute,
  ComputeTarget,
  computeBody,
  type AmlComputeProvisioningConfiguration,
} from '../compute/compute-target.js';
import {
  type ClusterConfiguration,
  DEFAULT_CPU_CLUSTER_CONFIGURATION,
  DEFAULT_CPU_CLUSTER_NAME,
  DEFAULT_GPU_CLUSTER_CONFIGURATION,
  DEFAULT_GPU_CLUSTER_NAME,
  WORKSPACE_PROVIDER,
} from '../constants.js';
import { createResourceGroup, deleteResourceGroup, getResourceGroup, resolveSubscription } from '../resource-groups.js';
import {
  checkResourceGroupName,
  checkWorkspaceName,
  normaliseResourceId,
  subscriptionPath,
  groupPath,
  workspacePath,
} from './arm-ids.js';
import type { WorkspaceConfig } from './config-file.js';
import { host } from '../host.js';
import { toDetails, type WorkspaceDetails, type WorkspaceKeys, type WorkspaceResource } from './types.js';
import type * as C from '@atelier/contracts';

/** Where to print `showOutput` progress (default: standard output). */
export type OutputSink = (line: string) => void;

export interface WorkspaceLookupOptions extends ConnectionOptions {
  subscriptionId?: string;
  resourceGroup?: string;
}

export interface GetWorkspaceOptions extends WorkspaceLookupOptions {
  /** Only a workspace in this location. */
  location?: string;
  /** Only the workspace with this `workspaceId` (GUID). */
  id?: string;
}

export interface CreateWorkspaceOptions extends WorkspaceLookupOptions {
  name: string;
  /** Default: the resource group's location (or `local` when the group is made here). */
  location?: string;
  /** Make the resource group when it is missing (default true). */
  createResourceGroup?: boolean;
  /** Kept for backward compatibility and ignored; workspaces report `Basic`. */
  sku?: string;
  tags?: Record<string, string>;
  friendlyName?: string;
  description?: string;
  /** ARM ids of existing dependent resources; each one left unset is made with the workspace. */
  storageAccount?: string;
  keyVault?: string;
  appInsights?: string;
  /** Left unset, a container registry is made only when first needed. */
  containerRegistry?: string;
  primaryUserAssignedIdentity?: string;
  cmkKeyvault?: string;
  resourceCmkUri?: string;
  userAssignedIdentityForCmkEncryption?: string;
  /** Fixed at creation. */
  hbiWorkspace?: boolean;
  /** `accessKey` (default) or `identity` (system datastores without credentials). */
  systemDatastoresAuthMode?:
    'accessKey' | 'identity' | 'userDelegationSAS' | 'AccessKey' | 'Identity' | 'UserDelegationSAS';
  v1LegacyMode?: boolean;
  imageBuildCompute?: string;
  /** Return the existing workspace instead of failing when it exists (default false). */
  existOk?: boolean;
  /** Print progress (default true, as the seed). */
  showOutput?: boolean;
  output?: OutputSink;
  /** Called at each poll of the long-running operation (for spinners). */
  onProgress?: (p: OperationProgress) => void;
  /** Not supported yet: each belongs to a later feature and is refused with a clear error. */
  adbWorkspace?: string;
  privateEndpointConfig?: unknown;
  privateEndpointAutoApproval?: boolean;
  /**
   * A cluster made after the workspace as `cpu-cluster` / `gpu-cluster` (the seed's
   * `default_cpu_compute_target`): `AmlCompute.provisioningConfiguration({...})`, e.g.
   * `Workspace.DEFAULT_CPU_CLUSTER_CONFIGURATION`. When one cannot be made, the workspace is removed again.
   */
  defaultCpuComputeTarget?: AmlComputeProvisioningConfiguration | ClusterConfiguration;
  defaultGpuComputeTarget?: AmlComputeProvisioningConfiguration | ClusterConfiguration;
}

export interface UpdateWorkspaceOptions {
  friendlyName?: string;
  description?: string;
  /** Replaces all tags. */
  tags?: Record<string, string>;
  imageBuildCompute?: string;
  serviceManagedResourcesSettings?: Record<string, unknown>;
  primaryUserAssignedIdentity?: string;
  /** Sent as `publicNetworkAccess` Enabled/Disabled. */
  allowPublicAccessWhenBehindVnet?: boolean;
  v1LegacyMode?: boolean;
  onProgress?: (p: OperationProgress) => void;
}

/**
 * What a workspace's services need to reach it: ids, its server, and how to sign in. The seed's
 * `ServiceContext`; other SDK parts (experiments, models, …) build their clients from it.
 */
export class ServiceContext {
  constructor(
    readonly subscriptionId: string,
    readonly resourceGroup: string,
    readonly workspaceName: string,
    readonly workspaceId: string | undefined,
    readonly workspaceDiscoveryUrl: string,
    readonly endpoint: string,
    readonly authentication: Authentication,
    /** The ARM client of this workspace's server. */
    readonly client: ArmClient,
  ) {}
  /** The workspace's ARM id. */
  get armScope(): string {
    return workspacePath(this.subscriptionId, this.resourceGroup, this.workspaceName);
  }
  getToken(audience: string = MANAGEMENT_AUDIENCE): Promise<AccessToken> {
    return this.authentication.getToken({ endpoint: this.endpoint, audience });
  }
}

const TERMINAL_OK = 'succeeded';

/**
 * An Atelier workspace: the seed's `azureml.core.Workspace`, in TypeScript. Obtain one with
 * `Workspace.get`, `Workspace.create`, `Workspace.fromConfig`, `Workspace.list` or `Workspace.setup`.
 */
export class Workspace {
  static readonly DEFAULT_CPU_CLUSTER_NAME = DEFAULT_CPU_CLUSTER_NAME;
  static readonly DEFAULT_GPU_CLUSTER_NAME = DEFAULT_GPU_CLUSTER_NAME;
  static readonly DEFAULT_CPU_CLUSTER_CONFIGURATION = DEFAULT_CPU_CLUSTER_CONFIGURATION;
  static readonly DEFAULT_GPU_CLUSTER_CONFIGURATION = DEFAULT_GPU_CLUSTER_CONFIGURATION;

  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
  private resource: WorkspaceResource;

  private constructor(
    private readonly client: ArmClient,
    resource: WorkspaceResource,
  ) {
    const ids = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\//i.exec(resource.id ?? '');
    if (!ids || typeof resource.name !== 'string')
      throw new ServiceError(`the server answered a workspace without a valid id (${String(resource.id)})`);
    this.subscriptionId = decodeURIComponent(ids[1]!);
    this.resourceGroup = decodeURIComponent(ids[2]!);
    this.name = resource.name;
    this.resource = resource;
  }

  // ---- plain properties -------------------------------------------------------------------

  /** The ARM id. */
  get id(): string {
    return this.resource.id;
  }
  /** The workspace GUID. */
  get workspaceId(): string | undefined {
    return this.resource.properties?.workspaceId;
  }
  get location(): string {
    return this.resource.location;
  }
  /** Kept for backward compatibility: always reported as `Basic`. */
  get sku(): string {
    return this.resource.sku?.name ?? 'Basic';
  }
  get tags(): Record<string, string> {
    return { ...(this.resource.tags ?? {}) };
  }
  get provisioningState(): string | undefined {
    return this.resource.properties?.provisioningState;
  }
  /** The server's discovery endpoint for this workspace. */
  get discoveryUrl(): string {
    return this.resource.properties?.discoveryUrl ?? `${this.client.endpoint}/discovery`;
  }
  get serviceContext(): ServiceContext {
    return new ServiceContext(
      this.subscriptionId,
      this.resourceGroup,
      this.name,
      this.workspaceId,
      this.discoveryUrl,
      this.client.endpoint,
      this.client.auth,
      this.client,
    );
  }
  /** The last ARM body read from the server (a copy). */
  get armResource(): WorkspaceResource {
    return structuredClone(this.resource);
  }
  private get path(): string {
    return workspacePath(this.subscriptionId, this.resourceGroup, this.name);
  }

  toString(): string {
    return `Workspace.create(name='${this.name}', subscriptionId='${this.subscriptionId}', resourceGroup='${this.resourceGroup}')`;
  }

  // ---- static methods ---------------------------------------------------------------------

  /** Loads an existing workspace; without a resource group, searches the subscription (must be unique). */
  static async get(name: string, opts: GetWorkspaceOptions = {}): Promise<Workspace> {
    checkWorkspaceName(name);
    const client = clientFor(opts);
    const sub = await resolveSubscription(client, opts.subscriptionId, opts.env);
    if (opts.resourceGroup) {
      checkResourceGroupName(opts.resourceGroup);
      const r = await client
        .request<WorkspaceResource>('GET', workspacePath(sub, opts.resourceGroup, name), {
          what: `get workspace '${name}'`,
        })
        .catch((e: unknown) => {
          if (e instanceof NotFoundError && e.code !== 'SubscriptionNotFound') {
            throw new NotFoundError(
              `workspace '${name}' was not found in resource group '${opts.resourceGroup}' of subscription ${sub}`,
              { status: 404, code: e.code, requestId: e.requestId },
            );
          }
          throw e;
        });
      const ws = new Workspace(client, r.body);
      if (opts.location && !sameLocation(ws.location, opts.location))
        throw new NotFoundError(`workspace '${name}' is in location '${ws.location}', not '${opts.location}'`, {
          status: 404,
          code: 'WorkspaceNotFound',
        });
      if (opts.id && ws.workspaceId?.toLowerCase() !== opts.id.toLowerCase())
        throw new NotFoundError(`workspace '${name}' has workspaceId ${ws.workspaceId}, not ${opts.id}`, {
          status: 404,
          code: 'WorkspaceNotFound',
        });
      return ws;
    }
    const found: Workspace[] = [];
    for await (const r of client.list<WorkspaceResource>(
      `${subscriptionPath(sub)}/providers/${WORKSPACE_PROVIDER}/workspaces`,
      { what: 'list workspaces' },
    )) {
      if (r.name?.toLowerCase() !== name.toLowerCase()) continue;
      if (opts.location && !sameLocation(r.location, opts.location)) continue;
      if (opts.id && r.properties?.workspaceId?.toLowerCase() !== opts.id.toLowerCase()) continue;
      found.push(new Workspace(client, r));
    }
    if (found.length === 0)
      throw new NotFoundError(`workspace '${name}' was not found in subscription ${sub} (or you may not see it)`, {
        status: 404,
        code: 'WorkspaceNotFound',
      });
    if (found.length > 1) {
      throw new ValidationError(
        `the name '${name}' matches ${found.length} workspaces, in resource groups ${found.map((w) => `'${w.resourceGroup}'`).join(', ')}: say which with resourceGroup`,
        {
          code: 'AmbiguousWorkspaceName',
          target: 'resourceGroup',
        },
      );
    }
    return found[0]!;
  }

  /** Every workspace the caller can see in a subscription (or one resource group), by name. */
  static async list(opts?: WorkspaceLookupOptions): Promise<Map<string, Workspace[]>>;
  static async list(subscriptionId: string, opts?: WorkspaceLookupOptions): Promise<Map<string, Workspace[]>>;
  static async list(
    a?: string | WorkspaceLookupOptions,
    b: WorkspaceLookupOptions = {},
  ): Promise<Map<string, Workspace[]>> {
    const opts: WorkspaceLookupOptions = typeof a === 'string' ? { ...b, subscriptionId: a } : (a ?? {});
    const client = clientFor(opts);
    const sub = await resolveSubscription(client, opts.subscriptionId, opts.env);
    const base = opts.resourceGroup
      ? groupPath(sub, checkResourceGroupName(opts.resourceGroup))
      : subscriptionPath(sub);
    const out = new Map<string, Workspace[]>();
    for await (const r of client.list<WorkspaceResource>(`${base}/providers/${WORKSPACE_PROVIDER}/workspaces`, {
      what: 'list workspaces',
    })) {
      const ws = new Workspace(client, r);
      const list = out.get(ws.name) ?? [];
      list.push(ws);
      out.set(ws.name, list);
    }
    return out;
  }

  /**
   * Creates a workspace (and its resource group when asked) and waits until it is provisioned.
   * Fails when it exists, unless `existOk`. Dependent resources left unset are made by the server.
   */
  static async create(opts: CreateWorkspaceOptions): Promise<Workspace> {
    if (!opts || typeof opts !== 'object')
      throw new ValidationError('Workspace.create needs an options object with at least a name');
    const name = checkWorkspaceName(opts.name);
    for (const [k, v] of [
      ['adbWorkspace', opts.adbWorkspace],
      ['privateEndpointConfig', opts.privateEndpointConfig],
    ] as const) {
      if (v !== undefined && v !== null)
        throw new NotImplementedError(
          `Workspace.create: '${k}' is not supported yet; create the workspace without it`,
          { code: 'NotImplemented', target: k },
        );
    }
    if (opts.tags !== undefined) checkTags(opts.tags);
    // Default clusters are checked before anything is made, so a bad one changes nothing.
    const defaultComputes = (
      [
        [DEFAULT_CPU_CLUSTER_NAME, 'defaultCpuComputeTarget', opts.defaultCpuComputeTarget],
        [DEFAULT_GPU_CLUSTER_NAME, 'defaultGpuComputeTarget', opts.defaultGpuComputeTarget],
      ] as const
    )
      .filter(([, , c]) => c !== undefined && c !== null)
      .map(([clusterName, option, c]) => ({ clusterName, config: defaultClusterConfig(option, c!) }));
    const authModes: Record<string, string> = {
      accesskey: 'AccessKey',
      identity: 'Identity',
      userdelegationsas: 'UserDelegationSAS',
    };
    const authMode =
      opts.systemDatastoresAuthMode === undefined
        ? undefined
        : authModes[String(opts.systemDatastoresAuthMode).toLowerCase()];
    if (opts.systemDatastoresAuthMode !== undefined && !authMode) {
      throw new ValidationError(
        `systemDatastoresAuthMode must be 'accessKey', 'identity' or 'userDelegationSAS', got '${String(opts.systemDatastoresAuthMode)}'`,
        { target: 'systemDatastoresAuthMode' },
      );
    }
    if ((opts.cmkKeyvault === undefined) !== (opts.resourceCmkUri === undefined)) {
      throw new ValidationError('cmkKeyvault and resourceCmkUri go together: give both or neither', {
        target: opts.cmkKeyvault === undefined ? 'cmkKeyvault' : 'resourceCmkUri',
      });
    }
    const props: C.WorkspaceProperties = {};
    if (opts.storageAccount !== undefined)
      props.storageAccount = normaliseResourceId(
        opts.storageAccount,
        'storageAccount',
        'Microsoft.Storage',
        'storageAccounts',
      );
    if (opts.keyVault !== undefined)
      props.keyVault = normaliseResourceId(opts.keyVault, 'keyVault', 'Microsoft.KeyVault', 'vaults');
    if (opts.appInsights !== undefined)
      props.applicationInsights = normaliseResourceId(
        opts.appInsights,
        'appInsights',
        'Microsoft.Insights',
        'components',
      );
    if (opts.containerRegistry !== undefined)
      props.containerRegistry = normaliseResourceId(
        opts.containerRegistry,
        'containerRegistry',
        'Microsoft.ContainerRegistry',
        'registries',
      );
    if (opts.friendlyName !== undefined) props.friendlyName = String(opts.friendlyName);
    if (opts.description !== undefined) props.description = String(opts.description);
    if (opts.hbiWorkspace !== undefined) props.hbiWorkspace = Boolean(opts.hbiWorkspace);
    if (opts.imageBuildCompute !== undefined) props.imageBuildCompute = opts.imageBuildCompute;
    if (authMode) props.systemDatastoresAuthMode = authMode;
    if (opts.v1LegacyMode !== undefined) props.v1LegacyMode = Boolean(opts.v1LegacyMode);
    if (opts.primaryUserAssignedIdentity !== undefined)
      props.primaryUserAssignedIdentity = opts.primaryUserAssignedIdentity;
    if (opts.cmkKeyvault !== undefined) {
      props.encryption = {
        status: 'Enabled',
        keyVaultProperties: {
          keyVaultArmId: normaliseResourceId(opts.cmkKeyvault, 'cmkKeyvault', 'Microsoft.KeyVault', 'vaults'),
          keyIdentifier: opts.resourceCmkUri,
        },
        ...(opts.userAssignedIdentityForCmkEncryption
          ? { identity: { userAssignedIdentity: opts.userAssignedIdentityForCmkEncryption } }
          : {}),
      };
    }

    const show = opts.showOutput ?? true;
    const print: OutputSink = opts.output ?? ((line) => host().print(line));
    const say = (line: string) => {
      if (show) print(line);
    };
    const client = clientFor(opts);
    const sub = await resolveSubscription(client, opts.subscriptionId, opts.env);
    const rgName = checkResourceGroupName(opts.resourceGroup ?? `${name}-rg`);
    const path = workspacePath(sub, rgName, name);

    let group = await getResourceGroup(client, sub, rgName);
    let createdGroup = false;
    if (group) {
      const existing = await client
        .request<WorkspaceResource>('GET', path, { what: `get workspace '${name}'` })
        .catch((e: unknown) => {
          if (e instanceof NotFoundError) return undefined;
          throw e;
        });
      if (existing) {
        if (opts.existOk) {
          say(`Workspace '${name}' already exists in resource group '${rgName}'; using it.`);
          return new Workspace(client, existing.body);
        }
        throw new ConflictError(
          `workspace '${name}' already exists in resource group '${rgName}'; pass existOk: true to use it`,
          { status: 409, code: 'WorkspaceAlreadyExists', target: 'name' },
        );
      }
    } else {
      if (opts.createResourceGroup === false) {
        throw new NotFoundError(
          `resource group '${rgName}' does not exist in subscription ${sub}; create it, or pass createResourceGroup: true`,
          { status: 404, code: 'ResourceGroupNotFound', target: 'resourceGroup' },
        );
      }
      group = await createResourceGroup(client, sub, rgName, opts.location ?? 'local');
      createdGroup = true;
      say(`Created resource group '${rgName}' in '${group.location}'.`);
    }
    const location = opts.location ?? group.location;
    const body: C.WorkspaceBody = {
      location,
      sku: { name: 'Basic', tier: 'Basic' },
      identity: opts.primaryUserAssignedIdentity
        ? { type: 'SystemAssigned,UserAssigned', userAssignedIdentities: { [opts.primaryUserAssignedIdentity]: {} } }
        : { type: 'SystemAssigned' },
      properties: props,
    };
    if (opts.tags) body.tags = opts.tags;
    say(`Creating workspace '${name}' in resource group '${rgName}' (${location})…`);
    let final: ArmResponse | undefined;
    let initial: ArmResponse<WorkspaceResource>;
    try {
      initial = await client.request<WorkspaceResource>('PUT', path, { body, what: `create workspace '${name}'` });
      let last = '';
      final = await client.waitFor(initial, 'PUT', path, {
        what: `create workspace '${name}'`,
        onProgress: (p) => {
          opts.onProgress?.(p);
          if (p.status !== last) {
            last = p.status;
            if (p.status.toLowerCase() !== TERMINAL_OK) say(`  ${p.status}… (${(p.elapsedMs / 1000).toFixed(1)} s)`);
          }
        },
      });
    } catch (e) {
      // A group made for this workspace goes with it when the workspace could not be made
      // (only while it is still empty: anything else put there since stays).
      if (createdGroup) {
        const removed = await removeGroupIfEmpty(client, sub, rgName);
        if (removed) say(`Removed resource group '${rgName}' again.`);
      }
      throw e;
    }
    const ws = new Workspace(client, (final ?? initial).body as WorkspaceResource);
    // The default clusters, after the workspace (as azureml-core makes them). One that cannot be
    // made takes the workspace (and a group made for it) with it: no half-made workspace stays.
    for (const { clusterName, config } of defaultComputes) {
      try {
        say(
          `Creating compute '${clusterName}' (${config.vmSize ?? 'default size'}, ${config.minNodes}–${config.maxNodes ?? 1} nodes)…`,
        );
        const target = await ComputeTarget.create(ws, clusterName, config);
        await target.waitForCompletion({ showOutput: false });
      } catch (e) {
        say(`Compute '${clusterName}' could not be made; removing workspace '${name}' again.`);
        await ws.delete({ deleteDependentResources: true }).catch(() => undefined);
        if (createdGroup) await removeGroupIfEmpty(client, sub, rgName);
        throw e;
      }
    }
    const p = ws.resource.properties ?? {};
    say(`Workspace '${name}' is ready: provisioningState ${p.provisioningState ?? 'Succeeded'}.`);
    for (const [label, id] of [
      ['storage account', p.storageAccount],
      ['key vault', p.keyVault],
      ['application insights', p.applicationInsights],
      ['container registry', p.containerRegistry],
    ] as const) {
      if (id) say(`  ${label}: ${id}`);
    }
    return ws;
  }

  /** Loads the workspace named by a config file (see `loadWorkspaceConfig` for the search). */
  static async fromConfig(opts: { path?: string; fileName?: string } & ConnectionOptions = {}): Promise<Workspace> {
    const cfg = host().loadWorkspaceConfig(opts);
    return Workspace.fromWorkspaceConfig(cfg, opts);
  }

  private static async fromWorkspaceConfig(cfg: WorkspaceConfig, opts: ConnectionOptions): Promise<Workspace> {
    const client = clientFor(opts, cfg.endpoint);
    const r = await client
      .request<WorkspaceResource>('GET', workspacePath(cfg.subscriptionId, cfg.resourceGroup, cfg.workspaceName), {
        what: `get workspace '${cfg.workspaceName}' named in ${cfg.file}`,
      })
      .catch((e: unknown) => {
        if (e instanceof NotFoundError)
          throw new NotFoundError(`${e.message} (the workspace named in ${cfg.file} may have been deleted)`, {
            status: 404,
            code: e.code,
            requestId: e.requestId,
          });
        throw e;
      });
    return new Workspace(client, r.body);
  }

  /**
   * Create-or-get: the workspace of the config file when there is one; else the named workspace,
   * created (with its resource group) when missing, and a config file written for next time.
   * Without a config file and without a name, asks `prompt` (when given) for the name.
   */
  static async setup(
    opts: Partial<CreateWorkspaceOptions> & {
      path?: string;
      fileName?: string;
      prompt?: (question: string) => Promise<string>;
    } = {},
  ): Promise<Workspace> {
    try {
      return await Workspace.fromConfig(opts);
    } catch (e) {
      if (!(e instanceof ConfigurationError && e.code === 'ConfigFileNotFound')) throw e;
    }
    let name = opts.name;
    if (!name && opts.prompt) name = (await opts.prompt('Workspace name: ')).trim();
    if (!name) {
      throw new ConfigurationError(
        'Workspace.setup found no config file and was given no workspace name: pass { name } (and resourceGroup), or a prompt function',
        { code: 'ConfigFileNotFound' },
      );
    }
    const ws = await Workspace.create({ ...opts, name, existOk: true });
    ws.writeConfig({ path: opts.path, fileName: opts.fileName });
    return ws;
  }

  // ---- instance methods -------------------------------------------------------------------

  private async reload(): Promise<WorkspaceResource> {
    const r = await this.client.request<WorkspaceResource>('GET', this.path, { what: `get workspace '${this.name}'` });
    this.resource = r.body;
    return r.body;
  }

  /** The workspace's details, read from the server now, with exactly the seed's keys. */
  async getDetails(): Promise<WorkspaceDetails> {
    return toDetails(await this.reload());
  }

  /**
   * Writes `{subscription_id, resource_group, workspace_name, endpoint}` to `path/fileName`
   * (default `.azureml/config.json` in the current folder), for `fromConfig`. Returns the file.
   */
  writeConfig(opts: { path?: string; fileName?: string } = {}): string {
    return host().writeWorkspaceConfig(
      {
        subscriptionId: this.subscriptionId,
        resourceGroup: this.resourceGroup,
        workspaceName: this.name,
        endpoint: this.client.endpoint,
      },
      opts,
    );
  }

  /** Updates friendly name, description, tags, image build compute and other settings. Returns the new details. */
  async update(opts: UpdateWorkspaceOptions): Promise<WorkspaceDetails> {
    const props: NonNullable<C.WorkspacePatchBody['properties']> = {};
    if (opts.friendlyName !== undefined) props.friendlyName = String(opts.friendlyName);
    if (opts.description !== undefined) props.description = String(opts.description);
    if (opts.imageBuildCompute !== undefined) props.imageBuildCompute = String(opts.imageBuildCompute);
    if (opts.serviceManagedResourcesSettings !== undefined)
      props.serviceManagedResourcesSettings = opts.serviceManagedResourcesSettings;
    if (opts.primaryUserAssignedIdentity !== undefined)
      props.primaryUserAssignedIdentity = opts.primaryUserAssignedIdentity;
    if (opts.allowPublicAccessWhenBehindVnet !== undefined)
      props.publicNetworkAccess = opts.allowPublicAccessWhenBehindVnet ? 'Enabled' : 'Disabled';
    if (opts.v1LegacyMode !== undefined) props.v1LegacyMode = Boolean(opts.v1LegacyMode);
    const body: C.WorkspacePatchBody = {};
    if (opts.tags !== undefined) body.tags = checkTags(opts.tags);
    if (Object.keys(props).length) body.properties = props;
    if (!Object.keys(body).length)
      throw new ValidationError(
        'update was given nothing to change: pass friendlyName, description, tags, imageBuildCompute, …',
        { code: 'NothingToUpdate' },
      );
    await this.patch(body, `update workspace '${this.name}'`, opts.onProgress);
    return toDetails(this.resource);
  }

  /**
   * Replaces a dependent resource (the container registry) by an existing one: when one was
   * deleted by mistake, when you own one to use instead, or before a registry was ever made.
   * Replacing a registry the workspace already uses needs `force: true`.
   */
  async updateDependencies(opts: { containerRegistry?: string; force?: boolean } = {}): Promise<WorkspaceDetails> {
    if (opts.containerRegistry === undefined)
      throw new ValidationError(
        'updateDependencies needs containerRegistry (the ARM id of an existing container registry)',
        { code: 'NothingToUpdate', target: 'containerRegistry' },
      );
    const id = normaliseResourceId(
      opts.containerRegistry,
      'containerRegistry',
      'Microsoft.ContainerRegistry',
      'registries',
    );
    const current = (await this.reload()).properties?.containerRegistry;
    if (current && current.toLowerCase() === id.toLowerCase()) return toDetails(this.resource);
    if (current && !opts.force) {
      throw new ValidationError(
        `workspace '${this.name}' already uses container registry ${current}; pass force: true to replace it with ${id}`,
        { code: 'ConfirmationRequired', target: 'force' },
      );
    }
    await this.patch(
      { properties: { containerRegistry: id } },
      `update the dependencies of workspace '${this.name}'`,
      undefined,
      opts.force ? { force: 'true' } : undefined,
    );
    return toDetails(this.resource);
  }

  private async patch(
    body: C.WorkspacePatchBody,
    what: string,
    onProgress?: (p: OperationProgress) => void,
    query?: Record<string, string>,
  ): Promise<void> {
    const initial = await this.client.request<WorkspaceResource>('PATCH', this.path, { body, what, query });
    const final = await this.client.waitFor(initial, 'PATCH', this.path, { what, onProgress });
    if (final?.body && typeof final.body === 'object' && (final.body as WorkspaceResource).id)
      this.resource = final.body as WorkspaceResource;
    else await this.reload();
  }

  /**
   * Deletes the workspace. With `deleteDependentResources`, also its storage account, key vault,
   * application insights and container registry. With `noWait`, returns once the server accepted.
   */
  async delete(
    opts: { deleteDependentResources?: boolean; noWait?: boolean; onProgress?: (p: OperationProgress) => void } = {},
  ): Promise<void> {
    const what = `delete workspace '${this.name}'`;
    const dependents = opts.deleteDependentResources
      ? [
          this.resource.properties?.storageAccount,
          this.resource.properties?.keyVault,
          this.resource.properties?.applicationInsights,
          this.resource.properties?.containerRegistry,
        ].filter((x): x is string => typeof x === 'string' && x.length > 0)
      : [];
    const initial = await this.client.request('DELETE', this.path, {
      what,
      query: opts.deleteDependentResources ? { deleteDependentResources: 'true' } : undefined,
    });
    if (opts.noWait) return;
    if (initial.status !== 204)
      await this.client.waitFor(initial, 'DELETE', this.path, { what, onProgress: opts.onProgress });
    // Whatever the server did not remove itself is removed by id, as the seed's SDK does.
    for (const id of dependents) {
      const exists = await this.client.request('GET', id, { what: `get ${id}` }).then(
        () => true,
        (e: unknown) => {
          if (e instanceof NotFoundError) return false;
          throw e;
        },
      );
      if (!exists) continue;
      const res = await this.client.request('DELETE', id, { what: `delete ${id}` });
      if (res.status !== 204) await this.client.waitFor(res, 'DELETE', id, { what: `delete ${id}` });
    }
  }

  /** The current keys of the workspace's dependent resources (`POST W/listKeys`). */
  async listKeys(): Promise<WorkspaceKeys> {
    const r = await this.client.request<WorkspaceKeys>('POST', `${this.path}/listKeys`, {
      what: `list the keys of workspace '${this.name}'`,
    });
    if (!r.body || typeof r.body !== 'object')
      throw new ServiceError('listKeys answered without a body', { status: r.status });
    return r.body;
  }

  /** Makes keys rotated on a dependent resource reach the workspace now (`POST W/resyncKeys`). */
  async syncKeys(opts: { noWait?: boolean; onProgress?: (p: OperationProgress) => void } = {}): Promise<void> {
    const what = `sync the keys of workspace '${this.name}'`;
    const initial: ArmResponse = await this.client.request('POST', `${this.path}/resyncKeys`, { what });
    if (!opts.noWait) await this.client.waitFor(initial, 'POST', this.path, { what, onProgress: opts.onProgress });
  }

  /** The MLflow tracking URI of this workspace: `{server}/mlflow/v1.0{W}`, plain http(s). */
  getMlflowTrackingUri(): string {
    return this.resource.properties?.mlFlowTrackingUri ?? `${this.client.endpoint}/mlflow/v1.0${this.id}`;
  }
}

/** Deletes a resource group only when nothing is in it; says whether it did. Never throws. */
async function removeGroupIfEmpty(client: ArmClient, sub: string, rg: string): Promise<boolean> {
  try {
    const r = await client.request<{ value?: unknown[] }>('GET', `${groupPath(sub, rg)}/resources`);
    if (!Array.isArray(r.body?.value) || r.body.value.length > 0) return false;
    return await deleteResourceGroup(client, sub, rg);
  } catch {
    return false;
  }
}

function clientFor(opts: ConnectionOptions, configEndpoint?: string): ArmClient {
  const c = resolveConnection(opts, configEndpoint);
  return new ArmClient(c.endpoint, c.auth);
}

/** A default cluster's configuration: a provisioning configuration, or a `{vmSize, minNodes, maxNodes, vmPriority}` constant. */
function defaultClusterConfig(option: string, c: unknown): AmlComputeProvisioningConfiguration {
  if (!c || typeof c !== 'object')
    throw new ValidationError(
      `${option} must be AmlCompute.provisioningConfiguration({...}) (e.g. Workspace.DEFAULT_CPU_CLUSTER_CONFIGURATION)`,
      { target: option },
    );
  const o = c as Partial<AmlComputeProvisioningConfiguration> & { computeType?: string };
  if (o.computeType !== undefined && o.computeType !== 'AmlCompute')
    throw new ValidationError(`${option} must be an AmlCompute configuration, got computeType '${o.computeType}'`, {
      target: option,
    });
  try {
    const config = AmlCompute.provisioningConfiguration({
      vmSize: o.vmSize,
      vmPriority: o.vmPriority,
      minNodes: o.minNodes,
      maxNodes: o.maxNodes,
      idleSecondsBeforeScaledown: o.idleSecondsBeforeScaledown,
      description: o.description,
      tags: o.tags,
    });
    computeBody(config);
    return config;
  } catch (e) {
    if (e instanceof ValidationError)
      throw new ValidationError(`${option}: ${e.message}`, { target: `${option}.${e.target ?? ''}` });
    throw e;
  }
}

function sameLocation(a: string, b: string): boolean {
  return a.toLowerCase().replace(/\s+/g, '') === b.toLowerCase().replace(/\s+/g, '');
}

function checkTags(tags: unknown): Record<string, string> {
  if (!tags || typeof tags !== 'object' || Array.isArray(tags))
    throw new ValidationError('tags must be an object of string values', { target: 'tags' });
  for (const [k, v] of Object.entries(tags)) {
    if (typeof v !== 'string')
      throw new ValidationError(`tag '${k}' must have a string value, got ${typeof v}`, { target: `tags.${k}` });
  }
  return tags as Record<string, string>;
}
