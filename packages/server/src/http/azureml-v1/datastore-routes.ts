import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import {
  SYSTEM_DATASTORES,
  type DatastoreProps,
  type DatastoreService,
  type DatastoreSecrets,
} from '../../assets/datastores.js';
import type { StoredResource } from '../../resources/engine.js';
import type { WorkspaceInfo } from '../../resources/workspace-info.js';
import { InvalidInput, NotFound, NotImplemented } from '../../errors.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const PREFIX = `/datastore/v1.0${V1_WORKSPACE}`;
const HIDE = { schema: { hide: true } as object };
/** Credential kinds of the other registrations whose secret is in the key vault. */
const SEALED = ['ServicePrincipal', 'SqlAdmin', 'KerberosPassword', 'KerberosKeytab'];
/** The section of azureml-core's datastore body that holds each database kind's connection. */
const SQL_SECTION = {
  AzureSqlDatabase: 'azureSqlDatabaseSection',
  AzurePostgreSql: 'azurePostgreSqlSection',
  AzureMySql: 'azureMySqlSection',
} as const;

/**
 * azureml-core's datastore service (`/datastore/v1.0/…`): `ws.datastores`, `Datastore.get`,
 * `ws.get_default_datastore()` / `set_default_datastore()`, over the same datastores as
 * `W/datastores` (ARM). The v1 DTO's `azureStorageSection` carries the account key or SAS token only
 * for a caller allowed `secrets/read` (as ARM's listSecrets). `Datastore.register_azure_blob_container`
 * / `register_azure_file_share` (POST, and PUT for `overwrite=True`) and `datastore.unregister()`
 * (DELETE) go to the same service as ARM PUT/DELETE `W/datastores/{name}`.
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
    const c = (p.credentials ?? {}) as DatastoreProps['credentials'];
    // The secret of a registration goes only to a caller allowed `secrets/read` (as the blob keys):
    // azureml-dataprep's engine reads a SQL datastore's password from this answer.
    const sealed = async (): Promise<Record<string, string>> => {
      if (!SEALED.includes(c.credentialsType) || !(await ctx.access.can(req.principal.id, ws.id, 'secrets/read')))
        return {};
      const s = (await datastores.listSecrets(ws, r.name).catch(() => undefined)) as Record<string, string> | undefined;
      return s ?? {};
    };
    const sp = (s: Record<string, string>) =>
      c.credentialsType === 'ServicePrincipal'
        ? {
            tenantId: c.tenantId,
            clientId: c.clientId,
            authorityUrl: c.authorityUrl ?? null,
            resourceUri: c.resourceUrl ?? null,
            isCertAuth: false,
            ...(s.clientSecret ? { clientSecret: s.clientSecret } : {}),
          }
        : {};
    if (type === 'AzureDataLakeGen1') {
      const s = await sealed();
      out.dataStoreType = 'AzureDataLake';
      out.azureDataLakeSection = {
        storeName: p.storeName,
        subscriptionId: p.subscriptionId ?? null,
        resourceGroup: p.resourceGroup ?? null,
        ServiceDataAccessAuthIdentity: p.serviceDataAccessAuthIdentity ?? 'None',
        ...sp(s),
      };
    } else if (type === 'AzureSqlDatabase' || type === 'AzurePostgreSql' || type === 'AzureMySql') {
      const s = await sealed();
      const section = {
        serverName: p.serverName,
        databaseName: p.databaseName,
        endpoint: p.endpoint,
        portNumber: String(p.portNumber),
        credentialType:
          c.credentialsType === 'SqlAdmin'
            ? 'SqlAuthentication'
            : c.credentialsType === 'ServicePrincipal'
              ? 'ServicePrincipal'
              : 'None',
        ...(c.userId ? { userId: c.userId } : {}),
        ...(s.password ? { userPassword: s.password } : {}),
        ...sp(s),
        ...(type === 'AzurePostgreSql' ? { enableSSL: p.enableSSL !== false } : {}),
        ...(type === 'AzureSqlDatabase' ? { ServiceDataAccessAuthIdentity: 'None' } : {}),
      };
      out[SQL_SECTION[type]] = section;
    } else if (type === 'Dbfs') {
      out.dataStoreType = 'DBFS';
    } else if (type === 'Hdfs') {
      const s = await sealed();
      out.hdfsSection = {
        protocol: p.protocol,
        nameNodeAddress: p.nameNodeAddress,
        hdfsServerCertificate: p.hdfsServerCertificate ?? null,
        kerberosRealm: c.kerberosRealm,
        kerberosKdcAddress: c.kerberosKdcAddress,
        kerberosPrincipal: c.kerberosPrincipal,
        credentialType: c.credentialsType,
        ...(s.kerberosPassword || s.kerberosKeytab ? { credentialValue: s.kerberosPassword ?? s.kerberosKeytab } : {}),
      };
    } else if (type === 'AzureBlob' || type === 'AzureFile' || type === 'AzureDataLakeGen2') {
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
      if (creds === 'ServicePrincipal') {
        // Data Lake Gen2 through a service principal: azureml-core reads `clientCredentials`.
        const s = await sealed();
        out.azureStorageSection = {
          accountName: p.accountName,
          containerName: p.filesystem,
          endpoint,
          protocol: p.protocol ?? 'https',
          credentialType: 'ClientCredentials',
          isSas: false,
          clientCredentials: sp(s),
          subscriptionId: p.subscriptionId,
          resourceGroup: p.resourceGroup,
          serviceDataAccessAuthIdentity: p.serviceDataAccessAuthIdentity ?? 'None',
        };
        return out;
      }
      if (creds && creds !== 'None' && (await ctx.access.can(req.principal.id, ws.id, 'secrets/read')))
        secret = await datastores.listSecrets(ws, r.name, { expirable: !!served }).catch(() => undefined);
      else if (creds && creds !== 'None' && (await ctx.access.can(req.principal.id, ws.id, 'data/read'))) {
        // A Reader reads the data (azureml-dataprep) with a read-only SAS of the container, never the key.
        const sasToken = await datastores.readOnlySas(ws, r.name, req.principal).catch(() => undefined);
        if (sasToken) secret = { secretsType: 'Sas', sasToken };
      }
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
  // Registering, updating and deleting go to the same DatastoreService as ARM's W/datastores/{name}
  // (same validation; the key or SAS token sealed in the workspace's key vault, never stored or returned).
  app.post(`${PREFIX}/datastores`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    const { name, body } = fromV1(req.body);
    if (
      await datastores.get(ws, name).then(
        () => true,
        (e: unknown) => (e instanceof NotFound ? false : Promise.reject(e)),
      )
    )
      // azureml-core's `overwrite=True` recognises this message (400) and sends PUT datastores/{name}.
      throw new InvalidInput(
        `Another datastore with the same name already exists: '${name}'; register it with overwrite=True (PUT datastores/${name}) to update it`,
        { target: 'name' },
      );
    await datastores.put(ws, name, body, req.principal);
    return reply.status(200).send();
  });
  app.put<{ Params: { name: string } }>(`${PREFIX}/datastores/:name`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    const { name, body } = fromV1(req.body, req.params.name);
    await datastores.put(ws, name, body, req.principal);
    return reply.status(200).send();
  });
  app.delete<{ Params: { name: string } }>(`${PREFIX}/datastores/:name`, HIDE, async (req, reply) => {
    const ws = await workspaceFor(ctx, req, 'assets/write');
    if (!(await datastores.delete(ws, req.params.name)))
      throw new NotFound(`datastore '${req.params.name}' was not found in workspace '${ws.name}'`, {
        code: 'NOT_FOUND',
      });
    return reply.status(200).send();
  });
  app.delete(`${PREFIX}/datastores`, HIDE, async () => {
    throw new NotImplemented(
      "deleting all of a workspace's datastores at once is not served; delete them one by one (DELETE datastores/{name}, or ARM W/datastores/{name})",
      { code: 'NOT_IMPLEMENTED' },
    );
  });
}

/**
 * azureml-core's v1 datastore DTO (`Datastore.register_azure_blob_container` /
 * `register_azure_file_share`) as the ARM body of W/datastores/{name}. Only the blob and file-share
 * types with an account key, a SAS token or no credential map onto Atelier's datastores; anything
 * else is refused naming what to send instead.
 */
