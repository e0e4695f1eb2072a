import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TSchema } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import type { Action } from '../../identity/rbac.js';
import type {
  RequestInfo,
  ResourceScope,
  ResourceTypeDeclaration,
  ResourceHandlers,
} from '../../resources/registry.js';
import type { StoredResource } from '../../resources/engine.js';
import type { Operation } from '../../operations/operations.js';
import { checkResourceGroupName, checkSubscriptionId, groupId } from '../../resources/arm-ids.js';
import { resourceId } from '../../resources/resource-ids.js';
import { WORKSPACE } from '../../resources/workspaces.js';
import { Forbidden, NotFound } from '../../errors.js';
import { checkApiVersion } from './api-version.js';
import { nextLink, pageParams } from './paging.js';
import { preconditions, setLroHeaders } from './lro.js';
import { ApiVersionQuery, ArmErrorResponses } from '@atelier/contracts';
import { workspaceFor } from './assets/common.js';

type Params = Record<string, string>;

/** What a handler may need of the request beyond its path and body. */
function info(req: FastifyRequest): RequestInfo {
  const query = req.query as Record<string, string | undefined>;
  return { query, pre: preconditions(req), apiVersion: String(query['api-version'] ?? '') };
}
const GROUP = '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName';

/**
 * The generic ARM router: PUT / GET / PATCH / DELETE, lists and POST actions for every type of the
 * resource-type registry that declares handlers (resources/registry.ts). Paths, parameters,
 * access checks, status codes and paging come from the declaration; the type's service does the
 * rest. Types directly in a resource group are checked by path (subscription, group and name
 * rules) and by RBAC on their id; types below a workspace are reached through the workspace
 * (`workspaceFor`: no role on it → 404).
 */
export async function resourceRouter(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx, services } = opts;
  app.addHook('preHandler', async (req) => checkApiVersion(req));
  for (const t of services.types.all()) if (t.handlers) mount(app, ctx, services, t, t.handlers);
}

