import type { AppContext } from '../context.js';
import type { ResourceGroupRow } from '../store/tables.js';
import type { Principal } from '../identity/principals.js';
import * as C from '@atelier/contracts';
import { Conflict, InvalidInput, NotFound } from '../errors.js';
import { checkResourceGroupName, checkSubscriptionId, groupId } from './arm-ids.js';
import type { ResourceTypeDeclaration } from './registry.js';

export const RESOURCE_GROUP = 'Microsoft.Resources/resourceGroups';

export interface ResourceGroup {
  id: string;
  name: string;
  type: 'Microsoft.Resources/resourceGroups';
  location: string;
  tags: Record<string, string>;
  managedBy?: string;
  properties: { provisioningState: string };
}

export function toResourceGroup(row: ResourceGroupRow): ResourceGroup {
  const rg: ResourceGroup = {
    id: groupId(row.subscription_id, row.name),
    name: row.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: row.location,
    tags: JSON.parse(row.tags),
    properties: { provisioningState: row.provisioning_state },
  };
  if (row.managed_by) rg.managedBy = row.managed_by;
  return rg;
}

/**
 * Called for each resource group being deleted, before its row goes: the resource engine removes
 * every resource in it (and their blobs, keys, secrets), as ARM does.
 */
export type GroupDeleteHook = (groupKey: string, by: Principal) => Promise<void>;

export class ResourceGroupService {
  readonly deleteHooks: GroupDeleteHook[] = [];
  constructor(private readonly ctx: AppContext) {}

  async subscriptionExists(sub: string): Promise<boolean> {
    checkSubscriptionId(sub);
    return Boolean(
      await this.ctx.db
        .selectFrom('subscriptions')
        .select('subscription_id')
        .where('subscription_id', '=', sub.toLowerCase())
        .executeTakeFirst(),
    );
  }

  async requireSubscription(sub: string): Promise<void> {
    if (!(await this.subscriptionExists(sub)))
      throw new NotFound(`subscription '${sub}' could not be found`, { code: 'SUBSCRIPTION_NOT_FOUND' });
  }

  async get(sub: string, name: string): Promise<ResourceGroupRow | undefined> {
    return this.ctx.db
      .selectFrom('resource_groups')
      .selectAll()
      .where('id_key', '=', groupId(sub, name).toLowerCase())
      .executeTakeFirst();
  }

  async require(sub: string, name: string): Promise<ResourceGroupRow> {
    const row = await this.get(sub, name);
    if (!row) throw new NotFound(`resource group '${name}' could not be found`, { code: 'RESOURCE_GROUP_NOT_FOUND' });
    return row;
  }

  async list(sub: string): Promise<ResourceGroupRow[]> {
    return this.ctx.db
      .selectFrom('resource_groups')
      .selectAll()
      .where('subscription_id', '=', sub.toLowerCase())
      .orderBy('id_key')
      .execute();
  }

  /** Create or update (ARM PUT). Location cannot change once set. */
  async put(
    sub: string,
    name: string,
    body: { location: string; tags?: Record<string, string>; managedBy?: string },
    by: Principal,
  ): Promise<{ row: ResourceGroupRow; created: boolean }> {
    checkResourceGroupName(name);
    await this.requireSubscription(sub);
    const existing = await this.get(sub, name);
    const location = normaliseLocation(body.location);
    if (existing) {
      if (existing.location !== location) {
        throw new Conflict(
          `resource group '${existing.name}' already exists in location '${existing.location}'; a group's location cannot change`,
          { code: 'RESOURCE_GROUP_LOCATION_MISMATCH', target: 'location' },
        );
      }
      if (existing.provisioning_state === 'Deleting')
        throw new Conflict(`resource group '${existing.name}' is being deleted`, {
          code: 'RESOURCE_GROUP_BEING_DELETED',
        });
      await this.ctx.db
        .updateTable('resource_groups')
        .set({ tags: JSON.stringify(body.tags ?? {}), managed_by: body.managedBy ?? null })
        .where('id_key', '=', existing.id_key)
        .execute();
      return { row: (await this.get(sub, name))!, created: false };
    }
    const row: ResourceGroupRow = {
      id_key: groupId(sub, name).toLowerCase(),
      subscription_id: sub.toLowerCase(),
      name,
      location,
      tags: JSON.stringify(body.tags ?? {}),
      managed_by: body.managedBy ?? null,
      provisioning_state: 'Succeeded',
      created_at: Date.now(),
      created_by: by.id,
    };
    try {
      await this.ctx.db.insertInto('resource_groups').values(row).execute();
    } catch (e) {
      const again = await this.get(sub, name);
      if (again) return { row: again, created: false };
      throw e;
    }
    return { row, created: true };
  }

