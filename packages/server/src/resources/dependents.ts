import crypto from 'node:crypto';
import type { AppContext } from '../context.js';
import type { Tx } from '../store/database.js';
import type { Principal } from '../identity/principals.js';
import { AtelierError, Conflict, InvalidInput } from '../errors.js';
import type { BlobStore } from '../blob/blob-store.js';
import { ResourceEngine, type ResourceDefinition, type StoredResource } from './engine.js';
import { ResourceKeys } from './resource-keys.js';
import { parseResourceId, resourceId, sameType } from './resource-ids.js';
import type { DependentKind, NewDependent, ResourceTypeRegistry } from './registry.js';

/**
 * The resources a workspace depends on, as real ARM types in their own namespaces:
 * storage accounts (a blob store from ctx.blobs: a folder or an S3 prefix, + two keys), key vaults (secret values in
 * `vault_secrets`, keys in `vault_keys`), Application Insights components (instrumentation key), container registries
 * (credentials). Keys are sealed in `resource_keys` (see ResourceKeys).
 */
export const STORAGE = 'Microsoft.Storage/storageAccounts';
export const VAULT = 'Microsoft.KeyVault/vaults';
export const INSIGHTS = 'Microsoft.Insights/components';
export const REGISTRY = 'Microsoft.ContainerRegistry/registries';

const nameError = (what: string, name: string, rule: string, target = 'name') =>
  new InvalidInput(`${what} name '${name}' is invalid: ${rule}`, { code: 'INVALID_RESOURCE_NAME', target });

export const storageAccountDef: ResourceDefinition = {
  type: STORAGE,
  checkName(name) {
    if (!/^[a-z0-9]{3,24}$/.test(name))
      throw nameError('storage account', name, 'use 3–24 lower-case letters and digits');
  },
};
export const keyVaultDef: ResourceDefinition = {
  type: VAULT,
  checkName(name) {
    if (!/^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/.test(name) || name.includes('--'))
      throw nameError(
        'key vault',
        name,
        "use 3–24 letters, digits and '-', starting with a letter, ending with a letter or digit, no '--'",
      );
  },
};
export const insightsDef: ResourceDefinition = {
  type: INSIGHTS,
  checkName(name) {
    if (!/^[a-zA-Z0-9_.()-]{1,255}$/.test(name) || name.endsWith('.'))
      throw nameError(
        'application insights',
        name,
        "use 1–255 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'",
      );
  },
};
export const registryDef: ResourceDefinition = {
  type: REGISTRY,
  checkName(name) {
    if (!/^[a-zA-Z0-9]{5,50}$/.test(name)) throw nameError('container registry', name, 'use 5–50 letters and digits');
  },
};

export type { NewDependent, DependentKind } from './registry.js';

/** The BlobStore of a storage account (by ARM id or name), or of a folder (container) in it, for datastores and artifacts. */
export function storageAccountBlobStore(ctx: AppContext, accountIdOrName: string, ...folders: string[]): BlobStore {
  const name = accountIdOrName.startsWith('/') ? parseResourceId(accountIdOrName).name : accountIdOrName;
  storageAccountDef.checkName(name);
  return ctx.blobs.account(name, ...folders);
}

/** A name for a dependent resource made for a workspace: derived from it, unique by a random suffix. */
export function dependentName(kind: DependentKind, workspaceName: string): string {
  const base = workspaceName.toLowerCase().replace(/[^a-z0-9]/g, '');
  const suffix = crypto.randomBytes(4).toString('hex');
  switch (kind) {
    case 'storageAccount':
      return `${base.slice(0, 16)}${suffix}`;
    case 'keyVault':
      return `kv${base.slice(0, 14)}${suffix}`;
    case 'applicationInsights':
      return `${workspaceName.slice(0, 40)}-${suffix}`;
    case 'containerRegistry':
      return `${base.slice(0, 16)}${suffix}`;
  }
}

