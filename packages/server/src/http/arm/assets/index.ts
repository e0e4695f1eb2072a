import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../../context.js';
import type { Services } from '../../../services.js';
import { VaultSecretService } from '../../../assets/key-vault.js';
import { DatastoreService, datastoreRoots, s3Endpoints } from '../../../assets/datastores.js';
import { datastoreRoutes } from './datastore-routes.js';
import { keyVaultRoutes } from './keyvault-routes.js';
import { keyVaultKeyRoutes } from './keyvault-key-routes.js';
import { VaultKeyService } from '../../../assets/vault-keys.js';
import { versionedRoutes } from './versioned-routes.js';
import { connectionRoutes } from './connection-routes.js';
import { ConnectionService } from '../../../assets/connections.js';
import { PrivateEndpointService } from '../../../assets/private-endpoints.js';
import { privateEndpointRoutes } from './private-endpoint-routes.js';
import { workspaceActionRoutes } from './workspace-action-routes.js';
import { WorkspaceDiagnostics } from '../../../assets/diagnostics.js';
import { LinkedServiceService } from '../../../assets/linked-services.js';
export { networkAccessFeature } from './private-endpoint-routes.js';
import { dataService } from '../../../assets/data-assets.js';
import { environmentService } from '../../../assets/environments.js';

/**
 * Workspace assets (issue 5): datastores (+ their file data plane), key vault secrets and keys, data,
 * environments, connections, private endpoints and network access, diagnostics, linked services.
 */
export async function assetsFeature(app: FastifyInstance, opts: { ctx: AppContext; services: Services }): Promise<void> {
  const { ctx, services } = opts;
  const vault = new VaultSecretService(ctx);
  const datastores = new DatastoreService(ctx, vault, datastoreRoots(), s3Endpoints());
  const data = dataService(ctx, datastores);
  const environments = environmentService(ctx);
  const connections = new ConnectionService(ctx, vault);
  const endpoints = PrivateEndpointService.for(ctx);
  const diagnostics = new WorkspaceDiagnostics(ctx, vault, endpoints);
  const linked = new LinkedServiceService(ctx);

  // The system datastores are made with the workspace; secrets the workspace's assets kept in its
  // key vault go with it (the vault itself may outlive the workspace).
  // The logger's list of high-business-impact workspaces learns of this server's creates and deletes at once.
  services.workspaces.onWorkspaceCreated.push(async (ws) => ctx.hbi.set(ws.id, ws.workspaceId, ws.hbiWorkspace, ws.keyVaultId));
  services.workspaces.onWorkspaceDeleting.push(async (ws) => ctx.hbi.forget(ws.id, ws.workspaceId));
  services.workspaces.onWorkspaceCreated.push(async (ws) => datastores.ensureSystem(ws));
  services.workspaces.onWorkspaceDeleting.push(async (ws) => datastores.forgetSecrets(ws));
  services.workspaces.onWorkspaceDeleting.push(async (ws) => datastores.releaseFolders(ws));
  services.workspaces.onWorkspaceDeleting.push(async (ws) => connections.forgetSecrets(ws));

  await app.register(keyVaultRoutes, { ctx, vault });
  await app.register(keyVaultKeyRoutes, { ctx, keys: new VaultKeyService(ctx) });
  await app.register(datastoreRoutes, { ctx, datastores });
  await app.register(versionedRoutes, { ctx, service: data, tag: 'Data' });
  await app.register(versionedRoutes, { ctx, service: environments, tag: 'Environments' });
  await app.register(connectionRoutes, { ctx, connections });
  await app.register(privateEndpointRoutes, { ctx, endpoints });
  await app.register(workspaceActionRoutes, { ctx, services, diagnostics, linked });
}