function mount(
  app: FastifyInstance,
  ctx: AppContext,
  services: Services,
  t: ResourceTypeDeclaration,
  h: ResourceHandlers,
): void {
  const chain = services.types.chain(t);
  const top = chain[0]!;
  // Reached through a workspace (its children); the workspace type itself is checked as any type in a group.
  const below = chain.length > 1 && top.type.toLowerCase() === WORKSPACE.toLowerCase();
  // A child of another type in a resource group (a virtual network's subnets): checked by RBAC on its own id.
  const nested = chain.length > 1 && !below;
  const [ns, topSegment] = top.type.split('/') as [string, string];
  const segment = (d: ResourceTypeDeclaration) => d.type.split('/').pop()!;
  // …/providers/{ns}/{top}/:param/{child}/:param…
  let path = `${GROUP}/providers/${ns}/${topSegment}`;
  const params: Record<string, TSchema> = { subscriptionId: Type.String(), resourceGroupName: Type.String() };
  for (const d of chain) {
    if (d !== top) path += `/${segment(d)}`;
    if (d === t) break;
    path += `/:${d.param}`;
    params[d.param] = d.nameSchema ?? Type.String();
  }
  const list = path;
  const item = `${path}/:${t.param}`;
  const ListParams = Type.Object({ ...params });
  const ItemParams = Type.Object({ ...params, [t.param]: t.nameSchema ?? Type.String() });
  const tags = [t.tag];
  const s = t.summaries ?? {};
  const withSummary = (summary: string | undefined) => (summary ? { summary } : {});
  // Answers as /openapi.json documents them (they are written as the handlers return them).
  const one = t.schema?.one ? { 200: t.schema.one, ...ArmErrorResponses } : ArmErrorResponses;
  const created = t.schema?.one && (t.createdStatus ?? 201) === 201 ? { 201: t.schema.one } : {};
  const page = t.schema?.list ? { 200: t.schema.list, ...ArmErrorResponses } : ArmErrorResponses;
  const nameOf = (req: FastifyRequest) => (req.params as Params)[t.param]!;
  const parents = (req: FastifyRequest) => chain.slice(below ? 1 : 0, -1).map((d) => (req.params as Params)[d.param]!);
  /** The id of the resource a request names (types in a resource group and their children). */
  const idOf = (p: Params) => {
    let id = resourceId(p.subscriptionId!, p.resourceGroupName!, top.type, p[top.param]!);
    for (const d of chain.slice(1)) id += `/${segment(d)}/${p[d.param]}`;
    return id;
  };
  /** The id of the parent of a nested type's resources (its lists). */
  const parentIdOf = (p: Params) => {
    let id = resourceId(p.subscriptionId!, p.resourceGroupName!, top.type, p[top.param]!);
    for (const d of chain.slice(1, -1)) id += `/${segment(d)}/${p[d.param]}`;
    return id;
  };

  /** Path checks of a type in a resource group: ids and names, an existing subscription. */
  const checkPath = async (p: Params) => {
    checkSubscriptionId(p.subscriptionId!);
    if (p.resourceGroupName !== undefined) checkResourceGroupName(p.resourceGroupName);
    await services.groups.requireSubscription(p.subscriptionId!);
  };
  const notFound = (p: Params) =>
    `${t.label} '${p[t.param]}' could not be found in resource group '${p.resourceGroupName}'`;

  /** The scope of a request once the caller may `action` (for a type in a group: on the resource's id, 404 `missing` without). */
  const scopeFor = async (
    req: FastifyRequest,
    action: Action,
    missing?: (p: Params) => string,
  ): Promise<ResourceScope> => {
    const p = req.params as Params;
    if (below) {
      const ws = await workspaceFor(ctx, req, action);
      return {
        subscriptionId: p.subscriptionId!,
        resourceGroup: p.resourceGroupName!,
        workspace: ws,
        parents: parents(req),
      };
    }
    await checkPath(p);
    t.checkName(p[t.param]!);
    await ctx.access.require(req.principal.id, idOf(p), action, (missing ?? notFound)(p));
    return { subscriptionId: p.subscriptionId!, resourceGroup: p.resourceGroupName!, parents: parents(req) };
  };
  const secrets = async (req: FastifyRequest, r: StoredResource) =>
    t.access.secrets ? ctx.access.can(req.principal.id, r.id, t.access.secrets) : false;
  const body = async (req: FastifyRequest, scope: ResourceScope, r: StoredResource, detail = false) =>
    h.toBody(r, { scope, secrets: await secrets(req, r), detail });
  const query = t.schema?.query ?? {};

  if (h.put) {
    const put = h.put;
    app.put(
      item,
      {
        schema: {
          params: ItemParams,
          querystring: query.put ?? ApiVersionQuery,
          ...(t.schema?.put ? { body: t.schema.put } : {}),
          response: { ...one, ...created },
          tags,
          ...withSummary(s.put),
        },
      },
      async (req, reply) => {
        const scope = await scopeFor(
          req,
          t.access.write,
          (p) => `resource group '${p.resourceGroupName}' could not be found`,
        );
        const { resource, created, operation } = await put(
          scope,
          nameOf(req),
          (req.body ?? {}) as Record<string, unknown>,
          req.principal,
          preconditions(req),
        );
        if (operation) setLroHeaders(reply, ctx.config.publicUrl, operation, req);
        return reply.status(created ? (t.createdStatus ?? 201) : 200).send(await body(req, scope, resource));
      },
    );
  }

  app.get(
    item,
    { schema: { params: ItemParams, querystring: ApiVersionQuery, response: one, tags, ...withSummary(s.get) } },
    async (req) => {
      const scope = await scopeFor(req, t.access.read);
      return body(req, scope, await h.get(scope, nameOf(req), req.principal), true);
    },
  );

  if (h.patch) {
    const patch = h.patch;
    app.patch(
      item,
      {
        schema: {
          params: ItemParams,
          querystring: query.patch ?? ApiVersionQuery,
          ...(t.schema?.patch ? { body: t.schema.patch } : {}),
          response: one,
          tags,
          ...withSummary(s.patch),
        },
      },
      async (req) => {
        const scope = await scopeFor(req, t.access.write);
        const r = await h.get(scope, nameOf(req), req.principal);
        const b = (req.body ?? {}) as Record<string, unknown>;
        return body(req, scope, await patch(scope, r, b, req.principal, info(req)));
      },
    );
  }

  if (h.delete) {
    const del = h.delete;
    app.delete(
      item,
      {
        schema: {
          params: ItemParams,
          querystring: query.delete ?? ApiVersionQuery,
          response: t.longRunningDelete
            ? {
                202: Type.Null({ description: 'Accepted: Azure-AsyncOperation gives the status, Location the end' }),
                ...ArmErrorResponses,
              }
            : ArmErrorResponses,
          tags,
          ...withSummary(s.delete),
        },
      },
      async (req, reply: FastifyReply) => {
        const scope = await scopeFor(req, t.access.delete);
        const done = await del(scope, nameOf(req), req.principal, info(req));
        if (typeof done === 'object') {
          setLroHeaders(reply, ctx.config.publicUrl, done, req);
          return reply.status(202).send();
        }
        return reply.status(done ? 200 : 204).send();
      },
    );
  }

  if (h.list) {
    const listPage = h.list;
    const answer = async (req: FastifyRequest, scope: ResourceScope) => {
      const { after, top } = pageParams(req);
      const q = req.query as Record<string, string | undefined>;
      const result = await listPage(scope, {
        after,
        top,
        query: q,
        principal: req.principal,
        visible: (r) => ctx.access.canSee(req.principal.id, r.id),
      });
      const value = [];
      for (const r of result.value) value.push(await body(req, scope, r));
      // Older api-versions of some types answered a bare array, with no paging: all of it, in that shape.
      const version = String(q['api-version'] ?? '');
      if (t.bareListBefore && version && version < t.bareListBefore) {
        let last = result;
        while (last.hasMore) {
          last = await listPage(scope, {
            after: last.lastKey,
            top,
            query: q,
            principal: req.principal,
            visible: (r) => ctx.access.canSee(req.principal.id, r.id),
          });
          for (const r of last.value) value.push(await body(req, scope, r));
        }
        return value;
      }
      return { value, nextLink: nextLink(ctx.config.publicUrl, req, result.lastKey, result.hasMore) };
    };
    if (below) {
      app.get(
        list,
        { schema: { params: ListParams, querystring: ApiVersionQuery, response: page, tags, ...withSummary(s.list) } },
        async (req) => {
          const ws = await workspaceFor(ctx, req, t.access.read);
          const p = req.params as Params;
          return answer(req, {
            subscriptionId: p.subscriptionId!,
            resourceGroup: p.resourceGroupName!,
            workspace: ws,
            parents: parents(req),
          });
        },
      );
    } else if (nested) {
      app.get(
        list,
        { schema: { params: ListParams, querystring: ApiVersionQuery, response: page, tags, ...withSummary(s.list) } },
        async (req) => {
          const p = req.params as Params;
          await checkPath(p);
          const parent = parentIdOf(p);
          const label = services.types.require(chain.at(-2)!.type).label;
          const missing = `${label} '${parent.split('/').pop()}' could not be found in resource group '${p.resourceGroupName}'`;
          await ctx.access.require(req.principal.id, parent, t.access.read, missing);
          if (!(await services.resources.get(parent)))
            throw new NotFound(missing, { code: 'PARENT_RESOURCE_NOT_FOUND' });
          return answer(req, {
            subscriptionId: p.subscriptionId!,
            resourceGroup: p.resourceGroupName!,
            parents: parents(req),
          });
        },
      );
    } else {
      if (t.lists?.group !== false) {
        app.get(
          list,
          {
            schema: {
              params: ListParams,
              querystring: ApiVersionQuery,
              response: page,
              tags,
              ...withSummary(s.listGroup),
            },
          },
          async (req) => {
            const p = req.params as Params;
            await checkPath(p);
            if (
              !(await ctx.access.canSee(req.principal.id, groupId(p.subscriptionId!, p.resourceGroupName!))) ||
              !(await services.groups.get(p.subscriptionId!, p.resourceGroupName!))
            ) {
              throw new NotFound(`resource group '${p.resourceGroupName}' could not be found`, {
                code: 'RESOURCE_GROUP_NOT_FOUND',
              });
            }
            return answer(req, { subscriptionId: p.subscriptionId!, resourceGroup: p.resourceGroupName!, parents: [] });
          },
        );
      }
      if (t.lists?.subscription) {
        app.get(
          `/subscriptions/:subscriptionId/providers/${ns}/${topSegment}`,
          {
            schema: {
              params: Type.Object({ subscriptionId: Type.String() }),
              querystring: ApiVersionQuery,
              response: page,
              tags,
              ...withSummary(s.listSubscription),
            },
          },
          async (req) => {
            const p = req.params as Params;
            await checkPath(p);
            if (!(await ctx.access.canSee(req.principal.id, `/subscriptions/${p.subscriptionId}`)))
              throw new NotFound(`subscription '${p.subscriptionId}' could not be found`, {
                code: 'SUBSCRIPTION_NOT_FOUND',
              });
            return answer(req, { subscriptionId: p.subscriptionId!, resourceGroup: '', parents: [] });
          },
        );
      }
    }
  }

  for (const a of t.actions ?? []) {
    app.post(
      `${item}/${a.name}`,
      {
        schema: {
          params: ItemParams,
          querystring: ApiVersionQuery,
          ...(a.body ? { body: a.body } : {}),
          response: {
            ...(a.accepted
              ? { 202: Type.Null({ description: 'Accepted: Azure-AsyncOperation gives the status, Location the end' }) }
              : {}),
            ...(a.response ? { 200: a.response } : {}),
            ...ArmErrorResponses,
          },
          tags,
          ...withSummary(a.summary),
        },
      },
      async (req, reply) => {
        const [first, ...more] = a.access;
        const scope = await scopeFor(req, first!);
        const r = a.loads === false ? undefined : await h.get(scope, nameOf(req), req.principal);
        for (const action of more)
          await ctx.access.require(
            req.principal.id,
            r?.id ?? idOf(req.params as Params),
            action,
            notFound(req.params as Params),
          );
        const about = info(req);
        const b = (req.body ?? {}) as Record<string, unknown>;
        const out = await a.run(scope, nameOf(req), b, req.principal, r, about);
        const accepted = typeof a.accepted === 'function' ? a.accepted(about) : a.accepted;
        if (!accepted) return out === undefined ? reply.status(200).send() : out;
        const op = out as Operation;
        setLroHeaders(reply, ctx.config.publicUrl, op, req);
        if (a.resultPath) {
          const id = r?.id ?? idOf(req.params as Params);
          const v = encodeURIComponent(about.apiVersion);
          reply.header('Location', `${ctx.config.publicUrl}${a.resultPath(id, op)}?api-version=${v}`);
        }
        return reply.status(202).send();
      },
    );
  }
}

