import crypto from 'node:crypto';
import { containerSas } from '../blob-service/access.js';
import fs from 'node:fs';
import path from 'node:path';
import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import { toArmBody, type ResourceEngine, type ResourceDefinition, type StoredResource } from '../resources/engine.js';
import { safeKey } from '../blob/blob-store.js';
import { Conflict, Forbidden, InvalidInput, NotFound } from '../errors.js';
import { originList } from '../config.js';
import type { WorkspaceInfo } from '../resources/workspaces.js';
import type { VaultSecretService } from './key-vault.js';
import type { StorageAccountLookup, StorageAccountRef } from './storage-accounts.js';
import { FolderBackend, S3Backend, StoreBackend, type DatastoreBackend } from './datastore-backends.js';
import { bool, invalid, obj, onlyKeys, str, stringMap, type Obj } from './validate.js';
import { verifySas, type SasNeed } from './sas.js';

interface DatastoreFolderRow {
  /** The folder's real path (folders are case-sensitive: kept as is). */
  path_key: string;
  /** The lower-cased ARM id of the workspace that owns it. */
  workspace_key: string;
  created_at: number;
}
interface DatastoreFolderShareRow {
  path_key: string;
  workspace_key: string;
  shared_by: string;
  created_at: number;
}

declare module '../store/schema.js' {
  interface Tables {
    datastore_folders: DatastoreFolderRow;
    datastore_folder_shares: DatastoreFolderShareRow;
  }
}

/** Whether folder `a` is `b`, or inside it. */
const within = (a: string, b: string): boolean => a === b || a.startsWith(b.endsWith(path.sep) ? b : b + path.sep);

export const DATASTORE_TYPE = 'Microsoft.MachineLearningServices/workspaces/datastores';
export const SYSTEM_DATASTORES = [
  'workspaceblobstore',
  'workspacefilestore',
  'workspaceartifactstore',
  'workspaceworkingdirectory',
] as const;
/**
 * Registrations of services outside this server (azureml-core's other `register_*` kinds): the
 * connection details are kept, the credential sealed in the key vault; their data is read by the
 * client (SQL, through azureml-dataprep's engine) or by a service this server does not host. Their data
 * is not files this server reads or writes (see {@link DatastoreService.backend}).
 */
const EXTERNAL_KINDS = [
  'AzureDataLakeGen1',
  'AzureSqlDatabase',
  'AzurePostgreSql',
  'AzureMySql',
  'Dbfs',
  'Hdfs',
] as const;
export const DATASTORE_TYPES = [
  'AzureBlob',
  'AzureFile',
  'AzureDataLakeGen2',
  'S3',
  'ServerFolder',
  ...EXTERNAL_KINDS,
] as const;
export type DatastoreType = (typeof DATASTORE_TYPES)[number];
export const EXTERNAL_DATASTORE_TYPES: readonly DatastoreType[] = EXTERNAL_KINDS;
/** What holds a kind's data, for messages. */
const EXTERNAL_WHAT: Partial<Record<DatastoreType, string>> = {
  AzureDataLakeGen1: 'an Azure Data Lake Storage Gen1 account (a service this server does not host)',
  AzureSqlDatabase: 'an Azure SQL database: its tables are read by the client (azureml-dataprep), not as files',
  AzurePostgreSql: 'a PostgreSQL database: its tables are read by the client (azureml-dataprep), not as files',
  AzureMySql: 'a MySQL database: its tables are not files',
  Dbfs: 'the Databricks File System of a Databricks workspace (a service this server does not host)',
  Hdfs: 'an HDFS cluster (a service this server does not host)',
};

/** Azure ML's datastore name rule: letters, digits and '_', starting with a letter or digit, at most 255. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_]{0,254}$/;
const ACCOUNT = /^[a-z0-9]{3,24}$/;
const CONTAINER = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export const datastoreDefinition: ResourceDefinition = {
  type: DATASTORE_TYPE,
  checkName(name: string) {
    if (!NAME.test(name))
      throw new InvalidInput(
        `datastore name '${name}' is invalid: use letters, digits and '_' (at most 255), starting with a letter or digit`,
        { code: 'INVALID_DATASTORE_NAME', target: 'name' },
      );
  },
  immutable: [
    'datastoreType',
    'accountName',
    'containerName',
    'fileShareName',
    'filesystem',
    'endpoint',
    'bucket',
    'prefix',
    'path',
  ],
};

/** What is kept of a datastore (never its secrets: those are in the workspace's key vault). */
export interface DatastoreProps {
  datastoreType: DatastoreType;
  description?: string;
  tags: Record<string, string>;
  properties: Record<string, string>;
  isDefault: boolean;
  credentials: {
    credentialsType:
      | 'AccountKey'
      | 'None'
      | 'AccessKey'
      | 'Sas'
      | 'ServicePrincipal'
      | 'SqlAdmin'
      | 'KerberosPassword'
      | 'KerberosKeytab';
    accessKeyId?: string;
    /** ServicePrincipal */
    tenantId?: string;
    clientId?: string;
    authorityUrl?: string;
    resourceUrl?: string;
    /** SqlAdmin */
    userId?: string;
    /** Kerberos* */
    kerberosRealm?: string;
    kerberosKdcAddress?: string;
    kerberosPrincipal?: string;
  };
  accountName?: string;
  containerName?: string;
  fileShareName?: string;
  filesystem?: string;
  endpoint?: string;
  protocol?: string;
  subscriptionId?: string;
  resourceGroup?: string;
  serviceDataAccessAuthIdentity?: string;
  bucket?: string;
  region?: string;
  prefix?: string;
  path?: string;
  [k: string]: unknown;
}

/** How long the SAS of an expirable datastore secret lasts. */
export const EXPIRABLE_SECRET_MINUTES = 60;

/** Secrets of a datastore, in the shapes of `listSecrets` (2025-09-01 `DatastoreSecrets`). */
export type DatastoreSecrets =
  | { secretsType: 'AccountKey'; key: string }
  | { secretsType: 'AccessKey'; secretAccessKey: string }
  | { secretsType: 'Sas'; sasToken: string }
  | { secretsType: 'ServicePrincipal'; clientSecret: string }
  | { secretsType: 'SqlAdmin'; password: string }
  | { secretsType: 'KerberosPassword'; kerberosPassword: string }
  | { secretsType: 'KerberosKeytab'; kerberosKeytab: string };

/** Credential kinds whose secret is sealed in the key vault. */
const SECRET_KINDS = [
  'AccountKey',
  'AccessKey',
  'Sas',
  'ServicePrincipal',
  'SqlAdmin',
  'KerberosPassword',
  'KerberosKeytab',
];

