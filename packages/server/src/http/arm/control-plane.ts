import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { resourceRouter } from './resource-router.js';
import { operationRoutes } from './operation-routes.js';
import { discoveryRoutes } from '../discovery.js';
import { acceptStringBooleans } from './string-booleans.js';

/**
 * The control-plane feature: the generic router of every declared resource type (workspaces and
 * their children, dependents, private endpoints, …), operation status, discovery. Also
 * runs the operation sweeper (fails and undoes operations whose process stopped).
 */
export async function controlPlaneFeature(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { services } = opts;
  acceptStringBooleans(app);
  // Every type of the resource-type registry with handlers (workspaces, dependents, workspace assets, …).
  await app.register(resourceRouter, opts);
  await app.register(operationRoutes, opts);
  await app.register(discoveryRoutes, { ctx: opts.ctx });
  await services.operations.sweep();
  services.operations.startSweeper();
  app.addHook('onClose', async () => services.operations.stop());
}
