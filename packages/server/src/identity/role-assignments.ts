import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AppContext } from '../context.js';
import type { RoleAssignmentFullRow } from './tables.js';
import { ROLES, roleByName, scopeCovers } from './rbac.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';
import { GUID } from '../resources/arm-ids.js';
import { keepAnAdministrator } from './last-owner.js';
import type { ResourceEngine } from '../resources/engine.js';

type Db = Kysely<{ role_assignments: RoleAssignmentFullRow }>;

export interface RoleAssignment extends RoleAssignmentFullRow {
  principal_kind: string;
}

/** ARM-style role definition (built-in roles only). */
export function roleDefinition(roleName: string, scope: string) {
  const role = ROLES[roleName]!;
  const prefix = scope === '/' ? '' : scope;
  const perms: Record<string, { actions: string[]; notActions: string[]; dataActions: string[] }> = {
    Owner: { actions: ['*'], notActions: [], dataActions: ['*'] },
    Contributor: {
      actions: ['*'],
      notActions: ['Microsoft.Authorization/*/Delete', 'Microsoft.Authorization/*/Write'],
      dataActions: ['*'],
    },
    Reader: {
      actions: ['*/read'],
      notActions: [],
      dataActions: ['Microsoft.MachineLearningServices/workspaces/*/read'],
    },
    'AzureML Data Scientist': {
      actions: [
        'Microsoft.MachineLearningServices/workspaces/*/read',
        'Microsoft.MachineLearningServices/workspaces/*/action',
        'Microsoft.MachineLearningServices/workspaces/*/write',
        'Microsoft.MachineLearningServices/workspaces/*/delete',
      ],
      notActions: [
        'Microsoft.MachineLearningServices/workspaces/write',
        'Microsoft.MachineLearningServices/workspaces/delete',
        'Microsoft.MachineLearningServices/workspaces/computes/*/write',
        'Microsoft.MachineLearningServices/workspaces/computes/*/delete',
        'Microsoft.MachineLearningServices/workspaces/listKeys/action',
        'Microsoft.Authorization/*/write',
      ],
      dataActions: ['*'],
    },
    // Azure's built-in definition of this role (its containers and blobs).
    'Storage Blob Data Contributor': {
      actions: [
        'Microsoft.Storage/storageAccounts/blobServices/containers/delete',
        'Microsoft.Storage/storageAccounts/blobServices/containers/read',
        'Microsoft.Storage/storageAccounts/blobServices/containers/write',
        'Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action',
      ],
      notActions: [],
      dataActions: [
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete',
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read',
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write',
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action',
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action',
      ],
    },
  };
  const p = perms[roleName];
  // Every role of ROLES has its permissions here (role-definitions.test.ts checks each).
  if (!p) throw new Error(`role '${roleName}' has no permissions in roleDefinition()`);
  return {
    id: `${prefix}/providers/Microsoft.Authorization/roleDefinitions/${role.id}`,
    name: role.id,
    type: 'Microsoft.Authorization/roleDefinitions',
    properties: {
      roleName,
      type: 'BuiltInRole',
      description: role.description,
      assignableScopes: ['/'],
      permissions: [{ actions: p.actions, notActions: p.notActions, dataActions: p.dataActions, notDataActions: [] }],
      createdOn: '2026-01-01T00:00:00.0000000Z',
      updatedOn: '2026-01-01T00:00:00.0000000Z',
    },
  };
}

/** A role named by a role definition id (…/roleDefinitions/{guid}), a bare GUID, or a role name. */
export function roleFromDefinitionId(value: string): string {
  const last = value.replace(/\/+$/, '').split('/').at(-1) ?? '';
  const byId = Object.keys(ROLES).find((r) => ROLES[r]!.id === last.toLowerCase());
  if (byId) return byId;
  if (value.includes('/') || GUID.test(value)) {
    throw new InvalidInput(
      `role definition '${value}' does not exist; built-in roles: ${Object.entries(ROLES)
        .map(([n, r]) => `${n} (${r.id})`)
        .join(', ')}`,
      { code: 'ROLE_NOT_FOUND', target: 'properties.roleDefinitionId' },
    );
  }
  return roleByName(value);
}

export function normaliseScope(scope: string): string {
  const s = scope.replace(/\/+$/, '');
  return s === '' ? '/' : s;
}

/** Role assignments: create (idempotent by name), read, list, delete; ARM semantics. */
export class RoleAssignmentService {
  constructor(
    private readonly ctx: AppContext,
    private readonly resources: ResourceEngine,
  ) {}
  private get db(): Db {
    return this.ctx.db as unknown as Db;
  }