function fromV1(raw: unknown, pathName?: string): { name: string; body: { properties: Record<string, unknown> } } {
  const b = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const name = String(pathName ?? b.name ?? '').toLowerCase();
  if (!name) throw new InvalidInput('name is required: the datastore to register', { target: 'name' });
  if (pathName && b.name !== undefined && String(b.name).toLowerCase() !== name)
    throw new InvalidInput(`name '${String(b.name)}' differs from the datastore of the path, '${pathName}'`, {
      target: 'name',
    });
  const type = b.dataStoreType;
  const tags = b.tags && typeof b.tags === 'object' ? { tags: b.tags } : {};
  const other = otherKindFromV1(type, b);
  if (other) return { name, body: { properties: { ...other, ...tags } } };
  if (type !== 'AzureBlob' && type !== 'AzureFile' && type !== 'AzureDataLakeGen2')
    throw new InvalidInput(
      `dataStoreType '${String(type)}' is not a datastore kind azureml-core registers; one of AzureBlob, AzureFile, AzureDataLakeGen2, AzureDataLake, AzureSqlDatabase, AzurePostgreSql, AzureMySql, DBFS, Hdfs (S3 and server folders: ARM W/datastores/{name})`,
      { target: 'dataStoreType' },
    );
  const s = b.azureStorageSection;
  if (!s || typeof s !== 'object')
    throw new InvalidInput('azureStorageSection is required: the account, container and credential', {
      target: 'azureStorageSection',
    });
  const a = s as Record<string, unknown>;
  const credType = String(a.credentialType ?? (a.isSas ? 'Sas' : a.credential || a.accountKey ? 'AccountKey' : 'None'));
  let credentials: Record<string, unknown>;
  if (type === 'AzureDataLakeGen2' && credType !== 'ClientCredentials' && credType !== 'None')
    throw new InvalidInput(
      `credentialType '${credType}' is not what register_azure_data_lake_gen2 sends; pass tenant_id, client_id and client_secret (a service principal of this server), or none of them`,
      { target: 'azureStorageSection.credentialType' },
    );
  if (credType === 'ClientCredentials') {
    const cc = (a.clientCredentials ?? {}) as Record<string, unknown>;
    credentials = servicePrincipal(cc, 'azureStorageSection.clientCredentials');
  } else if (credType === 'AccountKey') {
    const key = a.credential ?? a.accountKey;
    if (typeof key !== 'string' || !key)
      throw new InvalidInput('an account key is required with credentialType AccountKey (pass account_key)', {
        target: 'azureStorageSection.credential',
      });
    credentials = { credentialsType: 'AccountKey', secrets: { secretsType: 'AccountKey', key } };
  } else if (credType === 'Sas') {
    const sasToken = a.credential ?? a.sasToken;
    if (typeof sasToken !== 'string' || !sasToken)
      throw new InvalidInput('a SAS token is required with credentialType Sas (pass sas_token)', {
        target: 'azureStorageSection.credential',
      });
    credentials = { credentialsType: 'Sas', secrets: { secretsType: 'Sas', sasToken } };
  } else if (credType === 'None') {
    // azureml-core cannot even list a file-share datastore without a key or SAS token (its ShareClient
    // needs one), so one registered here would break ws.datastores for the whole workspace.
    if (type === 'AzureFile')
      throw new InvalidInput('a file share is registered with its account key here: pass account_key', {
        target: 'azureStorageSection.credential',
      });
    credentials = { credentialsType: 'None' };
  } else
    throw new InvalidInput(
      `credentialType '${credType}' is not served for v1 datastores here; pass account_key, sas_token, or neither (each caller's own access)`,
      { target: 'azureStorageSection.credentialType' },
    );
  const identity = a.ServiceDataAccessAuthIdentity ?? a.serviceDataAccessAuthIdentity;
  const properties: Record<string, unknown> = {
    datastoreType: type,
    accountName: a.accountName,
    [type === 'AzureBlob' ? 'containerName' : type === 'AzureFile' ? 'fileShareName' : 'filesystem']: a.containerName,
    credentials,
    ...(a.endpoint ? { endpoint: a.endpoint } : {}),
    ...(a.protocol ? { protocol: a.protocol } : {}),
    ...(a.subscriptionId ? { subscriptionId: a.subscriptionId } : {}),
    ...(a.resourceGroup ? { resourceGroup: a.resourceGroup } : {}),
    ...(identity ? { serviceDataAccessAuthIdentity: identity } : {}),
    ...tags,
  };
  return { name, body: { properties } };
}

