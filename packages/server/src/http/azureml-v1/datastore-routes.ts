import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { SYSTEM_DATASTORES, type DatastoreService, type DatastoreSecrets } from '../../assets/datastores.js';
import type { StoredResource } from '../../resources/engine.js';
import type { WorkspaceInfo } from '../../resources/workspace-info.js';
import { NotImplemented } from '../../errors.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const PREFIX = `/datastore/v1.0${V1_WORKSPACE}`;
const HIDE = { schema: { hide: true } as object };

/**
 * azureml-core's datastore service (`/datastore/v1.0/…`): `ws.datastores`, `Datastore.get`,
 * `ws.get_default_datastore()` / `set_default_datastore()`, over the same datastores as
 * `W/datastores` (ARM). The v1 DTO's `azureStorageSection` carries the account key or SAS token only
 * for a caller allowed `secrets/read` (as ARM's listSecrets). Registering and deleting datastores go
 * through ARM (`W/datastores/{name}`) — azureml-core's own `Datastore.register_*` sends v1 bodies
 * Atelier answers 501 for, naming the ARM route.
 */
export async function datastoreV1Routes(app: FastifyInstance, opts: { ctx: AppContext; datastores: DatastoreService }) {
  const { ctx, datastores } = opts;

  const dto = async (req: FastifyRequest, ws: WorkspaceInfo, r: StoredResource) => {
    const p = r.properties as Record<string, unknown>;
    const type = String(p.datastoreType);
    const out: Record<string, unknown> = {
      name: r.name,
      dataStoreType: type === 'AzureDataLakeGen2' ? 'AzureDataLakeGen2' : type,
      hasBeenValidated: true,
      tags: r.tags ?? {},
    };
    if (type === 'AzureBlob' || type === 'AzureFile' || type === 'AzureDataLakeGen2') {
      let secret: DatastoreSecrets | undefined;
      let creds = (p.credentials as { credentialsType?: string } | undefined)?.credentialsType;
      let endpoint = (p.endpoint as string | undefined) ?? 'core.windows.net';
      // A system blob datastore lives in this server's Blob REST subset: with host-style blob URIs
      // (ATELIER_STORAGE_SUFFIX) azureml-core's Datastore.upload/download reach it there, with a SAS
      // for the container (the subset takes SAS, not Shared Key), as listSecrets(expirableSecret) answers.
      const suffix = ctx.config.storageSuffix;
      const served = suffix && type === 'AzureBlob' && (SYSTEM_DATASTORES as readonly string[]).includes(r.name);
      if (served) {
        const port = new URL(ctx.config.publicUrl).port;
        endpoint = port ? `${suffix}:${port}` : suffix;
      }
      if (creds && creds !== 'None' && (await ctx.access.can(req.principal.id, ws.id, 'secrets/read')))
        secret = await datastores.listSecrets(ws, r.name, { expirable: !!served }).catch(() => undefined);
      if (secret?.secretsType === 'Sas') creds = 'Sas';
      out.azureStorageSection = {
        accountName: p.accountName,
        containerName: p.containerName ?? p.fileShareName ?? p.filesystem,
        endpoint,
        protocol: p.protocol ?? 'https',
        credentialType: creds === 'Sas' ? 'Sas' : creds === 'None' ? 'None' : 'AccountKey',
        isSas: creds === 'Sas',
        ...(secret?.secretsType === 'AccountKey' ? { credential: secret.key, accountKey: secret.key } : {}),
        ...(secret?.secretsType === 'Sas' ? { credential: secret.sasToken, sasToken: secret.sasToken } : {}),
        subscriptionId: p.subscriptionId,
        resourceGroup: p.resourceGroup,
        serviceDataAccessAuthIdentity: p.serviceDataAccessAuthIdentity ?? 'None',
      };
    } else {
      // S3 and server-folder datastores have no v1 section: azureml-core shows them by name and type.
      out.dataStoreType = 'Custom';
      out.customSection = { datastoreType: type };
    }
    return out;
  };

  app.get(`${PREFIX}/datastores`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    await datastores.ensureSystem(ws);
    const q = req.query as { count?: string; continuationToken?: string };
    const top = Math.min(Math.max(Number(q.count) || 100, 1), 1000);
    const page = await datastores.list(ws, { top, ...(q.continuationToken ? { after: q.continuationToken } : {}) });
    const value = [];
    for (const r of page.value) value.push(await dto(req, ws, r));
    return { value, ...(page.hasMore && page.lastKey ? { continuationToken: page.lastKey } : {}) };
  });
  app.get<{ Params: { name: string } }>(`${PREFIX}/datastores/:name`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    return dto(req, ws, await datastores.get(ws, req.params.name));
  });
  app.get(`${PREFIX}/default`, HIDE, async (req) => {
    const ws = await workspaceFor(ctx, req, 'control/read');
    await datastores.ensureSystem(ws);
    return dto(req, ws, await datastores.getDefault(ws));
  });
  app.put<{ Params: { name: string } }>(`${PREFIX}/default/:name`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    await datastores.setDefault(ws, req.params.name, req.principal);
    return reply.status(200).send();
  });
  const viaArm = async () => {
    throw new NotImplemented(
      'registering, updating and deleting datastores through the v1 datastore service is not served; use ARM: PUT/DELETE W/datastores/{name} (azure-ai-ml, the atelier CLI)',
      { code: 'NOT_IMPLEMENTED' },
    );
  };
  app.post(`${PREFIX}/datastores`, HIDE, viaArm);
  app.put(`${PREFIX}/datastores/:name`, HIDE, viaArm);
  app.delete(`${PREFIX}/datastores/:name`, HIDE, viaArm);
  app.delete(`${PREFIX}/datastores`, HIDE, viaArm);
}