  async patchTags(sub: string, name: string, tags: Record<string, string>): Promise<ResourceGroupRow> {
    const row = await this.require(sub, name);
    await this.ctx.db
      .updateTable('resource_groups')
      .set({ tags: JSON.stringify(tags) })
      .where('id_key', '=', row.id_key)
      .execute();
    return (await this.get(sub, name))!;
  }

  /** Deletes the group and everything in it. */
  async delete(sub: string, name: string, by: Principal): Promise<boolean> {
    const row = await this.get(sub, name);
    if (!row) return false;
    await this.ctx.db
      .updateTable('resource_groups')
      .set({ provisioning_state: 'Deleting' })
      .where('id_key', '=', row.id_key)
      .execute();
    try {
      for (const hook of this.deleteHooks) await hook(row.id_key, by);
    } catch (e) {
      await this.ctx.db
        .updateTable('resource_groups')
        .set({ provisioning_state: 'Succeeded' })
        .where('id_key', '=', row.id_key)
        .execute();
      throw e;
    }
    await this.ctx.db.deleteFrom('role_assignments').where('scope_key', 'like', `${row.id_key}/%`).execute();
    await this.ctx.db.deleteFrom('role_assignments').where('scope_key', '=', row.id_key).execute();
    await this.ctx.db.deleteFrom('resource_groups').where('id_key', '=', row.id_key).execute();
    this.ctx.access.invalidate();
    return true;
  }
}

/**
 * Resource groups as a registry type: placed directly in a subscription (`/subscriptions/{s}/resourceGroups/{name}`),
 * with HEAD (check-existence), PUT, GET, PATCH (tags), DELETE (everything in it, done before answering) and the
 * subscription's list; kept in their own table by this service. Templates deploy them through the deployment service.
 */
export function resourceGroupType(groups: ResourceGroupService): ResourceTypeDeclaration<ResourceGroup> {
  return {
    type: RESOURCE_GROUP,
    checkName: checkResourceGroupName,
    placement: 'subscription',
    paths: ['resourceGroups'],
    param: 'resourceGroupName',
    label: 'resource group',
    tag: 'Resource groups',
    access: { read: 'control/read', write: 'control/write', delete: 'control/write' },
    head: true,
    template: 'deployments',
    schema: {
      put: C.ResourceGroupBody,
      patch: C.ResourceGroupPatchBody,
      one: C.ResourceGroup,
      list: C.ResourceGroupList,
    },
    summaries: {
      put: 'Create a resource group (or set the tags of an existing one; its location cannot change)',
      get: 'Get a resource group',
      patch: 'Set the tags of a resource group',
      delete: 'Delete a resource group with everything in it (done when it answers)',
      list: 'List the resource groups of a subscription (paged)',
    },
    handlers: {
      list: async (scope, page) => {
        const visible: ResourceGroup[] = [];
        for (const row of await groups.list(scope.subscriptionId)) {
          if (page.after && row.id_key <= page.after) continue;
          const g = toResourceGroup(row);
          if (await page.visible(g)) visible.push(g);
          if (visible.length > page.top) break;
        }
        const value = visible.slice(0, page.top);
        return { value, hasMore: visible.length > page.top, lastKey: value.at(-1)?.id.toLowerCase() };
      },
      get: async (scope, name) => toResourceGroup(await groups.require(scope.subscriptionId, name)),
      put: async (scope, name, body, by) => {
        const { row, created } = await groups.put(scope.subscriptionId, name, body as C.ResourceGroupBody, by);
        return { resource: toResourceGroup(row), created };
      },
      patch: async (scope, g, body) =>
        toResourceGroup(
          await groups.patchTags(scope.subscriptionId, g.name, (body as C.ResourceGroupPatchBody).tags ?? g.tags),
        ),
      delete: (scope, name, by) => groups.delete(scope.subscriptionId, name, by),
      toBody: (g) => ({ ...g }),
    },
  };
}

/** ARM locations are compared without case and spaces ("West Europe" = "westeurope"). */
export function normaliseLocation(location: string): string {
  const l = String(location ?? '')
    .toLowerCase()
    .replace(/\s+/g, '');
  if (!/^[a-z0-9]{1,50}$/.test(l))
    throw new InvalidInput(`location '${location}' is invalid: use a name like 'local' or 'westeurope'`, {
      code: 'LOCATION_REQUIRED',
      target: 'location',
    });
  return l;
}
