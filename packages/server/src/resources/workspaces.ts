import crypto from 'node:crypto';
import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import { Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed } from '../errors.js';
import {
  checkVaultForWorkspace,
  resolveCustomerKey,
  type CustomerKeyLookup,
  type CustomerKeySetting,
} from './workspace-encryption.js';
import { groupId } from './arm-ids.js';
import {
  ResourceEngine,
  readResource,
  toArmBody,
  type Preconditions,
  type ResourceDefinition,
  type StoredResource,
} from './engine.js';
import { DependentResources, VAULT, dependentName, type DependentKind } from './dependents.js';
import { parseResourceId, resourceId } from './resource-ids.js';
import { STALE_MS, type OperationJournal, type OperationService, type Operation } from '../operations/operations.js';
import { normaliseLocation } from './resource-groups.js';
import './tables.js';
import type { WorkspaceInfo } from './workspace-info.js';

export const WORKSPACE = 'Microsoft.MachineLearningServices/workspaces';

/** The seed's rule: 2–32 characters, first alphanumeric, then alphanumerics, '-' or '_'. */
export function checkWorkspaceName(name: string): void {
  if (typeof name !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_-]{1,31}$/.test(name)) {
    throw new InvalidInput(
      `workspace name '${String(name)}' is invalid: use 2–32 characters, the first a letter or digit, the rest letters, digits, '-' or '_'`,
      { code: 'INVALID_WORKSPACE_NAME', target: 'workspaceName' },
    );
  }
}

export const workspaceDef: ResourceDefinition = {
  type: WORKSPACE,
  checkName: checkWorkspaceName,
  immutable: ['hbiWorkspace', 'storageAccount', 'keyVault', 'workspaceId'],
};

/** What other features need to know about a workspace (see `resolveWorkspace`). */
export type { WorkspaceInfo } from './workspace-info.js';

export type WorkspaceHook = (ws: WorkspaceInfo) => Promise<void>;

/** Fields of `properties` a PUT may set (read-only ones sent back by clients are ignored). */
export interface WorkspaceProperties {
  friendlyName?: string;
  description?: string;
  // Ids of dependent resources: null (as the wire allows) is the same as left out.
  storageAccount?: string | null;
  keyVault?: string | null;
  applicationInsights?: string | null;
  containerRegistry?: string | null;
  hbiWorkspace?: boolean;
  imageBuildCompute?: string | null;
  systemDatastoresAuthMode?: string;
  publicNetworkAccess?: string;
  allowPublicAccessWhenBehindVnet?: boolean;
  v1LegacyMode?: boolean;
  primaryUserAssignedIdentity?: string | null;
  encryption?: { status?: string; keyVaultProperties?: Record<string, unknown>; identity?: Record<string, unknown> };
  [k: string]: unknown;
}

export interface WorkspaceInput {
  location?: string;
  tags?: Record<string, string>;
  sku?: { name?: string; tier?: string };
  kind?: string;
  identity?: { type?: string; userAssignedIdentities?: Record<string, unknown> };
  properties?: WorkspaceProperties;
}

/** Properties a PATCH may change (WorkspacePropertiesUpdateParameters of 2025-09-01, and the seed's update()). */
export /**
 * Fixed settings and what they read as when never set: a PUT repeating the default is no change
 * (azure-ai-ml's feature-store template PUTs its workspace again with softDeleteEnabled 'false').
 */
const DEFAULT_WHEN_UNSET: Record<string, boolean> = {
  hbiWorkspace: false,
  softDeleteEnabled: false,
  allowRecoverSoftDeletedWorkspace: false,
  provisionNetworkNow: false,
  allowRoleAssignmentOnRG: true,
};

const UPDATABLE = [
  'description',
  'friendlyName',
  'imageBuildCompute',
  'serviceManagedResourcesSettings',
  'primaryUserAssignedIdentity',
  'serverlessComputeSettings',
  'publicNetworkAccess',
  'applicationInsights',
  'containerRegistry',
  'featureStoreSettings',
  'managedNetwork',
  'enableDataIsolation',
  'systemDatastoresAuthMode',
  'v1LegacyMode',
  'encryption',
  'allowPublicAccessWhenBehindVnet',
] as const;

/** Settings stored as given (accepted on PUT, reported back). */
const STORED_AS_GIVEN = [
  'serviceManagedResourcesSettings',
  'serverlessComputeSettings',
  'featureStoreSettings',
  'managedNetwork',
  'enableDataIsolation',
  'enableServiceSideCMKEncryption',
  'hubResourceId',
  'associatedWorkspaces',
  'workspaceHubConfig',
  'sharedPrivateLinkResources',
  'provisionNetworkNow',
];

const CACHED_KEYS = [
  'userStorageKey',
  'appInsightsInstrumentationKey',
  'containerRegistryPassword',
  'containerRegistryPassword2',
];

export function workspaceInfo(ctx: AppContext, r: StoredResource): WorkspaceInfo {
  const p = r.properties;
  return {
    id: r.id,
    workspaceId: p.workspaceId as string,
    name: r.name,
    subscriptionId: r.subscriptionId,
    resourceGroup: r.resourceGroup,
    location: r.location ?? 'local',
    provisioningState: (p.provisioningState as string) ?? 'Succeeded',
    storageAccountId: (p.storageAccount as string) || undefined,
    keyVaultId: (p.keyVault as string) || undefined,
    applicationInsightsId: (p.applicationInsights as string) || undefined,
    containerRegistryId: (p.containerRegistry as string) || undefined,
    publicNetworkAccess: p.publicNetworkAccess === 'Disabled' ? 'Disabled' : 'Enabled',
    hbiWorkspace: Boolean(p.hbiWorkspace),
    systemDatastoresAuthMode: (p.systemDatastoresAuthMode as string) ?? 'AccessKey',
    mlFlowTrackingUri: `${ctx.config.publicUrl}/mlflow/v1.0${r.id}`,
    tags: r.tags,
  };
}