export class DependentResources {
  readonly keys: ResourceKeys;
  /** The resource types (set by the control plane): which type serves each workspace dependency, and how each is removed. */
  types?: ResourceTypeRegistry;
  /** Run when a key vault is deleted, after its resource row: the modules that keep its secrets and keys remove them. */
  readonly onKeyVaultDeleted: ((vaultId: string) => Promise<void>)[] = [];
  /**
   * Run before a key vault is deleted on its own (its DELETE route) or with its resource group
   * (`deletingGroupKey`: what is inside that group goes too, so only what is outside it counts);
   * a throw refuses the delete.
   */
  readonly onKeyVaultDeleteRequested: ((vaultId: string, deletingGroupKey?: string, tx?: Tx) => Promise<void>)[] = [];
  /**
   * The workspaces (outside `deletingGroupKey`, and not being deleted) that name a vault as their
   * `keyVault`, read in `db` (set by the workspaces, which own that property). A vault is not
   * deleted on its own, nor with its group, while one does: their secrets live in it.
   */
  workspacesNaming?: (db: Pick<Tx, 'db'>, vaultId: string, deletingGroupKey?: string) => Promise<string[]>;
  /**
   * Test-only: `inUseChecked` inside a vault delete's transaction after its in-use checks, before the
   * delete; `vaultHeld` inside a workspace write's transaction once it holds the vault it names.
   */
  testHooks: { inUseChecked?: () => Promise<void>; vaultHeld?: () => Promise<void> } = {};
  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
  ) {
    this.keys = new ResourceKeys(ctx);
  }

  /**
   * Reserves a name of a globally-named type (storage account, vault, registry): the primary key of
   * `global_names` lets only one of two concurrent creates have it. Released by `releaseName`.
   */
  private async checkNew(def: ResourceDefinition, d: NewDependent, what: string): Promise<string> {
    def.checkName(d.name);
    const id = resourceId(d.subscriptionId, d.resourceGroup, def.type, d.name);
    const taken = () =>
      new Conflict(`the ${what} name '${d.name}' is already taken (names are unique on this server); choose another`, {
        code: 'RESOURCE_NAME_TAKEN',
        target: 'name',
      });
    const key = { type_key: def.type.toLowerCase(), name_key: d.name.toLowerCase() };
    if (
      await this.ctx.db
        .selectFrom('global_names')
        .select('id_key')
        .where('type_key', '=', key.type_key)
        .where('name_key', '=', key.name_key)
        .executeTakeFirst()
    )
      throw taken();
    try {
      await this.ctx.db
        .insertInto('global_names')
        .values({ ...key, id_key: id.toLowerCase() })
        .execute();
    } catch (e) {
      if (
        await this.ctx.db
          .selectFrom('global_names')
          .select('id_key')
          .where('type_key', '=', key.type_key)
          .where('name_key', '=', key.name_key)
          .executeTakeFirst()
      )
        throw taken();
      throw e;
    }
    return id;
  }

  private async releaseName(id: string): Promise<void> {
    await this.ctx.db.deleteFrom('global_names').where('id_key', '=', id.toLowerCase()).execute();
  }

  async createStorageAccount(d: NewDependent, by: Principal | string): Promise<StoredResource> {
    const id = await this.checkNew(storageAccountDef, d, 'storage account');
    const store = storageAccountBlobStore(this.ctx, d.name);
    const cannot = (e: unknown) => {
      // The cause (with server paths) goes to the log, not to the client.
      this.ctx.log.error({ err: e, account: d.name }, 'cannot create the blob store of a storage account');
      return new AtelierError(
        `cannot create the blob folder of storage account '${d.name}' (${(e as NodeJS.ErrnoException).code ?? (e as AtelierError).code ?? 'error'}); the server's blob store is not writable — see the server log`,
        { code: 'STORAGE_ACCOUNT_PROVISIONING_FAILED' },
      );
    };
    // Blobs left by a crash are reused only if there are none.
    let leftOver: boolean;
    try {
      await store.init();
      leftOver = (await store.list('', { limit: 1 })).length > 0;
    } catch (e) {
      await this.releaseName(id);
      throw cannot(e);
    }
    if (leftOver) {
      await this.releaseName(id);
      throw new Conflict(`the blob store of storage account '${d.name}' already holds data; choose another name`, {
        code: 'RESOURCE_NAME_TAKEN',
      });
    }
    try {
      const now = new Date().toISOString();
      const { resource } = await this.engine.put(
        storageAccountDef,
        id,
        {
          location: d.location,
          kind: 'StorageV2',
          tags: d.tags,
          sku: { name: 'Standard_LRS', tier: 'Standard' },
          properties: {
            provisioningState: 'Succeeded',
            creationTime: now,
            primaryLocation: d.location,
            statusOfPrimary: 'available',
            accessTier: 'Hot',
            isHnsEnabled: false,
            supportsHttpsTrafficOnly: false,
            minimumTlsVersion: 'TLS1_2',
            allowSharedKeyAccess: true,
            keyCreationTime: { key1: now, key2: now },
          },
        },
        by,
        { ifNoneMatch: '*' },
      );
      await this.keys.set(resource.id, { key1: ResourceKeys.generate(), key2: ResourceKeys.generate() });
      return resource;
    } catch (e) {
      await this.deleteStorageAccount(id).catch(() => {});
      throw e;
    }
  }

  async storageKeys(
    id: string,
  ): Promise<{ keyName: string; value: string; permissions: 'FULL'; creationTime: string }[]> {
    const all = await this.keys.all(id);
    return (['key1', 'key2'] as const)
      .filter((k) => all[k])
      .map((k) => ({
        keyName: k,
        value: all[k]!.value,
        permissions: 'FULL' as const,
        creationTime: new Date(all[k]!.createdAt).toISOString(),
      }));
  }

  async regenerateStorageKey(id: string, keyName: string): Promise<void> {
    const k = keyName?.toLowerCase();
    if (k !== 'key1' && k !== 'key2')
      throw new InvalidInput(`keyName must be 'key1' or 'key2', got '${keyName}'`, {
        code: 'INVALID_INPUT',
        target: 'keyName',
      });
    await this.keys.set(id, { [k]: ResourceKeys.generate() });
    const r = await this.engine.get(id);
    if (r)
      await this.engine.setProperties(id, {
        keyCreationTime: { ...(r.properties.keyCreationTime as object), [k]: new Date().toISOString() },
      });
  }

  async deleteStorageAccount(id: string): Promise<boolean> {
    const p = parseResourceId(id);
    const existed = await this.engine.delete(id);
    await this.keys.forget(id);
    await this.releaseName(id);
    try {
      await storageAccountBlobStore(this.ctx, p.name).deletePrefix('');
    } catch (e) {
      // ENOTDIR: the blob root is not a folder, so there is no account folder to remove.
      if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
    }
    return existed;
  }

  async createKeyVault(d: NewDependent, by: Principal | string): Promise<StoredResource> {
    const id = await this.checkNew(keyVaultDef, d, 'key vault');
    const { resource } = await this.engine
      .put(
        keyVaultDef,
        id,
        {
          location: d.location,
          tags: d.tags,
          properties: {
            provisioningState: 'Succeeded',
            tenantId: this.ctx.tenantId,
            sku: { family: 'A', name: 'standard' },
            accessPolicies: [],
            enableRbacAuthorization: true,
            enableSoftDelete: false,
            publicNetworkAccess: 'Enabled',
          },
        },
        by,
        { ifNoneMatch: '*' },
      )
      .catch(async (e) => {
        await this.deleteKeyVault(id).catch(() => {});
        throw e;
      });
    return resource;
  }

  /**
   * A key vault deleted on its own (its DELETE route): refused while a key in it protects a
   * workspace's data. The checks and the removal of the vault's row are one write transaction
   * holding the vault's row FOR UPDATE (and, through the checks, its keys' rows): a key made in the
   * vault holds the vault FOR SHARE and putting data under a key holds the key, so of a delete and
   * such a write one always loses. Its secrets and keys go once the row is gone.
   */
  async deleteKeyVaultIfUnused(id: string): Promise<boolean> {
    const existed = await this.ctx.database.write(async (tx) => {
      if (!(await this.engine.lock(tx, id, 'update'))) return false;
      for (const check of this.onKeyVaultDeleteRequested) await check(id, undefined, tx);
      await this.requireUnnamed(id, undefined, tx);
      await this.testHooks.inUseChecked?.();
      return this.engine.deleteIn(tx, id);
    });
    return this.forgetKeyVault(id, existed);
  }

  /** Refuses (409 KEY_VAULT_IN_USE) while a workspace names the vault as its `keyVault` (see `workspacesNaming`). */
  async requireUnnamed(vaultId: string, deletingGroupKey?: string, tx: Pick<Tx, 'db'> = this.ctx): Promise<void> {
    const users = (await this.workspacesNaming?.(tx, vaultId, deletingGroupKey)) ?? [];
    if (users.length)
      throw new Conflict(
        `key vault '${parseResourceId(vaultId).name}' is the key vault of ${users.length === 1 ? 'workspace' : 'workspaces'} ${users.map((u) => `'${u}'`).join(', ')}, whose secrets it keeps; delete ${users.length === 1 ? 'that workspace' : 'them'} first (deleteDependentResources=true takes the vault with it)`,
        { code: 'KEY_VAULT_IN_USE' },
      );
  }

  /**
   * Holds a key vault a workspace is about to name as its `keyVault`, in the transaction that writes
   * the workspace: the vault's row FOR SHARE (a vault delete holds it FOR UPDATE, then looks for the
   * workspaces naming it) and its resource group's row FOR SHARE (a group delete marks the group
   * Deleting, then looks). Of the write and a delete, one waits for the other and sees its result:
   * the delete refuses (KEY_VAULT_IN_USE), or this throws: the vault is gone (400 naming `target`),
   * or its group is being deleted (409).
   */
  async holdKeyVault(tx: Tx, vaultId: string, target: string): Promise<StoredResource> {
    const vault = await this.engine.lock(tx, vaultId, 'share');
    const group = vault && (await this.engine.lockGroup(tx, vault.id, 'share'));
    if (!vault || !group)
      throw new InvalidInput(
        `${target} '${vaultId}' does not exist (it was deleted); create it first or leave ${target} out to have one made`,
        { code: 'DEPENDENT_RESOURCE_NOT_FOUND', target },
      );
    if (group.provisioningState === 'Deleting')
      throw new Conflict(
        `${target} '${vault.id}' is being deleted with its resource group '${group.name}'; give another key vault, or leave ${target} out to have one made`,
        { code: 'RESOURCE_GROUP_BEING_DELETED', target },
      );
    await this.testHooks.vaultHeld?.();
    return vault;
  }

  /**
   * A workspace's key vault deleted with it (`deleteDependentResources=true`): kept while another
   * workspace (not being deleted) still names it as its `keyVault`, whose secrets it keeps. The
   * check and the removal of the vault's row are one write transaction holding the vault's row FOR
   * UPDATE, as `deleteKeyVaultIfUnused`; a workspace naming the vault is written holding it FOR SHARE
   * (`holdKeyVault`), so one waits for the other and the vault is never deleted under a workspace.
   * False when the vault was kept.
   */
  async deleteKeyVaultUnlessNamed(id: string): Promise<boolean> {
    const outcome = await this.ctx.database.write(async (tx) => {
      if (!(await this.engine.lock(tx, id, 'update'))) return 'absent';
      if (((await this.workspacesNaming?.(tx, id)) ?? []).length) return 'kept';
      await this.testHooks.inUseChecked?.();
      return (await this.engine.deleteIn(tx, id)) ? 'deleted' : 'absent';
    });
    if (outcome === 'kept') return false;
    // Also when the row was already gone: a delete retried after a stop finishes what it left.
    await this.forgetKeyVault(id, outcome === 'deleted');
    return true;
  }

  async deleteKeyVault(id: string): Promise<boolean> {
    return this.forgetKeyVault(id, await this.engine.delete(id));
  }

  /** What a deleted vault leaves: its secrets and keys (onKeyVaultDeleted), sealing keys and name. */
  private async forgetKeyVault(id: string, existed: boolean): Promise<boolean> {
    for (const hook of this.onKeyVaultDeleted) await hook(id);
    await this.keys.forget(id);
    await this.releaseName(id);
    return existed;
  }

  async createInsights(d: NewDependent, by: Principal | string): Promise<StoredResource> {
    insightsDef.checkName(d.name);
    const id = resourceId(d.subscriptionId, d.resourceGroup, INSIGHTS, d.name);
    if (await this.engine.get(id))
      throw new Conflict(`application insights '${d.name}' already exists in resource group '${d.resourceGroup}'`, {
        code: 'RESOURCE_NAME_TAKEN',
      });
    const appId = crypto.randomUUID();
    const { resource } = await this.engine.put(
      insightsDef,
      id,
      {
        location: d.location,
        kind: 'web',
        tags: d.tags,
        properties: {
          provisioningState: 'Succeeded',
          ApplicationId: d.name,
          AppId: appId,
          Application_Type: 'web',
          CreationDate: new Date().toISOString(),
          TenantId: d.subscriptionId,
          IngestionMode: 'ApplicationInsights',
          publicNetworkAccessForIngestion: 'Enabled',
          publicNetworkAccessForQuery: 'Enabled',
        },
      },
      by,
      { ifNoneMatch: '*' },
    );
    try {
      await this.keys.set(resource.id, { instrumentationKey: crypto.randomUUID() });
    } catch (e) {
      await this.deleteInsights(id).catch(() => {});
      throw e;
    }
    return resource;
  }

  async instrumentationKey(id: string): Promise<string | undefined> {
    return (await this.keys.get(id, 'instrumentationKey'))?.value;
  }

  /** The connection string clients use to send telemetry (holds the instrumentation key). */
  connectionString(ikey: string): string {
    return `InstrumentationKey=${ikey};IngestionEndpoint=${this.ctx.config.publicUrl}/;LiveEndpoint=${this.ctx.config.publicUrl}/`;
  }

  async deleteInsights(id: string): Promise<boolean> {
    const existed = await this.engine.delete(id);
    await this.keys.forget(id);
    return existed;
  }

  async createRegistry(d: NewDependent, by: Principal | string): Promise<StoredResource> {
    const id = await this.checkNew(registryDef, d, 'container registry');
    const { resource } = await this.engine
      .put(
        registryDef,
        id,
        {
          location: d.location,
          tags: d.tags,
          sku: { name: 'Basic', tier: 'Basic' },
          properties: {
            provisioningState: 'Succeeded',
            loginServer: new URL(this.ctx.config.publicUrl).host,
            creationDate: new Date().toISOString(),
            adminUserEnabled: true,
            publicNetworkAccess: 'Enabled',
            status: {
              displayStatus: 'Available',
              message: 'image push/pull is not served by this server yet',
              timestamp: new Date().toISOString(),
            },
          },
        },
        by,
        { ifNoneMatch: '*' },
      )
      .catch(async (e) => {
        await this.deleteRegistry(id).catch(() => {});
        throw e;
      });
    try {
      await this.keys.set(resource.id, { password: ResourceKeys.generate(32), password2: ResourceKeys.generate(32) });
    } catch (e) {
      await this.deleteRegistry(id).catch(() => {});
      throw e;
    }
    return resource;
  }

  async registryCredentials(id: string): Promise<{ username: string; passwords: { name: string; value: string }[] }> {
    const r = await this.engine.require(id, `container registry '${id}' could not be found`);
    const all = await this.keys.all(id);
    return {
      username: r.name,
      passwords: (['password', 'password2'] as const)
        .filter((k) => all[k])
        .map((k) => ({ name: k, value: all[k]!.value })),
    };
  }

  async regenerateRegistryPassword(id: string, name: string): Promise<void> {
    if (name !== 'password' && name !== 'password2')
      throw new InvalidInput(`name must be 'password' or 'password2', got '${name}'`, { target: 'name' });
    await this.keys.set(id, { [name]: ResourceKeys.generate(32) });
  }

  async deleteRegistry(id: string): Promise<boolean> {
    const existed = await this.engine.delete(id);
    await this.keys.forget(id);
    await this.releaseName(id);
    return existed;
  }

  private registry(): ResourceTypeRegistry {
    if (!this.types)
      throw new Error('the dependent resources have no resource-type registry (set by resources/control-plane.ts)');
    return this.types;
  }

  /** Deletes a resource through its declared type (its blobs, keys, secrets too); 400 when the type declares no `remove`. */
  async deleteAny(id: string): Promise<boolean> {
    const done = await this.registry().remove(id);
    if (done === undefined) throw new InvalidInput(`'${id}' is not a dependent resource type`);
    return done;
  }

  /** The ARM type a workspace's dependency property names. */
  typeOf(kind: DependentKind): string {
    return this.registry().dependent(kind).type;
  }

  async create(kind: DependentKind, d: NewDependent, by: Principal | string): Promise<StoredResource> {
    return this.registry().dependent(kind).provision!(d, by);
  }

  /** Checks that `id` names an existing resource of `kind`; 400 naming `target` otherwise. */
  async requireExisting(kind: DependentKind, id: string, target: string): Promise<StoredResource> {
    const p = parseResourceId(id, target);
    const type = this.typeOf(kind);
    if (!sameType(p.type, type)) {
      throw new InvalidInput(`${target} must be the id of a ${type}, got a ${p.type}`, {
        code: 'INVALID_RESOURCE_TYPE',
        target,
      });
    }
    const r = await this.engine.get(id);
    if (!r)
      throw new InvalidInput(
        `${target} '${id}' does not exist; create it first or leave ${target} out to have one made`,
        { code: 'DEPENDENT_RESOURCE_NOT_FOUND', target },
      );
    return r;
  }
}