/** Folders an administrator allowed for `ServerFolder` datastores (ATELIER_DATASTORE_ROOTS, path-delimited). */
export function datastoreRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = env.ATELIER_DATASTORE_ROOTS;
  if (!raw) return [];
  return raw
    .split(path.delimiter)
    .filter(Boolean)
    .map((p) => {
      if (!path.isAbsolute(p))
        throw new InvalidInput(`ATELIER_DATASTORE_ROOTS must list absolute folders; '${p}' is not absolute`);
      try {
        return fs.realpathSync(p);
      } catch {
        throw new InvalidInput(
          `ATELIER_DATASTORE_ROOTS lists '${p}', which does not exist; create it or remove it from the list`,
        );
      }
    });
}

/**
 * Origins of the S3-compatible services an administrator allowed for `S3` datastores
 * (ATELIER_S3_ENDPOINTS, comma-separated, e.g. `https://s3.example.com,http://10.0.0.5:9000`).
 * Without it S3 datastores are refused: the server would otherwise connect wherever a user says.
 */
export function s3Endpoints(env: NodeJS.ProcessEnv = process.env): string[] {
  return originList(env.ATELIER_S3_ENDPOINTS, 'ATELIER_S3_ENDPOINTS', 'http(s) origins like https://s3.example.com');
}

export const secretNameOf = (kind: 'datastore' | 'connection', name: string): string =>
  `${kind}-${crypto.createHash('sha256').update(name.toLowerCase()).digest('hex').slice(0, 32)}`;

