import { AZURE_REGIONS } from '../../resources/locations.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { Conflict, NotFound, NotImplemented, type RecordedError } from '../../errors.js';
import { checkApiVersion } from './api-version.js';
import { armErrorOf, armStatusOf } from './errors.js';
import { nextLink, pageParams } from './paging.js';
import { checkResourceGroupName, checkSubscriptionId, groupId } from '../../resources/arm-ids.js';
import {
  DEPLOYMENT,
  deploymentDef,
  type DeploymentBody,
  type DeploymentService,
} from '../../resources/templates/deployments.js';
import type { StoredResource } from '../../resources/engine.js';

const SUB_MESSAGE =
  'subscription-level template deployments (PUT /subscriptions/{id}/providers/Microsoft.Resources/deployments/{name}) are not served; ' +
  'deploy to a resource group (…/resourcegroups/{group}/providers/Microsoft.Resources/deployments/{name}), where a nested deployment may still create resource groups.';

/**
 * Resource-provider registration (always registered), and ARM template deployments
 * (`Microsoft.Resources/deployments`) at resource-group scope: PUT (LRO), validate, GET, list,
 * operations, operation status, DELETE (the record). The template is evaluated by
 * resources/templates and its resources are made by the same services as their REST routes, with
 * the caller's RBAC. Registered by the identity feature, whose options carry `services`.
 */
