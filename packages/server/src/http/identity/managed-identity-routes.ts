import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';

const Query = Type.Object({
  resource: Type.Optional(Type.String({ maxLength: 2048 })),
  'api-version': Type.Optional(Type.String({ maxLength: 32 })),
  clientid: Type.Optional(Type.String({ maxLength: 200 })),
});

/**
 * `GET /identity/msi/token?resource=…&api-version=2017-09-01` with the header `secret` (or
 * `X-IDENTITY-HEADER`, api-version 2019-08-01): an App-Service-style managed identity endpoint, so
 * clients whose default credential is a managed identity get a token with `MSI_ENDPOINT` (or
 * `IDENTITY_ENDPOINT`) set to this address and the secret set to a credential of their own
 * (identity/managed-identity.ts). Public: the secret is the authentication.
 */
export async function managedIdentityRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const mi = opts.services.identity.managedIdentity;
  app.get<{ Querystring: { resource?: string; 'api-version'?: string; clientid?: string } }>(
    '/identity/msi/token',
    {
      config: { public: true },
      schema: {
        tags: ['Identity'],
        summary: 'A managed-identity style access token for the principal whose credential is the secret header',
        security: [],
        querystring: Query,
      },
    },
    async (req) => {
      const header = req.headers['secret'] ?? req.headers['x-identity-header'];
      const secret = Array.isArray(header) ? undefined : header;
      return mi.exchange(secret, req.query.resource, req.ip, req.query.clientid);
    },
  );
}
