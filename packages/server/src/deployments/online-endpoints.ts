import crypto from 'node:crypto';
import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import {
  scanResources,
  toArmBody,
  type ResourceEngine,
  type ResourceDefinition,
  type StoredResource,
} from '../resources/engine.js';
import type { Tx } from '../store/database.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import { ResourceKeys } from '../resources/resource-keys.js';
import { Conflict, InvalidInput, NotFound, NotImplemented } from '../errors.js';
import { invalid, obj, onlyKeys, str, stringMap, type Obj } from '../assets/validate.js';
import type { ServingRuntimes } from './serving.js';
import type { ComputesPort } from './ports.js';

export const ENDPOINT_TYPE = 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints';
export const DEPLOYMENT_TYPE = 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments';
/**
 * `{scoring URI prefix}/deployments/{name}/{path}`: one deployment's own scoring path, as the
 * `azureml-model-deployment` header names one (azureml-core's `service.versions[name].run` posts
 * to its version's scoring URI and sends no header).
 */
export const DEPLOYMENT_PATH = 'deployments';

/** Azure's rule for online endpoint names (they become host names there): 3–32, a letter first, letters, digits and '-'. */
const ENDPOINT_NAME = /^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$/;

export const endpointDefinition: ResourceDefinition = {
  type: ENDPOINT_TYPE,
  checkName(name: string) {
    if (!ENDPOINT_NAME.test(name))
      throw new InvalidInput(
        `online endpoint name '${name}' is invalid: use 3–32 letters, digits and '-', starting with a letter and not ending with '-'`,
        { code: 'INVALID_ENDPOINT_NAME', target: 'name' },
      );
  },
  immutable: ['authMode', 'compute'],
};

/** Key lifetime of `POST …/token` (AMLToken endpoints). */
const TOKEN_TTL_S = 3600;
const TOKEN_PREFIX = 'atl1';

/** A percent split over deployments: whole numbers 0–100, summing to 100 (or 0, or empty). */
function split(o: Obj, key: string, target: string, max: number): Record<string, number> {
  const v = o[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw invalid(`${target}.${key}`, 'must be an object of deployment name → percent');
  const out: Record<string, number> = {};
  for (const [d, p] of Object.entries(v as Obj)) {
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > max)
      throw new InvalidInput(
        `${target}.${key}.${d} must be a whole percent from 0 to ${max}, got ${JSON.stringify(p)}`,
        {
          code: 'INVALID_TRAFFIC',
          target: `${target}.${key}`,
        },
      );
    out[d] = p;
  }
  return out;
}

/** What the scoring route needs of an endpoint, cached briefly (keys decrypted). */
export interface EndpointAuth {
  endpointId: string;
  name: string;
  authMode: 'Key' | 'AMLToken';
  keys: string[];
  tokenKey: Buffer;
  traffic: Record<string, number>;
  mirrorTraffic: Record<string, number>;
  provisioningState: string;
  /** The endpoint's deployments when it was read (lower-cased → stored name), for the deployment header. */
  deployments: Map<string, string>;
}

/**
 * Online endpoints (`W/onlineEndpoints/{e}`): the scoring URI, its authentication (keys or
 * short-lived tokens, both sealed at rest in `resource_keys` and only shown by listKeys/token) and
 * the traffic split over its deployments. Requests to the scoring URI are served by the proxy
 * (serving.ts) to the deployments' instances.
 */
