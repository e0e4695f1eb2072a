import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../../context.js';
import type { ResourceEngine } from '../../../resources/engine.js';
import type { Action } from '../../../identity/rbac.js';
import { ApiVersionQuery, Tags } from '@atelier/contracts';
import { Forbidden, NotFound } from '../../../errors.js';
import { WORKSPACE } from '../../../resources/workspaces.js';
import { resourceId } from '../../../resources/resource-ids.js';
import { VAULT } from '../../../resources/dependents.js';
import { checkSecretName, type SecretMeta, type VaultSecretService } from '../../../assets/key-vault.js';

/** `{vault ARM id}`: secrets are served below the vault's own id, in Key Vault's data-plane shapes (api-version 7.x). */
export const V =
  '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.KeyVault/vaults/:vaultName';
export const VParams = Type.Object({
  subscriptionId: Type.String(),
  resourceGroupName: Type.String(),
  vaultName: Type.String(),
});
const SParams = Type.Object({
  subscriptionId: Type.String(),
  resourceGroupName: Type.String(),
  vaultName: Type.String(),
  secretName: Type.String({ maxLength: 127 }),
});
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

/**
 * The vault of the request, once the caller may `action` on it — directly (a role on the vault or
 * above) or through a workspace that uses it as its key vault (a role on the workspace), as the
 * seed's `ws.get_default_keyvault()` implies.
 */
export async function vaultFor(
  ctx: AppContext,
  resources: ResourceEngine,
  req: FastifyRequest,
  action: Action,
): Promise<string> {
  const p = req.params as { subscriptionId: string; resourceGroupName: string; vaultName: string };
  const id = resourceId(p.subscriptionId, p.resourceGroupName, VAULT, p.vaultName);
  const missing = `key vault '${p.vaultName}' could not be found`;
  if (!(await ctx.access.can(req.principal.id, id, action))) {
    const users = (await resources.scan({ type: WORKSPACE, subscriptionId: p.subscriptionId })).filter(
      (w) => String(w.properties.keyVault ?? '').toLowerCase() === id.toLowerCase(),
    );
    let allowed = false;
    let visible = await ctx.access.canSee(req.principal.id, id);
    for (const w of users) {
      if (await ctx.access.can(req.principal.id, w.id, action)) allowed = true;
      if (!visible && (await ctx.access.canSee(req.principal.id, w.id))) visible = true;
    }
    if (!allowed) {
      if (!visible) throw new NotFound(missing, { code: 'KEY_VAULT_NOT_FOUND' });
      throw new Forbidden(`the client does not have permission to perform '${action}' on key vault '${p.vaultName}'`);
    }
  }
  const row = await resources.get(id);
  if (!row) throw new NotFound(missing, { code: 'KEY_VAULT_NOT_FOUND' });
  return row.id;
}

interface VP {
  subscriptionId: string;
  resourceGroupName: string;
  vaultName: string;
  secretName: string;
}

/**
 * A key vault's secrets (what `ws.getDefaultKeyvault()` uses). Names and attributes are listed to
 * readers; values are returned only to those allowed `secrets/read`; writes need `assets/write`.
 */
export async function keyVaultRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; vault: VaultSecretService; resources: ResourceEngine },
): Promise<void> {
  const { ctx, vault, resources } = opts;
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
    const vaultId = await vaultFor(ctx, resources, req, 'control/read');
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
    const vaultId = await vaultFor(ctx, resources, req, 'secrets/read');
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
      const vaultId = await vaultFor(ctx, resources, req, 'assets/write');
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
      const vaultId = await vaultFor(ctx, resources, req, 'assets/write');
      const m = await vault.delete(vaultId, (req.params as VP).secretName);
      return { ...bundle(vaultId, m), deletedDate: Math.floor(Date.now() / 1000) };
    },
  );
}
