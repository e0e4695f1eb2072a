import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../context.js';

/** The discovery service keys Azure ML clients read; every one points at this server. */
export const DISCOVERY_KEYS = [
  'api',
  'catalog',
  'experimentation',
  'gallery',
  'history',
  'hyperdrive',
  'labeling',
  'modelmanagement',
  'pipelines',
  'studio',
] as const;

const DiscoveryBody = Type.Object(
  Object.fromEntries(DISCOVERY_KEYS.map((k) => [k, Type.String()])) as Record<
    (typeof DISCOVERY_KEYS)[number],
    ReturnType<typeof Type.String>
  >,
);

/** `GET /discovery` (public, like Azure's regional discovery document). */
export async function discoveryRoutes(app: FastifyInstance, opts: { ctx: AppContext }): Promise<void> {
  const url = opts.ctx.config.publicUrl;
  const body = Object.fromEntries(DISCOVERY_KEYS.map((k) => [k, url]));
  app.get(
    '/discovery',
    {
      config: { public: true },
      schema: {
        tags: ['Discovery'],
        summary: 'Data-plane endpoints (Azure ML discovery document)',
        security: [],
        response: { 200: DiscoveryBody },
      },
    },
    async () => body,
  );
}
