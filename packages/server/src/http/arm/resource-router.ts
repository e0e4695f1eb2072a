import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TSchema } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import type { Action } from '../../identity/rbac.js';
import {
  placementsOf,
  type ArmRecord,
  type ErrorWords,
  type Placement,
  type RequestInfo,
  type ResourceScope,
  type ResourceTypeDeclaration,
  type ResourceHandlers,
} from '../../resources/registry.js';
import type { Operation } from '../../operations/operations.js';
import { checkResourceGroupName, checkSubscriptionId, groupId } from '../../resources/arm-ids.js';
import { resourceId } from '../../resources/resource-ids.js';
import { WORKSPACE } from '../../resources/workspaces.js';
import { Forbidden, InvalidInput, NotFound } from '../../errors.js';
import { checkApiVersion } from './api-version.js';
import { nextLink, pageParams } from './paging.js';
import { preconditions, setLroHeaders } from './lro.js';
import { ApiVersionQuery, ArmErrorResponses } from '@atelier/contracts';
import { workspaceFor } from './assets/common.js';
import { armErrorOf, armStatusOf } from './errors.js';

type Params = Record<string, string>;

/** Recorded domain errors in ARM's words (translated here, at the edge). */
export const ARM_ERROR_WORDS: ErrorWords = {
  body: (e) => ({ ...armErrorOf(e) }),
  status: armStatusOf,
  operationStatusCode: (e) => (e.kind ? String(armStatusOf(e)) : 'InternalServerError'),
};

/** What a handler may need of the request beyond its path and body. */
function info(req: FastifyRequest): RequestInfo {
  const query = req.query as Record<string, string | undefined>;
  return { query, pre: preconditions(req), apiVersion: String(query['api-version'] ?? ''), errors: ARM_ERROR_WORDS };
}
const SUBSCRIPTION = '/subscriptions/:subscriptionId';
const GROUP = `${SUBSCRIPTION}/resourceGroups/:resourceGroupName`;
/** Where an extension resource may sit: the root, a subscription, a resource group, a resource, a child resource. */
export const EXTENSION_SCOPES = [
  '',
  SUBSCRIPTION,
  GROUP,
  `${GROUP}/providers/:scopeNamespace/:scopeType/:scopeName`,
  `${GROUP}/providers/:scopeNamespace/:scopeType/:scopeName/:scopeChildType/:scopeChildName`,
];
/** The route prefixes of a placement (their path parameters are their `:name` segments). */
const PREFIXES: Record<Placement, { prefixes: string[] }> = {
  resourceGroup: { prefixes: [GROUP] },
  subscription: { prefixes: [SUBSCRIPTION] },
  extension: { prefixes: EXTENSION_SCOPES },
};
const ACCEPTED = Type.Null({ description: 'Accepted: Azure-AsyncOperation gives the status, Location the end' });

/**
 * The scope an extension resource of `type` sits on, from the request path: what comes before
 * `/providers/{type}` ('/' for the root), without trailing slashes.
 */
export function extensionScope(req: FastifyRequest, type: string): string {
  let path: string;
  try {
    path = decodeURIComponent(req.url.split('?')[0]!);
  } catch {
    throw new InvalidInput('the request path is not valid percent-encoding', { code: 'INVALID_SCOPE' });
  }
  const i = path.toLowerCase().indexOf(`/providers/${type.toLowerCase()}`);
  const scope = (i <= 0 ? '' : path.slice(0, i)).replace(/\/+$/, '');
  return scope === '' ? '/' : scope;
}

/**
 * The generic ARM router: PUT / GET / PATCH / DELETE, lists, POST actions and GET views for every
 * type of the resource-type registry that declares handlers (resources/registry.ts). Paths,
 * parameters, access checks, status codes and paging come from the declaration; the type's service
 * does the rest. Where a type sits (`placement`) decides its paths and checks: in a resource group
 * or a subscription it is checked by path (subscription, group and name rules) and by RBAC on its
 * id; an extension resource (a role assignment) by RBAC on the scope it extends; types below a
 * workspace are reached through the workspace (`workspaceFor`: no role on it → 404).
 */
