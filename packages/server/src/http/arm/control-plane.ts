import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { workspaceRoutes } from './workspace-routes.js';
import { resourceRouter } from './resource-router.js';
import { operationRoutes } from './operation-routes.js';
import { discoveryRoutes } from '../discovery.js';

/**
 * The control-plane feature: workspaces, the generic router of every declared resource type, operation status, discovery. Also
 * runs the operation sweeper (fails and undoes operations whose process stopped).
 */
export async function controlPlaneFeature(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { services } = opts;
  // ARM clients send POST/DELETE with Content-Type: application/json and no body: that is "no body",
  // not a malformed one. Anything else goes to Fastify's own (prototype-poisoning safe) JSON parser.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    void json(req, body as string, done);
  });
  await app.register(workspaceRoutes, opts);
  // Every type of the resource-type registry with handlers (dependents, workspace assets, …).
  await app.register(resourceRouter, opts);
  await app.register(operationRoutes, opts);
  await app.register(discoveryRoutes, { ctx: opts.ctx });
  await services.operations.sweep();
  services.operations.startSweeper();
  app.addHook('onClose', async () => services.operations.stop());
}
