import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { checkApiVersion } from './api-version.js';
import { nextLink, pageParams } from './paging.js';
import * as C from '@atelier/contracts';
import { boolQuery, preconditions, setLroHeaders } from './lro.js';
import { checkWorkspaceName, WORKSPACE } from '../../resources/workspaces.js';
import { checkResourceGroupName, checkSubscriptionId, groupId } from '../../resources/arm-ids.js';
import { NotFound } from '../../errors.js';
import { toArmBody } from '../../resources/engine.js';
import { PE_CONNECTION_TYPE } from '../../assets/private-endpoints.js';

type WsParams = C.WorkspaceParams;
const TAGS = ['Workspaces'];
const ONE = { 200: C.Workspace, ...C.ArmErrorResponses };
const LIST = { 200: C.WorkspaceList, ...C.ArmErrorResponses };
const KEYS = { 200: C.WorkspaceKeys, ...C.ArmErrorResponses };

/** Microsoft.MachineLearningServices/workspaces: CRUD, lists, keys (ARM shapes, 2025-09-01). */
export async function workspaceRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx, services } = opts;
  const { workspaces, groups } = services;
  const W =
    '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.MachineLearningServices/workspaces/:workspaceName';
  const notFound = (p: WsParams) =>
    `workspace '${p.workspaceName}' could not be found in resource group '${p.resourceGroupName}'`;

  /** Checks the path (names, subscription) before anything else. */
  const checkPath = async (p: { subscriptionId: string; resourceGroupName?: string; workspaceName?: string }) => {
    checkSubscriptionId(p.subscriptionId);
    if (p.resourceGroupName !== undefined) checkResourceGroupName(p.resourceGroupName);
    if (p.workspaceName !== undefined) checkWorkspaceName(p.workspaceName);
    await groups.requireSubscription(p.subscriptionId);
  };
  const load = async (
    req: FastifyRequest<{ Params: WsParams }>,
    action: Parameters<AppContext['access']['require']>[2],
  ) => {
    const p = req.params;
    await checkPath(p);
    const id = workspaces.id(p.subscriptionId, p.resourceGroupName, p.workspaceName);
    await ctx.access.require(req.principal.id, id, action, notFound(p));
    return workspaces.require(p.subscriptionId, p.resourceGroupName, p.workspaceName);
  };

  app.addHook('preHandler', async (req) => checkApiVersion(req));

  app.put<{ Params: WsParams; Body: C.WorkspaceBody }>(
    W,
    {
      schema: {
        params: C.WorkspaceParams,
        querystring: C.WorkspaceQuery,
        body: C.WorkspaceBody,
        response: { ...ONE, 201: C.Workspace },
        tags: TAGS,
        summary: 'Create (LRO: 201 + Azure-AsyncOperation) or update (200) a workspace',
      },
    },
    async (req, reply) => {
      const p = req.params;
      await checkPath(p);
      const id = workspaces.id(p.subscriptionId, p.resourceGroupName, p.workspaceName);
      await ctx.access.require(
        req.principal.id,
        id,
        'control/write',
        `resource group '${p.resourceGroupName}' could not be found`,
      );
      const { resource, created, operation } = await workspaces.put(
        p.subscriptionId,
        p.resourceGroupName,
        p.workspaceName,
        req.body ?? {},
        req.principal,
        preconditions(req),
      );
      if (created && operation) setLroHeaders(reply, ctx.config.publicUrl, operation, req);
      return reply.status(created ? 201 : 200).send(workspaces.toArm(resource));
    },
  );

  app.get<{ Params: WsParams }>(
    W,
    {
      schema: {
        params: C.WorkspaceParams,
        querystring: C.ApiVersionQuery,
        response: ONE,
        tags: TAGS,
        summary: 'Get a workspace',
      },
    },
    async (req) => {
      const ws = await load(req, 'control/read');
      // A workspace's own GET carries its private endpoint connections (lists leave them out, as Azure does).
      const connections = await services.resources.scan({ type: PE_CONNECTION_TYPE, groupKey: ws.groupKey });
      const mine = connections.filter((c) => c.id.toLowerCase().startsWith(`${ws.id.toLowerCase()}/`));
      const body = workspaces.toArm(ws);
      const props = body.properties as Record<string, unknown>;
      props.privateEndpointConnections = mine.map((c) => toArmBody(c));
      props.privateLinkCount = mine.length;
      return body;
    },
  );

  app.patch<{ Params: WsParams; Body: C.WorkspacePatchBody }>(
    W,
    {
      schema: {
        params: C.WorkspaceParams,
        querystring: C.WorkspacePatchQuery,
        body: C.WorkspacePatchBody,
        response: ONE,
        tags: TAGS,
        summary: 'Update the updatable fields of a workspace (also updateDependencies with force=true)',
      },
    },
    async (req) => {
      const ws = await load(req, 'control/write');
      const updated = await workspaces.update(ws, req.body ?? {}, req.principal, preconditions(req), {
        force: boolQuery(req, 'force'),
      });
      return workspaces.toArm(updated);
    },
  );

  app.delete<{ Params: WsParams }>(
    W,
    {
      schema: {
        params: C.WorkspaceParams,
        querystring: C.WorkspaceDeleteQuery,
        response: C.ArmErrorResponses,
        tags: TAGS,
        summary: 'Delete a workspace (LRO: 202), optionally with its dependent resources',
      },
    },
    async (req, reply) => {
      const p = req.params;
      await checkPath(p);
      const withDependents = boolQuery(req, 'deleteDependentResources');
      boolQuery(req, 'forceToPurge');
      const id = workspaces.id(p.subscriptionId, p.resourceGroupName, p.workspaceName);
      await ctx.access.require(req.principal.id, id, 'control/write', notFound(p));
      const op = await workspaces.delete(
        p.subscriptionId,
        p.resourceGroupName,
        p.workspaceName,
        req.principal,
        { deleteDependentResources: withDependents },
        preconditions(req),
      );
      if (!op) return reply.status(204).send();
      setLroHeaders(reply, ctx.config.publicUrl, op, req);
      return reply.status(202).send();
    },
  );

  const list = async (req: FastifyRequest, sub: string, rg?: string) => {
    const { after, top } = pageParams(req);
    const page = await services.resources.list({
      type: WORKSPACE,
      subscriptionId: sub,
      groupKey: rg ? groupId(sub, rg).toLowerCase() : undefined,
      after,
      top,
      visible: (r) => ctx.access.canSee(req.principal.id, r.id),
    });
    return {
      value: page.value.map((r) => workspaces.toArm(r)),
      nextLink: nextLink(ctx.config.publicUrl, req, page.lastKey, page.hasMore),
    };
  };

  app.get<{ Params: C.ResourceGroupParams }>(
    '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.MachineLearningServices/workspaces',
    {
      schema: {
        params: C.ResourceGroupParams,
        querystring: C.ApiVersionQuery,
        response: LIST,
        tags: TAGS,
        summary: 'List the workspaces of a resource group (paged)',
      },
    },
    async (req) => {
      const { subscriptionId: sub, resourceGroupName: rg } = req.params;
      await checkPath({ subscriptionId: sub, resourceGroupName: rg });
      if (!(await ctx.access.canSee(req.principal.id, groupId(sub, rg))) || !(await groups.get(sub, rg))) {
        throw new NotFound(`resource group '${rg}' could not be found`, { code: 'RESOURCE_GROUP_NOT_FOUND' });
      }
      return list(req, sub, rg);
    },
  );

  app.get<{ Params: C.SubscriptionParams }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.MachineLearningServices/workspaces',
    {
      schema: {
        params: C.SubscriptionParams,
        querystring: C.ApiVersionQuery,
        response: LIST,
        tags: TAGS,
        summary: 'List the workspaces of a subscription (paged)',
      },
    },
    async (req) => {
      const sub = req.params.subscriptionId;
      await checkPath({ subscriptionId: sub });
      if (!(await ctx.access.canSee(req.principal.id, `/subscriptions/${sub}`)))
        throw new NotFound(`subscription '${sub}' could not be found`, { code: 'SUBSCRIPTION_NOT_FOUND' });
      return list(req, sub);
    },
  );

  app.post<{ Params: WsParams }>(
    `${W}/listKeys`,
    {
      schema: {
        params: C.WorkspaceParams,
        querystring: C.ApiVersionQuery,
        response: KEYS,
        tags: TAGS,
        summary: 'The keys of the dependent resources, as the workspace holds them (needs secrets/read)',
      },
    },
    async (req) => {
      const ws = await load(req, 'secrets/read');
      return workspaces.listKeys(ws);
    },
  );

  app.post<{ Params: WsParams }>(
    `${W}/listStorageAccountKeys`,
    {
      schema: {
        params: C.WorkspaceParams,
        querystring: C.ApiVersionQuery,
        response: KEYS,
        tags: TAGS,
        summary: 'The storage account key the workspace holds (needs secrets/read)',
      },
    },
    async (req) => {
      const ws = await load(req, 'secrets/read');
      const keys = await workspaces.listKeys(ws);
      return { userStorageKey: keys.userStorageKey };
    },
  );

  app.post<{ Params: WsParams }>(
    `${W}/listNotebookKeys`,
    {
      schema: {
        params: C.WorkspaceParams,
        querystring: C.ApiVersionQuery,
        response: { 200: C.NotebookAccessKeys, ...C.ArmErrorResponses },
        tags: TAGS,
        summary: 'The notebook access keys (needs secrets/read)',
      },
    },
    async (req) => {
      const ws = await load(req, 'secrets/read');
      const keys = (await workspaces.listKeys(ws)).notebookAccessKeys as Record<string, unknown>;
      return keys;
    },
  );

  app.post<{ Params: WsParams }>(
    `${W}/resyncKeys`,
    {
      schema: {
        params: C.WorkspaceParams,
        querystring: C.ApiVersionQuery,
        response: C.ArmErrorResponses,
        tags: TAGS,
        summary: 'Copy the current keys of the dependent resources into the workspace (LRO: 202)',
      },
    },
    async (req, reply) => {
      const ws = await load(req, 'control/write');
      // Before 2021-04-01 resyncKeys was not an LRO (clients of those versions accept only 200): do it now.
      if (String((req.query as Record<string, unknown>)['api-version']) < '2021-04-01') {
        await workspaces.resyncKeysNow(ws);
        return reply.status(200).send();
      }
      const op = await workspaces.resyncKeys(ws, req.principal);
      setLroHeaders(reply, ctx.config.publicUrl, op, req);
      return reply.status(202).send();
    },
  );
}
