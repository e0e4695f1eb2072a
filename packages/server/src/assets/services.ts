import type { AppContext } from '../context.js';
import type { ControlPlaneServices } from '../resources/control-plane.js';
import { VaultSecretService } from './key-vault.js';
import { VaultKeyService } from './vault-keys.js';
import { DatastoreService, datastoreRoots, s3Endpoints } from './datastores.js';
import { dataService } from './data-assets.js';
import { environmentService } from './environments.js';
import type { VersionedAssetService } from './versioned-assets.js';
import { ConnectionService } from './connections.js';
import { PrivateEndpointService } from './private-endpoints.js';
import { WorkspaceDiagnostics } from './diagnostics.js';
import { LinkedServiceService } from './linked-services.js';
import { StorageAccountLookup } from './storage-accounts.js';
import { parseResourceId } from '../resources/resource-ids.js';
import { STORAGE } from '../resources/dependents.js';
import { registerAssetTypes } from './types.js';
import { storageSasActions } from './storage-sas.js';

/** Workspace assets: datastores, data, environments, key vault secrets and keys, connections, private endpoints, diagnostics, linked services. */
export interface AssetServices {
  vault: VaultSecretService;
  vaultKeys: VaultKeyService;
  storageAccounts: StorageAccountLookup;
  datastores: DatastoreService;
  data: VersionedAssetService;
  environments: VersionedAssetService;
  connections: ConnectionService;
  endpoints: PrivateEndpointService;
  diagnostics: WorkspaceDiagnostics;
  linked: LinkedServiceService;
}

/**
 * Builds the asset services and plugs them into the control plane: the system datastores are made
 * with a workspace, the secrets its assets kept in its key vault go with it (the vault itself may
 * outlive it), a deleted key vault takes its secrets and keys along, the key vault keys serve
 * customer-managed keys, and the logger's list of high-business-impact workspaces learns of this
 * server's creates and deletes at once.
 */
export function createAssetServices(ctx: AppContext, cp: ControlPlaneServices): AssetServices {
  const engine = cp.resources;
  const vault = new VaultSecretService(ctx);
  const vaultKeys = new VaultKeyService(ctx, engine);
  const storageAccounts = new StorageAccountLookup(engine, cp.workspaces.dependents.keys);
  const datastores = new DatastoreService(ctx, engine, storageAccounts, vault, datastoreRoots(), s3Endpoints());
  const endpoints = new PrivateEndpointService(ctx, engine, cp.types);
  const s: AssetServices = {
    vault,
    vaultKeys,
    storageAccounts,
    datastores,
    data: dataService(ctx, engine, datastores),
    environments: environmentService(ctx, engine),
    connections: new ConnectionService(ctx, engine, vault),
    endpoints,
    diagnostics: new WorkspaceDiagnostics(ctx, engine, cp.workspaces.dependents.keys, vault, endpoints),
    linked: new LinkedServiceService(ctx, engine),
  };

  registerAssetTypes(cp.types, { ...s, workspaces: cp.workspaces, operations: cp.operations });
  // Storage accounts are control-plane resources; their SAS actions are the assets' (what Sas datastores hold).
  const storage = cp.types.require(STORAGE);
  storage.actions = [...(storage.actions ?? []), ...storageSasActions(cp.workspaces.dependents)];

  ctx.keys.setCustomerKeys(vaultKeys);
  cp.workspaces.customerKeys = vaultKeys;
  // A vault whose keys protect a workspace's data cannot be deleted on its own.
  // In the vault delete's transaction (`tx`), its keys' rows are held FOR UPDATE first, so a wrap under
  // one of them waits for the delete or the delete waits for the wrap and then sees its data.
  cp.workspaces.dependents.onKeyVaultDeleteRequested.push(async (id, deletingGroupKey, tx) => {
    if (tx) await vaultKeys.holdVaultKeys(tx, id);
    await vaultKeys.requireUnused(
      `${id.toLowerCase()}/keys/`,
      `key vault '${parseResourceId(id).name}'`,
      'deleted',
      deletingGroupKey === undefined ? undefined : (user) => user.toLowerCase().startsWith(`${deletingGroupKey}/`),
      tx,
    );
  });
  cp.workspaces.dependents.onKeyVaultDeleted.push(async (id) => vault.forgetVault(id));
  cp.workspaces.dependents.onKeyVaultDeleted.push(async (id) => vaultKeys.forgetVault(id));
  const ws = cp.workspaces;
  ws.onWorkspaceCreated.push(async (w) => ctx.hbi.set(w.id, w.workspaceId, w.hbiWorkspace, w.keyVaultId));
  ws.onWorkspaceDeleting.push(async (w) => ctx.hbi.forget(w.id, w.workspaceId));
  ws.onWorkspaceCreated.push(async (w) => datastores.ensureSystem(w));
  ws.onWorkspaceDeleting.push(async (w) => datastores.forgetSecrets(w));
  ws.onWorkspaceDeleting.push(async (w) => datastores.releaseFolders(w));
  ws.onWorkspaceDeleting.push(async (w) => s.connections.forgetSecrets(w));
  return s;
}