/** A v1 service-principal section (`clientId`, `tenantId`, `clientSecret`, …) as ARM credentials. */
function servicePrincipal(x: Record<string, unknown>, target: string): Record<string, unknown> {
  if (x.isCertAuth === true)
    throw new InvalidInput('certificate authentication of a service principal is not taken; pass its client secret', {
      target: `${target}.isCertAuth`,
    });
  for (const k of ['tenantId', 'clientId', 'clientSecret'])
    if (typeof x[k] !== 'string' || !x[k])
      throw new InvalidInput(`${k} is required: tenant_id, client_id and client_secret go together`, {
        target: `${target}.${k}`,
      });
  return {
    credentialsType: 'ServicePrincipal',
    tenantId: x.tenantId,
    clientId: x.clientId,
    ...(x.authorityUrl ? { authorityUrl: x.authorityUrl } : {}),
    ...(x.resourceUri ? { resourceUrl: x.resourceUri } : {}),
    secrets: { secretsType: 'ServicePrincipal', clientSecret: x.clientSecret },
  };
}

/**
 * azureml-core's other registrations (`register_azure_data_lake`, `register_azure_sql_database`,
 * `register_azure_postgre_sql`, `register_azure_my_sql`, `register_dbfs`, `register_hdfs`) as the
 * ARM properties of W/datastores/{name}; undefined for the storage-account kinds.
 */
