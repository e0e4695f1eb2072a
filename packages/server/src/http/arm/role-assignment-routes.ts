import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { InvalidInput, NotFound } from '../../errors.js';
import { ROLES } from '../../identity/rbac.js';
import {
  normaliseScope,
  roleDefinition,
  roleFromDefinitionId,
  type RoleAssignment,
} from '../../identity/role-assignments.js';
import { checkApiVersion } from './api-version.js';
import * as C from '@atelier/contracts';

const AUTHZ = '/providers/Microsoft.Authorization/';
/** Scopes a role assignment may sit at: root, subscription, resource group, resource, child resource. */
const SCOPES = [
  '',
  '/subscriptions/:subscriptionId',
  '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName',
  '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/:ns/:type/:name',
  '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/:ns/:type/:name/:childType/:childName',
];

const ASSIGNMENT = { 200: C.RoleAssignment, ...C.ArmErrorResponses };

/** The scope part of a …/providers/Microsoft.Authorization/… request path ('/' for the root). */
function scopeOf(req: FastifyRequest): string {
  let path: string;
  try {
    path = decodeURIComponent(req.url.split('?')[0]!);
  } catch {
    throw new InvalidInput('the request path is not valid percent-encoding', { code: 'INVALID_SCOPE' });
  }
  const i = path.toLowerCase().indexOf(AUTHZ.toLowerCase());
  return normaliseScope(i <= 0 ? '/' : path.slice(0, i));
}

const principalType = (kind: string) =>
  kind === 'user' ? 'User' : kind === 'servicePrincipal' ? 'ServicePrincipal' : 'Unknown';

/** Microsoft.Authorization: role assignments at any scope, built-in role definitions. */
export async function roleAssignmentRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx } = opts;
  const service = opts.services.identity.roleAssignments;
  const tags = ['Role assignments'];
  app.addHook('preHandler', async (req) => checkApiVersion(req));

  const body = (r: RoleAssignment): C.RoleAssignment => {
    const prefix = r.scope === '/' ? '' : r.scope;
    const sub = /^\/subscriptions\/([^/]+)/i.exec(r.scope)?.[1];
    return {
      id: `${prefix}${AUTHZ}roleAssignments/${r.id}`,
      name: r.id,
      type: 'Microsoft.Authorization/roleAssignments',
      properties: {
        roleDefinitionId: `${sub ? `/subscriptions/${sub}` : ''}${AUTHZ}roleDefinitions/${ROLES[r.role]!.id}`,
        principalId: r.principal_id,
        principalType: principalType(r.principal_kind),
        scope: r.scope,
        description: r.description,
        condition: null,
        conditionVersion: null,
        createdOn: new Date(r.created_at).toISOString(),
        updatedOn: new Date(r.created_at).toISOString(),
        createdBy: r.created_by,
        updatedBy: r.created_by,
        delegatedManagedIdentityResourceId: null,
      },
    };
  };

  const notFound = (scope: string) => `the scope '${scope}' could not be found`;

  for (const s of SCOPES) {
    app.get(
      `${s}${AUTHZ}roleAssignments`,
      {
        schema: {
          tags,
          querystring: C.ApiVersionQuery,
          response: { 200: C.RoleAssignmentList, ...C.ArmErrorResponses },
        },
      },
      async (req) => {
        const scope = scopeOf(req);
        await ctx.access.require(req.principal.id, scope, 'control/read', notFound(scope));
        await service.requireScope(scope);
        const filter = ((req.query as Record<string, string>).$filter ?? '').trim();
        let principalId: string | undefined;
        let atScopeOnly = false;
        for (const clause of filter ? filter.split(/\s+and\s+/i) : []) {
          let m: RegExpExecArray | null;
          if (/^atScope\(\)$/i.test(clause)) atScopeOnly = true;
          else if ((m = /^principalId\s+eq\s+'([^']+)'$/i.exec(clause))) principalId = m[1];
          else if ((m = /^assignedTo\('([^']+)'\)$/i.exec(clause))) principalId = m[1];
          else
            throw new InvalidInput(
              `$filter '${clause}' is not supported; use atScope(), principalId eq '{id}' or assignedTo('{id}'), joined by 'and'`,
              { code: 'INVALID_FILTER', target: '$filter' },
            );
        }
        const rows = await service.list(scope, { principalId, atScopeOnly });
        // The caller reads `scope`, so also what is below it; assignments above it apply to it
        // (inherited), and are shown as ARM does.
        return { value: rows.map(body) };
      },
    );

    app.get<{ Params: { roleAssignmentName: string } }>(
      `${s}${AUTHZ}roleAssignments/:roleAssignmentName`,
      { schema: { tags, querystring: C.ApiVersionQuery, response: ASSIGNMENT } },
      async (req) => {
        const scope = scopeOf(req);
        await ctx.access.require(req.principal.id, scope, 'control/read', notFound(scope));
        const row = await service.get(scope, req.params.roleAssignmentName);
        if (!row)
          throw new NotFound(`role assignment '${req.params.roleAssignmentName}' does not exist at '${scope}'`, {
            code: 'ROLE_ASSIGNMENT_NOT_FOUND',
          });
        return body(row);
      },
    );

    app.put<{ Params: { roleAssignmentName: string }; Body: C.RoleAssignmentBody }>(
      `${s}${AUTHZ}roleAssignments/:roleAssignmentName`,
      {
        schema: {
          tags,
          querystring: C.ApiVersionQuery,
          body: C.RoleAssignmentBody,
          response: { ...ASSIGNMENT, 201: C.RoleAssignment },
        },
      },
      async (req, reply) => {
        const scope = scopeOf(req);
        await ctx.access.require(req.principal.id, scope, 'access/write', notFound(scope));
        await service.requireScope(scope);
        const role = roleFromDefinitionId(req.body.properties.roleDefinitionId);
        const { row, created } = await service.create(
          scope,
          req.params.roleAssignmentName,
          {
            role,
            principalId: req.body.properties.principalId,
            description: req.body.properties.description ?? undefined,
          },
          req.principal.id,
        );
        return reply.status(created ? 201 : 200).send(body(row));
      },
    );

    app.delete<{ Params: { roleAssignmentName: string } }>(
      `${s}${AUTHZ}roleAssignments/:roleAssignmentName`,
      { schema: { tags, querystring: C.ApiVersionQuery, response: ASSIGNMENT } },
      async (req, reply) => {
        const scope = scopeOf(req);
        await ctx.access.require(req.principal.id, scope, 'access/write', notFound(scope));
        const row = await service.delete(scope, req.params.roleAssignmentName);
        return row ? reply.status(200).send(body(row)) : reply.status(204).send();
      },
    );

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
