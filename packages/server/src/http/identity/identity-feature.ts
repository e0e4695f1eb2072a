import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { principalRoutes } from './principal-routes.js';
import { auditRoutes } from './audit-routes.js';
import { roleAssignmentRoutes } from '../arm/role-assignment-routes.js';
import { templateDeploymentRoutes } from '../arm/template-deployment-routes.js';

/** Identity and access: principals (/identity/…), role assignments, the audit log, and ARM template deployments. */
export async function identityFeature(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  await app.register(principalRoutes, opts);
  await app.register(roleAssignmentRoutes, opts);
  await app.register(auditRoutes, opts);
  // Needed by the official clients' workspace creation; not built yet (501, with what to use).
  await app.register(templateDeploymentRoutes, opts);
}
