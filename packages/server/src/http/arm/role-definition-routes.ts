import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { InvalidInput, NotFound } from '../../errors.js';
import { ROLES } from '../../identity/rbac.js';
import { roleDefinition } from '../../identity/role-assignments.js';
import { checkApiVersion } from './api-version.js';
import { EXTENSION_SCOPES, extensionScope } from './resource-router.js';
import * as C from '@atelier/contracts';

const AUTHZ = '/providers/Microsoft.Authorization/';

const scopeOf = (req: FastifyRequest) => extensionScope(req, 'Microsoft.Authorization/roleDefinitions');

/**
 * Microsoft.Authorization's built-in role definitions, readable at any scope (no role needed: they
 * are the same everywhere). Role assignments are a registry type (identity/role-assignment-type.ts)
 * served by the generic ARM router.
 */
export async function roleDefinitionRoutes(
  app: FastifyInstance,
  _opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const tags = ['Role assignments'];
  app.addHook('preHandler', async (req) => checkApiVersion(req));

  for (const s of EXTENSION_SCOPES) {
    app.get(
      `${s}${AUTHZ}roleDefinitions`,
      {
        schema: {
          tags,
          querystring: C.ApiVersionQuery,
          response: { 200: C.RoleDefinitionList, ...C.ArmErrorResponses },
        },
      },
      async (req) => {
        const scope = scopeOf(req);
        const filter = ((req.query as Record<string, string>).$filter ?? '').trim();
        const m = /^roleName\s+eq\s+'([^']+)'$/i.exec(filter);
        if (filter && !m && !/^type\s+eq\s+'BuiltInRole'$/i.test(filter)) {
          throw new InvalidInput(`$filter '${filter}' is not supported; use roleName eq '{name}'`, {
            code: 'INVALID_FILTER',
            target: '$filter',
          });
        }
        const names = Object.keys(ROLES).filter((n) => !m || n.toLowerCase() === m[1]!.toLowerCase());
        return { value: names.map((n) => roleDefinition(n, scope)) };
      },
    );

    app.get<{ Params: { roleDefinitionId: string } }>(
      `${s}${AUTHZ}roleDefinitions/:roleDefinitionId`,
      { schema: { tags, querystring: C.ApiVersionQuery, response: { 200: C.RoleDefinition, ...C.ArmErrorResponses } } },
      async (req) => {
        const name = Object.keys(ROLES).find((n) => ROLES[n]!.id === req.params.roleDefinitionId.toLowerCase());
        if (!name)
          throw new NotFound(`role definition '${req.params.roleDefinitionId}' does not exist`, {
            code: 'ROLE_NOT_FOUND',
          });
        return roleDefinition(name, scopeOf(req));
      },
    );
  }
}