export class OnlineEndpointService {
  readonly keys: ResourceKeys;
  /** Plugged in by the composition root: the attached Ray clusters an endpoint's `compute` may name. */
  computes?: ComputesPort;
  /** Test-only: called inside a create's transaction once it holds the endpoint's compute, before the write. */
  testHooks: { computeHeld?: () => Promise<void> } = {};
  private readonly authCache = new Map<string, { at: number; value: EndpointAuth }>();

  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
    private readonly runtimes: ServingRuntimes,
  ) {
    this.keys = new ResourceKeys(ctx);
  }

  idOf(ws: WorkspaceInfo, name: string): string {
    return `${ws.id}/onlineEndpoints/${name}`;
  }

  /** The scoring URI prefix of an endpoint: `{server}/endpoints/{workspace GUID}/{endpoint}`. */
  prefix(ws: { workspaceId: string }, name: string): string {
    return `${this.ctx.config.publicUrl}/endpoints/${ws.workspaceId}/${name}`;
  }

  async get(ws: WorkspaceInfo, name: string): Promise<StoredResource> {
    const r = await this.engine.get(this.idOf(ws, name));
    if (!r)
      throw new NotFound(`online endpoint '${name}' could not be found in workspace '${ws.name}'`, {
        code: 'ONLINE_ENDPOINT_NOT_FOUND',
      });
    return r;
  }

  async list(ws: WorkspaceInfo, page: { after?: string; top: number; name?: string }) {
    return this.engine.list({
      type: ENDPOINT_TYPE,
      parentId: ws.id,
      after: page.after,
      top: page.top,
      visible: (r) => !page.name || r.name.toLowerCase() === page.name.toLowerCase(),
    });
  }

  /** Names of the endpoint's deployments (lower-cased → stored name). */
  async deploymentNames(endpointId: string): Promise<Map<string, string>> {
    const all = await this.engine.list({ type: DEPLOYMENT_TYPE, parentId: endpointId, top: 100_000 });
    return new Map(all.value.map((d) => [d.name.toLowerCase(), d.name]));
  }

  /** Checks traffic and mirror traffic against the endpoint's deployments; returns them with the stored names. */
  async checkTraffic(
    endpointId: string,
    traffic: Record<string, number>,
    mirror: Record<string, number>,
  ): Promise<{ traffic: Record<string, number>; mirrorTraffic: Record<string, number> }> {
    const names = await this.deploymentNames(endpointId);
    const canon = (split: Record<string, number>, what: string) => {
      const out: Record<string, number> = {};
      for (const [d, p] of Object.entries(split)) {
        const n = names.get(d.toLowerCase());
        if (!n)
          throw new InvalidInput(
            `${what} names deployment '${d}', which this endpoint does not have${names.size ? ` (it has ${[...names.values()].join(', ')})` : ' (it has none yet: create the deployment first, then set its traffic)'}`,
            { code: 'INVALID_TRAFFIC', target: what },
          );
        out[n] = p;
      }
      return out;
    };
    const t = canon(traffic, 'properties.traffic');
    const m = canon(mirror, 'properties.mirrorTraffic');
    const sum = Object.values(t).reduce((a, b) => a + b, 0);
    if (sum !== 0 && sum !== 100)
      throw new InvalidInput(`properties.traffic must add up to 100 (or 0 for no traffic), got ${sum}`, {
        code: 'INVALID_TRAFFIC',
        target: 'properties.traffic',
      });
    for (const [d, p] of Object.entries(m)) {
      if (p > 0 && (t[d] ?? 0) > 0)
        throw new InvalidInput(
          `deployment '${d}' cannot get mirror traffic while it gets live traffic (${t[d]}%); mirror to a deployment with 0% traffic`,
          { code: 'INVALID_TRAFFIC', target: 'properties.mirrorTraffic' },
        );
    }
    if (Object.values(m).filter((p) => p > 0).length > 1)
      throw new InvalidInput('properties.mirrorTraffic may mirror to one deployment only', {
        code: 'INVALID_TRAFFIC',
        target: 'properties.mirrorTraffic',
      });
    return { traffic: t, mirrorTraffic: m };
  }

  async put(
    ws: WorkspaceInfo,
    name: string,
    body: Obj,
    by: Principal,
  ): Promise<{ resource: StoredResource; created: boolean }> {
    endpointDefinition.checkName(name);
    onlyKeys(
      body,
      ['location', 'tags', 'identity', 'kind', 'sku', 'properties', 'id', 'name', 'type', 'systemData'],
      'body',
    );
    const T = 'properties';
    const p = obj(body.properties, T)!;
    onlyKeys(
      p,
      [
        'authMode',
        'description',
        'traffic',
        'mirrorTraffic',
        'publicNetworkAccess',
        'properties',
        'compute',
        'keys',
        'provisioningState',
        'scoringUri',
        'swaggerUri',
      ],
      T,
    );
    const authMode = str(p, 'authMode', T, { required: true, oneOf: ['Key', 'AMLToken', 'AADToken'] })!;
    if (authMode === 'AADToken') throw invalid(`${T}.authMode`, 'AADToken is not served here; use Key or AMLToken');
    const compute = await this.checkCompute(ws, str(p, 'compute', T, { max: 1000 }));
    const description = str(p, 'description', T, { max: 5000 });
    const pna = str(p, 'publicNetworkAccess', T, { oneOf: ['Enabled', 'Disabled'] }) ?? 'Enabled';
    const traffic = split(p, 'traffic', T, 100);
    const mirror = split(p, 'mirrorTraffic', T, 50);
    const id = this.idOf(ws, name);
    const existing = await this.engine.get(id);
    if (existing?.properties.provisioningState === 'Deleting')
      throw new Conflict(`online endpoint '${name}' is being deleted`, { code: 'ONLINE_DEPLOYMENT_BUSY' });
    const checked = existing
      ? await this.checkTraffic(existing.id, traffic, mirror)
      : await this.checkTraffic(id, traffic, mirror);
    const props: Obj = {
      authMode,
      publicNetworkAccess: pna,
      traffic: checked.traffic,
      mirrorTraffic: checked.mirrorTraffic,
      properties: stringMap(p, 'properties', T) ?? {},
      provisioningState: 'Succeeded',
    };
    if (compute) props.compute = compute;
    if (description !== undefined) props.description = description;
    const identity = obj(body.identity, 'identity', false);
    const input = {
      location: typeof body.location === 'string' ? body.location : ws.location,
      kind: typeof body.kind === 'string' ? body.kind : undefined,
      tags: stringMap(body, 'tags', 'body') ?? {},
      identity: this.identity(identity),
      properties: props,
    };
    const hold = compute && !existing ? this.computes?.hold?.bind(this.computes) : undefined;
    const res = hold
      ? // The compute held while the endpoint is written on it: a concurrent delete of the compute
        // waits for this and then sees the endpoint, or this waits for the delete and then fails.
        await this.ctx.database.write(async (tx) => {
          await hold(tx, ws, compute!).catch((e) => {
            throw this.computeRefused(e);
          });
          await this.testHooks.computeHeld?.();
          return this.engine.put(endpointDefinition, id, input, by, {}, tx);
        })
      : await this.engine.put(endpointDefinition, id, input, by);
    if (res.created) {
      try {
        await this.keys.set(res.resource.id, {
          primaryKey: newKey(),
          secondaryKey: newKey(),
          tokenKey: crypto.randomBytes(32).toString('base64'),
        });
      } catch (e) {
        await this.engine.delete(res.resource.id);
        throw e;
      }
    }
    this.invalidate(ws.workspaceId, name);
    return res;
  }

  /**
   * `properties.compute` (Azure's attached-compute endpoints): an attached Ray compute of the
   * workspace, whose cluster then runs the endpoint's deployments as Ray Serve replicas. Returns its
   * ARM id; a compute that is missing, not Ray or not ready is a 400 naming what to change.
   */
  private async checkCompute(ws: WorkspaceInfo, ref: string | undefined): Promise<string | undefined> {
    if (ref === undefined || ref === '') return undefined;
    const target = 'properties.compute';
    if (!this.computes)
      throw new NotImplemented('endpoints on attached computes need the compute module, which this server lacks', {
        code: 'ENVIRONMENT_BUILDS_UNAVAILABLE',
      });
    let c: Awaited<ReturnType<ComputesPort['capacity']>>;
    try {
      c = await this.computes.capacity(ws, ref);
    } catch (e) {
      throw this.computeRefused(e);
    }
    if (c.computeType !== 'Ray' || !c.rayAddress)
      throw invalid(
        target,
        `compute '${c.name}' is ${c.computeType}; an endpoint's compute must be an attached Ray cluster (computeType Ray), whose Ray Serve runs the deployments — leave compute out to serve on this machine`,
      );
    return c.id;
  }

  /** A compute that `properties.compute` cannot name (missing, not ready): a 400 saying what to change. */
  private computeRefused(e: unknown): unknown {
    if (e instanceof NotFound || e instanceof InvalidInput || e instanceof Conflict)
      return new InvalidInput(
        `properties.compute: ${e.message}${e instanceof NotFound ? ': attach the Ray cluster first (PUT …/computes/{name} with computeType Ray), or leave compute out to serve on this machine' : ''}`,
        { code: 'INVALID_INPUT', target: 'properties.compute' },
      );
    return e;
  }

  /** The online endpoints that serve on a compute (its ARM id): the compute's delete is refused while any do. */
  async onCompute(tx: Pick<Tx, 'db'>, computeId: string): Promise<string[]> {
    const wsId = computeId.slice(0, computeId.toLowerCase().lastIndexOf('/computes/'));
    const endpoints = await scanResources(tx.db, { type: ENDPOINT_TYPE, parentId: wsId });
    return endpoints
      .filter((e) => String(e.properties.compute ?? '').toLowerCase() === computeId.toLowerCase())
      .map((e) => `online endpoint '${e.name}'`);
  }

  private identity(identity: Obj | undefined): Obj {
    const type = typeof identity?.type === 'string' ? identity.type : 'SystemAssigned';
    if (!/^(SystemAssigned|None|UserAssigned|SystemAssigned,UserAssigned)$/i.test(type))
      throw invalid('identity.type', 'must be SystemAssigned, UserAssigned or None');
    return /^none$/i.test(type)
      ? { type: 'None' }
      : { ...identity, type, principalId: crypto.randomUUID(), tenantId: this.ctx.tenantId };
  }

  /** PATCH: tags, and traffic / mirrorTraffic / description / properties (what azure-ai-ml's traffic updates send). */
  async patch(ws: WorkspaceInfo, r: StoredResource, body: Obj, by: Principal): Promise<StoredResource> {
    const p = obj(body.properties, 'properties', false) ?? {};
    onlyKeys(p, ['traffic', 'mirrorTraffic', 'description', 'publicNetworkAccess', 'properties'], 'properties');
    const traffic =
      p.traffic === undefined
        ? (r.properties.traffic as Record<string, number>)
        : split(p, 'traffic', 'properties', 100);
    const mirror =
      p.mirrorTraffic === undefined
        ? (r.properties.mirrorTraffic as Record<string, number>)
        : split(p, 'mirrorTraffic', 'properties', 50);
    const checked = await this.checkTraffic(r.id, traffic ?? {}, mirror ?? {});
    const updated = await this.engine.patch(
      endpointDefinition,
      r.id,
      {
        tags: stringMap(body, 'tags', 'body'),
        properties: {
          traffic: checked.traffic,
          mirrorTraffic: checked.mirrorTraffic,
          description: str(p, 'description', 'properties', { max: 5000 }),
          publicNetworkAccess: str(p, 'publicNetworkAccess', 'properties', { oneOf: ['Enabled', 'Disabled'] }),
          properties: stringMap(p, 'properties', 'properties'),
        },
      },
      by,
    );
    this.invalidate(ws.workspaceId, r.name);
    return updated;
  }

  /** Deletes the endpoint, its deployments (their instances stopped) and its keys. */
  async delete(ws: WorkspaceInfo, name: string): Promise<boolean> {
    const r = await this.engine.get(this.idOf(ws, name));
    if (!r) return false;
    await this.engine.setProperties(r.id, { provisioningState: 'Deleting' });
    this.invalidate(ws.workspaceId, name);
    const deployments = await this.engine.list({ type: DEPLOYMENT_TYPE, parentId: r.id, top: 100_000 });
    for (const d of deployments.value) await this.runtimes.remove(d.id);
    await this.engine.delete(r.id);
    await this.keys.forget(r.id);
    this.invalidate(ws.workspaceId, name);
    return true;
  }

  toBody(ws: WorkspaceInfo, r: StoredResource): Record<string, unknown> {
    const prefix = this.prefix(ws, r.name);
    return toArmBody(r, {
      ...r.properties,
      scoringUri: `${prefix}/score`,
      swaggerUri: `${prefix}/swagger.json`,
      keys: null,
    });
  }

  async listKeys(r: StoredResource): Promise<{ primaryKey: string; secondaryKey: string }> {
    if (r.properties.authMode !== 'Key')
      throw new InvalidInput(
        `online endpoint '${r.name}' uses authMode ${String(r.properties.authMode)}: get a token with POST …/token instead of keys`,
        { code: 'INVALID_INPUT' },
      );
    const k = await this.keys.all(r.id);
    return { primaryKey: k.primaryKey?.value ?? '', secondaryKey: k.secondaryKey?.value ?? '' };
  }

  async regenerateKeys(ws: WorkspaceInfo, r: StoredResource, body: Obj): Promise<void> {
    onlyKeys(body, ['keyType', 'keyValue'], 'body');
    const keyType = str(body, 'keyType', 'body', { required: true, oneOf: ['Primary', 'Secondary'] })!;
    const keyValue = str(body, 'keyValue', 'body', {
      pattern: /^[A-Za-z0-9+/=_-]{16,128}$/,
      rule: 'must be 16–128 letters, digits or + / = _ -',
    });
    if (r.properties.authMode !== 'Key')
      throw new InvalidInput(
        `online endpoint '${r.name}' uses authMode ${String(r.properties.authMode)} and has no keys`,
        {
          code: 'INVALID_INPUT',
        },
      );
    await this.keys.set(r.id, { [keyType === 'Primary' ? 'primaryKey' : 'secondaryKey']: keyValue ?? newKey() });
    this.invalidate(ws.workspaceId, r.name);
  }

  /**
   * Switches an endpoint between keys and tokens: azureml-core's `service.update(auth_enabled=…,
   * token_auth_enabled=…)` on an AKS webservice, which Azure allows (ARM's `authMode` stays
   * immutable, as Azure's). Its keys and token key were made with the endpoint: the switch is the
   * mode alone, and the old credentials stop at once (this process; other replicas within 2 s).
   */
  async switchAuthMode(ws: WorkspaceInfo, r: StoredResource, mode: 'Key' | 'AMLToken'): Promise<void> {
    await this.engine.setProperties(r.id, { authMode: mode });
    this.invalidate(ws.workspaceId, r.name);
  }

  /** `POST …/token`: a bearer token for the scoring URI of an AMLToken endpoint (an HMAC of the endpoint id and expiry). */
  async token(r: StoredResource): Promise<Record<string, unknown>> {
    if (r.properties.authMode !== 'AMLToken')
      throw new InvalidInput(
        `online endpoint '${r.name}' uses authMode ${String(r.properties.authMode)}: use its keys (POST …/listKeys) instead of a token`,
        { code: 'INVALID_INPUT' },
      );
    const key = await this.keys.get(r.id, 'tokenKey');
    if (!key) throw new Conflict(`online endpoint '${r.name}' has lost its token key; recreate it`);
    const now = Math.floor(Date.now() / 1000);
    const exp = now + TOKEN_TTL_S;
    const payload = Buffer.from(JSON.stringify({ e: r.id.toLowerCase(), exp })).toString('base64url');
    const sig = crypto.createHmac('sha256', Buffer.from(key.value, 'base64')).update(payload).digest('base64url');
    return {
      accessToken: `${TOKEN_PREFIX}.${payload}.${sig}`,
      tokenType: 'Bearer',
      expiryTimeUtc: exp,
      refreshAfterTimeUtc: now + TOKEN_TTL_S / 2,
    };
  }

  /** Forgets the cached authentication and routing of an endpoint (this process; other replicas within 2 s). */
  invalidate(workspaceId: string, name: string): void {
    this.authCache.delete(`${workspaceId.toLowerCase()}/${name.toLowerCase()}`);
  }

  /** What the scoring route needs of `{workspace GUID}/{endpoint}`; undefined when there is no such endpoint. */
  async auth(ws: WorkspaceInfo, name: string): Promise<EndpointAuth | undefined> {
    const key = `${ws.workspaceId.toLowerCase()}/${name.toLowerCase()}`;
    const hit = this.authCache.get(key);
    if (hit && Date.now() - hit.at < 2_000) return hit.value;
    const r = await this.engine.get(this.idOf(ws, name));
    if (!r) {
      this.authCache.delete(key);
      return undefined;
    }
    const [k, deployments] = await Promise.all([this.keys.all(r.id), this.deploymentNames(r.id)]);
    const value: EndpointAuth = {
      endpointId: r.id,
      name: r.name,
      authMode: r.properties.authMode === 'AMLToken' ? 'AMLToken' : 'Key',
      keys: [k.primaryKey?.value, k.secondaryKey?.value].filter((x): x is string => Boolean(x)),
      tokenKey: Buffer.from(k.tokenKey?.value ?? '', 'base64'),
      traffic: (r.properties.traffic as Record<string, number>) ?? {},
      mirrorTraffic: (r.properties.mirrorTraffic as Record<string, number>) ?? {},
      provisioningState: String(r.properties.provisioningState),
      deployments,
    };
    if (this.authCache.size > 10_000) this.authCache.clear();
    this.authCache.set(key, { at: Date.now(), value });
    return value;
  }
}

/** A new endpoint key: 32 random characters (letters and digits, as Azure's). */
function newKey(): string {
  return crypto.randomBytes(24).toString('base64url').replace(/[-_]/g, 'A');
}

/** Whether `Bearer <credential>` authenticates for the endpoint (constant-time comparisons). */
export function checkCredential(a: EndpointAuth, credential: string): boolean {
  if (a.authMode === 'Key') {
    const c = Buffer.from(credential);
    let ok = false;
    for (const k of a.keys) {
      const kb = Buffer.from(k);
      if (kb.length === c.length && crypto.timingSafeEqual(kb, c)) ok = true;
    }
    return ok;
  }
  const parts = credential.split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX || !a.tokenKey.length) return false;
  const expected = crypto.createHmac('sha256', a.tokenKey).update(parts[1]!).digest();
  const got = Buffer.from(parts[2]!, 'base64url');
  if (got.length !== expected.length || !crypto.timingSafeEqual(got, expected)) return false;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { e: string; exp: number };
    return claims.e === a.endpointId.toLowerCase() && claims.exp > Date.now() / 1000;
  } catch {
    return false;
  }
}
