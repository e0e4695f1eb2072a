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

  // Azure's cloud metadata (`GET https://management.azure.com/metadata/endpoints`), public as Azure's
  // is. azureml-core (and the Azure CLI it vendors) loads its list of clouds from the URL in
  // `ARM_CLOUD_METADATA_URL`, so pointing that variable here makes the cloud `Atelier` known to the
  // client without touching its internals. api-version 2019-05-01 and later answer the list of clouds,
  // earlier ones the current cloud alone, as Azure does.
  const cloud = {
    name: CLOUD_NAME,
    portal: `${url}/`,
    resourceManager: `${url}/`,
    authentication: {
      loginEndpoint: url,
      audiences: [`${url}/`],
      tenant: 'common',
      identityProvider: 'AAD',
    },
    graph: `${url}/`,
    graphAudience: `${url}/`,
    suffixes: { storage: opts.ctx.config.storageSuffix ?? 'core.windows.net' },
  };
  app.get<{ Querystring: { 'api-version': string } }>(
    '/metadata/endpoints',
    {
      config: { public: true },
      schema: {
        tags: ['Discovery'],
        summary: "This server as an Azure cloud (Azure's cloud metadata document; ARM_CLOUD_METADATA_URL)",
        security: [],
        querystring: Type.Object(
          { 'api-version': Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}(-preview)?$' }) },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => (req.query['api-version'] >= '2019-05-01' ? [cloud] : cloud),
  );
}

/** The name clients give this server's cloud (`cloud="Atelier"`). */
export const CLOUD_NAME = 'Atelier';