/**
 * Finds a workspace by subscription, resource group and name (no access check: callers check
 * `ctx.access.require(principal, ws.id, action, …)`). Throws NotFound when there is none.
 */
export async function resolveWorkspace(
  ctx: AppContext,
  subscriptionId: string,
  resourceGroup: string,
  workspaceName: string,
): Promise<WorkspaceInfo> {
  const id = resourceId(subscriptionId, resourceGroup, WORKSPACE, workspaceName);
  const r = await readResource(ctx.db, id);
  if (!r)
    throw new NotFound(`workspace '${workspaceName}' could not be found in resource group '${resourceGroup}'`, {
      code: 'WORKSPACE_NOT_FOUND',
    });
  return workspaceInfo(ctx, r);
}

/** Finds a workspace by its ARM id (W). Throws NotFound. */
export async function resolveWorkspaceById(ctx: AppContext, armId: string): Promise<WorkspaceInfo> {
  const p = parseResourceId(armId, 'workspace id');
  if (p.type.toLowerCase() !== WORKSPACE.toLowerCase()) throw new NotFound(`'${armId}' is not a workspace`);
  return resolveWorkspace(ctx, p.subscriptionId, p.resourceGroup, p.name);
}

/** Finds a workspace by its GUID (`workspaceId`). Throws NotFound. */
export async function resolveWorkspaceByGuid(ctx: AppContext, workspaceId: string): Promise<WorkspaceInfo> {
  const hit = /^[0-9a-f-]{36}$/i.test(workspaceId)
    ? await ctx.db
        .selectFrom('workspace_ids')
        .select('id_key')
        .where('workspace_id', '=', workspaceId.toLowerCase())
        .executeTakeFirst()
    : undefined;
  const r = hit && (await readResource(ctx.db, hit.id_key));
  if (!r) throw new NotFound(`no workspace has the id '${workspaceId}'`, { code: 'WORKSPACE_NOT_FOUND' });
  return workspaceInfo(ctx, r);
}

function boolOrUndefined(v: unknown, target: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new InvalidInput(`${target} must be true or false`, { target });
  return v;
}

function enumValue(v: unknown, allowed: string[], target: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  const hit = allowed.find((a) => a.toLowerCase() === String(v).toLowerCase());
  if (!hit) throw new InvalidInput(`${target} must be one of ${allowed.join(', ')}, got '${String(v)}'`, { target });
  return hit;
}

/**
 * Workspaces: create (LRO: provisions the dependent resources left unset), get, update, delete
 * (LRO, optionally with the dependents), keys. Other features hook into provisioning and deletion
 * with `onWorkspaceCreated` / `onWorkspaceDeleting`.
 */
export class WorkspaceService {
  /** Run at the end of provisioning, before the workspace is Succeeded; a throw fails (and undoes) the create. */
  readonly onWorkspaceCreated: WorkspaceHook[] = [];
  /** Run when a workspace is being deleted (and when a failed create is undone), before its records go. */
  readonly onWorkspaceDeleting: WorkspaceHook[] = [];
  readonly dependents: DependentResources;
  /** The keys of key vaults, for workspaces with customer-managed keys (plugged in by the key vault keys module). */
  customerKeys?: CustomerKeyLookup;

  constructor(
    private readonly ctx: AppContext,
    readonly engine: ResourceEngine,
    private readonly operations: OperationService,
  ) {
    this.dependents = new DependentResources(ctx, engine);
    this.dependents.workspacesNaming = async (tx, vaultId, deletingGroupKey) =>
      (await this.engine.scan({ type: WORKSPACE, topLevel: true }, tx))
        .filter(
          (w) =>
            String(w.properties.keyVault ?? '').toLowerCase() === vaultId.toLowerCase() &&
            w.properties.provisioningState !== 'Deleting' &&
            !(deletingGroupKey !== undefined && w.id.toLowerCase().startsWith(`${deletingGroupKey}/`)),
        )
        .map((w) => w.id);
    operations.onRecover('workspace.create', async (op, journal) => {
      // A create that reached Succeeded is finished, whatever happened to its operation after.
      if ((await this.engine.get(op.resourceId))?.properties.provisioningState === 'Succeeded') return 'completed';
      await this.undoCreate(op.resourceId, journal);
    });
    operations.onRecover('workspace.delete', async (op, journal) => {
      const r = await this.engine.get(op.resourceId);
      if (r) await this.finishDelete(r, Boolean(journal.deleteDependentResources));
    });
    operations.onRecover('workspace.resyncKeys', async () => {});
    operations.onSweep(() => this.recoverOrphans());
  }

  /**
   * A process that stopped between marking a workspace Creating/Deleting and recording the
   * operation leaves a workspace in that state with no operation: undo the create / finish the delete.
   */
  async recoverOrphans(): Promise<void> {
    const rows = await this.engine.scan({
      type: WORKSPACE,
      topLevel: true,
      provisioningStates: ['Creating', 'Deleting'],
    });
    for (const r of rows) {
      const state = r.properties.provisioningState;
      if (state !== 'Creating' && state !== 'Deleting') continue;
      const since = Number(r.properties.stateSince ?? r.createdAt);
      if (Date.now() - since < STALE_MS) continue;
      const ops = await this.ctx.db
        .selectFrom('operations')
        .select(['status', 'created_at'])
        .where('resource_id', '=', r.id)
        .execute();
      if (ops.some((o) => o.status === 'InProgress' || o.created_at >= since)) continue;
      this.ctx.log.warn({ workspace: r.id, state }, 'recovering a workspace left without its operation');
      if (state === 'Creating') await this.undoCreate(r.id, { hooks: true });
      else await this.finishDelete(r, false);
    }
  }

