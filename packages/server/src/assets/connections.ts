import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import { toArmBody, type ResourceEngine, type ResourceDefinition, type StoredResource } from '../resources/engine.js';
import { resolveWorkspaceById, type WorkspaceInfo } from '../resources/workspaces.js';
import type { TemplateSupport } from '../resources/registry.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';
import type { VaultSecretService } from './key-vault.js';
import { secretNameOf } from './datastores.js';
import { bool, invalid, obj, onlyKeys, str, stringMap, type Obj } from './validate.js';

export const CONNECTION_TYPE = 'Microsoft.MachineLearningServices/workspaces/connections';

/** authType → its credential fields, and which of them are secret (never returned by get/list). */
export const AUTH_TYPES: Record<string, { fields: string[]; secret: string[] }> = {
  None: { fields: [], secret: [] },
  AAD: { fields: [], secret: [] },
  PAT: { fields: ['pat'], secret: ['pat'] },
  UsernamePassword: { fields: ['username', 'password', 'securityToken'], secret: ['password', 'securityToken'] },
  ApiKey: { fields: ['key'], secret: ['key'] },
  AccountKey: { fields: ['key'], secret: ['key'] },
  AccessKey: { fields: ['accessKeyId', 'secretAccessKey'], secret: ['secretAccessKey'] },
  SAS: { fields: ['sas'], secret: ['sas'] },
  ServicePrincipal: { fields: ['clientId', 'clientSecret', 'tenantId'], secret: ['clientSecret'] },
  ManagedIdentity: { fields: ['clientId', 'resourceId'], secret: [] },
  CustomKeys: { fields: ['keys'], secret: ['keys'] },
  OAuth2: {
    fields: [
      'authUrl',
      'clientId',
      'clientSecret',
      'developerToken',
      'password',
      'refreshToken',
      'tenantId',
      'username',
    ],
    secret: ['clientSecret', 'developerToken', 'password', 'refreshToken'],
  },
};

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$/;
const CATEGORY = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;

export const connectionDefinition: ResourceDefinition = {
  type: CONNECTION_TYPE,
  checkName(name: string) {
    if (!NAME.test(name))
      throw new InvalidInput(
        `connection name '${name}' is invalid: use letters, digits, '-' and '_', starting with a letter or digit (at most 255)`,
        { code: 'INVALID_CONNECTION_NAME', target: 'name' },
      );
  },
};

/**
 * Workspace connections: the v2 shape (`credentials` by `authType`, `POST …/listsecrets`) and the
 * v1 shape of `set_connection(name, category, target, authType, value)`. Secret parts live in the
 * workspace's key vault; get and list never return them.
 */
