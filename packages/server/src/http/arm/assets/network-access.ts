import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { AppContext } from '../../../context.js';
import type { Services } from '../../../services.js';

/**
 * App-wide (registered first among the features, so every later route has it): refuses requests to
 * a workspace with public network access disabled from outside its approved private endpoints.
 * The private endpoints and their connections are declared in assets/types.ts and served by the
 * generic router (http/arm/resource-router.ts).
 */
export const networkAccessFeature = fp(
  async (app: FastifyInstance, opts: { ctx: AppContext; services: Services }) => {
    const endpoints = opts.services.assets.endpoints;
    app.addHook('onRequest', async (req) => {
      await endpoints.check(req.routeOptions.url, req.params, req.socket.remoteAddress ?? req.ip);
    });
  },
  { name: 'atelier-network-access' },
);
