import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type TObject } from '@sinclair/typebox';
import type { AppContext } from '../../../context.js';
import type { Services } from '../../../services.js';
import type { Action } from '../../../identity/rbac.js';
import { ApiVersionQuery, Tags } from '@atelier/contracts';
import { InvalidInput, NotFound } from '../../../errors.js';
import { VAULT } from '../../../resources/dependents.js';
import { checkSecretName, type SecretMeta, type VaultSecretService } from '../../../assets/key-vault.js';
import { checkKeyName, type KeyMeta, type VaultKeyService } from '../../../assets/vault-keys.js';
import { dataPlaneResource, dataPlaneRoutes } from '../resource-router.js';

const SetBody = Type.Object(
  {
    value: Type.String({ maxLength: 25 * 1024 }),
    contentType: Type.Optional(Type.String({ maxLength: 255 })),
    tags: Type.Optional(Tags),
    attributes: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          nbf: Type.Optional(Type.Number()),
          exp: Type.Optional(Type.Number()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

interface VP {
  subscriptionId: string;
  resourceGroupName: string;
  name: string;
  secretName: string;
}

/** Where the caller may `action` on the vault of a request: the vault's id (404/403 otherwise). */
type VaultOf = (req: FastifyRequest, action: Action) => Promise<string>;
/** What both halves of the data plane get: the vault's path prefix and parameters, and its access check. */
interface Mount {
  ctx: AppContext;
  vaultFor: VaultOf;
  V: string;
  VParams: TObject;
}

/**
 * A key vault's secrets (what `ws.getDefaultKeyvault()` uses). Names and attributes are listed to
 * readers; values are returned only to those allowed `secrets/read`; writes need `assets/write`.
 */
async function secretRoutes(app: FastifyInstance, opts: Mount & { vault: VaultSecretService }): Promise<void> {
  const { ctx, vault, vaultFor, V, VParams } = opts;
  const SParams = Type.Object({ ...VParams.properties, secretName: Type.String({ maxLength: 127 }) });
  const tags = ['Key vault secrets'];

  const secretId = (vaultId: string, name: string, version?: string) =>
    `${ctx.config.publicUrl}${vaultId}/secrets/${name}${version ? `/${version}` : ''}`;
  const attributes = (m: SecretMeta) => ({
    enabled: m.enabled,
    created: Math.floor(m.created / 1000),
    updated: Math.floor(m.updated / 1000),
    recoveryLevel: 'Purgeable',
  });
  const item = (vaultId: string, m: SecretMeta) => ({
    id: secretId(vaultId, m.name),
    attributes: attributes(m),
    tags: m.tags,
    ...(m.contentType ? { contentType: m.contentType } : {}),
  });
  const bundle = (vaultId: string, m: SecretMeta, value?: string) => ({
    ...(value !== undefined ? { value } : {}),
    id: secretId(vaultId, m.name, m.version),
    attributes: attributes(m),
    tags: m.tags,
    ...(m.contentType ? { contentType: m.contentType } : {}),
  });

  app.get(`${V}/secrets`, { schema: { params: VParams, querystring: ApiVersionQuery, tags } }, async (req) => {
    const vaultId = await vaultFor(req, 'control/read');
    const q = req.query as Record<string, string | undefined>;
    const top = q.maxresults && /^\d+$/.test(q.maxresults) ? Math.min(Math.max(Number(q.maxresults), 1), 25) : 25;
    const after = q.$skipToken ? Buffer.from(q.$skipToken, 'base64url').toString('utf8') : undefined;
    const rows = await vault.list(vaultId, { after, top: top + 1 });
    const page = rows.slice(0, top);
    let next: string | undefined;
    if (rows.length > top) {
      const u = new URL(req.url, ctx.config.publicUrl);
      u.searchParams.set('$skipToken', Buffer.from(page.at(-1)!.name.toLowerCase()).toString('base64url'));
      next = `${ctx.config.publicUrl}${u.pathname}${u.search}`;
    }
    return { value: page.map((m) => item(vaultId, m)), nextLink: next ?? null };
  });

  const getSecret = async (req: FastifyRequest) => {
    const vaultId = await vaultFor(req, 'secrets/read');
    const p = req.params as VP & { version?: string };
    checkSecretName(p.secretName);
    const s = await vault.get(vaultId, p.secretName);
    if (p.version && p.version !== s.version)
      throw new NotFound(`secret '${p.secretName}' has no version '${p.version}' (only the latest version is kept)`, {
        code: 'SECRET_NOT_FOUND',
      });
    return bundle(vaultId, s, s.value);
  };
  app.get(`${V}/secrets/:secretName`, { schema: { params: SParams, querystring: ApiVersionQuery, tags } }, getSecret);
  app.get(
    `${V}/secrets/:secretName/:version`,
    {
      schema: {
        params: Type.Object({ ...SParams.properties, version: Type.String() }),
        querystring: ApiVersionQuery,
        tags,
      },
    },
    getSecret,
  );

  app.put<{
    Body: { value: string; contentType?: string; tags?: Record<string, string>; attributes?: { enabled?: boolean } };
  }>(
    `${V}/secrets/:secretName`,
    { schema: { params: SParams, querystring: ApiVersionQuery, body: SetBody, tags } },
    async (req) => {
      const vaultId = await vaultFor(req, 'assets/write');
      const p = req.params as VP;
      const m = await vault.set(vaultId, p.secretName, req.body.value, {
        contentType: req.body.contentType,
        tags: req.body.tags,
        enabled: req.body.attributes?.enabled,
      });
      return bundle(vaultId, m, req.body.value);
    },
  );

  app.delete(
    `${V}/secrets/:secretName`,
    { schema: { params: SParams, querystring: ApiVersionQuery, tags } },
    async (req) => {
      const vaultId = await vaultFor(req, 'assets/write');
      const m = await vault.delete(vaultId, (req.params as VP).secretName);
      return { ...bundle(vaultId, m), deletedDate: Math.floor(Date.now() / 1000) };
    },
  );
}

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
  name: string;
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
async function keyRoutes(app: FastifyInstance, opts: Mount & { keys: VaultKeyService }): Promise<void> {
  const { ctx, keys, vaultFor, V, VParams } = opts;
  const KParams = Type.Object({ ...VParams.properties, keyName: Type.String({ maxLength: 127 }) });
  const KVParams = Type.Object({ ...KParams.properties, keyVersion: Type.String({ maxLength: 64 }) });
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
      const vaultId = await vaultFor(req, 'control/write');
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
      const vaultId = await vaultFor(req, 'control/read');
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
      const vaultId = await vaultFor(req, 'control/read');
      return {
        value: (await keys.versions(vaultId, params(req).keyName)).map((m) => item(vaultId, m, true)),
        nextLink: null,
      };
    },
  );

  const get = async (req: FastifyRequest) => {
    const vaultId = await vaultFor(req, 'control/read');
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
    const vaultId = await vaultFor(req, 'control/write');
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
      const vaultId = await vaultFor(req, 'control/write');
      const m = await keys.delete(vaultId, params(req).keyName);
      return { ...bundle(vaultId, m), deletedDate: Math.floor(Date.now() / 1000) };
    },
  );
}

/**
 * The key vault data plane (Key Vault's own protocol, api-version 7.x), below each vault's ARM id:
 * `{vault}/secrets…` and `{vault}/keys…`, the family the vault type declares (`dataPlane`,
 * resources/control-plane-types.ts). Paths and access come from that declaration through the
 * generic router's `dataPlaneResource` (a role on the vault, or on a workspace using it); network
 * access is the app-wide check of the type's `guarded` paths.
 */
export async function keyVaultDataPlane(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx, services } = opts;
  const t = services.types.require(VAULT);
  const { prefix, params } = dataPlaneRoutes(t);
  const mount: Mount = {
    ctx,
    vaultFor: (req, action) => dataPlaneResource(ctx, services, t, req, action),
    V: prefix,
    VParams: Type.Object(params),
  };
  await app.register(secretRoutes, { ...mount, vault: services.assets.vault });
  await app.register(keyRoutes, { ...mount, keys: services.assets.vaultKeys });
}