export class ConnectionService {
  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
    private readonly vault: VaultSecretService,
  ) {}

  idOf(ws: WorkspaceInfo, name: string): string {
    return `${ws.id}/connections/${name}`;
  }

  private vaultOf(ws: WorkspaceInfo): string {
    if (!ws.keyVaultId)
      throw new Conflict(
        `workspace '${ws.name}' has no key vault to keep connection secrets in; repair it with updateDependencies`,
        { code: 'KEY_VAULT_MISSING' },
      );
    return ws.keyVaultId;
  }

  async put(
    ws: WorkspaceInfo,
    name: string,
    body: { properties?: unknown },
    by: Principal,
  ): Promise<{ resource: StoredResource; created: boolean }> {
    connectionDefinition.checkName(name);
    const T = 'properties';
    const p = obj(body.properties, T)!;
    onlyKeys(
      p,
      [
        'authType',
        'category',
        'target',
        'credentials',
        'metadata',
        'isSharedToAll',
        'expiryTime',
        'group',
        'sharedUserList',
        'value',
        'valueFormat',
        'peRequirement',
        'peStatus',
        'useWorkspaceManagedIdentity',
        'error',
        'createdByWorkspaceArmId',
        'provisioningState',
      ],
      T,
    );
    const authType = str(p, 'authType', T, { required: true, oneOf: Object.keys(AUTH_TYPES) })!;
    const category = str(p, 'category', T, {
      required: true,
      pattern: CATEGORY,
      rule: "must be a category name like 'Git', 'PythonFeed', 'ContainerRegistry' or 'ApiKey'",
    })!;
    const target = str(p, 'target', T, { required: true, max: 2000 })!;
    const props: Obj = {
      authType,
      category,
      target,
      metadata: stringMap(p, 'metadata', T) ?? {},
      isSharedToAll: bool(p, 'isSharedToAll', T) ?? false,
      provisioningState: 'Succeeded',
    };
    const expiry = str(p, 'expiryTime', T, { max: 40 });
    if (expiry !== undefined) {
      if (Number.isNaN(Date.parse(expiry)))
        throw invalid(`${T}.expiryTime`, `must be an ISO 8601 time, got '${expiry}'`);
      props.expiryTime = new Date(expiry).toISOString();
    }
    const group = str(p, 'group', T, { max: 100 });
    if (group) props.group = group;
    const spec = AUTH_TYPES[authType]!;
    const secrets: Obj = {};
    const pub: Obj = {};
    const given = obj(p.credentials, `${T}.credentials`, false);
    // Field names compare without case (azure-ai-ml's feature-store template writes clientid, resourceid).
    const cred = given
      ? Object.fromEntries(
          Object.entries(given).map(([k, v]) => [spec.fields.find((f) => f.toLowerCase() === k.toLowerCase()) ?? k, v]),
        )
      : undefined;
    if (cred) {
      onlyKeys(cred, spec.fields, `${T}.credentials`);
      for (const f of spec.fields) {
        const v = cred[f];
        if (v === undefined || v === null) continue;
        if (f === 'keys') {
          const keys = stringMap(cred, 'keys', `${T}.credentials`);
          if (keys) secrets.keys = keys;
          continue;
        }
        if (typeof v !== 'string' || v.length > 8192)
          throw invalid(`${T}.credentials.${f}`, 'must be a string of at most 8192 characters');
        (spec.secret.includes(f) ? secrets : pub)[f] = v;
      }
    }
    // v1: `value` is the whole credential, secret as a whole.
    const value = str(p, 'value', T, { max: 20_000 });
    if (value !== undefined) {
      secrets.value = value;
      props.valueFormat = str(p, 'valueFormat', T, { oneOf: ['JSON'] }) ?? 'JSON';
    }
    if (spec.secret.length && !cred && value === undefined) {
      throw invalid(`${T}.credentials`, `is required with authType ${authType}: send { ${spec.fields.join(', ')} }`);
    }
    for (const f of spec.secret)
      if (cred && f !== 'securityToken' && secrets[f] === undefined && authType !== 'OAuth2')
        throw invalid(`${T}.credentials.${f}`, `is required with authType ${authType}`);
    props.credentials = pub;
    props.hasSecrets = Object.keys(secrets).length > 0;

    const vaultId = this.vaultOf(ws);
    const secretName = secretNameOf('connection', name);
    const previous = await this.vault.find(vaultId, secretName);
    if (props.hasSecrets)
      await this.vault.set(vaultId, secretName, JSON.stringify(secrets), {
        contentType: 'application/vnd.atelier.connection-secrets+json',
        tags: { connection: name },
      });
    else await this.vault.remove(vaultId, secretName);
    try {
      return await this.engine.put(connectionDefinition, this.idOf(ws, name), { properties: props }, by);
    } catch (e) {
      if (previous)
        await this.vault.set(vaultId, secretName, previous.value, {
          contentType: previous.contentType,
          tags: previous.tags,
        });
      else await this.vault.remove(vaultId, secretName);
      throw e;
    }
  }

  async get(ws: WorkspaceInfo, name: string): Promise<StoredResource> {
    const r = await this.engine.get(this.idOf(ws, name));
    if (!r)
      throw new NotFound(`connection '${name}' could not be found in workspace '${ws.name}'`, {
        code: 'CONNECTION_NOT_FOUND',
      });
    return r;
  }

  async list(
    ws: WorkspaceInfo,
    opts: { after?: string; top: number; category?: string; target?: string },
  ): Promise<{ value: StoredResource[]; hasMore: boolean; lastKey?: string }> {
    return this.engine.list({
      type: CONNECTION_TYPE,
      parentId: ws.id,
      after: opts.after,
      top: opts.top,
      visible: (r) =>
        (!opts.category || String(r.properties.category).toLowerCase() === opts.category.toLowerCase()) &&
        (!opts.target || String(r.properties.target).toLowerCase() === opts.target.toLowerCase()),
    });
  }

  /** ARM templates: a connection below a workspace of the server (`{workspace id}/connections/{name}`). */
  readonly template: TemplateSupport = {
    deploy: async (t, by) => {
      const i = t.id.toLowerCase().lastIndexOf('/connections/');
      const ws = await resolveWorkspaceById(this.ctx, t.id.slice(0, i));
      const name = t.id.slice(i + '/connections/'.length);
      const { resource, created } = await this.put(ws, name, { properties: t.body.properties }, by);
      return { body: await this.toBody(ws, resource), created };
    },
    undo: async (id) => {
      const i = id.toLowerCase().lastIndexOf('/connections/');
      const ws = await resolveWorkspaceById(this.ctx, id.slice(0, i)).catch(() => undefined);
      if (ws) await this.delete(ws, id.slice(i + '/connections/'.length));
    },
  };

  async delete(ws: WorkspaceInfo, name: string): Promise<boolean> {
    const deleted = await this.engine.delete(this.idOf(ws, name));
    if (ws.keyVaultId) await this.vault.remove(ws.keyVaultId, secretNameOf('connection', name));
    return deleted;
  }

  async forgetSecrets(ws: WorkspaceInfo): Promise<void> {
    if (!ws.keyVaultId) return;
    const all = await this.engine.list({ type: CONNECTION_TYPE, parentId: ws.id, top: 100_000 });
    for (const r of all.value) await this.vault.remove(ws.keyVaultId, secretNameOf('connection', r.name));
  }

  /** The body; with `withSecrets` (listsecrets) the secret parts are filled in from the key vault. */
  async toBody(ws: WorkspaceInfo, r: StoredResource, withSecrets = false): Promise<Record<string, unknown>> {
    const p = { ...r.properties };
    delete p.hasSecrets;
    if (withSecrets && r.properties.hasSecrets) {
      const s = await this.vault.find(this.vaultOf(ws), secretNameOf('connection', r.name));
      if (!s)
        throw new Conflict(
          `the secrets of connection '${r.name}' are missing from the workspace's key vault; set the connection again`,
          { code: 'CONNECTION_SECRETS_MISSING' },
        );
      const secrets = JSON.parse(s.value) as Obj;
      const { value, ...cred } = secrets;
      p.credentials = { ...(p.credentials as Obj), ...cred };
      if (value !== undefined) p.value = value;
    }
    const body = toArmBody(r, p);
    delete body.tags;
    return body;
  }
}
