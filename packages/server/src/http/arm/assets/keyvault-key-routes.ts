import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../../context.js';
import type { ResourceEngine } from '../../../resources/engine.js';
import { ApiVersionQuery, Tags } from '@atelier/contracts';
import { InvalidInput } from '../../../errors.js';
import { checkKeyName, type KeyMeta, type VaultKeyService } from '../../../assets/vault-keys.js';
import { V, VParams, vaultFor } from './keyvault-routes.js';

const KParams = Type.Object({ ...VParams.properties, keyName: Type.String({ maxLength: 127 }) });
const KVParams = Type.Object({ ...KParams.properties, keyVersion: Type.String({ maxLength: 64 }) });
const Attributes = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    nbf: Type.Optional(Type.Number()),
    exp: Type.Optional(Type.Number()),
    exportable: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const CreateBody = Type.Object(
  {
    kty: Type.String({ description: "'RSA' | 'RSA-HSM' | 'oct' | 'oct-HSM' (AES)" }),
    key_size: Type.Optional(
      Type.Integer({ description: 'RSA: 2048 (default), 3072, 4096; oct: 128, 192, 256 (default)' }),
    ),
    key_ops: Type.Optional(Type.Array(Type.String(), { maxItems: 8 })),
    public_exponent: Type.Optional(Type.Integer()),
    attributes: Type.Optional(Attributes),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);
const UpdateBody = Type.Object(
  {
    key_ops: Type.Optional(Type.Array(Type.String(), { maxItems: 8 })),
    attributes: Type.Optional(Attributes),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);

interface KP {
  subscriptionId: string;
  resourceGroupName: string;
  vaultName: string;
  keyName: string;
  keyVersion?: string;
}

/**
 * A key vault's keys, in Key Vault's data-plane shapes (api-version 7.x): create (RSA or AES, a new
 * version each time), get (public part only), list (ids only), versions, update attributes
 * (enable/disable), delete. Wrapping and unwrapping happen inside the server only (customer-managed
 * keys of workspaces). Reading needs `control/read` on the vault (or a workspace using it); changes
 * are key management and need `control/write` (Owner, Contributor; not a Data Scientist). A key version
 * a workspace's data depends on cannot be disabled, kept from wrapping or deleted (409 naming them).
 */
export async function keyVaultKeyRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; keys: VaultKeyService; resources: ResourceEngine },
): Promise<void> {
  const { ctx, keys, resources } = opts;
  const tags = ['Key vault keys'];

  const kid = (vaultId: string, m: KeyMeta, withVersion = true) =>
    `${ctx.config.publicUrl}${vaultId}/keys/${m.name}${withVersion ? `/${m.version}` : ''}`;
  const attributes = (m: KeyMeta) => ({
    enabled: m.enabled,
    created: Math.floor(m.created / 1000),
    updated: Math.floor(m.updated / 1000),
    recoveryLevel: 'Purgeable',
    exportable: false,
  });
  const bundle = (vaultId: string, m: KeyMeta) => ({
    key: { kid: kid(vaultId, m), kty: m.kty, key_ops: m.keyOps, ...m.publicJwk },
    attributes: attributes(m),
    tags: m.tags,
  });
  const item = (vaultId: string, m: KeyMeta, withVersion: boolean) => ({
    kid: kid(vaultId, m, withVersion),
    attributes: attributes(m),
    tags: m.tags,
  });
  const params = (req: FastifyRequest) => req.params as KP;

  app.post<{
    Body: {
      kty: string;
      key_size?: number;
      key_ops?: string[];
      public_exponent?: number;
      attributes?: { enabled?: boolean };
      tags?: Record<string, string>;
    };
  }>(
    `${V}/keys/:keyName/create`,
    {
      schema: {
        params: KParams,
        querystring: ApiVersionQuery,
        body: CreateBody,
        tags,
        summary: 'Create a key (or a new version of it)',
      },
    },
    async (req) => {
      const vaultId = await vaultFor(ctx, resources, req, 'control/write');
      const b = req.body;
      if (b.public_exponent !== undefined && b.public_exponent !== 65537)
        throw new InvalidInput('public_exponent must be 65537 (the only one supported)', {
          code: 'INVALID_KEY_VAULT_REQUEST',
          target: 'public_exponent',
        });
      const m = await keys.create(vaultId, params(req).keyName, {
        kty: b.kty,
        keySize: b.key_size,
        keyOps: b.key_ops,
        enabled: b.attributes?.enabled,
        tags: b.tags,
      });
      return bundle(vaultId, m);
    },
  );

  app.get(
    `${V}/keys`,
    {
      schema: {
        params: VParams,
        querystring: ApiVersionQuery,
        tags,
        summary: 'List keys (ids and attributes of their current versions)',
      },
    },
    async (req) => {
      const vaultId = await vaultFor(ctx, resources, req, 'control/read');
      const q = req.query as Record<string, string | undefined>;
      const top = q.maxresults && /^\d+$/.test(q.maxresults) ? Math.min(Math.max(Number(q.maxresults), 1), 25) : 25;
      const after = q.$skipToken ? Buffer.from(q.$skipToken, 'base64url').toString('utf8') : undefined;
      const rows = await keys.list(vaultId, { after, top: top + 1 });
      const page = rows.slice(0, top);
      let next: string | null = null;
      if (rows.length > top) {
        const u = new URL(req.url, ctx.config.publicUrl);
        u.searchParams.set('$skipToken', Buffer.from(page.at(-1)!.name.toLowerCase()).toString('base64url'));
        next = `${ctx.config.publicUrl}${u.pathname}${u.search}`;
      }
      return { value: page.map((m) => item(vaultId, m, false)), nextLink: next };
    },
  );

  app.get(
    `${V}/keys/:keyName/versions`,
    { schema: { params: KParams, querystring: ApiVersionQuery, tags, summary: 'List the versions of a key' } },
    async (req) => {
      const vaultId = await vaultFor(ctx, resources, req, 'control/read');
      return {
        value: (await keys.versions(vaultId, params(req).keyName)).map((m) => item(vaultId, m, true)),
        nextLink: null,
      };
    },
  );

  const get = async (req: FastifyRequest) => {
    const vaultId = await vaultFor(ctx, resources, req, 'control/read');
    const p = params(req);
    checkKeyName(p.keyName);
    return bundle(vaultId, await keys.get(vaultId, p.keyName, p.keyVersion));
  };
  app.get(
    `${V}/keys/:keyName`,
    {
      schema: {
        params: KParams,
        querystring: ApiVersionQuery,
        tags,
        summary: 'Get the current version of a key (public part only)',
      },
    },
    get,
  );
  app.get(
    `${V}/keys/:keyName/:keyVersion`,
    {
      schema: {
        params: KVParams,
        querystring: ApiVersionQuery,
        tags,
        summary: 'Get a version of a key (public part only)',
      },
    },
    get,
  );

  const update = async (
    req: FastifyRequest<{
      Body: { key_ops?: string[]; attributes?: { enabled?: boolean }; tags?: Record<string, string> };
    }>,
  ) => {
    const vaultId = await vaultFor(ctx, resources, req, 'control/write');
    const p = params(req);
    const b = req.body ?? {};
    return bundle(
      vaultId,
      await keys.update(vaultId, p.keyName, p.keyVersion, {
        enabled: b.attributes?.enabled,
        tags: b.tags,
        keyOps: b.key_ops,
      }),
    );
  };
  app.patch(
    `${V}/keys/:keyName/:keyVersion`,
    {
      schema: {
        params: KVParams,
        querystring: ApiVersionQuery,
        body: UpdateBody,
        tags,
        summary: 'Enable or disable a key version, change its tags or operations',
      },
    },
    update,
  );
  app.patch(
    `${V}/keys/:keyName`,
    {
      schema: {
        params: KParams,
        querystring: ApiVersionQuery,
        body: UpdateBody,
        tags,
        summary: 'Update the current version of a key',
      },
    },
    update,
  );

  app.delete(
    `${V}/keys/:keyName`,
    {
      schema: {
        params: KParams,
        querystring: ApiVersionQuery,
        tags,
        summary: 'Delete a key with all its versions (data it protects becomes unreadable)',
      },
    },
    async (req) => {
      const vaultId = await vaultFor(ctx, resources, req, 'control/write');
      const m = await keys.delete(vaultId, params(req).keyName);
      return { ...bundle(vaultId, m), deletedDate: Math.floor(Date.now() / 1000) };
    },
  );
}
