import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import type { Principal } from '../../identity/principals.js';
import { checkApiVersion } from './api-version.js';
import { nextLink, pageParams } from './paging.js';
import * as C from '@atelier/contracts';
import { checkResourceGroupName, checkSubscriptionId, groupId } from '../../resources/arm-ids.js';
import { resourceId } from '../../resources/resource-ids.js';
import { toArmBody, type ResourceDefinition, type StoredResource } from '../../resources/engine.js';
import { REGISTRY, STORAGE, insightsDef, keyVaultDef, registryDef, storageAccountDef, type NewDependent } from '../../resources/dependents.js';
import { normaliseLocation } from '../../resources/resource-groups.js';
import { InvalidInput, NotFound } from '../../errors.js';
import { accountSas, serviceSas } from '../../assets/sas.js';

type Params = C.GroupResourceParams;
const ItemParams = C.GroupResourceParams;
const ONE = { 200: C.DependentResource, ...C.ArmErrorResponses };
const LIST = { 200: C.DependentResourceList, ...C.ArmErrorResponses };

interface DependentType {
  def: ResourceDefinition;
  tag: string;
  what: string;
  create(d: NewDependent, by: Principal): Promise<StoredResource>;
  remove(id: string): Promise<boolean>;
  /** The body; `withSecrets` when the caller has secrets/read (Application Insights shows its key then). */
  body(r: StoredResource, withSecrets: boolean): Promise<Record<string, unknown>>;
}

/**
 * The dependent resources as ARM types in their own namespaces: Microsoft.Storage/storageAccounts,
 * Microsoft.KeyVault/vaults, Microsoft.Insights/components, Microsoft.ContainerRegistry/registries.
 * PUT (create; an existing one only gets new tags), GET, PATCH (tags), DELETE, lists, and the key
 * actions (storage listKeys/regenerateKey, registry listCredentials/regenerateCredential).
 */
