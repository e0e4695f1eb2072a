import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { principalRoutes } from './principal-routes.js';
import { auditRoutes } from './audit-routes.js';
import { roleAssignmentRoutes } from '../arm/role-assignment-routes.js';

/** Identity and access: principals (/identity/…), role assignments, the audit log. */
export async function identityFeature(app: FastifyInstance, opts: { ctx: AppContext }): Promise<void> {
  await app.register(principalRoutes, opts);
  await app.register(roleAssignmentRoutes, opts);
  await app.register(auditRoutes, opts);
}
