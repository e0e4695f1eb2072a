import * as C from '@atelier/contracts';
import type { AppContext } from '../context.js';
import { InvalidInput } from '../errors.js';
import { groupId } from '../resources/arm-ids.js';
import { toArmBody, type ResourceDefinition, type ResourceEngine, type StoredResource } from '../resources/engine.js';
import { normaliseLocation, type ResourceGroupService } from '../resources/resource-groups.js';
import { resourceId } from '../resources/resource-ids.js';
import type { ResourceScope, ResourceTypeDeclaration } from '../resources/registry.js';
import type { Principal } from './principals.js';

export const USER_ASSIGNED_IDENTITY = 'Microsoft.ManagedIdentity/userAssignedIdentities';

export const userAssignedIdentityDef: ResourceDefinition = {
  type: USER_ASSIGNED_IDENTITY,
  // Azure's rule: 3–128 characters, letters, digits, '-' and '_', starting with a letter or digit.
  checkName(name) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$/.test(name))
      throw new InvalidInput(
        `managed identity name '${name}' is invalid: use 3–128 letters, digits, '-' and '_', starting with a letter or digit`,
        { code: 'INVALID_RESOURCE_NAME', target: 'name' },
      );
  },
};

/**
 * User-assigned managed identities: an ARM resource whose `principalId` is the object id of a service
 * principal of its own (made with it, removed with it; its role assignments go too), `clientId` that
 * principal's application id. Roles can be assigned to it (azure-ai-ml's feature stores give theirs
 * roles on the workspace and the storage) and a workspace naming it in `identity.userAssignedIdentities`
 * shows its ids. Nothing signs in as it: Atelier runs no instance metadata service that would hand a
 * compute the identity's tokens, so the principal has no credential (documented in docs/clients.md).
 */
export class UserAssignedIdentities {
  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
    private readonly groups: ResourceGroupService,
  ) {}

  /** Creates the identity (and its principal), or sets the tags of an existing one. */
  async put(
    id: string,
    input: { location?: string; tags?: Record<string, string>; groupLocation: string },
    by: Principal,
  ): Promise<{ resource: StoredResource; created: boolean }> {
    const existing = await this.engine.get(id);
    const location = input.location ? normaliseLocation(input.location) : (existing?.location ?? input.groupLocation);
    if (existing) {
      if (existing.location && location !== existing.location)
        throw new InvalidInput(`location cannot change: the managed identity is in '${existing.location}'`, {
          code: 'INVALID_INPUT',
          target: 'location',
        });
      const resource = await this.engine.patch(userAssignedIdentityDef, id, { tags: input.tags ?? existing.tags }, by);
      return { resource, created: false };
    }
    userAssignedIdentityDef.checkName(id.split('/').pop()!);
    const principal = await this.ctx.principals.createManagedIdentity(id.split('/').pop()!, id);
    try {
      const { resource, created } = await this.engine.put(
        userAssignedIdentityDef,
        id,
        {
          location,
          tags: input.tags ?? {},
          properties: { tenantId: this.ctx.tenantId, principalId: principal.id, clientId: principal.name },
        },
        by,
        { ifNoneMatch: '*' },
      );
      return { resource, created };
    } catch (e) {
      // Made concurrently, or refused: its principal must not stay behind.
      await this.ctx.principals.delete(principal.id);
      throw e;
    }
  }

  /** Removes the identity with its principal (and so the principal's role assignments). */
  async remove(id: string): Promise<boolean> {
    const r = await this.engine.get(id);
    if (!r) return false;
    await this.engine.delete(id);
    const principalId = r.properties.principalId;
    if (typeof principalId === 'string' && (await this.ctx.principals.get(principalId)))
      await this.ctx.principals.delete(principalId);
    this.ctx.access.invalidate(typeof principalId === 'string' ? principalId : undefined);
    return true;
  }

  body(r: StoredResource): Record<string, unknown> {
    const p = r.properties;
    return toArmBody(r, { tenantId: p.tenantId, principalId: p.principalId, clientId: p.clientId });
  }

  declaration(): ResourceTypeDeclaration {
    const idOf = (scope: ResourceScope, name: string) =>
      resourceId(scope.subscriptionId, scope.resourceGroup, USER_ASSIGNED_IDENTITY, name);
    return {
      ...userAssignedIdentityDef,
      param: 'resourceName',
      label: 'managed identity',
      tag: 'Managed identities',
      access: { read: 'control/read', write: 'control/write', delete: 'control/write' },
      lists: { group: true, subscription: true },
      schema: {
        put: C.DependentResourceBody,
        patch: C.DependentResourcePatchBody,
        one: C.DependentResource,
        list: C.DependentResourceList,
      },
      summaries: {
        put: 'Create a user-assigned managed identity (or set the tags of an existing one)',
        get: 'Get a user-assigned managed identity (principalId, clientId, tenantId)',
        patch: 'Set the tags of a user-assigned managed identity',
        delete: 'Delete a user-assigned managed identity with its principal and role assignments',
        listGroup: 'List the user-assigned managed identities of a resource group (paged)',
        listSubscription: 'List the user-assigned managed identities of a subscription (paged)',
      },
      handlers: {
        list: (scope, page) =>
          this.engine.list({
            type: USER_ASSIGNED_IDENTITY,
            subscriptionId: scope.subscriptionId,
            groupKey: scope.resourceGroup ? groupId(scope.subscriptionId, scope.resourceGroup) : undefined,
            after: page.after,
            top: page.top,
            visible: page.visible,
          }),
        get: (scope, name) =>
          this.engine.require(
            idOf(scope, name),
            `managed identity '${name}' could not be found in resource group '${scope.resourceGroup}'`,
          ),
        put: async (scope, name, body, by) => {
          const group = await this.groups.require(scope.subscriptionId, scope.resourceGroup);
          const b = body as { location?: string; tags?: Record<string, string> };
          return this.put(
            resourceId(scope.subscriptionId, group.name, USER_ASSIGNED_IDENTITY, name),
            { location: b.location, tags: b.tags, groupLocation: group.location },
            by,
          );
        },
        patch: (_scope, r, body, by) =>
          this.engine.patch(
            userAssignedIdentityDef,
            r.id,
            { tags: (body as { tags?: Record<string, string> }).tags },
            by,
          ),
        delete: (scope, name) => this.remove(idOf(scope, name)),
        toBody: (r) => this.body(r),
      },
      remove: (id) => this.remove(id),
      template: {
        deploy: async (t, by) => {
          const { resource, created } = await this.put(
            t.id,
            { location: t.location, tags: t.tags, groupLocation: t.resourceGroup.location },
            by,
          );
          return { body: this.body(resource), created };
        },
        undo: async (id) => void (await this.remove(id)),
      },
    };
  }
}