export async function dependentRoutes(app: FastifyInstance, opts: { ctx: AppContext; services: Services }): Promise<void> {
  const { ctx, services } = opts;
  const deps = services.workspaces.dependents;
  const engine = services.resources;
  app.addHook('preHandler', async (req) => checkApiVersion(req));

  const types: DependentType[] = [
    { def: storageAccountDef, tag: 'Storage accounts', what: 'storage account', create: (d, by) => deps.createStorageAccount(d, by), remove: (id) => deps.deleteStorageAccount(id), body: async (r) => toArmBody(r) },
    {
      def: keyVaultDef,
      tag: 'Key vaults',
      what: 'key vault',
      create: (d, by) => deps.createKeyVault(d, by),
      remove: (id) => deps.deleteKeyVaultIfUnused(id),
      // The secrets data plane is served below the vault's own id (http/arm/assets/keyvault-routes.ts).
      body: async (r) => toArmBody(r, { ...r.properties, vaultUri: `${ctx.config.publicUrl}${r.id}/` }),
    },
    {
      def: insightsDef,
      tag: 'Application Insights',
      what: 'application insights component',
      create: (d, by) => deps.createInsights(d, by),
      remove: (id) => deps.deleteInsights(id),
      body: async (r, withSecrets) => {
        if (!withSecrets) return toArmBody(r);
        const ikey = await deps.instrumentationKey(r.id);
        return toArmBody(r, { ...r.properties, InstrumentationKey: ikey, ConnectionString: ikey ? deps.connectionString(ikey) : undefined });
      },
    },
    { def: registryDef, tag: 'Container registries', what: 'container registry', create: (d, by) => deps.createRegistry(d, by), remove: (id) => deps.deleteRegistry(id), body: async (r) => toArmBody(r) },
  ];

  const checkPath = async (p: { subscriptionId: string; resourceGroupName?: string }) => {
    checkSubscriptionId(p.subscriptionId);
    if (p.resourceGroupName !== undefined) checkResourceGroupName(p.resourceGroupName);
    await services.groups.requireSubscription(p.subscriptionId);
  };

  for (const t of types) {
    const [ns, typeName] = [t.def.type.split('/')[0]!, t.def.type.split('/')[1]!];
    const base = `/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/${ns}/${typeName}`;
    const one = `${base}/:name`;
    const notFound = (p: Params) => `${t.what} '${p.name}' could not be found in resource group '${p.resourceGroupName}'`;
    const load = async (req: FastifyRequest<{ Params: Params }>, action: Parameters<AppContext['access']['require']>[2]) => {
      const p = req.params;
      await checkPath(p);
      t.def.checkName(p.name);
      const id = resourceId(p.subscriptionId, p.resourceGroupName, t.def.type, p.name);
      await ctx.access.require(req.principal.id, id, action, notFound(p));
      return engine.require(id, notFound(p));
    };
    const secretsVisible = (req: FastifyRequest, id: string) => ctx.access.can(req.principal.id, id, 'secrets/read');

    app.put<{ Params: Params; Body: C.DependentResourceBody }>(one, { schema: { params: ItemParams, querystring: C.ApiVersionQuery, body: C.DependentResourceBody, response: { ...ONE, 201: C.DependentResource }, tags: [t.tag], summary: `Create a ${t.what} (or set the tags of an existing one)` } }, async (req, reply) => {
      const p = req.params;
      await checkPath(p);
      t.def.checkName(p.name);
      const id = resourceId(p.subscriptionId, p.resourceGroupName, t.def.type, p.name);
      await ctx.access.require(req.principal.id, id, 'control/write', `resource group '${p.resourceGroupName}' could not be found`);
      const group = await services.groups.require(p.subscriptionId, p.resourceGroupName);
      const existing = await engine.get(id);
      if (existing) {
        if (req.body?.location && normaliseLocation(req.body.location) !== existing.location) throw new InvalidInput(`location cannot change: the ${t.what} is in '${existing.location}'`, { code: 'INVALID_INPUT', target: 'location' });
        const r = await engine.patch(t.def, id, { tags: req.body?.tags ?? existing.tags }, req.principal);
        return reply.status(200).send(await t.body(r, await secretsVisible(req, id)));
      }
      const r = await t.create({ subscriptionId: p.subscriptionId, resourceGroup: group.name, name: p.name, location: req.body?.location ? normaliseLocation(req.body.location) : group.location, tags: req.body?.tags }, req.principal);
      return reply.status(201).send(await t.body(r, await secretsVisible(req, id)));
    });

    app.get<{ Params: Params }>(one, { schema: { params: ItemParams, querystring: C.ApiVersionQuery, response: ONE, tags: [t.tag], summary: `Get a ${t.what}` } }, async (req) => {
      const r = await load(req, 'control/read');
      return t.body(r, await secretsVisible(req, r.id));
    });

    app.patch<{ Params: Params; Body: C.DependentResourcePatchBody }>(one, { schema: { params: ItemParams, querystring: C.ApiVersionQuery, body: C.DependentResourcePatchBody, response: ONE, tags: [t.tag], summary: `Set the tags of a ${t.what}` } }, async (req) => {
      const r = await load(req, 'control/write');
      const updated = await engine.patch(t.def, r.id, { tags: req.body?.tags }, req.principal);
      return t.body(updated, await secretsVisible(req, r.id));
    });

    app.delete<{ Params: Params }>(one, { schema: { params: ItemParams, querystring: C.ApiVersionQuery, response: C.ArmErrorResponses, tags: [t.tag], summary: `Delete a ${t.what} (with its blobs, keys or secrets)` } }, async (req, reply) => {
      const p = req.params;
      await checkPath(p);
      t.def.checkName(p.name);
      const id = resourceId(p.subscriptionId, p.resourceGroupName, t.def.type, p.name);
      await ctx.access.require(req.principal.id, id, 'control/write', notFound(p));
      const existed = await t.remove(id);
      return reply.status(existed ? 200 : 204).send();
    });

    const list = async (req: FastifyRequest, sub: string, rg?: string) => {
      const { after, top } = pageParams(req);
      const page = await engine.list({ type: t.def.type, subscriptionId: sub, groupKey: rg ? groupId(sub, rg) : undefined, after, top, visible: (r) => ctx.access.canSee(req.principal.id, r.id) });
      const value = [];
      for (const r of page.value) value.push(await t.body(r, await secretsVisible(req, r.id)));
      return { value, nextLink: nextLink(ctx.config.publicUrl, req, page.lastKey, page.hasMore) };
    };
    app.get<{ Params: C.ResourceGroupParams }>(base, { schema: { params: C.ResourceGroupParams, querystring: C.ApiVersionQuery, response: LIST, tags: [t.tag], summary: `List the ${t.what} resources of a resource group (paged)` } }, async (req) => {
      const { subscriptionId: sub, resourceGroupName: rg } = req.params;
      await checkPath(req.params);
      if (!(await ctx.access.canSee(req.principal.id, groupId(sub, rg))) || !(await services.groups.get(sub, rg))) throw new NotFound(`resource group '${rg}' could not be found`, { code: 'RESOURCE_GROUP_NOT_FOUND' });
      return list(req, sub, rg);
    });
    app.get<{ Params: C.SubscriptionParams }>(`/subscriptions/:subscriptionId/providers/${ns}/${typeName}`, { schema: { params: C.SubscriptionParams, querystring: C.ApiVersionQuery, response: LIST, tags: [t.tag], summary: `List the ${t.what} resources of a subscription (paged)` } }, async (req) => {
      await checkPath(req.params);
      if (!(await ctx.access.canSee(req.principal.id, `/subscriptions/${req.params.subscriptionId}`))) throw new NotFound(`subscription '${req.params.subscriptionId}' could not be found`, { code: 'SUBSCRIPTION_NOT_FOUND' });
      return list(req, req.params.subscriptionId);
    });

    if (t.def.type === STORAGE) {
      app.post<{ Params: Params }>(`${one}/listKeys`, { schema: { params: ItemParams, querystring: C.ApiVersionQuery, response: { 200: C.StorageAccountKeys, ...C.ArmErrorResponses }, tags: [t.tag], summary: 'The two access keys (needs secrets/read)' } }, async (req) => {
        const r = await load(req, 'secrets/read');
        return { keys: await deps.storageKeys(r.id) };
      });
      app.post<{ Params: Params; Body: C.RegenerateKeyBody }>(
        `${one}/regenerateKey`,
        { schema: { params: ItemParams, querystring: C.ApiVersionQuery, body: C.RegenerateKeyBody, response: { 200: C.StorageAccountKeys, ...C.ArmErrorResponses }, tags: [t.tag], summary: 'Replace one access key with a new random one' } },
        async (req) => {
          const r = await load(req, 'control/write');
          await ctx.access.require(req.principal.id, r.id, 'secrets/read', notFound(req.params));
          await deps.regenerateStorageKey(r.id, req.body.keyName);
          return { keys: await deps.storageKeys(r.id) };
        },
      );
    }
    if (t.def.type === STORAGE) {
      // Shared access signatures (sv 2022-11-02), signed with key1 (or keyToSign): what a Sas datastore holds.
      const signingKey = async (id: string, keyToSign: string | undefined) => {
        const name = (keyToSign ?? 'key1').toLowerCase();
        if (name !== 'key1' && name !== 'key2') throw new InvalidInput(`keyToSign must be 'key1' or 'key2', got '${keyToSign}'`, { target: 'keyToSign' });
        const k = (await deps.storageKeys(id)).find((x) => x.keyName === name);
        if (!k) throw new InvalidInput(`the storage account has no ${name}`, { target: 'keyToSign' });
        return k.value;
      };
      app.post<{ Params: Params; Body: C.ServiceSasBody }>(
        `${one}/listServiceSas`,
        {
          schema: {
            params: ItemParams,
            querystring: C.ApiVersionQuery,
            body: C.ServiceSasBody,
            response: { 200: C.ServiceSas, ...C.ArmErrorResponses },
            tags: [t.tag],
            summary: 'A service SAS token for one blob container (needs secrets/read)',
          },
        },
        async (req) => {
          const r = await load(req, 'secrets/read');
          const b = req.body;
          if (b.signedResource !== 'c') throw new InvalidInput(`signedResource '${b.signedResource}' is not supported: service SAS tokens here are for a whole blob container (signedResource 'c')`, { target: 'signedResource' });
          const m = /^\/blob\/([^/]+)\/([^/]+)\/?$/.exec(b.canonicalizedResource);
          if (!m || m[1]!.toLowerCase() !== r.name.toLowerCase()) throw new InvalidInput(`canonicalizedResource must be '/blob/${r.name}/{container}', got '${b.canonicalizedResource}'`, { target: 'canonicalizedResource' });
          const token = serviceSas({ account: r.name, container: m[2]!, permissions: b.signedPermission, expiry: b.signedExpiry, start: b.signedStart, protocol: b.signedProtocol }, await signingKey(r.id, b.keyToSign));
          return { serviceSasToken: token };
        },
      );
      app.post<{ Params: Params; Body: C.AccountSasBody }>(
        `${one}/listAccountSas`,
        {
          schema: {
            params: ItemParams,
            querystring: C.ApiVersionQuery,
            body: C.AccountSasBody,
            response: { 200: C.AccountSas, ...C.ArmErrorResponses },
            tags: [t.tag],
            summary: 'An account SAS token (needs secrets/read)',
          },
        },
        async (req) => {
          const r = await load(req, 'secrets/read');
          const b = req.body;
          const token = accountSas({ account: r.name, services: b.signedServices, resourceTypes: b.signedResourceTypes, permissions: b.signedPermission, expiry: b.signedExpiry, start: b.signedStart, protocol: b.signedProtocol }, await signingKey(r.id, b.keyToSign));
          return { accountSasToken: token };
        },
      );
    }
    if (t.def.type === REGISTRY) {
      app.post<{ Params: Params }>(`${one}/listCredentials`, { schema: { params: ItemParams, querystring: C.ApiVersionQuery, response: { 200: C.RegistryCredentials, ...C.ArmErrorResponses }, tags: [t.tag], summary: 'The admin user name and passwords (needs secrets/read)' } }, async (req) => {
        const r = await load(req, 'secrets/read');
        return deps.registryCredentials(r.id);
      });
      app.post<{ Params: Params; Body: C.RegenerateCredentialBody }>(
        `${one}/regenerateCredential`,
        { schema: { params: ItemParams, querystring: C.ApiVersionQuery, body: C.RegenerateCredentialBody, response: { 200: C.RegistryCredentials, ...C.ArmErrorResponses }, tags: [t.tag], summary: 'Replace one admin password' } },
        async (req) => {
          const r = await load(req, 'control/write');
          await ctx.access.require(req.principal.id, r.id, 'secrets/read', notFound(req.params));
          await deps.regenerateRegistryPassword(r.id, req.body.name);
          return deps.registryCredentials(r.id);
        },
      );
    }
  }
}
