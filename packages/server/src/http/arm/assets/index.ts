import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../../context.js';
import type { Services } from '../../../services.js';
import { datastoreRoutes } from './datastore-routes.js';
import { keyVaultRoutes } from './keyvault-routes.js';
import { keyVaultKeyRoutes } from './keyvault-key-routes.js';
import { versionedRoutes } from './versioned-routes.js';
import { connectionRoutes } from './connection-routes.js';
import { privateEndpointRoutes } from './private-endpoint-routes.js';
import { workspaceActionRoutes } from './workspace-action-routes.js';
export { networkAccessFeature } from './private-endpoint-routes.js';

/**
 * Workspace assets (issue 5): datastores (+ their file data plane), key vault secrets and keys, data,
 * environments, connections, private endpoints and network access, diagnostics, linked services.
 */
export async function assetsFeature(app: FastifyInstance, opts: { ctx: AppContext; services: Services }): Promise<void> {
  const { ctx, services } = opts;
  // The services and their workspace hooks are made by assets/services.ts.
  const { vault, vaultKeys, datastores, data, environments, connections, endpoints, diagnostics, linked } = services.assets;

  await app.register(keyVaultRoutes, { ctx, vault, resources: services.resources });
  await app.register(keyVaultKeyRoutes, { ctx, keys: vaultKeys, resources: services.resources });
  await app.register(datastoreRoutes, { ctx, datastores });
  await app.register(versionedRoutes, { ctx, service: data, tag: 'Data' });
  await app.register(versionedRoutes, { ctx, service: environments, tag: 'Environments' });
  await app.register(connectionRoutes, { ctx, connections });
  await app.register(privateEndpointRoutes, { ctx, endpoints });
  await app.register(workspaceActionRoutes, { ctx, services, diagnostics, linked });
}
