import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { principalRoutes } from './principal-routes.js';
import { auditRoutes } from './audit-routes.js';
import { roleDefinitionRoutes } from '../arm/role-definition-routes.js';
import { resourceProviderRoutes } from '../arm/resource-provider-routes.js';
import { managedIdentityRoutes } from './managed-identity-routes.js';

/** Identity and access: principals (/identity/…), role definitions, the audit log, and the resource providers (role assignments and template deployments: the generic ARM router). */
export async function identityFeature(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  await app.register(principalRoutes, opts);
  await app.register(roleDefinitionRoutes, opts);
  await app.register(auditRoutes, opts);
  // Resource providers: the namespaces the official clients check before creating anything.
  await app.register(resourceProviderRoutes, opts);
  await app.register(managedIdentityRoutes, opts);
}