  /** Throws 404 unless the scope (subscription, resource group or resource) exists. */
  async requireScope(scope: string): Promise<void> {
    if (scope === '/') return;
    const m = /^\/subscriptions\/([^/]+)(?:\/resourceGroups\/([^/]+)(\/providers\/.+)?)?$/i.exec(scope);
    if (!m)
      throw new InvalidInput(
        `scope '${scope}' is not valid: use '/', /subscriptions/{id}, …/resourceGroups/{name} or a resource id`,
        { code: 'INVALID_SCOPE' },
      );
    const sub = m[1]!.toLowerCase();
    const s = await this.ctx.db
      .selectFrom('subscriptions')
      .select('subscription_id')
      .where('subscription_id', '=', sub)
      .executeTakeFirst();
    if (!s) throw new NotFound(`subscription '${m[1]}' could not be found`, { code: 'SUBSCRIPTION_NOT_FOUND' });
    if (!m[2]) return;
    const groupKey = `/subscriptions/${sub}/resourcegroups/${m[2].toLowerCase()}`;
    const g = await this.ctx.db
      .selectFrom('resource_groups')
      .select('id_key')
      .where('id_key', '=', groupKey)
      .executeTakeFirst();
    if (!g) throw new NotFound(`resource group '${m[2]}' could not be found`, { code: 'RESOURCE_GROUP_NOT_FOUND' });
    if (!m[3]) return;
    // A blob container is not a resource of its own here (every container name of an account
    // exists): a scope of one needs its storage account.
    const container =
      /^(.*\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+)\/blobServices\/default\/containers\/[^/]+$/i.exec(
        scope,
      );
    if (container) {
      if (!(await this.resources.get(container[1]!)))
        throw new NotFound(`the storage account of '${scope}' could not be found`, { code: 'NOT_FOUND' });
      return;
    }
    if (!(await this.resources.get(scope)))
      throw new NotFound(`the resource '${scope}' could not be found`, { code: 'NOT_FOUND' });
  }

  async get(scope: string, name: string): Promise<RoleAssignment | undefined> {
    const row = await this.db
      .selectFrom('role_assignments')
      .selectAll()
      .where('id', '=', name.toLowerCase())
      .where('scope_key', '=', scope.toLowerCase())
      .executeTakeFirst();
    return row ? this.withKind(row) : undefined;
  }

  private async withKind(row: RoleAssignmentFullRow): Promise<RoleAssignment> {
    const p = await this.ctx.db
      .selectFrom('principals')
      .select('kind')
      .where('id', '=', row.principal_id)
      .executeTakeFirst();
    return { ...row, principal_kind: p?.kind ?? 'unknown' };
  }

  async create(
    scope: string,
    name: string,
    input: { role: string; principalId: string; description?: string },
    by: string,
  ): Promise<{ row: RoleAssignment; created: boolean }> {
    if (!GUID.test(name))
      throw new InvalidInput(`the role assignment name '${name}' must be a GUID`, {
        code: 'INVALID_ROLE_ASSIGNMENT_ID',
      });
    const id = name.toLowerCase();
    const principalId = input.principalId.toLowerCase();
    const principal = await this.ctx.db
      .selectFrom('principals')
      .select(['id', 'kind'])
      .where('id', '=', principalId)
      .executeTakeFirst();
    if (!principal)
      throw new InvalidInput(
        `principal '${input.principalId}' does not exist; give the object id of a user or service principal`,
        { code: 'PRINCIPAL_NOT_FOUND', target: 'properties.principalId' },
      );
    const existing = await this.db.selectFrom('role_assignments').selectAll().where('id', '=', id).executeTakeFirst();
    if (existing) {
      if (
        existing.scope_key === scope.toLowerCase() &&
        existing.principal_id === principalId &&
        existing.role === input.role
      ) {
        if ((input.description ?? null) !== existing.description) {
          await this.db
            .updateTable('role_assignments')
            .set({ description: input.description ?? null })
            .where('id', '=', id)
            .execute();
          existing.description = input.description ?? null;
        }
        return { row: await this.withKind(existing), created: false };
      }
      throw new Conflict(
        'a role assignment with this name exists with another scope, role or principal; role assignments cannot be changed, delete it and make a new one',
        { code: 'ROLE_ASSIGNMENT_IMMUTABLE' },
      );
    }
    const same = await this.db
      .selectFrom('role_assignments')
      .select('id')
      .where('scope_key', '=', scope.toLowerCase())
      .where('principal_id', '=', principalId)
      .where('role', '=', input.role)
      .executeTakeFirst();
    if (same)
      throw new Conflict(`the role assignment already exists (its name is ${same.id})`, {
        code: 'ROLE_ASSIGNMENT_EXISTS',
      });
    const row: RoleAssignmentFullRow = {
      id,
      scope,
      scope_key: scope.toLowerCase(),
      principal_id: principalId,
      role: input.role,
      created_at: Date.now(),
      created_by: by,
      description: input.description ?? null,
    };
    await this.db.insertInto('role_assignments').values(row).execute();
    this.ctx.access.invalidate(principalId);
    return { row: { ...row, principal_kind: principal.kind }, created: true };
  }

  async delete(scope: string, name: string): Promise<RoleAssignment | undefined> {
    const row = await this.get(scope, name);
    if (!row) return undefined;
    await this.ctx.database.write(async ({ db: trx }) => {
      if (row.role === 'Owner' && row.scope_key === '/') await keepAnAdministrator(trx, { assignmentId: row.id });
      await trx.deleteFrom('role_assignments').where('id', '=', row.id).execute();
    });
    this.ctx.access.invalidate(row.principal_id);
    return row;
  }

  /**
   * Assignments that apply at `scope` (at it or inherited from above) and, unless `atScopeOnly`,
   * those below it; optionally of one principal.
   */
  async list(scope: string, opts: { principalId?: string; atScopeOnly?: boolean }): Promise<RoleAssignment[]> {
    let q = this.db.selectFrom('role_assignments').selectAll().orderBy('scope_key').orderBy('id');
    if (opts.principalId) q = q.where('principal_id', '=', opts.principalId.toLowerCase());
    const rows = await q.execute();
    const out: RoleAssignment[] = [];
    for (const r of rows) {
      const above = scopeCovers(r.scope, scope);
      const below = scopeCovers(scope, r.scope);
      if (opts.atScopeOnly ? above : above || below) out.push(await this.withKind(r));
    }
    return out;
  }

  static newName(): string {
    return crypto.randomUUID();
  }
}
