import * as C from '@atelier/contracts';
import { InvalidInput, NotFound } from '../errors.js';
import type { ResourceScope, ResourceTypeDeclaration } from '../resources/registry.js';
import { ROLES } from './rbac.js';
import { roleFromDefinitionId, type RoleAssignment, type RoleAssignmentService } from './role-assignments.js';

export const ROLE_ASSIGNMENT = 'Microsoft.Authorization/roleAssignments';
const AUTHZ = '/providers/Microsoft.Authorization/';

const principalType = (kind: string) =>
  kind === 'user' ? 'User' : kind === 'servicePrincipal' ? 'ServicePrincipal' : 'Unknown';

/** The ARM body of a role assignment. */
export function roleAssignmentBody(r: RoleAssignment): C.RoleAssignment {
  const prefix = r.scope === '/' ? '' : r.scope;
  const sub = /^\/subscriptions\/([^/]+)/i.exec(r.scope)?.[1];
  return {
    id: `${prefix}${AUTHZ}roleAssignments/${r.id}`,
    name: r.id,
    type: ROLE_ASSIGNMENT,
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
}

/** `$filter` of a list: atScope(), principalId eq '{id}', assignedTo('{id}'), joined by 'and'. */
function parseFilter(raw: string | undefined): { principalId?: string; atScopeOnly: boolean } {
  const filter = (raw ?? '').trim();
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
  return { principalId, atScopeOnly };
}

/**
 * Role assignments as a registry type: an extension resource below any scope (the root, a
 * subscription, a group, a resource, a child resource), checked on that scope — reading them needs
 * control/read there, making and deleting them access/write. Kept in their own table by the role
 * assignment service; immutable once made (a PUT of the same assignment is idempotent).
 */
export function roleAssignmentType(service: RoleAssignmentService): ResourceTypeDeclaration<C.RoleAssignment> {
  const scopeOf = (scope: ResourceScope) => scope.scopeId ?? '/';
  return {
    type: ROLE_ASSIGNMENT,
    // Names are GUIDs: the service checks that when one is made (400); a GET or DELETE of another name finds nothing.
    checkName: () => undefined,
    placement: 'extension',
    param: 'roleAssignmentName',
    label: 'role assignment',
    tag: 'Role assignments',
    access: { read: 'control/read', write: 'access/write', delete: 'access/write' },
    schema: { put: C.RoleAssignmentBody, one: C.RoleAssignment, list: C.RoleAssignmentList },
    summaries: {
      put: 'Assign a role to a principal at this scope (role assignments cannot change: delete and assign again)',
      get: 'Get a role assignment',
      delete: 'Delete a role assignment (answers what it was)',
      list: "List the role assignments that apply at this scope or below it ($filter: atScope(), principalId eq '…', assignedTo('…'))",
    },
    handlers: {
      list: async (scope, page) => {
        const filter = parseFilter(page.query.$filter);
        await service.requireScope(scopeOf(scope));
        // The caller reads the scope, so also what is below it; assignments above it apply to it
        // (inherited) and are shown, as ARM does. Not paged (ARM's list of them is not either).
        const rows = await service.list(scopeOf(scope), filter);
        return { value: rows.map(roleAssignmentBody), hasMore: false };
      },
      get: async (scope, name) => {
        const row = await service.get(scopeOf(scope), name);
        if (!row)
          throw new NotFound(`role assignment '${name}' does not exist at '${scopeOf(scope)}'`, {
            code: 'ROLE_ASSIGNMENT_NOT_FOUND',
          });
        return roleAssignmentBody(row);
      },
      put: async (scope, name, body, by) => {
        await service.requireScope(scopeOf(scope));
        const b = body as C.RoleAssignmentBody;
        const { row, created } = await service.create(
          scopeOf(scope),
          name,
          {
            role: roleFromDefinitionId(b.properties.roleDefinitionId),
            principalId: b.properties.principalId,
            description: b.properties.description ?? undefined,
          },
          by.id,
        );
        return { resource: roleAssignmentBody(row), created };
      },
      delete: async (scope, name) => {
        const row = await service.delete(scopeOf(scope), name);
        return row ? { deleted: roleAssignmentBody(row) } : false;
      },
      toBody: (r) => ({ ...r }),
    },
    // Deployable from ARM templates (azure-ai-ml's feature-store template assigns roles to its
    // materialization identity): `scope` names what the assignment extends; the deployment checked
    // access/write there. Made and undone through the same service as the REST route.
    template: {
      async deploy(t, by) {
        const at = t.scopeId ?? '/';
        await service.requireScope(at);
        const props = (t.body.properties ?? {}) as Record<string, unknown>;
        if (typeof props.roleDefinitionId !== 'string' || typeof props.principalId !== 'string' || !props.principalId)
          throw new InvalidInput(
            `role assignment '${t.name}' needs properties.roleDefinitionId and properties.principalId (the object id of a user, service principal or managed identity)`,
            { code: 'INVALID_INPUT', target: 'properties' },
          );
        const { row, created } = await service.create(
          at,
          t.name,
          {
            role: roleFromDefinitionId(props.roleDefinitionId),
            principalId: props.principalId,
            description: typeof props.description === 'string' ? props.description : undefined,
          },
          by.id,
        );
        return { body: roleAssignmentBody(row) as unknown as Record<string, unknown>, created };
      },
      async undo(id) {
        const i = id.toLowerCase().lastIndexOf(AUTHZ.toLowerCase());
        await service.delete(id.slice(0, i) || '/', id.slice(i + AUTHZ.length).split('/')[1]!);
      },
    },
  };
}