  id(sub: string, rg: string, name: string): string {
    return resourceId(sub, rg, WORKSPACE, name);
  }

  async get(sub: string, rg: string, name: string): Promise<StoredResource | undefined> {
    return this.engine.get(this.id(sub, rg, name));
  }

  async require(sub: string, rg: string, name: string): Promise<StoredResource> {
    const r = await this.get(sub, rg, name);
    if (!r)
      throw new NotFound(`workspace '${name}' could not be found in resource group '${rg}'`, {
        code: 'WORKSPACE_NOT_FOUND',
      });
    return r;
  }

  info(r: StoredResource): WorkspaceInfo {
    return workspaceInfo(this.ctx, r);
  }

  /** The ARM body of a workspace (2025-09-01 shape). */
  toArm(r: StoredResource): Record<string, unknown> {
    const p = r.properties;
    const props: Record<string, unknown> = {
      workspaceId: p.workspaceId,
      provisioningState: p.provisioningState ?? 'Succeeded',
      friendlyName: p.friendlyName ?? r.name,
      description: p.description ?? '',
      storageAccount: p.storageAccount ?? null,
      keyVault: p.keyVault ?? null,
      applicationInsights: p.applicationInsights ?? null,
      containerRegistry: p.containerRegistry ?? null,
      hbiWorkspace: Boolean(p.hbiWorkspace),
      imageBuildCompute: p.imageBuildCompute ?? null,
      systemDatastoresAuthMode: p.systemDatastoresAuthMode ?? 'AccessKey',
      publicNetworkAccess: p.publicNetworkAccess ?? 'Enabled',
      allowPublicAccessWhenBehindVnet: Boolean(p.allowPublicAccessWhenBehindVnet),
      v1LegacyMode: Boolean(p.v1LegacyMode),
      discoveryUrl: `${this.ctx.config.publicUrl}/discovery`,
      mlFlowTrackingUri: `${this.ctx.config.publicUrl}/mlflow/v1.0${r.id}`,
      tenantId: this.ctx.tenantId,
      creationTime: p.creationTime,
      storageHnsEnabled: false,
      privateLinkCount: 0,
    };
    if (p.primaryUserAssignedIdentity) props.primaryUserAssignedIdentity = p.primaryUserAssignedIdentity;
    if (p.encryption) props.encryption = p.encryption;
    for (const k of STORED_AS_GIVEN) if (p[k] !== undefined) props[k] = p[k];
    const body = toArmBody(r, props);
    body.sku = { name: 'Basic', tier: 'Basic' };
    body.kind = r.kind ?? 'Default';
    if (!body.identity) body.identity = { type: 'None' };
    return body;
  }

  private async makeIdentity(
    given: WorkspaceInput['identity'],
    existing?: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const type = enumValue(
      given?.type ?? existing?.type ?? 'SystemAssigned',
      ['SystemAssigned', 'UserAssigned', 'SystemAssigned,UserAssigned', 'None'],
      'identity.type',
    )!;
    if (type === 'None') return { type };
    const out: Record<string, unknown> = { type };
    if (type.includes('SystemAssigned')) {
      out.principalId = (existing?.principalId as string) ?? crypto.randomUUID();
      out.tenantId = this.ctx.tenantId;
    }
    if (type.includes('UserAssigned')) {
      const ua = given?.userAssignedIdentities ?? (existing?.userAssignedIdentities as Record<string, unknown>) ?? {};
      const keys = Object.keys(ua);
      if (keys.length === 0)
        throw new InvalidInput(
          "identity.userAssignedIdentities must name at least one identity when identity.type includes 'UserAssigned'",
          { target: 'identity.userAssignedIdentities' },
        );
      const outUa: Record<string, unknown> = {};
      for (const k of keys) {
        parseResourceId(k, 'identity.userAssignedIdentities key');
        const prev = (existing?.userAssignedIdentities as Record<string, Record<string, string>> | undefined)?.[k];
        // A managed identity of this server (Microsoft.ManagedIdentity/userAssignedIdentities) lends its own ids.
        const made = await this.engine.get(k);
        const own = made?.type.toLowerCase() === 'microsoft.managedidentity/userassignedidentities' ? made : undefined;
        outUa[k] = {
          principalId: (own?.properties.principalId as string | undefined) ?? prev?.principalId ?? crypto.randomUUID(),
          clientId: (own?.properties.clientId as string | undefined) ?? prev?.clientId ?? crypto.randomUUID(),
        };
      }
      out.userAssignedIdentities = outUa;
    }
    return out;
  }