export class DatastoreService {
  private readonly ensured = new Set<string>();
  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
    readonly accounts: StorageAccountLookup,
    private readonly vault: VaultSecretService,
    readonly roots: string[],
    readonly s3Allowed: string[] = [],
  ) {}

  idOf(ws: WorkspaceInfo, name: string): string {
    return `${ws.id}/datastores/${name}`;
  }

  private vaultOf(ws: WorkspaceInfo): string {
    if (!ws.keyVaultId)
      throw new Conflict(
        `workspace '${ws.name}' has no key vault to keep datastore credentials in; repair it with updateDependencies`,
        { code: 'KEY_VAULT_MISSING' },
      );
    return ws.keyVaultId;
  }

  /** The workspace's own storage account, where the system datastores live. */
  async workspaceAccount(ws: WorkspaceInfo): Promise<StorageAccountRef> {
    const id = ws.storageAccountId;
    const a = id ? await this.accounts.byId(id) : undefined;
    if (!a)
      throw new Conflict(
        `the storage account of workspace '${ws.name}' (${id ?? 'none'}) could not be found; repair it with updateDependencies`,
        { code: 'STORAGE_ACCOUNT_NOT_FOUND' },
      );
    return a;
  }

  /** Creates the system datastores that are missing (at provisioning; again on first use after an upgrade). */
  async ensureSystem(ws: WorkspaceInfo): Promise<void> {
    // System datastores cannot be deleted: once seen, they need no look-up again in this process.
    if (this.ensured.has(ws.id.toLowerCase())) return;
    const existing = await this.engine.list({ type: DATASTORE_TYPE, parentId: ws.id, top: 1000 });
    const have = new Set(existing.value.map((r) => r.name.toLowerCase()));
    if (SYSTEM_DATASTORES.every((n) => have.has(n))) {
      this.ensured.add(ws.id.toLowerCase());
      return;
    }
    const account = await this.workspaceAccount(ws);
    const wsid = ws.workspaceId || ws.name.toLowerCase();
    const identity = ws.systemDatastoresAuthMode.toLowerCase() === 'identity';
    const credentials = { credentialsType: identity ? ('None' as const) : ('AccountKey' as const) };
    const anyDefault = existing.value.some((r) => r.properties.isDefault === true);
    const common = {
      endpoint: 'core.windows.net',
      protocol: 'https',
      serviceDataAccessAuthIdentity: identity ? 'WorkspaceSystemAssignedIdentity' : 'None',
      tags: {},
      properties: {},
      credentials,
      accountName: account.name,
      subscriptionId: account.subscriptionId,
      resourceGroup: account.resource.resourceGroup,
    };
    const defs: Record<string, DatastoreProps> = {
      workspaceblobstore: {
        ...common,
        datastoreType: 'AzureBlob',
        containerName: `azureml-blobstore-${wsid}`,
        isDefault: !anyDefault,
      },
      workspacefilestore: {
        ...common,
        datastoreType: 'AzureFile',
        fileShareName: `azureml-filestore-${wsid}`,
        isDefault: false,
      },
      workspaceartifactstore: { ...common, datastoreType: 'AzureBlob', containerName: 'azureml', isDefault: false },
      workspaceworkingdirectory: {
        ...common,
        datastoreType: 'AzureFile',
        fileShareName: `code-${wsid}`,
        isDefault: false,
      },
    };
    for (const [name, props] of Object.entries(defs)) {
      if (have.has(name)) continue;
      await this.engine
        .put(
          datastoreDefinition,
          this.idOf(ws, name),
          { properties: props as unknown as Record<string, unknown> },
          'system:atelier',
          { ifNoneMatch: '*' },
        )
        .catch((e) => {
          if (!(e instanceof Error && (e as { code?: string }).code === 'PRECONDITION_FAILED')) throw e;
        });
    }
  }

  async get(ws: WorkspaceInfo, name: string): Promise<StoredResource> {
    await this.ensureSystem(ws);
    const r = await this.engine.get(this.idOf(ws, name));
    if (!r)
      throw new NotFound(`datastore '${name}' could not be found in workspace '${ws.name}'`, {
        code: 'DATASTORE_NOT_FOUND',
      });
    return r;
  }

  async list(
    ws: WorkspaceInfo,
    opts: { after?: string; top: number; isDefault?: boolean; names?: string[] },
  ): Promise<{ value: StoredResource[]; hasMore: boolean; lastKey?: string }> {
    await this.ensureSystem(ws);
    const names = opts.names?.map((n) => n.toLowerCase());
    return this.engine.list({
      type: DATASTORE_TYPE,
      parentId: ws.id,
      after: opts.after,
      top: opts.top,
      visible: (r) =>
        (opts.isDefault === undefined || (r.properties.isDefault === true) === opts.isDefault) &&
        (!names || names.includes(r.name.toLowerCase())),
    });
  }

  async getDefault(ws: WorkspaceInfo): Promise<StoredResource> {
    const r = await this.list(ws, { top: 1, isDefault: true });
    if (!r.value[0])
      throw new NotFound(`workspace '${ws.name}' has no default datastore; set one with setDefaultDatastore`, {
        code: 'NO_DEFAULT_DATASTORE',
      });
    return r.value[0];
  }

  /** Makes `name` the only default datastore. */
  async setDefault(ws: WorkspaceInfo, name: string, by: Principal): Promise<StoredResource> {
    const target = await this.get(ws, name);
    DatastoreService.checkCanBeDefault(target.name, target.properties.datastoreType as DatastoreType);
    const all = await this.list(ws, { top: 1000, isDefault: true });
    for (const r of all.value)
      if (r.id.toLowerCase() !== target.id.toLowerCase()) await this.engine.setProperties(r.id, { isDefault: false });
    await this.engine.setProperties(target.id, { isDefault: true });
    void by;
    return (await this.engine.get(target.id))!;
  }

  /**
   * The default datastore is where clients put files (uploads, outputs, datasets without a
   * datastore), so it must hold files this server reads and writes: a database, DBFS, HDFS or Data
   * Lake Gen1 registration cannot be it (Azure ML refuses them too).
   */
  static checkCanBeDefault(name: string, type: DatastoreType): void {
    if (EXTERNAL_DATASTORE_TYPES.includes(type))
      throw new InvalidInput(
        `datastore '${name}' (${type}) cannot be the default datastore: the default receives the workspace's files, and its data is ${EXTERNAL_WHAT[type]}; make a blob container, file share or Data Lake Gen2 datastore the default`,
        { code: 'DATASTORE_CANNOT_BE_DEFAULT', target: 'name' },
      );
  }

  /** ARM PUT. Secrets go to the workspace's key vault; what is stored and returned has none. */
  async put(
    ws: WorkspaceInfo,
    name: string,
    body: { properties?: unknown },
    by: Principal,
    ifMatch?: string,
  ): Promise<{ resource: StoredResource; created: boolean }> {
    datastoreDefinition.checkName(name);
    await this.ensureSystem(ws);
    const id = this.idOf(ws, name);
    const existing = await this.engine.get(id);
    const isSystem = (SYSTEM_DATASTORES as readonly string[]).includes(name.toLowerCase());
    const p = obj(body.properties, 'properties')!;
    const { props, secrets } = await this.validate(
      ws,
      name,
      p,
      existing?.properties as DatastoreProps | undefined,
      isSystem,
      by,
    );
    const vaultId = this.vaultOf(ws);
    const secretName = secretNameOf('datastore', name);
    const previous = secrets ? await this.vault.find(vaultId, secretName) : undefined;
    if (secrets)
      await this.vault.set(vaultId, secretName, JSON.stringify(secrets), {
        contentType: 'application/vnd.atelier.datastore-secrets+json',
        tags: { datastore: name },
      });
    try {
      const out = await this.engine.put(
        datastoreDefinition,
        id,
        { properties: props as unknown as Record<string, unknown> },
        by,
        ifMatch ? { ifMatch } : {},
      );
      if (!secrets && !SECRET_KINDS.includes(props.credentials.credentialsType))
        await this.vault.remove(vaultId, secretName);
      if (props.isDefault) await this.setDefault(ws, name, by);
      return { resource: (await this.engine.get(id))!, created: out.created };
    } catch (e) {
      // Leave the vault as it was.
      if (secrets) {
        if (previous)
          await this.vault.set(vaultId, secretName, previous.value, {
            contentType: previous.contentType,
            tags: previous.tags,
          });
        else await this.vault.remove(vaultId, secretName);
      }
      throw e;
    }
  }

  private async validate(
    ws: WorkspaceInfo,
    name: string,
    p: Obj,
    existing: DatastoreProps | undefined,
    isSystem: boolean,
    by: Principal,
  ): Promise<{ props: DatastoreProps; secrets?: DatastoreSecrets }> {
    const T = 'properties';
    const datastoreType = str(p, 'datastoreType', T, { required: true, oneOf: DATASTORE_TYPES }) as DatastoreType;
    const common = [
      'datastoreType',
      'description',
      'tags',
      'properties',
      'isDefault',
      'credentials',
      'provisioningState',
      'serviceDataAccessAuthIdentity',
      'intellectualProperty',
    ];
    const byType: Record<DatastoreType, string[]> = {
      AzureBlob: ['accountName', 'containerName', 'endpoint', 'protocol', 'subscriptionId', 'resourceGroup'],
      AzureFile: ['accountName', 'fileShareName', 'endpoint', 'protocol', 'subscriptionId', 'resourceGroup'],
      AzureDataLakeGen2: ['accountName', 'filesystem', 'endpoint', 'protocol', 'subscriptionId', 'resourceGroup'],
      S3: ['endpoint', 'bucket', 'region', 'prefix'],
      ServerFolder: ['path'],
      AzureDataLakeGen1: ['storeName', 'subscriptionId', 'resourceGroup'],
      AzureSqlDatabase: ['serverName', 'databaseName', 'endpoint', 'portNumber'],
      AzurePostgreSql: ['serverName', 'databaseName', 'endpoint', 'portNumber', 'enableSSL'],
      AzureMySql: ['serverName', 'databaseName', 'endpoint', 'portNumber'],
      Dbfs: [],
      Hdfs: ['nameNodeAddress', 'protocol', 'hdfsServerCertificate'],
    };
    onlyKeys(p, [...common, ...byType[datastoreType]], T);
    if (existing && existing.datastoreType !== datastoreType)
      throw invalid(
        `${T}.datastoreType`,
        `cannot change from ${existing.datastoreType} to ${datastoreType}; delete the datastore and create it again`,
      );
    const props: DatastoreProps = {
      datastoreType,
      description: str(p, 'description', T, { max: 5000 }),
      tags: stringMap(p, 'tags', T) ?? {},
      properties: stringMap(p, 'properties', T) ?? {},
      isDefault: bool(p, 'isDefault', T) ?? existing?.isDefault ?? false,
      credentials: { credentialsType: 'None' },
    };
    if (props.description === undefined) delete props.description;
    const cred = obj(p.credentials, `${T}.credentials`, false);
    const credType = cred
      ? str(cred, 'credentialsType', `${T}.credentials`, {
          required: true,
          oneOf: [
            'AccountKey',
            'None',
            'AccessKey',
            'Sas',
            'ServicePrincipal',
            'Certificate',
            'NoneCredentials',
            'SqlAdmin',
            'KerberosPassword',
            'KerberosKeytab',
          ],
        })
      : undefined;
    let secrets: DatastoreSecrets | undefined;
    const secretsObj = cred ? obj(cred.secrets, `${T}.credentials.secrets`, false) : undefined;

    if (isSystem) {
      // System datastores keep what provisioning gave them; only description, tags and isDefault change.
      if (!existing) throw invalid('name', 'is reserved for the system datastores');
      return {
        props: {
          ...existing,
          description: props.description,
          tags: props.tags,
          properties: props.properties,
          isDefault: props.isDefault,
        },
      };
    }

    if (props.isDefault) DatastoreService.checkCanBeDefault(name, datastoreType);
    if (EXTERNAL_DATASTORE_TYPES.includes(datastoreType)) {
      secrets = this.validateExternal(datastoreType, p, props, cred, credType, secretsObj, existing);
    } else if (
      datastoreType === 'AzureBlob' ||
      datastoreType === 'AzureFile' ||
      datastoreType === 'AzureDataLakeGen2'
    ) {
      props.accountName = str(p, 'accountName', T, {
        required: true,
        pattern: ACCOUNT,
        rule: 'must be 3–24 lower-case letters and digits',
      });
      if (datastoreType === 'AzureBlob')
        props.containerName = str(p, 'containerName', T, {
          required: true,
          pattern: CONTAINER,
          rule: 'must be 3–63 lower-case letters, digits and single hyphens',
        });
      if (datastoreType === 'AzureFile')
        props.fileShareName = str(p, 'fileShareName', T, {
          required: true,
          pattern: CONTAINER,
          rule: 'must be 3–63 lower-case letters, digits and single hyphens',
        });
      if (datastoreType === 'AzureDataLakeGen2')
        props.filesystem = str(p, 'filesystem', T, {
          required: true,
          pattern: CONTAINER,
          rule: 'must be 3–63 lower-case letters, digits and single hyphens',
        });
      props.endpoint = str(p, 'endpoint', T, { max: 200 }) ?? 'core.windows.net';
      props.protocol = str(p, 'protocol', T, { oneOf: ['https', 'http', 'wasbs', 'abfss'] }) ?? 'https';
      props.serviceDataAccessAuthIdentity =
        str(p, 'serviceDataAccessAuthIdentity', T, {
          oneOf: ['None', 'WorkspaceSystemAssignedIdentity', 'WorkspaceUserAssignedIdentity'],
        }) ?? 'None';
      const sub = str(p, 'subscriptionId', T, { max: 36 });
      const rg = str(p, 'resourceGroup', T, { max: 90 });
      const account = await this.accounts.byName(props.accountName!, sub, rg);
      const notFound = () =>
        invalid(
          `${T}.accountName`,
          `storage account '${props.accountName}' could not be found${sub ? ` in subscription ${sub}` : ''}; create it first or check the name`,
        );
      if (!account) throw notFound();
      // A caller with no role on the account learns nothing of it (that it exists, its group) unless
      // they prove they may use it with its key or a SAS token of it; the datastore already made
      // on it shows it anyway.
      const known = existing?.accountName === account.name || (await this.ctx.access.canSee(by.id, account.id));
      if (!known && !(await this.provesAccess(account, props, credType, secretsObj))) throw notFound();
      props.subscriptionId = account.subscriptionId;
      props.resourceGroup = account.resource.resourceGroup;
      if (credType === 'AccountKey') {
        if (secretsObj) {
          onlyKeys(secretsObj, ['secretsType', 'key'], `${T}.credentials.secrets`);
          const key = str(secretsObj, 'key', `${T}.credentials.secrets`, { required: true, max: 200 })!;
          const keys = await this.accounts.accessKeys(account);
          if (!keys.includes(key))
            throw invalid(
              `${T}.credentials.secrets.key`,
              `is not an access key of storage account '${account.name}'; use one of the keys listed by its listKeys action`,
            );
          secrets = { secretsType: 'AccountKey', key };
        } else if (existing?.credentials.credentialsType !== 'AccountKey') {
          throw invalid(
            `${T}.credentials.secrets`,
            "is required with credentialsType AccountKey: send { secretsType: 'AccountKey', key: '<account key>' }",
          );
        }
        props.credentials = { credentialsType: 'AccountKey' };
      } else if (credType === 'Sas') {
        if (datastoreType === 'AzureFile')
          throw invalid(
            `${T}.credentials.credentialsType`,
            'Sas credentials are supported for blob containers (AzureBlob, AzureDataLakeGen2) here; use AccountKey or None for a file share',
          );
        const container = (props.containerName ?? props.filesystem)!;
        if (secretsObj) {
          onlyKeys(secretsObj, ['secretsType', 'sasToken'], `${T}.credentials.secrets`);
          const sasToken = str(secretsObj, 'sasToken', `${T}.credentials.secrets`, {
            required: true,
            max: 2000,
          })!.replace(/^\?/, '');
          // Signed by a current key of the account, for this container, not expired.
          verifySas(
            sasToken,
            { account: account.name, container, keys: await this.accounts.accessKeys(account) },
            `${T}.credentials.secrets.sasToken`,
          );
          secrets = { secretsType: 'Sas', sasToken };
        } else if (existing?.credentials.credentialsType !== 'Sas') {
          throw invalid(
            `${T}.credentials.secrets`,
            "is required with credentialsType Sas: send { secretsType: 'Sas', sasToken: '<token from the storage account's listServiceSas>' }",
          );
        }
        props.credentials = { credentialsType: 'Sas' };
      } else if (credType === undefined || credType === 'None' || credType === 'NoneCredentials') {
        // Identity-based access: each caller's own rights on the storage account decide.
        props.credentials = { credentialsType: 'None' };
      } else if (credType === 'ServicePrincipal' && datastoreType === 'AzureDataLakeGen2') {
        // A service principal of this server (azureml-core's register_azure_data_lake_gen2 with
        // tenant_id / client_id / client_secret): its secret must be one of its current secrets, and
        // every use checks it again and the principal's own rights on the storage account.
        const sp = this.servicePrincipalCredentials(cred!, secretsObj, existing);
        if (
          sp.secrets &&
          !(await this.ctx.principals.checkClientSecret(sp.credentials.clientId!, sp.secrets.clientSecret))
        )
          throw invalid(
            `${T}.credentials.secrets.clientSecret`,
            `is not a current secret of service principal '${sp.credentials.clientId}' of this server; use a secret of a service principal that has a role on storage account '${account.name}'`,
          );
        props.credentials = sp.credentials;
        secrets = sp.secrets;
      } else {
        throw invalid(
          `${T}.credentials.credentialsType`,
          `${credType} credentials are not supported for ${datastoreType} datastores here; use AccountKey (with the account's key), Sas (a token from the account's listServiceSas) or None (each caller's own access to the storage account)`,
        );
      }
    } else if (datastoreType === 'S3') {
      const endpoint = str(p, 'endpoint', T, { required: true, max: 500 })!;
      let u: URL;
      try {
        u = new URL(endpoint);
      } catch {
        throw invalid(
          `${T}.endpoint`,
          `must be an http(s) URL of an S3-compatible service, e.g. https://s3.example.com; got '${endpoint}'`,
        );
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(`${T}.endpoint`, 'must use http or https');
      if (u.username || u.password)
        throw invalid(`${T}.endpoint`, 'must not contain credentials; send them in properties.credentials');
      if (!this.s3Allowed.includes(u.origin)) {
        throw invalid(
          `${T}.endpoint`,
          this.s3Allowed.length
            ? `${u.origin} is not one of the S3 endpoints allowed by the administrator (ATELIER_S3_ENDPOINTS): ${this.s3Allowed.join(', ')}`
            : 'S3 datastores are disabled: an administrator must list the allowed S3 endpoints in ATELIER_S3_ENDPOINTS',
        );
      }
      props.endpoint = endpoint.replace(/\/+$/, '');
      props.bucket = str(p, 'bucket', T, {
        required: true,
        pattern: BUCKET,
        rule: 'must be 3–63 lower-case letters, digits, dots and hyphens',
      });
      props.region =
        str(p, 'region', T, { max: 50, pattern: /^[a-z0-9-]+$/, rule: "must be a region name like 'us-east-1'" }) ??
        'us-east-1';
      const prefix = str(p, 'prefix', T, { max: 500 });
      if (prefix !== undefined) props.prefix = safeKey(prefix, `${T}.prefix`);
      if (credType !== 'AccessKey')
        throw invalid(
          `${T}.credentials`,
          "S3 datastores need { credentialsType: 'AccessKey', accessKeyId, secrets: { secretsType: 'AccessKey', secretAccessKey } }",
        );
      onlyKeys(cred!, ['credentialsType', 'accessKeyId', 'secrets'], `${T}.credentials`);
      const accessKeyId = str(cred!, 'accessKeyId', `${T}.credentials`, { required: true, max: 128 })!;
      props.credentials = { credentialsType: 'AccessKey', accessKeyId };
      let secretAccessKey: string | undefined;
      if (secretsObj) {
        onlyKeys(secretsObj, ['secretsType', 'secretAccessKey'], `${T}.credentials.secrets`);
        secretAccessKey = str(secretsObj, 'secretAccessKey', `${T}.credentials.secrets`, { required: true, max: 256 });
        secrets = { secretsType: 'AccessKey', secretAccessKey: secretAccessKey! };
      } else if (existing?.credentials.credentialsType === 'AccessKey') {
        const old = await this.vault.find(this.vaultOf(ws), secretNameOf('datastore', name));
        secretAccessKey = old ? (JSON.parse(old.value) as { secretAccessKey: string }).secretAccessKey : undefined;
      }
      if (!secretAccessKey) throw invalid(`${T}.credentials.secrets.secretAccessKey`, 'is required');
      // A datastore that cannot reach its bucket is refused now, not at the first upload.
      const probe = new S3Backend(this.ctx.blobs, {
        endpoint: props.endpoint,
        bucket: props.bucket!,
        region: props.region,
        prefix: props.prefix ?? '',
        accessKeyId,
        secretAccessKey,
      });
      await probe.check();
    } else {
      // ServerFolder
      if (credType && credType !== 'None')
        throw invalid(`${T}.credentials`, 'server folders take no credentials; leave credentials out');
      const folder = str(p, 'path', T, { required: true, max: 1000 })!;
      props.path = this.checkServerFolder(folder);
      await this.claimFolder(ws, props.path, by);
    }
    return { props, secrets };
  }

  /** ServicePrincipal credentials (ARM `ServicePrincipalDatastoreCredentials`); the secret only when sent. */
  private servicePrincipalCredentials(
    cred: Obj,
    secretsObj: Obj | undefined,
    existing: DatastoreProps | undefined,
  ): {
    credentials: DatastoreProps['credentials'];
    secrets?: { secretsType: 'ServicePrincipal'; clientSecret: string };
  } {
    const C = 'properties.credentials';
    onlyKeys(cred, ['credentialsType', 'tenantId', 'clientId', 'authorityUrl', 'resourceUrl', 'secrets'], C);
    const credentials: DatastoreProps['credentials'] = {
      credentialsType: 'ServicePrincipal',
      tenantId: str(cred, 'tenantId', C, { required: true, max: 100 }),
      clientId: str(cred, 'clientId', C, { required: true, max: 200 }),
    };
    const authorityUrl = str(cred, 'authorityUrl', C, { max: 500 });
    const resourceUrl = str(cred, 'resourceUrl', C, { max: 500 });
    if (authorityUrl) credentials.authorityUrl = authorityUrl;
    if (resourceUrl) credentials.resourceUrl = resourceUrl;
    if (secretsObj) {
      onlyKeys(secretsObj, ['secretsType', 'clientSecret'], `${C}.secrets`);
      const clientSecret = str(secretsObj, 'clientSecret', `${C}.secrets`, { required: true, max: 1000 })!;
      return { credentials, secrets: { secretsType: 'ServicePrincipal', clientSecret } };
    }
    if (existing?.credentials.credentialsType !== 'ServicePrincipal')
      throw invalid(
        `${C}.secrets`,
        "is required with credentialsType ServicePrincipal: send { secretsType: 'ServicePrincipal', clientSecret: '<secret>' }",
      );
    return { credentials };
  }

  /**
   * The kinds registered for services outside this server: the connection details are checked for
   * shape (the service cannot be reached from here to check more) and the credential's secret goes
   * to the key vault. Fills `props`; answers the secrets to seal (none when an update keeps them).
   */
  private validateExternal(
    type: DatastoreType,
    p: Obj,
    props: DatastoreProps,
    cred: Obj | undefined,
    credType: string | undefined,
    secretsObj: Obj | undefined,
    existing: DatastoreProps | undefined,
  ): DatastoreSecrets | undefined {
    const T = 'properties';
    const C = `${T}.credentials`;
    const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
    const keep = (kind: string) => existing?.credentials.credentialsType === kind;
    const needSecret = (kind: string, field: string) =>
      invalid(
        `${C}.secrets`,
        `is required with credentialsType ${kind}: send { secretsType: '${kind}', ${field}: '…' }`,
      );
    const allowed: Record<string, string[]> = {
      AzureDataLakeGen1: ['ServicePrincipal', 'None'],
      AzureSqlDatabase: ['SqlAdmin', 'ServicePrincipal', 'None'],
      AzurePostgreSql: ['SqlAdmin'],
      AzureMySql: ['SqlAdmin'],
      Dbfs: ['None'],
      Hdfs: ['KerberosPassword', 'KerberosKeytab'],
    };
    const kind = credType === 'NoneCredentials' || credType === undefined ? 'None' : credType;
    if (!allowed[type]!.includes(kind))
      throw invalid(
        `${C}.credentialsType`,
        `${kind} credentials are not taken for ${type} datastores; use ${allowed[type]!.join(' or ')}`,
      );
    if (type === 'AzureDataLakeGen1') {
      props.storeName = str(p, 'storeName', T, {
        required: true,
        pattern: /^[a-z0-9]{3,24}$/,
        rule: 'must be 3–24 lower-case letters and digits (the Data Lake Store account)',
      });
      const sub = str(p, 'subscriptionId', T, { max: 36 });
      const rg = str(p, 'resourceGroup', T, { max: 90 });
      if (sub) props.subscriptionId = sub;
      if (rg) props.resourceGroup = rg;
      props.serviceDataAccessAuthIdentity =
        str(p, 'serviceDataAccessAuthIdentity', T, {
          oneOf: ['None', 'WorkspaceSystemAssignedIdentity', 'WorkspaceUserAssignedIdentity'],
        }) ?? 'None';
    } else if (type === 'AzureSqlDatabase' || type === 'AzurePostgreSql' || type === 'AzureMySql') {
      props.serverName = str(p, 'serverName', T, {
        required: true,
        pattern: HOST,
        rule: 'must be a server name (letters, digits, dots and hyphens)',
      });
      props.databaseName = str(p, 'databaseName', T, { required: true, max: 128 });
      const defaults = {
        AzureSqlDatabase: ['database.windows.net', 1433],
        AzurePostgreSql: ['postgres.database.azure.com', 5432],
        AzureMySql: ['mysql.database.azure.com', 3306],
      } as const;
      props.endpoint =
        str(p, 'endpoint', T, { pattern: HOST, rule: 'must be a DNS suffix like database.windows.net' }) ??
        defaults[type][0];
      const port = p.portNumber ?? defaults[type][1];
      const n = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535)
        throw invalid(`${T}.portNumber`, 'must be a port number (1–65535)');
      props.portNumber = n;
      if (type === 'AzurePostgreSql') props.enableSSL = bool(p, 'enableSSL', T) ?? true;
    } else if (type === 'Hdfs') {
      props.nameNodeAddress = str(p, 'nameNodeAddress', T, {
        required: true,
        pattern: /^[A-Za-z0-9.-]+(:\d{1,5})?$/,
        rule: 'must be the namenode host name or address, optionally with a port',
      });
      props.protocol = str(p, 'protocol', T, { oneOf: ['http', 'https'] }) ?? 'http';
      const cert = str(p, 'hdfsServerCertificate', T, { max: 20_000 });
      if (cert) props.hdfsServerCertificate = cert;
    }

    if (kind === 'None') {
      props.credentials = { credentialsType: 'None' };
      return undefined;
    }
    if (kind === 'ServicePrincipal') {
      const sp = this.servicePrincipalCredentials(cred!, secretsObj, existing);
      props.credentials = sp.credentials;
      return sp.secrets;
    }
    if (kind === 'SqlAdmin') {
      onlyKeys(cred!, ['credentialsType', 'userId', 'secrets'], C);
      props.credentials = {
        credentialsType: 'SqlAdmin',
        userId: str(cred!, 'userId', C, { required: true, max: 128 }),
      };
      if (secretsObj) {
        onlyKeys(secretsObj, ['secretsType', 'password'], `${C}.secrets`);
        return {
          secretsType: 'SqlAdmin',
          password: str(secretsObj, 'password', `${C}.secrets`, { required: true, max: 1000 })!,
        };
      }
      if (!keep('SqlAdmin')) throw needSecret('SqlAdmin', 'password');
      return undefined;
    }
    // Kerberos
    onlyKeys(cred!, ['credentialsType', 'kerberosRealm', 'kerberosKdcAddress', 'kerberosPrincipal', 'secrets'], C);
    props.credentials = {
      credentialsType: kind as 'KerberosPassword' | 'KerberosKeytab',
      kerberosRealm: str(cred!, 'kerberosRealm', C, { required: true, max: 255 }),
      kerberosKdcAddress: str(cred!, 'kerberosKdcAddress', C, { required: true, max: 255 }),
      kerberosPrincipal: str(cred!, 'kerberosPrincipal', C, { required: true, max: 255 }),
    };
    const field = kind === 'KerberosPassword' ? 'kerberosPassword' : 'kerberosKeytab';
    if (secretsObj) {
      onlyKeys(secretsObj, ['secretsType', field], `${C}.secrets`);
      const v = str(secretsObj, field, `${C}.secrets`, {
        required: true,
        max: kind === 'KerberosKeytab' ? 100_000 : 1000,
      })!;
      return kind === 'KerberosPassword'
        ? { secretsType: 'KerberosPassword', kerberosPassword: v }
        : { secretsType: 'KerberosKeytab', kerberosKeytab: v };
    }
    if (!keep(kind)) throw needSecret(kind, field);
    return undefined;
  }

  /** Whether the datastore's secrets are a current key of the account, or a valid SAS token for its container. */
  private async provesAccess(
    account: StorageAccountRef,
    props: DatastoreProps,
    credType: string | undefined,
    secretsObj: Obj | undefined,
  ): Promise<boolean> {
    const keys = await this.accounts.accessKeys(account);
    if (credType === 'AccountKey') return typeof secretsObj?.key === 'string' && keys.includes(secretsObj.key);
    if (credType === 'Sas' && typeof secretsObj?.sasToken === 'string') {
      try {
        verifySas(
          secretsObj.sasToken.replace(/^\?/, ''),
          { account: account.name, container: (props.containerName ?? props.filesystem ?? props.fileShareName)!, keys },
          'sasToken',
        );
        return true;
      } catch {
        return false;
      }
    }
    return false;
  }

  /** A server folder must be an existing folder inside one the administrator allowed. */
  checkServerFolder(folder: string): string {
    if (this.roots.length === 0)
      throw invalid(
        'properties.path',
        'server-folder datastores are disabled: an administrator must list the allowed folders in ATELIER_DATASTORE_ROOTS',
      );
    if (!path.isAbsolute(folder)) throw invalid('properties.path', `must be an absolute folder path; got '${folder}'`);
    let real: string;
    try {
      real = fs.realpathSync(folder);
    } catch {
      throw invalid('properties.path', `folder '${folder}' does not exist on the server`);
    }
    if (!fs.statSync(real).isDirectory()) throw invalid('properties.path', `'${folder}' is not a folder`);
    if (!this.roots.some((r) => real === r || real.startsWith(r + path.sep)))
      throw invalid(
        'properties.path',
        `'${folder}' is outside the folders allowed by the administrator (ATELIER_DATASTORE_ROOTS)`,
      );
    return real;
  }

  /**
   * A server folder, with everything inside it, belongs to the workspace that registered it first.
   * Another workspace may use it (or a folder inside or around it) only once an administrator (Owner
   * at the root scope) shared it, which registering the datastore themselves does. The first use
   * makes the workspace the owner of a folder nobody owns (also for datastores made before owners
   * were kept). Throws Forbidden otherwise, without naming the owner.
   */
  async claimFolder(ws: WorkspaceInfo, folder: string, by: Principal | undefined): Promise<void> {
    const mine = ws.id.toLowerCase();
    for (let attempt = 0; ; attempt++) {
      const owners = (await this.ctx.db.selectFrom('datastore_folders').selectAll().execute()).filter(
        (o) => within(folder, o.path_key) || within(o.path_key, folder),
      );
      const foreign = owners.filter((o) => o.workspace_key !== mine);
      if (foreign.length) {
        const shares = await this.ctx.db
          .selectFrom('datastore_folder_shares')
          .select('path_key')
          .where('workspace_key', '=', mine)
          .execute();
        if (shares.some((s) => within(folder, s.path_key))) return;
        if (by && (await this.ctx.access.can(by.id, '/', 'access/write'))) {
          await this.ctx.db
            .insertInto('datastore_folder_shares')
            .values({ path_key: folder, workspace_key: mine, shared_by: by.id, created_at: Date.now() })
            .onConflict((oc) => oc.doNothing())
            .execute();
          return;
        }
        throw new Forbidden(
          `folder '${folder}' belongs to the server-folder datastores of another workspace (a folder is one workspace's, with everything inside it); an administrator (Owner at the root scope) can share it with this workspace by registering the datastore here`,
          { code: 'SERVER_FOLDER_OF_ANOTHER_WORKSPACE', target: 'properties.path' },
        );
      }
      if (owners.some((o) => within(folder, o.path_key))) return;
      try {
        await this.ctx.db
          .insertInto('datastore_folders')
          .values({ path_key: folder, workspace_key: mine, created_at: Date.now() })
          .execute();
        return;
      } catch (e) {
        // Another workspace claimed the same folder at the same moment: look again.
        if (attempt > 0) throw e;
      }
    }
  }

  /** The workspace is being deleted: its folders and the shares it was given are free again. */
  async releaseFolders(ws: WorkspaceInfo): Promise<void> {
    const mine = ws.id.toLowerCase();
    await this.ctx.db.deleteFrom('datastore_folders').where('workspace_key', '=', mine).execute();
    await this.ctx.db.deleteFrom('datastore_folder_shares').where('workspace_key', '=', mine).execute();
  }

  async delete(ws: WorkspaceInfo, name: string): Promise<boolean> {
    const r = await this.engine.get(this.idOf(ws, name));
    if (!r) return false;
    if ((SYSTEM_DATASTORES as readonly string[]).includes(r.name.toLowerCase()))
      throw new Conflict(`'${r.name}' is a system datastore of the workspace and cannot be deleted`, {
        code: 'DATASTORE_PROTECTED',
      });
    if (r.properties.isDefault === true)
      throw new Conflict(`'${r.name}' is the default datastore; make another one the default first`, {
        code: 'DATASTORE_PROTECTED',
      });
    const deleted = await this.engine.delete(r.id);
    if (ws.keyVaultId) await this.vault.remove(ws.keyVaultId, secretNameOf('datastore', r.name));
    return deleted;
  }

  /** Removes the key-vault secrets of the workspace's datastores (the workspace is being deleted). */
  async forgetSecrets(ws: WorkspaceInfo): Promise<void> {
    this.ensured.delete(ws.id.toLowerCase());
    if (!ws.keyVaultId) return;
    const all = await this.engine.list({ type: DATASTORE_TYPE, parentId: ws.id, top: 100_000 });
    for (const r of all.value) await this.vault.remove(ws.keyVaultId, secretNameOf('datastore', r.name));
  }

  /**
   * `POST …/listSecrets`. `expirable` (the body's `expirableSecret`, what azure-ai-ml asks for before
   * an upload): a system blob datastore answers a SAS for its container (read, add, create, write,
   * delete, list; {@link EXPIRABLE_SECRET_MINUTES} minutes) instead of the account key, as Azure does —
   * the Blob REST subset takes SAS credentials, not Shared Key.
   */
  async listSecrets(ws: WorkspaceInfo, name: string, opts: { expirable?: boolean } = {}): Promise<DatastoreSecrets> {
    const r = await this.get(ws, name);
    const props = r.properties as DatastoreProps;
    if (
      (SYSTEM_DATASTORES as readonly string[]).includes(r.name.toLowerCase()) &&
      props.credentials.credentialsType === 'AccountKey'
    ) {
      const account = await this.workspaceAccount(ws);
      const keys = await this.accounts.accessKeys(account);
      if (!keys[0])
        throw new Conflict(`the workspace's storage account has no keys`, { code: 'STORAGE_ACCOUNT_HAS_NO_KEYS' });
      if (opts.expirable && props.datastoreType === 'AzureBlob' && props.containerName && props.accountName)
        return {
          secretsType: 'Sas',
          sasToken: containerSas(
            {
              account: props.accountName,
              container: props.containerName,
              permissions: 'racwdl',
              expiry: new Date(Date.now() + EXPIRABLE_SECRET_MINUTES * 60_000),
            },
            keys[0],
          ),
        };
      return { secretsType: 'AccountKey', key: keys[0] };
    }
    if (props.credentials.credentialsType === 'None')
      throw new InvalidInput(`datastore '${r.name}' has no secrets (it uses each caller's identity)`, {
        code: 'DATASTORE_HAS_NO_SECRETS',
      });
    const s = await this.vault.find(this.vaultOf(ws), secretNameOf('datastore', r.name));
    if (!s)
      throw new Conflict(
        `the secrets of datastore '${r.name}' are missing from the workspace's key vault; set its credentials again`,
        { code: 'DATASTORE_SECRETS_MISSING' },
      );
    return JSON.parse(s.value) as DatastoreSecrets;
  }

  /**
   * A read-only SAS (read, list; {@link EXPIRABLE_SECRET_MINUTES} minutes) for the container of a
   * blob datastore, for a caller who may read the workspace's data but not its secrets (Reader):
   * what azureml-dataprep's engine needs to read a dataset's files, and no more — never the
   * datastore's key or token. The caller's read is checked as for any read ({@link backend}: a
   * rotated key or expired token of the datastore refuses it). Undefined for other kinds.
   */
  async readOnlySas(ws: WorkspaceInfo, name: string, principal: Principal): Promise<string | undefined> {
    const r = await this.get(ws, name);
    const props = r.properties as DatastoreProps;
    if (props.datastoreType !== 'AzureBlob' && props.datastoreType !== 'AzureDataLakeGen2') return undefined;
    if (!['AccountKey', 'Sas'].includes(props.credentials.credentialsType)) return undefined;
    await this.backend(ws, name, principal, 'read');
    const system = (SYSTEM_DATASTORES as readonly string[]).includes(r.name.toLowerCase());
    const account = system
      ? await this.workspaceAccount(ws)
      : await this.accounts.byName(props.accountName!, props.subscriptionId, props.resourceGroup);
    const key = account ? (await this.accounts.accessKeys(account))[0] : undefined;
    if (!account || !key) return undefined;
    return containerSas(
      {
        account: account.name,
        container: (props.containerName ?? props.filesystem)!,
        permissions: 'rl',
        expiry: new Date(Date.now() + EXPIRABLE_SECRET_MINUTES * 60_000),
      },
      key,
    );
  }

  /**
   * Where the datastore's bytes are, for a caller who may `mode` the workspace's data. Identity-based
   * datastores on a storage account also need the caller's own right on that account; key-based
   * ones need their key to still be one of the account's keys.
   */
  async backend(
    ws: WorkspaceInfo,
    name: string,
    principal: Principal,
    mode: 'read' | 'write' | 'delete',
  ): Promise<DatastoreBackend> {
    const r = await this.get(ws, name);
    const props = r.properties as DatastoreProps;
    const system = (SYSTEM_DATASTORES as readonly string[]).includes(r.name.toLowerCase());
    if (EXTERNAL_DATASTORE_TYPES.includes(props.datastoreType))
      throw new Conflict(
        `datastore '${r.name}' holds no files this server can ${mode}: its data is ${EXTERNAL_WHAT[props.datastoreType]}`,
        { code: 'DATASTORE_NOT_FILES' },
      );
    switch (props.datastoreType) {
      case 'AzureBlob':
      case 'AzureFile':
      case 'AzureDataLakeGen2': {
        const account = system
          ? await this.workspaceAccount(ws)
          : await this.accounts.byName(props.accountName!, props.subscriptionId, props.resourceGroup);
        if (!account)
          throw new Conflict(`the storage account '${props.accountName}' of datastore '${r.name}' no longer exists`, {
            code: 'DATASTORE_UNAVAILABLE',
          });
        if (!system && props.credentials.credentialsType === 'None') {
          const action = mode === 'read' ? 'data/read' : 'data/write';
          if (!(await this.ctx.access.can(principal.id, account.id, action))) {
            throw new Forbidden(
              `datastore '${r.name}' uses the caller's identity, and you lack '${action}' on storage account '${account.name}'; ask for a role on it`,
            );
          }
        } else if (!system && props.credentials.credentialsType === 'ServicePrincipal') {
          // Checked on every use: the secret may have expired or been deleted, the principal
          // disabled, its role on the account removed.
          const s = (await this.listSecrets(ws, r.name)) as { clientSecret?: string };
          const sp = s.clientSecret
            ? await this.ctx.principals.checkClientSecret(props.credentials.clientId!, s.clientSecret)
            : undefined;
          if (!sp)
            throw new Forbidden(
              `the client secret of datastore '${r.name}' is no longer a secret of service principal '${props.credentials.clientId}'; update the datastore's credentials`,
              { code: 'DATASTORE_CREDENTIALS_REJECTED' },
            );
          const action = mode === 'read' ? 'data/read' : 'data/write';
          if (!(await this.ctx.access.can(sp.id, account.id, action)))
            throw new Forbidden(
              `service principal '${props.credentials.clientId}' of datastore '${r.name}' lacks '${action}' on storage account '${account.name}'; give it a role on the account`,
              { code: 'DATASTORE_CREDENTIALS_REJECTED' },
            );
        } else if (!system && props.credentials.credentialsType === 'AccountKey') {
          const s = await this.vault.find(this.vaultOf(ws), secretNameOf('datastore', r.name));
          const key = s ? (JSON.parse(s.value) as { key?: string }).key : undefined;
          if (!key || !(await this.accounts.accessKeys(account)).includes(key)) {
            throw new Forbidden(
              `the account key of datastore '${r.name}' is no longer valid for storage account '${account.name}' (keys were rotated?); update the datastore's credentials`,
              { code: 'DATASTORE_CREDENTIALS_REJECTED' },
            );
          }
        }
        if (!system && props.credentials.credentialsType === 'Sas') {
          // Checked on every use: the token expires, and regenerating the key that signed it revokes it.
          const s = await this.vault.find(this.vaultOf(ws), secretNameOf('datastore', r.name));
          const token = s ? (JSON.parse(s.value) as { sasToken?: string }).sasToken : undefined;
          if (!token)
            throw new Conflict(
              `the SAS token of datastore '${r.name}' is missing from the workspace's key vault; set its credentials again`,
              { code: 'DATASTORE_SECRETS_MISSING' },
            );
          const need: SasNeed[] = mode === 'read' ? ['r', 'l'] : mode === 'write' ? ['w'] : ['d'];
          verifySas(
            token,
            {
              account: account.name,
              container: (props.containerName ?? props.filesystem)!,
              keys: await this.accounts.accessKeys(account),
              need,
            },
            `the SAS token of datastore '${r.name}'`,
          );
        }
        const container = props.containerName ?? props.filesystem ?? props.fileShareName!;
        // File shares and blob containers are separate namespaces, as in Azure.
        const store =
          props.datastoreType === 'AzureFile'
            ? this.ctx.blobs.account(account.name, '.fileshares', container)
            : this.ctx.blobs.account(account.name, container);
        return new StoreBackend(
          store,
          `${props.datastoreType === 'AzureFile' ? 'file share' : 'container'} '${container}' of storage account '${account.name}'`,
        );
      }
      case 'S3': {
        // Re-checked on every use: the administrator may have withdrawn the endpoint since.
        if (!this.s3Allowed.includes(new URL(props.endpoint!).origin))
          throw new Forbidden(
            `the S3 endpoint of datastore '${r.name}' is no longer allowed by the administrator (ATELIER_S3_ENDPOINTS)`,
            { code: 'DATASTORE_UNAVAILABLE' },
          );
        const secrets = (await this.listSecrets(ws, r.name)) as { secretAccessKey: string };
        return new S3Backend(this.ctx.blobs, {
          endpoint: props.endpoint!,
          bucket: props.bucket!,
          region: props.region ?? 'us-east-1',
          prefix: props.prefix ?? '',
          accessKeyId: props.credentials.accessKeyId!,
          secretAccessKey: secrets.secretAccessKey,
        });
      }
      default: {
        // ServerFolder (the external kinds were refused above)
        // Re-checked on every use: the administrator may have narrowed the allowed folders since.
        const folder = this.checkServerFolder(props.path!);
        await this.claimFolder(ws, folder, undefined);
        return new FolderBackend(this.ctx.blobs, folder, `server folder of datastore '${r.name}'`);
      }
    }
  }

  /** The ARM body (no secrets, ever). */
  toBody(r: StoredResource): Record<string, unknown> {
    const p = { ...(r.properties as DatastoreProps) };
    return toArmBody(r, p);
  }
}