export async function templateDeploymentRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx } = opts;
  // Resource providers (GET /subscriptions/{id}/providers/{namespace}): clients check that a
  // namespace is registered before using it; here every namespace Atelier serves always is (the
  // namespaces and types of the resource-type registry).
  const namespaces = opts.services.types.namespaces();
  const provider = async (req: FastifyRequest<{ Params: { subscriptionId: string; namespace: string } }>) => {
    const sub = req.params.subscriptionId.toLowerCase();
    const exists = await ctx.db
      .selectFrom('subscriptions')
      .select('subscription_id')
      .where('subscription_id', '=', sub)
      .executeTakeFirst();
    if (!exists || !(await ctx.access.canSee(req.principal.id, `/subscriptions/${sub}`)))
      throw new NotFound(`subscription '${req.params.subscriptionId}' could not be found`, {
        code: 'SUBSCRIPTION_NOT_FOUND',
      });
    const ns = Object.keys(namespaces).find((n) => n.toLowerCase() === req.params.namespace.toLowerCase());
    if (!ns)
      throw new NotFound(
        `the resource provider namespace '${req.params.namespace}' is not served here; namespaces: ${Object.keys(namespaces).join(', ')}`,
        { code: 'UNKNOWN_RESOURCE_NAMESPACE' },
      );
    // Atelier takes any location name; it reports 'local', Azure's regions (clients check a location
    // against this list before creating anything) and those its resource groups use.
    const used = await ctx.db
      .selectFrom('resource_groups')
      .select('location')
      .distinct()
      .where('subscription_id', '=', sub)
      .execute();
    const locations = [...new Set(['local', ...AZURE_REGIONS, ...used.map((r) => r.location)])].sort();
    return {
      id: `/subscriptions/${sub}/providers/${ns}`,
      namespace: ns,
      registrationState: 'Registered',
      registrationPolicy: 'RegistrationRequired',
      resourceTypes: namespaces[ns]!.map((t) => ({ resourceType: t, locations, apiVersions: ['2025-09-01'] })),
    };
  };
  app.get('/subscriptions/:subscriptionId/providers/:namespace', { schema: { hide: true } as object }, provider);
  app.post(
    '/subscriptions/:subscriptionId/providers/:namespace/register',
    { schema: { hide: true } as object },
    provider,
  );

  const { deployments, ...services } = opts.services;
  const TAGS = ['Template deployments'];
  type DParams = { subscriptionId: string; resourceGroupName: string; deploymentName: string };
  const { DeploymentParams } = C;
  const DeploymentBodySchema = C.DeploymentBody;
  const ONE = { 200: C.Deployment, ...C.ArmErrorResponses };

  const checkPath = async (p: { subscriptionId: string; resourceGroupName?: string }) => {
    checkSubscriptionId(p.subscriptionId);
    if (p.resourceGroupName !== undefined) checkResourceGroupName(p.resourceGroupName);
    await services.groups.requireSubscription(p.subscriptionId);
  };
  const notFound = (p: DParams) =>
    `deployment '${p.deploymentName}' could not be found in resource group '${p.resourceGroupName}'`;
  const load = async (req: FastifyRequest<{ Params: DParams }>) => {
    const p = req.params;
    await checkPath(p);
    deploymentDef.checkName(p.deploymentName);
    const id = deployments.id(p.subscriptionId, p.resourceGroupName, p.deploymentName);
    await ctx.access.require(req.principal.id, id, 'control/read', notFound(p));
    return services.resources.require(id, notFound(p), 'DEPLOYMENT_NOT_FOUND');
  };
  const statusUrl = (req: FastifyRequest<{ Params: DParams }>, id: string, opId: string) =>
    `${ctx.config.publicUrl}${id}/operationStatuses/${opId}?api-version=${encodeURIComponent(String((req.query as Record<string, unknown>)['api-version']))}`;

  // Older Resources api-versions (azure-ai-ml's vendored deployment-operations client) leave out
  // `providers/Microsoft.Resources`: both paths are served.
  for (const G of [
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName/providers/Microsoft.Resources/deployments',
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName/deployments',
  ]) {
    const D = `${G}/:deploymentName`;
    const hidden = G.includes('/providers/') ? {} : { hide: true };
    app.register(async (scoped) => {
      scoped.addHook('preHandler', async (req) => checkApiVersion(req));

      scoped.put<{ Params: DParams; Body: DeploymentBody }>(
        D,
        {
          schema: {
            params: DeploymentParams,
            querystring: C.ApiVersionQuery,
            body: DeploymentBodySchema,
            response: { ...ONE, 201: C.Deployment },
            tags: TAGS,
            ...hidden,
            summary: 'Deploy an ARM template to a resource group (LRO: 201 + Azure-AsyncOperation)',
          },
        },
        async (req, reply) => {
          const p = req.params;
          await checkPath(p);
          deploymentDef.checkName(p.deploymentName);
          const id = deployments.id(p.subscriptionId, p.resourceGroupName, p.deploymentName);
          await ctx.access.require(
            req.principal.id,
            id,
            'control/write',
            `resource group '${p.resourceGroupName}' could not be found`,
          );
          const { resource, operation, created } = await deployments.put(
            p.subscriptionId,
            p.resourceGroupName,
            p.deploymentName,
            req.body,
            req.principal,
          );
          void reply
            .header('Azure-AsyncOperation', statusUrl(req, resource.id, operation.id))
            .header('Retry-After', '1');
          return reply.status(created ? 201 : 200).send(armDeployment(deployments, resource));
        },
      );

      scoped.post<{ Params: DParams; Body: DeploymentBody }>(
        `${D}/validate`,
        {
          schema: {
            params: DeploymentParams,
            querystring: C.ApiVersionQuery,
            body: DeploymentBodySchema,
            response: ONE,
            tags: TAGS,
            ...hidden,
            summary: 'Check a template deployment without deploying it',
          },
        },
        async (req) => {
          const p = req.params;
          await checkPath(p);
          const id = deployments.id(p.subscriptionId, p.resourceGroupName, p.deploymentName);
          await ctx.access.require(
            req.principal.id,
            id,
            'control/write',
            `resource group '${p.resourceGroupName}' could not be found`,
          );
          const { run, plan } = await deployments.preflight(
            p.subscriptionId,
            p.resourceGroupName,
            p.deploymentName,
            req.body,
          );
          return {
            id,
            name: p.deploymentName,
            type: 'Microsoft.Resources/deployments',
            properties: {
              provisioningState: 'Succeeded',
              mode: 'Incremental',
              parameters: run.reportedParameters(),
              validatedResources: plan.map((r) => ({ id: r.id })),
            },
          };
        },
      );

      scoped.get<{ Params: DParams }>(
        D,
        {
          schema: {
            params: DeploymentParams,
            querystring: C.ApiVersionQuery,
            response: ONE,
            tags: TAGS,
            ...hidden,
            summary: 'Get a template deployment',
          },
        },
        async (req) => armDeployment(deployments, await load(req)),
      );

      scoped.get<{ Params: DParams }>(
        `${D}/operations`,
        {
          schema: {
            params: DeploymentParams,
            querystring: C.ApiVersionQuery,
            response: { 200: C.DeploymentOperationList, ...C.ArmErrorResponses },
            tags: TAGS,
            ...hidden,
            summary: 'The per-resource operations of a template deployment',
          },
        },
        async (req) => ({ value: armDeploymentOperations(deployments, await load(req)) }),
      );

      scoped.get<{ Params: DParams & { operationId: string } }>(
        `${D}/operationStatuses/:operationId`,
        {
          schema: {
            params: Type.Object({ ...DeploymentParams.properties, operationId: Type.String() }),
            querystring: C.ApiVersionQuery,
            response: { 200: C.DeploymentOperationStatus, ...C.ArmErrorResponses },
            tags: TAGS,
            ...hidden,
            summary: 'Status of a template deployment (its Azure-AsyncOperation URL)',
          },
        },
        async (req) => {
          const r = await load(req);
          const op = await services.operations.get(req.params.operationId);
          if (!op || op.resourceId.toLowerCase() !== r.id.toLowerCase())
            throw new NotFound(`operation '${req.params.operationId}' could not be found`, {
              code: 'OPERATION_NOT_FOUND',
            });
          const body: Record<string, unknown> = { status: op.status === 'InProgress' ? 'Running' : op.status };
          if (op.error) body.error = armErrorOf((r.properties.error as RecordedError | undefined) ?? op.error);
          return body;
        },
      );

      scoped.delete<{ Params: DParams }>(
        D,
        {
          schema: {
            params: DeploymentParams,
            querystring: C.ApiVersionQuery,
            response: C.ArmErrorResponses,
            tags: TAGS,
            ...hidden,
            summary: 'Delete the record of a template deployment (its resources stay)',
          },
        },
        async (req, reply) => {
          const p = req.params;
          await checkPath(p);
          deploymentDef.checkName(p.deploymentName);
          const id = deployments.id(p.subscriptionId, p.resourceGroupName, p.deploymentName);
          await ctx.access.require(req.principal.id, id, 'control/write', notFound(p));
          const r = await services.resources.get(id);
          if (!r) return reply.status(204).send();
          if (['Accepted', 'Running'].includes(String(r.properties.provisioningState)))
            throw new Conflict(`deployment '${r.name}' is still running; wait for it to end`, {
              code: 'DEPLOYMENT_ACTIVE',
            });
          await services.resources.delete(id);
          return reply.status(200).send();
        },
      );

      scoped.get<{ Params: { subscriptionId: string; resourceGroupName: string } }>(
        G,
        {
          schema: {
            params: C.ResourceGroupParams,
            querystring: C.ApiVersionQuery,
            response: { 200: C.DeploymentList, ...C.ArmErrorResponses },
            tags: TAGS,
            ...hidden,
            summary: 'List the template deployments of a resource group (paged)',
          },
        },
        async (req) => {
          const { subscriptionId: sub, resourceGroupName: rg } = req.params;
          await checkPath(req.params);
          if (!(await ctx.access.canSee(req.principal.id, groupId(sub, rg))) || !(await services.groups.get(sub, rg)))
            throw new NotFound(`resource group '${rg}' could not be found`, { code: 'RESOURCE_GROUP_NOT_FOUND' });
          const { after, top } = pageParams(req);
          const page = await services.resources.list({
            type: DEPLOYMENT,
            subscriptionId: sub,
            groupKey: groupId(sub, rg).toLowerCase(),
            after,
            top,
            visible: (r) => ctx.access.canSee(req.principal.id, r.id),
          });
          return {
            value: page.value.map((r) => armDeployment(deployments, r)),
            nextLink: nextLink(ctx.config.publicUrl, req, page.lastKey, page.hasMore),
          };
        },
      );
    });
  }

  app.register(async (scoped) => {
    scoped.addHook('preHandler', async (req) => checkApiVersion(req));
    // Subscription-level deployments are not stored (nested ones run inside their parent): the
    // list is empty and a PUT is refused with what to do.
    scoped.get<{ Params: { subscriptionId: string } }>(
      '/subscriptions/:subscriptionId/providers/Microsoft.Resources/deployments',
      {
        schema: {
          params: C.SubscriptionParams,
          querystring: C.ApiVersionQuery,
          response: { 200: C.DeploymentList, ...C.ArmErrorResponses },
          tags: TAGS,
          summary: 'Subscription-level deployments (none are stored: always empty)',
        },
      },
      async (req) => {
        await checkPath(req.params);
        if (!(await ctx.access.canSee(req.principal.id, `/subscriptions/${req.params.subscriptionId}`)))
          throw new NotFound(`subscription '${req.params.subscriptionId}' could not be found`, {
            code: 'SUBSCRIPTION_NOT_FOUND',
          });
        return { value: [] };
      },
    );
    const SUB_D = '/subscriptions/:subscriptionId/providers/Microsoft.Resources/deployments/:deploymentName';
    const refuse = async () => {
      throw new NotImplemented(SUB_MESSAGE, { code: 'NOT_IMPLEMENTED' });
    };
    for (const p of [SUB_D, `${SUB_D}/validate`, `${SUB_D}/operations`]) {
      scoped.put(p, { schema: { hide: true } as object }, refuse);
      scoped.post(p, { schema: { hide: true } as object }, refuse);
      scoped.get(p, { schema: { hide: true } as object }, refuse);
    }
    scoped.delete(SUB_D, { schema: { hide: true } as object }, async (_req, reply) => reply.status(204).send());
  });
}

/** A deployment's ARM body, its recorded error (`properties.error`) in ARM's codes. */
function armDeployment(deployments: DeploymentService, r: StoredResource): Record<string, unknown> {
  const body = deployments.toArm(r);
  const p = body.properties as Record<string, unknown>;
  if (p.error) p.error = armErrorOf(p.error as RecordedError);
  return body;
}

/** A deployment's per-resource operations; a failed one gets the status of its error's kind. */
function armDeploymentOperations(deployments: DeploymentService, r: StoredResource): Record<string, unknown>[] {
  return deployments.operations(r).map((o) => {
    const p = o.properties as { statusCode?: string; statusMessage?: { status: string; error?: unknown } };
    const error = p.statusMessage?.error as RecordedError | undefined;
    if (error) {
      // 'Failed' is what the domain records; records from before domain codes hold the status already
      if (p.statusCode === 'Failed') p.statusCode = error.kind ? String(armStatusOf(error)) : 'InternalServerError';
      p.statusMessage = { ...p.statusMessage!, error: armErrorOf(error) };
    }
    return o;
  });
}