  /** Validates and normalises settable properties (shared by PUT and PATCH). */
  private normaliseSettable(props: WorkspaceProperties): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (props.friendlyName !== undefined) out.friendlyName = props.friendlyName;
    if (props.description !== undefined) out.description = props.description;
    if (props.imageBuildCompute !== undefined) out.imageBuildCompute = props.imageBuildCompute;
    if (props.primaryUserAssignedIdentity !== undefined) {
      if (props.primaryUserAssignedIdentity)
        parseResourceId(props.primaryUserAssignedIdentity, 'properties.primaryUserAssignedIdentity');
      out.primaryUserAssignedIdentity = props.primaryUserAssignedIdentity;
    }
    const sdam = enumValue(
      props.systemDatastoresAuthMode,
      ['AccessKey', 'Identity', 'UserDelegationSAS'],
      'properties.systemDatastoresAuthMode',
    );
    if (sdam) out.systemDatastoresAuthMode = sdam;
    const pna = enumValue(props.publicNetworkAccess, ['Enabled', 'Disabled'], 'properties.publicNetworkAccess');
    if (pna) out.publicNetworkAccess = pna;
    const v1 = boolOrUndefined(props.v1LegacyMode, 'properties.v1LegacyMode');
    if (v1 !== undefined) out.v1LegacyMode = v1;
    const apa = boolOrUndefined(props.allowPublicAccessWhenBehindVnet, 'properties.allowPublicAccessWhenBehindVnet');
    if (apa !== undefined) out.allowPublicAccessWhenBehindVnet = apa;
    // properties.encryption (customer-managed keys) is validated by put() and update(): it needs the database.
    for (const k of STORED_AS_GIVEN) if (props[k] !== undefined) out[k] = props[k];
    return out;
  }

  /**
   * ARM PUT of a workspace. A new one is created with provisioningState Creating and an operation
   * provisions it (the returned operation); an existing one is updated at once (no operation).
   */
  async put(
    sub: string,
    rg: string,
    name: string,
    input: WorkspaceInput,
    by: Principal,
    pre: Preconditions = {},
  ): Promise<{ resource: StoredResource; created: boolean; operation?: Operation }> {
    checkWorkspaceName(name);
    const id = this.id(sub, rg, name);
    const existing = await this.engine.get(id);
    const props = input.properties ?? {};
    if (existing) {
      const state = existing.properties.provisioningState;
      if (state === 'Creating' || state === 'Deleting')
        throw new Conflict(
          `workspace '${existing.name}' is ${String(state).toLowerCase()}; wait for its operation to end`,
          { code: 'WORKSPACE_BUSY' },
        );
      if (input.location && normaliseLocation(input.location) !== existing.location) {
        throw new InvalidInput(`location cannot change: workspace '${existing.name}' is in '${existing.location}'`, {
          code: 'INVALID_INPUT',
          target: 'location',
        });
      }
      const resource = await this.update(
        existing,
        { tags: input.tags ?? existing.tags, identity: input.identity, properties: props },
        by,
        pre,
        { fromPut: true },
      );
      return { resource, created: false };
    }
    const group = await this.ctx.db
      .selectFrom('resource_groups')
      .selectAll()
      .where('id_key', '=', groupId(sub, rg).toLowerCase())
      .executeTakeFirst();
    if (!group) throw new NotFound(`resource group '${rg}' could not be found`, { code: 'RESOURCE_GROUP_NOT_FOUND' });
    const location = input.location ? normaliseLocation(input.location) : group.location;
    if (pre.ifMatch !== undefined)
      throw new PreconditionFailed(
        `workspace '${name}' does not exist but If-Match was sent; drop the header to create it`,
        { code: 'PRECONDITION_FAILED' },
      );
    const settable = this.normaliseSettable(props);
    const hbi = boolOrUndefined(props.hbiWorkspace, 'properties.hbiWorkspace') ?? false;
    // Dependent resources given by id must exist and be visible to the caller.
    const given: Partial<Record<DependentKind, string>> = {};
    for (const kind of ['storageAccount', 'keyVault', 'applicationInsights', 'containerRegistry'] as const) {
      const v = props[kind];
      if (v === undefined || v === null || v === '') continue;
      if (typeof v !== 'string')
        throw new InvalidInput(`properties.${kind} must be an ARM resource id`, { target: `properties.${kind}` });
      const dep = await this.dependents.requireExisting(kind, v, `properties.${kind}`);
      await this.requireLinkable(by, dep.id, `properties.${kind}`);
      given[kind] = dep.id;
    }
    let cmk: CustomerKeySetting | undefined;
    if (props.encryption !== undefined && props.encryption !== null) {
      const status = enumValue(
        props.encryption.status ?? 'Disabled',
        ['Enabled', 'Disabled'],
        'properties.encryption.status',
      );
      if (status === 'Enabled') cmk = await resolveCustomerKey(this.ctx, this.customerKeys, by, props.encryption);
      settable.encryption = cmk ? cmk.encryption : { status: 'Disabled' };
      if (cmk) settable.cmkRef = cmk.ref;
    }
    if (given.keyVault) await checkVaultForWorkspace(this.ctx, given.keyVault, Boolean(cmk));
    const kind = input.kind ? enumValue(input.kind, ['Default', 'Hub', 'Project', 'FeatureStore'], 'kind') : 'Default';
    const workspaceId = crypto.randomUUID();
    const identity = await this.makeIdentity(input.identity);
    // Written holding the key vault it names (holdKeyVault): a delete of that vault waits for this
    // write and then sees the workspace, or this waits for the delete and then fails.
    const { resource } = await this.ctx.database
      .write(async (tx) => {
        if (given.keyVault) await this.dependents.holdKeyVault(tx, given.keyVault, 'properties.keyVault');
        const written = await this.engine.put(
          workspaceDef,
          id,
          {
            location,
            kind,
            tags: input.tags ?? {},
            identity,
            properties: {
              ...settable,
              workspaceId,
              provisioningState: 'Creating',
              stateSince: Date.now(),
              hbiWorkspace: hbi,
              creationTime: new Date().toISOString(),
              ...given,
            },
          },
          by,
          { ifNoneMatch: '*' },
          tx,
        );
        await tx.db
          .insertInto('workspace_ids')
          .values({ workspace_id: workspaceId, id_key: written.resource.id.toLowerCase() })
          .execute();
        return written;
      })
      .catch((e) => {
        // Another request created it since the check above.
        if (e instanceof PreconditionFailed || (e instanceof Conflict && e.code === 'CONCURRENT_UPDATE'))
          throw new Conflict(
            `workspace '${name}' was created by another request at the same time; GET it, or retry to update it`,
            { code: 'WORKSPACE_BUSY' },
          );
        throw e;
      });
    let operation: Operation;
    try {
      operation = await this.operations.start(
        'workspace.create',
        { id: resource.id, subscriptionId: sub, location },
        by.id,
        (journal) => this.provision(resource, given, by, journal),
      );
    } catch (e) {
      await this.undoCreate(resource.id, {});
      throw e;
    }
    return { resource, created: true, operation };
  }

  /** The provisioning half of create: dependents, cached keys, hooks; undone entirely on failure. */
  private async provision(
    ws: StoredResource,
    given: Partial<Record<DependentKind, string>>,
    by: Principal,
    journal: OperationJournal,
  ): Promise<void> {
    const p = parseResourceId(ws.id);
    const made: string[] = [];
    let hooksStarted = false;
    try {
      const refs: Record<string, string> = {};
      // The storage account last: its blob folder is the step most likely to fail.
      for (const kind of ['keyVault', 'applicationInsights', 'storageAccount'] as const) {
        if (given[kind]) continue;
        const name = dependentName(kind, ws.name);
        const depId = resourceId(p.subscriptionId, p.resourceGroup, this.dependents.typeOf(kind), name);
        made.push(depId);
        await journal.record({ made });
        const dep = await this.dependents.create(
          kind,
          { subscriptionId: p.subscriptionId, resourceGroup: p.resourceGroup, name, location: ws.location ?? 'local' },
          by,
        );
        refs[kind] = dep.id;
      }
      // Named holding the key vault made above (holdKeyVault): a delete of it since is seen here.
      const updated = await this.ctx.database.write(async (tx) => {
        if (refs.keyVault) await this.dependents.holdKeyVault(tx, refs.keyVault, 'properties.keyVault');
        return this.engine.setProperties(ws.id, refs, tx);
      });
      if (!updated) throw new Conflict(`workspace '${ws.name}' was deleted while it was being created`);
      const cmkRef = updated.properties.cmkRef as string | undefined;
      if (cmkRef) {
        // The workspace's data key and its key vault's answer to the customer key from now on.
        const vaultId = updated.properties.keyVault as string;
        if (given.keyVault) await journal.record({ protectedVault: vaultId });
        await this.ctx.keys.protect(ws.id, cmkRef);
        await this.ctx.keys.protect(vaultId, cmkRef);
      }
      await this.cacheKeys(updated);
      await journal.record({ hooks: true });
      hooksStarted = true;
      for (const hook of this.onWorkspaceCreated) await hook(this.info(updated));
      await this.engine.setProperties(ws.id, { provisioningState: 'Succeeded' });
    } catch (e) {
      await this.undoCreate(ws.id, { made, hooks: hooksStarted }).catch((e2) =>
        this.ctx.log.error({ err: e2, workspace: ws.id }, 'undoing a failed workspace create failed'),
      );
      throw e;
    }
  }

  /** Removes everything a (failed or interrupted) create made. */
  private async undoCreate(id: string, journal: Record<string, unknown>): Promise<void> {
    const ws = await this.engine.get(id);
    // Never a workspace that reached Succeeded (nor the dependents it uses).
    if (ws?.properties.provisioningState === 'Succeeded') return;
    if (ws && journal.hooks) {
      for (const hook of this.onWorkspaceDeleting)
        await hook(this.info(ws)).catch((e) =>
          this.ctx.log.error({ err: e, workspace: id }, 'workspace delete hook failed while undoing a create'),
        );
    }
    // Every step is tried even when one fails, so as little as possible is left; the first error is raised.
    const errors: unknown[] = [];
    const step = async (f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (e) {
        errors.push(e);
      }
    };
    for (const depId of (journal.made as string[] | undefined) ?? [])
      await step(() => this.dependents.deleteAny(depId));
    if (typeof journal.protectedVault === 'string')
      await step(() => this.ctx.keys.unprotect(journal.protectedVault as string));
    if (ws) {
      await step(() => this.dependents.keys.forget(ws.id));
      await step(() => this.ctx.db.deleteFrom('workspace_ids').where('id_key', '=', ws.id.toLowerCase()).execute());
      await step(() => this.engine.delete(ws.id));
    }
    if (errors.length) throw errors[0];
  }

  /** Copies the current keys of the dependents into the workspace (what listKeys answers). */
  async cacheKeys(ws: StoredResource): Promise<void> {
    const info = this.info(ws);
    const values: Record<string, string> = {};
    if (info.storageAccountId) {
      const k = (await this.dependents.storageKeys(info.storageAccountId))[0];
      if (k) values.userStorageKey = k.value;
    }
    if (info.applicationInsightsId) {
      const k = await this.dependents.instrumentationKey(info.applicationInsightsId);
      if (k) values.appInsightsInstrumentationKey = k;
    }
    if (info.containerRegistryId && (await this.engine.get(info.containerRegistryId))) {
      const c = await this.dependents.registryCredentials(info.containerRegistryId);
      for (const pw of c.passwords)
        values[pw.name === 'password' ? 'containerRegistryPassword' : 'containerRegistryPassword2'] = pw.value;
    }
    const existing = await this.dependents.keys.all(ws.id);
    if (!existing.notebookPrimaryAccessKey) values.notebookPrimaryAccessKey = crypto.randomBytes(32).toString('base64');
    if (!existing.notebookSecondaryAccessKey)
      values.notebookSecondaryAccessKey = crypto.randomBytes(32).toString('base64');
    // Cached keys of dependents that are gone are dropped.
    const stale = CACHED_KEYS.filter((k) => existing[k] && !values[k]);
    if (stale.length)
      await this.ctx.db
        .deleteFrom('resource_keys')
        .where('resource_key', '=', ws.id.toLowerCase())
        .where('name', 'in', stale)
        .execute();
    await this.dependents.keys.set(ws.id, values);
  }

  /** POST W/listKeys: the keys the workspace holds (as of the last create/resync). */
  async listKeys(ws: StoredResource): Promise<Record<string, unknown>> {
    const info = this.info(ws);
    const k = await this.dependents.keys.all(ws.id);
    const out: Record<string, unknown> = {
      userStorageKey: k.userStorageKey?.value ?? null,
      userStorageResourceId: info.storageAccountId ?? null,
      appInsightsInstrumentationKey: k.appInsightsInstrumentationKey?.value ?? null,
      notebookAccessKeys: {
        primaryAccessKey: k.notebookPrimaryAccessKey?.value ?? null,
        secondaryAccessKey: k.notebookSecondaryAccessKey?.value ?? null,
      },
    };
    if (info.containerRegistryId && (k.containerRegistryPassword || k.containerRegistryPassword2)) {
      out.containerRegistryCredentials = {
        location: info.location,
        username: parseResourceId(info.containerRegistryId).name,
        passwords: [
          ...(k.containerRegistryPassword ? [{ name: 'password', value: k.containerRegistryPassword.value }] : []),
          ...(k.containerRegistryPassword2 ? [{ name: 'password2', value: k.containerRegistryPassword2.value }] : []),
        ],
      };
    }
    return out;
  }

  /** POST W/resyncKeys (LRO). */
  async resyncKeys(ws: StoredResource, by: Principal): Promise<Operation> {
    this.requireReady(ws);
    return this.operations.start(
      'workspace.resyncKeys',
      { id: ws.id, subscriptionId: ws.subscriptionId, location: ws.location ?? 'local' },
      by.id,
      async () => {
        const now = await this.engine.get(ws.id);
        if (!now) throw new NotFound(`workspace '${ws.name}' was deleted`);
        await this.cacheKeys(now);
      },
    );
  }

  /**
   * A dependent given by id must be one the caller may read the keys of: the workspace's listKeys
   * hands them on. One the caller cannot see is answered as not existing.
   */
  private async requireLinkable(by: Principal, depId: string, target: string): Promise<void> {
    if (await this.ctx.access.can(by.id, depId, 'secrets/read')) return;
    if (!(await this.ctx.access.canSee(by.id, depId))) {
      throw new InvalidInput(
        `${target} '${depId}' does not exist; create it first or leave ${target} out to have one made`,
        { code: 'DEPENDENT_RESOURCE_NOT_FOUND', target },
      );
    }
    throw new Forbidden(
      `${target}: the client may not read the keys of '${depId}', which a workspace using it hands on (listKeys); get a role that may, or leave ${target} out`,
      { code: 'LINKED_AUTHORIZATION_FAILED', target },
    );
  }

  /** resyncKeys without an operation (for clients of api-versions where it was not an LRO). */
  async resyncKeysNow(ws: StoredResource): Promise<void> {
    this.requireReady(ws);
    await this.cacheKeys(ws);
  }

  private requireReady(ws: StoredResource): void {
    const state = ws.properties.provisioningState;
    if (state === 'Creating' || state === 'Deleting')
      throw new Conflict(`workspace '${ws.name}' is ${String(state).toLowerCase()}; wait for its operation to end`, {
        code: 'WORKSPACE_BUSY',
      });
  }

  /**
   * PATCH (and PUT of an existing workspace): only the updatable fields; a field that cannot change
   * is refused naming it (sending its current value is allowed). `force` lets a containerRegistry or
   * applicationInsights replace one that still exists (the seed's updateDependencies(force)).
   */
  async update(
    ws: StoredResource,
    input: {
      tags?: Record<string, string>;
      sku?: unknown;
      identity?: WorkspaceInput['identity'];
      properties?: WorkspaceProperties;
    },
    by: Principal,
    pre: Preconditions = {},
    opts: { force?: boolean; fromPut?: boolean } = {},
  ): Promise<StoredResource> {
    this.requireReady(ws);
    const props = input.properties ?? {};
    const readOnly = [
      'workspaceId',
      'provisioningState',
      'mlFlowTrackingUri',
      'discoveryUrl',
      'creationTime',
      'tenantId',
      'storageHnsEnabled',
      'privateLinkCount',
      'notebookInfo',
      'serviceProvisionedResourceGroup',
      'privateEndpointConnections',
    ];
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || (UPDATABLE as readonly string[]).includes(k) || STORED_AS_GIVEN.includes(k)) continue;
      if (opts.fromPut && readOnly.includes(k)) continue; // read-only values echoed back by GET-modify-PUT clients
      const current = ws.properties[k];
      const same =
        typeof v === 'string' && typeof current === 'string'
          ? v.toLowerCase() === current.toLowerCase()
          : JSON.stringify(v) === JSON.stringify(current ?? DEFAULT_WHEN_UNSET[k] ?? null);
      if (!same) {
        throw new InvalidInput(
          `properties.${k} cannot be changed after the workspace is created${k === 'hbiWorkspace' ? ' (hbiWorkspace is fixed at creation)' : ''}; updatable properties are: ${UPDATABLE.join(', ')}`,
          { code: 'IMMUTABLE_PROPERTY', target: `properties.${k}` },
        );
      }
    }
    const changes = this.normaliseSettable(props);
    const rotateTo = await this.encryptionUpdate(ws, props.encryption, by, changes);
    for (const kind of ['applicationInsights', 'containerRegistry'] as const) {
      const v = props[kind];
      if (v === undefined) continue;
      const current = ws.properties[kind] as string | undefined;
      if (!v) {
        if (current)
          throw new InvalidInput(`properties.${kind} cannot be removed; give the id of another one to replace it`, {
            target: `properties.${kind}`,
          });
        continue;
      }
      if (typeof v !== 'string')
        throw new InvalidInput(`properties.${kind} must be an ARM resource id`, { target: `properties.${kind}` });
      if (current && current.toLowerCase() === v.toLowerCase()) continue;
      const dep = await this.dependents.requireExisting(kind, v, `properties.${kind}`);
      await this.requireLinkable(by, dep.id, `properties.${kind}`);
      if (current && (await this.engine.get(current)) && !opts.force) {
        throw new Conflict(
          `the workspace already uses ${kind} '${current}', which still exists; to replace it anyway send force=true (updateDependencies(force))`,
          { code: 'DEPENDENCY_ALREADY_SET', target: `properties.${kind}` },
        );
      }
      changes[kind] = dep.id;
    }
    const identity = input.identity ? await this.makeIdentity(input.identity, ws.identity) : undefined;
    const updated = await this.engine.patch(
      workspaceDef,
      ws.id,
      { tags: input.tags, identity, properties: changes },
      by,
      pre,
    );
    if (rotateTo) await this.rewrapDataKeys(updated, rotateTo);
    if (changes.applicationInsights || changes.containerRegistry) await this.cacheKeys(updated);
    return updated;
  }

  /**
   * `properties.encryption` of a PATCH (or PUT of an existing workspace): customer-managed keys are
   * set at creation and cannot be turned on or off later; a new `keyIdentifier` (a new version, or
   * another key of the same key vault) rotates the key. Returns the ref to re-wrap the data keys with.
   */
  private async encryptionUpdate(
    ws: StoredResource,
    given: WorkspaceProperties['encryption'] | null,
    by: Principal,
    changes: Record<string, unknown>,
  ): Promise<string | undefined> {
    if (given === undefined || given === null) return undefined;
    const current = ws.properties.encryption as
      { status?: string; keyVaultProperties?: Record<string, unknown>; identity?: unknown } | undefined;
    const enabled = current?.status === 'Enabled';
    const status = enumValue(
      given.status ?? (enabled ? 'Enabled' : 'Disabled'),
      ['Enabled', 'Disabled'],
      'properties.encryption.status',
    );
    if ((status === 'Enabled') !== enabled) {
      throw new InvalidInput(
        enabled
          ? 'properties.encryption.status cannot be set to Disabled: customer-managed keys stay on for the life of the workspace (rotate the key with a new keyVaultProperties.keyIdentifier instead)'
          : 'properties.encryption.status cannot be set to Enabled on an existing workspace: customer-managed keys are chosen when the workspace is created',
        { code: 'IMMUTABLE_PROPERTY', target: 'properties.encryption.status' },
      );
    }
    if (!enabled) return undefined;
    const kvp = (given.keyVaultProperties ?? {}) as Record<string, unknown>;
    const currentKvp = current?.keyVaultProperties ?? {};
    const vaultArg = (kvp.keyVaultArmId as string | undefined) ?? (currentKvp.keyVaultArmId as string);
    if (typeof vaultArg !== 'string' || vaultArg.toLowerCase() !== String(currentKvp.keyVaultArmId).toLowerCase()) {
      throw new InvalidInput(
        `properties.encryption.keyVaultProperties.keyVaultArmId cannot change (it is '${String(currentKvp.keyVaultArmId)}'); a new key must be a key of that key vault`,
        {
          code: 'IMMUTABLE_PROPERTY',
          target: 'properties.encryption.keyVaultProperties.keyVaultArmId',
        },
      );
    }
    const identifier = (kvp.keyIdentifier as string | undefined) ?? (currentKvp.keyIdentifier as string);
    if (identifier === currentKvp.keyIdentifier) {
      // Unchanged (e.g. a GET-modify-PUT): rewrapDataKeys finishes a rotation an earlier request
      // left half done, and skips the data keys already wrapped by this key.
      return ws.properties.cmkRef as string;
    }
    const setting = await resolveCustomerKey(this.ctx, this.customerKeys, by, {
      status: 'Enabled',
      keyVaultProperties: { ...currentKvp, ...kvp, keyVaultArmId: vaultArg, keyIdentifier: identifier },
      identity: given.identity ?? current?.identity,
    });
    changes.encryption = setting.encryption;
    changes.cmkRef = setting.ref;
    return setting.ref;
  }

  /** Wraps the data keys of the workspace and of its key vault with the customer key `ref` (rotation). */
  private async rewrapDataKeys(ws: StoredResource, ref: string): Promise<void> {
    for (const owner of [ws.id, ws.properties.keyVault as string | undefined]) {
      if (owner && (await this.ctx.keys.wrappedBy(owner)) !== ref) await this.ctx.keys.protect(owner, ref);
    }
  }

  /**
   * The workspace's container registry, made now if it has none (registries are created lazily:
   * image builds call this; listKeys does not).
   */
  async ensureContainerRegistry(ws: StoredResource, by: Principal | string): Promise<string> {
    const current = ws.properties.containerRegistry as string | undefined;
    if (current && (await this.engine.get(current))) return current;
    const p = parseResourceId(ws.id);
    const reg = await this.dependents.createRegistry(
      {
        subscriptionId: p.subscriptionId,
        resourceGroup: p.resourceGroup,
        name: dependentName('containerRegistry', ws.name),
        location: ws.location ?? 'local',
      },
      by,
    );
    await this.engine.setProperties(ws.id, { containerRegistry: reg.id });
    await this.cacheKeys((await this.engine.get(ws.id))!);
    return reg.id;
  }

  /** DELETE W (LRO). Undefined when there was nothing to delete. */
  async delete(
    sub: string,
    rg: string,
    name: string,
    by: Principal,
    opts: { deleteDependentResources?: boolean } = {},
    pre: Preconditions = {},
  ): Promise<Operation | undefined> {
    const ws = await this.get(sub, rg, name);
    if (!ws) return undefined;
    if (
      pre.ifMatch !== undefined &&
      !pre.ifMatch
        .split(',')
        .map((s) => s.trim())
        .some((e) => e === '*' || e === ws.etag)
    ) {
      throw new PreconditionFailed(
        `workspace '${ws.name}' has changed: its etag is ${ws.etag}, not ${pre.ifMatch}; GET it again and retry`,
        { code: 'PRECONDITION_FAILED' },
      );
    }
    const state = ws.properties.provisioningState;
    if (state === 'Creating')
      throw new Conflict(`workspace '${ws.name}' is being created; wait for its operation to end, then delete it`, {
        code: 'WORKSPACE_BUSY',
      });
    if (state === 'Deleting') {
      const active = await this.operations.activeOn(ws.id);
      if (active) return active;
    }
    if (opts.deleteDependentResources) {
      // The dependents may sit in other groups: deleting them needs the right to, there.
      const info = this.info(ws);
      for (const dep of [
        info.storageAccountId,
        info.keyVaultId,
        info.applicationInsightsId,
        info.containerRegistryId,
      ]) {
        if (dep && (await this.engine.get(dep)) && !(await this.ctx.access.can(by.id, dep, 'control/write'))) {
          throw new Forbidden(
            `deleteDependentResources=true would delete '${dep}', which the client may not delete; delete the workspace without it, or get a role that may write there`,
            { code: 'FORBIDDEN' },
          );
        }
      }
    }
    await this.engine.setProperties(ws.id, { provisioningState: 'Deleting', stateSince: Date.now() });
    return this.operations.start(
      'workspace.delete',
      { id: ws.id, subscriptionId: ws.subscriptionId, location: ws.location ?? 'local' },
      by.id,
      async (journal) => {
        await journal.record({ deleteDependentResources: Boolean(opts.deleteDependentResources) });
        const now = await this.engine.get(ws.id);
        if (!now) return;
        try {
          await this.finishDelete(now, Boolean(opts.deleteDependentResources));
        } catch (e) {
          if (await this.engine.get(ws.id)) await this.engine.setProperties(ws.id, { provisioningState: 'Succeeded' });
          throw e;
        }
      },
    );
  }

  /** The deleting half: hooks, children, keys, role assignments, and the dependents when asked. */
  async finishDelete(ws: StoredResource, withDependents: boolean): Promise<void> {
    const info = this.info(ws);
    for (const hook of this.onWorkspaceDeleting) await hook(info);
    // The workspace's own row goes last: until then a failed delete can be retried.
    if (withDependents) {
      for (const dep of [
        info.storageAccountId,
        info.keyVaultId,
        info.applicationInsightsId,
        info.containerRegistryId,
      ]) {
        if (!dep) continue;
        // A key vault another workspace still names stays (and stays as it is): that workspace's secrets live in it.
        if (dep === info.keyVaultId) await this.dependents.deleteKeyVaultUnlessNamed(dep);
        else await this.dependents.deleteAny(dep);
      }
    } else if (ws.properties.cmkRef && info.keyVaultId) {
      // The key vault outlives the workspace: its secrets go back to server-managed keys if the
      // customer key still opens them (else they stay under it, and the vault cannot be reused).
      await this.ctx.keys
        .unprotect(info.keyVaultId)
        .catch((e) =>
          this.ctx.log.warn(
            { err: e, workspace: ws.id },
            "the key vault of a deleted workspace stays under the workspace's customer-managed key",
          ),
        );
    }
    await this.dependents.keys.forget(ws.id);
    const key = ws.id.toLowerCase();
    const scoped = (
      await this.ctx.db
        .selectFrom('role_assignments')
        .select(['id', 'scope_key'])
        .where('scope_key', 'like', `${key}%`)
        .execute()
    ).filter((a) => a.scope_key === key || a.scope_key.startsWith(`${key}/`));
    if (scoped.length) {
      await this.ctx.db
        .deleteFrom('role_assignments')
        .where(
          'id',
          'in',
          scoped.map((a) => a.id),
        )
        .execute();
      this.ctx.access.invalidate();
    }
    await this.ctx.db.deleteFrom('workspace_ids').where('id_key', '=', key).execute();
    await this.engine.delete(ws.id);
  }

  /** Resource group delete: every workspace in it (hooks run), then every other resource in it. */
  async deleteGroupContents(groupKey: string): Promise<void> {
    const rows = await this.engine.scan({ groupKey, topLevel: true });
    const isWorkspace = (r: StoredResource) => r.type.toLowerCase() === WORKSPACE.toLowerCase();
    // Before anything goes: a key vault holding the customer key of a workspace outside the group
    // refuses the whole delete (409 naming it), as deleting that vault on its own does.
    for (const row of rows.filter((r) => r.type.toLowerCase() === VAULT.toLowerCase())) {
      for (const check of this.dependents.onKeyVaultDeleteRequested) await check(row.id, groupKey);
      await this.dependents.requireUnnamed(row.id, groupKey);
    }
    for (const row of rows.filter(isWorkspace)) {
      const active = await this.operations.activeOn(row.id);
      if (active && active.kind === 'workspace.create')
        throw new Conflict(`workspace '${row.name}' is being created; delete the group when that has ended`, {
          code: 'WORKSPACE_BUSY',
        });
      await this.finishDelete(row, false);
    }
    // Each through its type's `remove` (blobs, keys, secrets too), or as a plain record.
    for (const row of rows.filter((r) => !isWorkspace(r)))
      if ((await this.dependents.types?.remove(row.id)) === undefined) await this.engine.delete(row.id);
    await this.engine.deleteGroupRows(groupKey);
  }
}
