import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../../context.js';
import type { Services } from '../../../services.js';
import { datastoreRoutes } from './datastore-routes.js';
import { keyVaultDataPlane } from './key-vault-data-plane.js';
import { acceptStringBooleans } from '../string-booleans.js';
export { networkAccessFeature } from './network-access.js';

/**
 * Workspace assets (issue 5): the datastore file data plane, key vault secrets and keys. The ARM
 * resources of datastores, data, environments, connections, linked services, private endpoints and
 * their connections, and the workspace's diagnose action, are declared in assets/types.ts and
 * served by the generic router (http/arm/resource-router.ts); a diagnosis's report is read at
 * operation-routes.ts; network access is an app-wide hook (network-access.ts).
 */
export async function assetsFeature(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx, services } = opts;
  // The services and their workspace hooks are made by assets/services.ts.
  const { datastores } = services.assets;

  acceptStringBooleans(app);
  await app.register(keyVaultDataPlane, { ctx, services });
  await app.register(datastoreRoutes, { ctx, datastores });
}