/**
 * The data plane of a type (`dataPlane`: Key Vault's secrets and keys below a vault's id): its
 * route prefix and path parameters, as the generic router names them.
 */
export function dataPlaneRoutes(t: ResourceTypeDeclaration): { prefix: string; params: Record<string, TSchema> } {
  if (t.parent || !t.dataPlane) throw new Error(`${t.type} declares no data plane in a resource group`);
  return {
    prefix: `${GROUP}/providers/${t.type}/:${t.param}`,
    params: {
      subscriptionId: Type.String(),
      resourceGroupName: Type.String(),
      [t.param]: t.nameSchema ?? Type.String(),
    },
  };
}

/**
 * The id of the resource whose data plane a request reaches, once the caller may `action` on it:
 * the router's path checks, then a role on the resource (or above), or on a workspace whose
 * `workspaceProperty` names it (a workspace's key vault: `ws.get_default_keyvault()`). No role
 * anywhere → 404; seen but not allowed → 403. Network access is checked app-wide (`guarded`).
 */
export async function dataPlaneResource(
  ctx: AppContext,
  services: Services,
  t: ResourceTypeDeclaration,
  req: FastifyRequest,
  action: Action,
): Promise<string> {
  const p = req.params as Params;
  const name = p[t.param]!;
  checkSubscriptionId(p.subscriptionId!);
  checkResourceGroupName(p.resourceGroupName!);
  const id = resourceId(p.subscriptionId!, p.resourceGroupName!, t.type, name);
  const missing = () =>
    new NotFound(`${t.label} '${name}' could not be found`, { code: t.dataPlane?.notFound ?? 'NOT_FOUND' });
  if (!(await ctx.access.can(req.principal.id, id, action))) {
    const property = t.workspaceProperty;
    const users = property
      ? (await services.resources.scan({ type: WORKSPACE, subscriptionId: p.subscriptionId! })).filter(
          (w) => String(w.properties[property] ?? '').toLowerCase() === id.toLowerCase(),
        )
      : [];
    let allowed = false;
    let visible = await ctx.access.canSee(req.principal.id, id);
    for (const w of users) {
      if (await ctx.access.can(req.principal.id, w.id, action)) allowed = true;
      if (!visible && (await ctx.access.canSee(req.principal.id, w.id))) visible = true;
    }
    if (!allowed) {
      if (!visible) throw missing();
      throw new Forbidden(`the client does not have permission to perform '${action}' on ${t.label} '${name}'`);
    }
  }
  const row = await services.resources.get(id);
  if (!row) throw missing();
  return row.id;
}