function otherKindFromV1(type: unknown, b: Record<string, unknown>): Record<string, unknown> | undefined {
  const section = (key: string): Record<string, unknown> => {
    const x = b[key];
    if (!x || typeof x !== 'object')
      throw new InvalidInput(`${key} is required with dataStoreType ${String(type)}`, { target: key });
    return x as Record<string, unknown>;
  };
  const defined = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  if (type === 'AzureDataLake') {
    const x = section('azureDataLakeSection');
    const identity = x.ServiceDataAccessAuthIdentity ?? x.serviceDataAccessAuthIdentity;
    return defined({
      datastoreType: 'AzureDataLakeGen1',
      storeName: x.storeName,
      subscriptionId: x.subscriptionId,
      resourceGroup: x.resourceGroup,
      serviceDataAccessAuthIdentity: identity,
      credentials:
        x.clientId || x.clientSecret || x.tenantId
          ? servicePrincipal(x, 'azureDataLakeSection')
          : { credentialsType: 'None' },
    });
  }
  if (type === 'AzureSqlDatabase' || type === 'AzurePostgreSql' || type === 'AzureMySql') {
    const key = SQL_SECTION[type];
    const x = section(key);
    const kind = String(
      x.credentialType ?? (x.userId ? 'SqlAuthentication' : x.clientId ? 'ServicePrincipal' : 'None'),
    );
    let credentials: Record<string, unknown>;
    if (kind === 'SqlAuthentication') {
      if (typeof x.userPassword !== 'string' || !x.userPassword)
        throw new InvalidInput('userPassword is required with SQL authentication (pass the user name and password)', {
          target: `${key}.userPassword`,
        });
      credentials = {
        credentialsType: 'SqlAdmin',
        userId: x.userId,
        secrets: { secretsType: 'SqlAdmin', password: x.userPassword },
      };
    } else if (kind === 'ServicePrincipal') credentials = servicePrincipal(x, key);
    else if (kind === 'None') credentials = { credentialsType: 'None' };
    else
      throw new InvalidInput(`credentialType '${kind}' is not one of SqlAuthentication, ServicePrincipal, None`, {
        target: `${key}.credentialType`,
      });
    return defined({
      datastoreType: type,
      serverName: x.serverName,
      databaseName: x.databaseName,
      endpoint: x.endpoint,
      portNumber: x.portNumber,
      ...(type === 'AzurePostgreSql' ? { enableSSL: x.enableSSL } : {}),
      credentials,
    });
  }
  if (type === 'DBFS') return { datastoreType: 'Dbfs', credentials: { credentialsType: 'None' } };
  if (type === 'Hdfs') {
    const x = section('hdfsSection');
    const kind = x.credentialType;
    if (kind !== 'KerberosPassword' && kind !== 'KerberosKeytab')
      throw new InvalidInput(`credentialType '${String(kind)}' is not one of KerberosPassword, KerberosKeytab`, {
        target: 'hdfsSection.credentialType',
      });
    return defined({
      datastoreType: 'Hdfs',
      nameNodeAddress: x.namenodeAddress ?? x.nameNodeAddress,
      protocol: x.protocol,
      hdfsServerCertificate: x.hdfsServerCertificate,
      credentials: {
        credentialsType: kind,
        kerberosRealm: x.kerberosRealm,
        kerberosKdcAddress: x.kerberosKdcAddress,
        kerberosPrincipal: x.kerberosPrincipal,
        secrets:
          kind === 'KerberosPassword'
            ? { secretsType: kind, kerberosPassword: x.credentialValue }
            : { secretsType: kind, kerberosKeytab: x.credentialValue },
      },
    });
  }
  return undefined;
}
