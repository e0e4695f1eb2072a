import type { FastifyInstance } from 'fastify';
import * as C from '@atelier/contracts';
import type { AppContext } from '../../context.js';
import type { ResourceGroupService } from '../../resources/resource-groups.js';
import type { ResourceEngine, StoredResource } from '../../resources/engine.js';
import { matchesResourceFilter, parseResourceFilter } from './resource-filter.js';
import { checkApiVersion } from './api-version.js';
import { groupId } from '../../resources/arm-ids.js';
import { NotFound } from '../../errors.js';

const TAGS = ['Resource groups'];

/**
 * Subscriptions, and what is in a resource group or subscription (`…/resources`, Microsoft.Resources
 * shapes). Resource groups themselves are a registry type (resources/resource-groups.ts
 * `resourceGroupType`) served by the generic ARM router.
 */
export async function resourceGroupRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; groups: ResourceGroupService; resources: ResourceEngine },
): Promise<void> {
  const { ctx, groups, resources } = opts;
  app.addHook('preHandler', async (req) => checkApiVersion(req));

  const subscriptionBody = (s: {
    subscription_id: string;
    display_name: string;
    tenant_id: string;
    state: string;
  }) => ({
    id: `/subscriptions/${s.subscription_id}`,
    subscriptionId: s.subscription_id,
    tenantId: s.tenant_id,
    displayName: s.display_name,
    state: s.state,
    subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'Atelier', spendingLimit: 'Off' },
    authorizationSource: 'RoleBased',
  });

  app.get(
    '/subscriptions',
    {
      schema: {
        querystring: C.ApiVersionQuery,
        response: { 200: C.SubscriptionList, ...C.ArmErrorResponses },
        tags: ['Subscriptions'],
      },
    },
    async (req) => {
      const rows = await ctx.db.selectFrom('subscriptions').selectAll().orderBy('subscription_id').execute();
      const visible = [];
      for (const s of rows)
        if (await ctx.access.canSee(req.principal.id, `/subscriptions/${s.subscription_id}`))
          visible.push(subscriptionBody(s));
      return { value: visible };
    },
  );

  app.get<{ Params: C.SubscriptionParams }>(
    '/subscriptions/:subscriptionId',
    {
      schema: {
        params: C.SubscriptionParams,
        querystring: C.ApiVersionQuery,
        response: { 200: C.Subscription, ...C.ArmErrorResponses },
        tags: ['Subscriptions'],
      },
    },
    async (req) => {
      const sub = req.params.subscriptionId.toLowerCase();
      await groups.requireSubscription(sub);
      await ctx.access.require(
        req.principal.id,
        `/subscriptions/${sub}`,
        'control/read',
        `subscription '${sub}' could not be found`,
      );
      const row = await ctx.db
        .selectFrom('subscriptions')
        .selectAll()
        .where('subscription_id', '=', sub)
        .executeTakeFirstOrThrow();
      return subscriptionBody(row);
    },
  );

  app.get<{ Params: C.ResourceGroupParams }>(
    '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/resources',
    {
      schema: {
        params: C.ResourceGroupParams,
        querystring: C.ApiVersionQuery,
        response: { 200: C.GenericResourceList, ...C.ArmErrorResponses },
        tags: TAGS,
      },
    },
    async (req) => {
      const { subscriptionId: sub, resourceGroupName: name } = req.params;
      await ctx.access.require(
        req.principal.id,
        groupId(sub, name),
        'control/read',
        `resource group '${name}' could not be found`,
      );
      const row = await groups.get(sub, name);
      if (!row) throw new NotFound(`resource group '${name}' could not be found`, { code: 'RESOURCE_GROUP_NOT_FOUND' });
      const filter = parseResourceFilter((req.query as { $filter?: string }).$filter);
      const rows = await resources.scan({
        groupKey: row.id_key,
        topLevel: true,
        exceptTypes: ['Microsoft.Resources/deployments'],
        ...(filter.resourceType ? { type: filter.resourceType } : {}),
      });
      return { value: rows.filter((r) => matchesResourceFilter(r, filter)).map(genericResource) };
    },
  );

  // The subscription's resources (what the caller may see), e.g. azureml-core's Workspace.list(subscription_id)
  // with `$filter=resourceType eq 'Microsoft.MachineLearningServices/workspaces'`.
  app.get<{ Params: C.SubscriptionParams }>(
    '/subscriptions/:subscriptionId/resources',
    {
      schema: {
        params: C.SubscriptionParams,
        querystring: C.ApiVersionQuery,
        response: { 200: C.GenericResourceList, ...C.ArmErrorResponses },
        tags: TAGS,
        summary: "List the subscription's resources ($filter: resourceType, resourceGroup, name eq '…')",
      },
    },
    async (req) => {
      const sub = req.params.subscriptionId;
      await groups.requireSubscription(sub);
      if (!(await ctx.access.canSee(req.principal.id, `/subscriptions/${sub}`)))
        throw new NotFound(`subscription '${sub}' could not be found`, { code: 'SUBSCRIPTION_NOT_FOUND' });
      const filter = parseResourceFilter((req.query as { $filter?: string }).$filter);
      const rows = await resources.scan({
        subscriptionId: sub,
        topLevel: true,
        exceptTypes: ['Microsoft.Resources/deployments'],
        ...(filter.resourceType ? { type: filter.resourceType } : {}),
      });
      const value = [];
      for (const r of rows)
        if (matchesResourceFilter(r, filter) && (await ctx.access.canSee(req.principal.id, r.id)))
          value.push(genericResource(r));
      return { value };
    },
  );
}

const genericResource = (r: StoredResource) => ({
  id: r.id,
  name: r.name,
  type: r.type,
  location: r.location ?? null,
  kind: r.kind,
  tags: r.tags,
});
