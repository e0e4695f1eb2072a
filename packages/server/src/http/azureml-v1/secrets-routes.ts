import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import type { VaultSecretService, SecretMeta } from '../../assets/key-vault.js';
import type { WorkspaceInfo } from '../../resources/workspace-info.js';
import type { Action } from '../../identity/rbac.js';
import { InvalidInput, NotFound } from '../../errors.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE, iso } from './common.js';

// (`::` is a literal colon in a route path: `secrets:getbatch`.)
const PREFIX = `/credential/v2.0${V1_WORKSPACE}/secrets`;
const HIDE = { schema: { hide: true } as object };

/**
 * azureml-core's secrets service (`/credential/v2.0/…/secrets`), which `ws.get_default_keyvault()`
 * uses: the secrets of the workspace's own key vault, the same ones `Microsoft.KeyVault` routes
 * and the CLI show. Reading values needs `secrets/read`; setting and deleting `assets/write`.
 */
export async function secretsRoutes(app: FastifyInstance, opts: { ctx: AppContext; vault: VaultSecretService }) {
  const { ctx, vault } = opts;
  const vaultOf = async (req: FastifyRequest, action: Action): Promise<{ ws: WorkspaceInfo; vaultId: string }> => {
    const ws = await workspaceFor(ctx, req, action);
    if (!ws.keyVaultId) throw new NotFound(`workspace '${ws.name}' has no key vault`, { code: 'NOT_FOUND' });
    return { ws, vaultId: ws.keyVaultId };
  };
  const dto = (m: SecretMeta, value?: string) => ({
    name: m.name,
    ...(value !== undefined ? { value } : {}),
    createdTime: iso(m.created),
    modifiedTime: iso(m.updated),
    ...(m.contentType ? { contentType: m.contentType } : {}),
  });
  const one = (b: unknown, target: string): { name: string; value?: unknown; contentType?: unknown } => {
    const o = b as { name?: unknown; value?: unknown; contentType?: unknown } | undefined;
    if (!o || typeof o !== 'object' || typeof o.name !== 'string' || !o.name)
      throw new InvalidInput(`${target}.name must be the secret's name`, { target: `${target}.name` });
    return o as { name: string };
  };
  const batch = (body: unknown): { name: string; value?: unknown; contentType?: unknown }[] => {
    const list = (body as { secrets?: unknown } | undefined)?.secrets;
    if (!Array.isArray(list)) throw new InvalidInput('secrets must be a list of {name, value}', { target: 'secrets' });
    return list.map((s, i) => one(s, `secrets[${i}]`));
  };
  const setAll = async (vaultId: string, items: { name: string; value?: unknown; contentType?: unknown }[]) => {
    // Checked first, then written: a bad item changes nothing.
    for (const [i, s] of items.entries())
      if (typeof s.value !== 'string')
        throw new InvalidInput(`secrets[${i}].value must be a string`, { target: `secrets[${i}].value` });
    const out = [];
    for (const s of items)
      out.push(
        await vault.set(vaultId, s.name, s.value as string, {
          ...(typeof s.contentType === 'string' && s.contentType !== 'NotProvided'
            ? { contentType: s.contentType }
            : {}),
        }),
      );
    return out;
  };

  app.put(PREFIX, HIDE, async (req) => {
    const { vaultId } = await vaultOf(req, 'assets/write');
    const s = one(req.body, 'body');
    const [meta] = await setAll(vaultId, [s]);
    return dto(meta!);
  });
  app.put(`${PREFIX}::putbatch`, HIDE, async (req) => {
    const { vaultId } = await vaultOf(req, 'assets/write');
    const metas = await setAll(vaultId, batch(req.body));
    return { secrets: metas.map((m) => dto(m)), notFoundSecrets: [] };
  });
  app.get(PREFIX, HIDE, async (req) => {
    const { vaultId } = await vaultOf(req, 'data/read');
    const metas = await vault.list(vaultId);
    return { value: metas.map((m) => ({ name: m.name })) };
  });
  app.get<{ Params: { credentialName: string } }>(`${PREFIX}/:credentialName`, HIDE, async (req) => {
    const { vaultId } = await vaultOf(req, 'secrets/read');
    const s = await vault.get(vaultId, req.params.credentialName);
    return dto(s, s.value);
  });
  app.post(`${PREFIX}::getbatch`, HIDE, async (req) => {
    const { vaultId } = await vaultOf(req, 'secrets/read');
    const secrets = [];
    const notFoundSecrets = [];
    for (const s of batch(req.body)) {
      const found = await vault.find(vaultId, s.name);
      if (found) secrets.push(dto(found, found.value));
      else notFoundSecrets.push(s.name);
    }
    return { secrets, notFoundSecrets };
  });
  app.delete<{ Params: { credentialName: string } }>(`${PREFIX}/:credentialName`, HIDE, async (req, reply) => {
    const { vaultId } = await vaultOf(req, 'assets/write');
    await vault.delete(vaultId, req.params.credentialName);
    return reply.status(200).send();
  });
  app.post(`${PREFIX}::deletebatch`, HIDE, async (req, reply) => {
    const { vaultId } = await vaultOf(req, 'assets/write');
    const items = batch(req.body);
    for (const s of items) if (await vault.find(vaultId, s.name)) await vault.delete(vaultId, s.name);
    return reply.status(200).send();
  });
}