export async function resourceRouter(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx, services } = opts;
  app.addHook('preHandler', async (req) => checkApiVersion(req));
  for (const t of services.types.all())
    if (t.handlers)
      for (const placement of placementsOf(services.types.chain(t)[0]!))
        mount(app, ctx, services, t, t.handlers, placement);
}

function mount(
  app: FastifyInstance,
  ctx: AppContext,
  services: Services,
  t: ResourceTypeDeclaration<ArmRecord>,
  h: ResourceHandlers<ArmRecord>,
  placement: Placement,
): void {
  const chain = services.types.chain(t);
  const top = chain[0]!;
  // Reached through a workspace (its children); the workspace type itself is checked as any type in a group.
  const below = chain.length > 1 && top.type.toLowerCase() === WORKSPACE.toLowerCase();
  const extension = placement === 'extension';
  const segment = (d: ResourceTypeDeclaration<ArmRecord>) =>
    d === top ? `providers/${d.type}` : d.type.split('/').pop()!;
  /** The collection paths of a type below its parent: the declared one first, then older spellings. */
  const collections = (d: ResourceTypeDeclaration<ArmRecord>) => d.paths ?? [segment(d)];
  const placed = PREFIXES[placement];
  // Every route prefix: placement prefix × the top type's collection paths (only the first documented).
  const routes: { base: string; hidden: boolean }[] = [];
  for (const prefix of placed.prefixes)
    collections(top).forEach((c, i) => routes.push({ base: `${prefix}/${c}`, hidden: i > 0 }));
  // Name rules of the chain's parameters; a prefix's own parameters (ids, scope segments) are strings.
  const nameSchemas: Record<string, TSchema> = { [t.param]: t.nameSchema ?? Type.String() };
  // The path below the top type's collection: …/:param/{child}/:param…
  let rest = '';
  for (const d of chain) {
    if (d !== top) rest += `/${collections(d)[0]}`;
    if (d === t) break;
    rest += `/:${d.param}`;
    nameSchemas[d.param] = d.nameSchema ?? Type.String();
  }
  /** The path parameters of a route: every `:name` of its path (each prefix of an extension type has its own). */
  const paramsOf = (route: string) =>
    Type.Object(
      Object.fromEntries(
        [...route.matchAll(/:([A-Za-z]\w*)/g)].map((m) => [m[1]!, nameSchemas[m[1]!] ?? Type.String()]),
      ),
    );
  const tags = [t.tag];
  const s = t.summaries ?? {};
  const withSummary = (summary: string | undefined) => (summary ? { summary } : {});
  // Answers as /openapi.json documents them (they are written as the handlers return them).
  const one = t.schema?.one ? { 200: t.schema.one, ...ArmErrorResponses } : ArmErrorResponses;
  const created = t.schema?.one && (t.createdStatus ?? 201) === 201 ? { 201: t.schema.one } : {};
  const page = t.schema?.list ? { 200: t.schema.list, ...ArmErrorResponses } : ArmErrorResponses;
  const nameOf = (req: FastifyRequest) => (req.params as Params)[t.param]!;
  // Names of the parents between the workspace (or the placement) and the resource: a subnet's names its virtual network.
  const parents = (req: FastifyRequest) => chain.slice(below ? 1 : 0, -1).map((d) => (req.params as Params)[d.param]!);
  const rg = placement === 'resourceGroup';

  /** Path checks of a type not below a workspace: ids and names, an existing subscription. */
  const checkPath = async (p: Params) => {
    if (extension) return;
    checkSubscriptionId(p.subscriptionId!);
    if (p.resourceGroupName !== undefined) checkResourceGroupName(p.resourceGroupName);
    await services.groups.requireSubscription(p.subscriptionId!);
  };
  /** What the request's resources are in: their scope's id (the group's, the subscription's, the extended one). */
  const container = (req: FastifyRequest): string => {
    const p = req.params as Params;
    if (extension) return extensionScope(req, t.type);
    return rg ? groupId(p.subscriptionId!, p.resourceGroupName!) : `/subscriptions/${p.subscriptionId}`;
  };
  /** The id of the resource (or, with `upTo`, of its ancestor of that type) a request names. */
  const idOf = (req: FastifyRequest, upTo: ResourceTypeDeclaration<ArmRecord> = t): string => {
    const p = req.params as Params;
    const where = container(req);
    let id = `${where === '/' ? '' : where}/${collections(top)[0]}`;
    for (const d of chain) {
      if (d !== top) id += `/${collections(d)[0]}`;
      id += `/${p[d.param]}`;
      if (d === upTo) break;
    }
    return id;
  };
  const where = (req: FastifyRequest): string => {
    const p = req.params as Params;
    if (extension) return `the scope '${container(req)}'`;
    return rg ? `resource group '${p.resourceGroupName}'` : `subscription '${p.subscriptionId}'`;
  };
  /** 404 of a resource the caller may not see (or that is not there). */
  const notFound = (req: FastifyRequest) =>
    extension
      ? `${where(req)} could not be found`
      : rg
        ? `${t.label} '${nameOf(req)}' could not be found in ${where(req)}`
        : `${t.label} '${nameOf(req)}' could not be found`;
  /** 404 of a PUT the caller may not make: the place it would go is not seen. */
  const placeNotFound = (req: FastifyRequest) => `${where(req)} could not be found`;
  /** Where RBAC is checked: the resource's id, or the scope an extension resource extends. */
  const target = (req: FastifyRequest) => (extension ? container(req) : idOf(req));
  const scopeOf = (req: FastifyRequest): ResourceScope => {
    const p = req.params as Params;
    return {
      subscriptionId: p.subscriptionId ?? /^\/subscriptions\/([^/]+)/i.exec(container(req))?.[1] ?? '',
      resourceGroup:
        p.resourceGroupName ?? /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)/i.exec(container(req))?.[1] ?? '',
      ...(extension ? { scopeId: container(req) } : {}),
      parents: parents(req),
    };
  };

  /** The scope of a request once the caller may `action` (404 `missing` without). */
  const scopeFor = async (
    req: FastifyRequest,
    action: Action,
    missing: (req: FastifyRequest) => string = notFound,
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
    await ctx.access.require(req.principal.id, target(req), action, missing(req));
    return scopeOf(req);
  };
  const secrets = async (req: FastifyRequest, r: ArmRecord) =>
    t.access.secrets ? ctx.access.can(req.principal.id, r.id, t.access.secrets) : false;
  const body = async (req: FastifyRequest, scope: ResourceScope, r: ArmRecord, detail = false) =>
    h.toBody(r, { scope, secrets: await secrets(req, r), detail, errors: ARM_ERROR_WORDS });
  const query = t.schema?.query ?? {};
  /** Sets the headers of a long-running PUT: the type's own status URL, or the operation's. */
  const lroHeaders = (req: FastifyRequest, reply: FastifyReply, r: ArmRecord, op: Operation) => {
    if (!h.statusPath) return setLroHeaders(reply, ctx.config.publicUrl, op, req);
    const v = encodeURIComponent(String((req.query as Record<string, unknown>)['api-version'] ?? ''));
    void reply
      .header('Azure-AsyncOperation', `${ctx.config.publicUrl}${h.statusPath(r, op)}?api-version=${v}`)
      .header('Retry-After', '1');
  };

  for (const { base, hidden } of routes) {
    const list = `${base}${rest}`;
    const item = `${list}/:${t.param}`;
    const hide = hidden ? { hide: true } : {};
    mountOne(list, item, hide);
  }

  function mountOne(list: string, item: string, hide: { hide?: boolean }): void {
    const ListParams = paramsOf(list);
    const ItemParams = paramsOf(item);
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
            ...hide,
            ...withSummary(s.put),
          },
        },
        async (req, reply) => {
          const scope = await scopeFor(req, t.access.write, chain.length > 1 ? notFound : placeNotFound);
          const { resource, created, operation } = await put(
            scope,
            nameOf(req),
            (req.body ?? {}) as Record<string, unknown>,
            req.principal,
            preconditions(req),
          );
          if (operation) lroHeaders(req, reply, resource, operation);
          return reply.status(created ? (t.createdStatus ?? 201) : 200).send(await body(req, scope, resource));
        },
      );
    }

    app.get(
      item,
      {
        schema: {
          params: ItemParams,
          querystring: ApiVersionQuery,
          response: one,
          tags,
          ...hide,
          ...withSummary(s.get),
        },
      },
      async (req) => {
        const scope = await scopeFor(req, t.access.read);
        return body(req, scope, await h.get(scope, nameOf(req), req.principal), true);
      },
    );

    if (t.head) {
      app.head(
        item,
        { schema: { params: ItemParams, querystring: ApiVersionQuery, hide: true } as object },
        async (req, reply) => {
          try {
            const scope = await scopeFor(req, t.access.read);
            await h.get(scope, nameOf(req), req.principal);
            return reply.status(204).send();
          } catch (e) {
            if (e instanceof NotFound || e instanceof Forbidden) return reply.status(404).send();
            throw e;
          }
        },
      );
    }

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
            ...hide,
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
            response: t.longRunningDelete ? { 202: ACCEPTED, ...ArmErrorResponses } : ArmErrorResponses,
            tags,
            ...hide,
            ...withSummary(s.delete),
          },
        },
        async (req, reply: FastifyReply) => {
          const scope = await scopeFor(req, t.access.delete);
          const done = await del(scope, nameOf(req), req.principal, info(req));
          if (typeof done === 'object' && 'deleted' in done)
            return reply.status(200).send(await body(req, scope, done.deleted));
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
        const request = (after: string | undefined) => ({
          after,
          top,
          query: q,
          principal: req.principal,
          visible: (r: ArmRecord) => ctx.access.canSee(req.principal.id, r.id),
        });
        const result = await listPage(scope, request(after));
        const value = [];
        for (const r of result.value) value.push(await body(req, scope, r));
        // Older api-versions of some types answered a bare array, with no paging: all of it, in that shape.
        const version = String(q['api-version'] ?? '');
        if (t.bareListBefore && version && version < t.bareListBefore) {
          let last = result;
          while (last.hasMore) {
            last = await listPage(scope, request(last.lastKey));
            for (const r of last.value) value.push(await body(req, scope, r));
          }
          return value;
        }
        return { value, nextLink: nextLink(ctx.config.publicUrl, req, result.lastKey, result.hasMore) };
      };
      const listSchema = (params: TSchema, summary: string | undefined) => ({
        schema: { params, querystring: ApiVersionQuery, response: page, tags, ...hide, ...withSummary(summary) },
      });
      if (below) {
        app.get(list, listSchema(ListParams, s.list), async (req) => {
          const ws = await workspaceFor(ctx, req, t.access.read);
          const p = req.params as Params;
          return answer(req, {
            subscriptionId: p.subscriptionId!,
            resourceGroup: p.resourceGroupName!,
            workspace: ws,
            parents: parents(req),
          });
        });
      } else if (chain.length > 1) {
        // A child of a type in a group: the caller sees its parent (404 naming it otherwise).
        const parent = chain.at(-2)!;
        app.get(list, listSchema(ListParams, s.list), async (req) => {
          const p = req.params as Params;
          await checkPath(p);
          const parentId = idOf(req, parent);
          const missing = `${parent.label} '${p[parent.param]}' could not be found in ${where(req)}`;
          await ctx.access.require(req.principal.id, parentId, t.access.read, missing);
          if (!(await services.resources.get(parentId)))
            throw new NotFound(missing, { code: 'PARENT_RESOURCE_NOT_FOUND' });
          return answer(req, scopeOf(req));
        });
      } else if (extension) {
        app.get(list, listSchema(ListParams, s.list), async (req) => {
          await ctx.access.require(req.principal.id, container(req), t.access.read, notFound(req));
          return answer(req, scopeOf(req));
        });
      } else if (!rg) {
        // In a subscription: what the caller sees of it (the handler's `visible`).
        app.get(list, listSchema(ListParams, s.list ?? s.listSubscription), async (req) => {
          await checkPath(req.params as Params);
          return answer(req, scopeOf(req));
        });
      } else {
        if (t.lists?.group !== false) {
          app.get(list, listSchema(ListParams, s.listGroup), async (req) => {
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
            return answer(req, scopeOf(req));
          });
        }
        if (t.lists?.subscription) {
          app.get(
            list.replace(GROUP, SUBSCRIPTION),
            listSchema(Type.Object({ subscriptionId: Type.String() }), s.listSubscription),
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
              ...(a.accepted ? { 202: ACCEPTED } : {}),
              ...(a.response ? { 200: a.response } : {}),
              ...ArmErrorResponses,
            },
            tags,
            ...hide,
            ...withSummary(a.summary),
          },
        },
        async (req, reply) => {
          const [first, ...more] = a.access;
          const scope = await scopeFor(req, first!);
          const r = a.loads === false ? undefined : await h.get(scope, nameOf(req), req.principal);
          for (const action of more)
            await ctx.access.require(req.principal.id, r?.id ?? idOf(req), action, notFound(req));
          const about = info(req);
          const b = (req.body ?? {}) as Record<string, unknown>;
          const out = await a.run(scope, nameOf(req), b, req.principal, r, about);
          const accepted = typeof a.accepted === 'function' ? a.accepted(about) : a.accepted;
          if (!accepted) return out === undefined ? reply.status(200).send() : out;
          const op = out as Operation;
          setLroHeaders(reply, ctx.config.publicUrl, op, req);
          if (a.resultPath) {
            const v = encodeURIComponent(about.apiVersion);
            reply.header('Location', `${ctx.config.publicUrl}${a.resultPath(r?.id ?? idOf(req), op)}?api-version=${v}`);
          }
          return reply.status(202).send();
        },
      );
    }

    for (const v of t.views ?? []) {
      const own = [...v.path.matchAll(/:([A-Za-z]\w*)/g)].map((m) => m[1]!);
      app.get(
        `${item}/${v.path}`,
        {
          schema: {
            params: Type.Object({
              ...ItemParams.properties,
              ...Object.fromEntries(own.map((n) => [n, Type.String()])),
            }),
            querystring: ApiVersionQuery,
            response: v.response ? { 200: v.response, ...ArmErrorResponses } : ArmErrorResponses,
            tags,
            ...hide,
            ...withSummary(v.summary),
          },
        },
        async (req) => {
          const scope = await scopeFor(req, v.access);
          const r = await h.get(scope, nameOf(req), req.principal);
          const p = req.params as Params;
          return v.run(scope, r, Object.fromEntries(own.map((n) => [n, p[n]!])), req.principal, info(req));
        },
      );
    }
  }
}

/**
 * The data plane of a type (`dataPlane`: Key Vault's secrets and keys below a vault's id): its
 * route prefix and path parameters, as the generic router names them.
 */
export function dataPlaneRoutes(t: ResourceTypeDeclaration<ArmRecord>): {
  prefix: string;
  params: Record<string, TSchema>;
} {
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
  t: ResourceTypeDeclaration<ArmRecord>,
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
