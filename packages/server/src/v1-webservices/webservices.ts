import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { StoredResource } from '../resources/engine.js';
import type { DeploymentServices } from '../deployments/services.js';
import type { Operation } from '../operations/operations.js';
import type { AzureModelService } from '../models/azure-models.js';
import type { Principal } from '../identity/principals.js';
import type { V1EnvironmentService } from '../v1-environments/environments.js';
import { MODELS_PROPERTY, parseModelRef } from '../deployments/model-source.js';
import { DEPLOYMENT_PATH } from '../deployments/online-endpoints.js';
import { parseDuration } from '../deployments/durations.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';
import { obj, str, type Obj } from '../assets/validate.js';
import { iso, matches, pairs, type V1Image, type V1Images } from './images.js';
import {
  V1WebserviceDeployer,
  V1_COMPUTE_NAME,
  V1_RESOURCES,
  appInsightsNotServed,
  dataCollectionNotServed,
  scaleSettingsOf,
} from './deploy.js';

/** azureml-core's compute type of an online endpoint: an endpoint with versions (its deployments). */
export const SERVICE_COMPUTE_TYPE = 'AKSENDPOINT';
/** azureml-core's compute type of one version (a deployment) of such an endpoint. */
const VERSION_COMPUTE_TYPE = 'AKS';

/** A webservice as azureml-core reads it, with what its list filters need. */
interface V1Service {
  name: string;
  dto: Record<string, unknown>;
  tags: Record<string, string>;
  properties: Record<string, string>;
  modelIds: string[];
  images: V1Image[];
}

/** A deployment's state in the v1 words (`Transitioning`, `Healthy`, `Failed`). */
function versionState(provisioningState: unknown): string {
  switch (provisioningState) {
    case 'Succeeded':
      return 'Healthy';
    case 'Failed':
    case 'Canceled':
      return 'Failed';
    default:
      return 'Transitioning';
  }
}

const seconds = (v: unknown, fallbackMs: number) => {
  try {
    return Math.round(parseDuration(v, 'probe') / 1000);
  } catch {
    return Math.round(fallbackMs / 1000);
  }
};
const millis = (v: unknown, fallbackMs: number) => {
  try {
    return parseDuration(v, 'requestSettings');
  } catch {
    return fallbackMs;
  }
};

/**
 * azureml-core's webservices over the online endpoints (`W/onlineEndpoints`): each endpoint is an
 * `AksEndpoint` (compute type AKSENDPOINT) whose versions are its deployments (`AksWebservice`
 * payloads with their traffic percent), so `ws.webservices`, `Webservice(ws, name)`,
 * `Webservice.list(…)`, `.scoring_uri`, `.run()`, `.get_keys()`, `.regen_key()`, `.get_token()`,
 * `.get_logs()`, `.state` and `.delete()` act on the same endpoints ARM, azure-ai-ml and the CLI
 * see. The images of a version are its deployment's package records.
 */
/** azureml-core's `autoScaler` of a deployment: its scaleSettings (TargetUtilization), or fixed replicas. */
function autoScalerOf(p: Obj, capacity: number): Obj {
  const s = (p.scaleSettings ?? {}) as Obj;
  if (s.scaleType !== 'TargetUtilization')
    return {
      autoscaleEnabled: false,
      minReplicas: capacity,
      maxReplicas: capacity,
      refreshPeriodInSeconds: null,
      targetUtilization: null,
    };
  return {
    autoscaleEnabled: true,
    minReplicas: Number(s.minInstances),
    maxReplicas: Number(s.maxInstances),
    refreshPeriodInSeconds: Math.round(millis(s.pollingInterval, 1_000) / 1000),
    targetUtilization: Number(s.targetUtilizationPercentage),
  };
}

export class V1Webservices {
  constructor(
    private readonly serving: DeploymentServices,
    private readonly models: AzureModelService,
    private readonly images: V1Images,
    private readonly environments: V1EnvironmentService,
  ) {}

  /** The v1 Environment a deployment runs in (what `service.environment` and `update` read), or null. */
  private async environmentOf(ws: WorkspaceInfo, d: StoredResource | undefined): Promise<unknown> {
    const m = /\/environments\/([^/]+)\/versions\/([^/]+)$/i.exec(String(d?.properties.environmentId ?? ''));
    if (!m) return null;
    try {
      return await this.environments.get(ws, m[1]!, m[2]!);
    } catch (e) {
      if (e instanceof NotFound) return null;
      throw e;
    }
  }

  async endpoint(ws: WorkspaceInfo, name: string): Promise<StoredResource> {
    try {
      return await this.serving.endpoints.get(ws, name);
    } catch (e) {
      if (e instanceof NotFound)
        throw new NotFound(`webservice '${name}' could not be found in workspace '${ws.name}'`, {
          code: 'NOT_FOUND',
        });
      throw e;
    }
  }

  /**
   * The endpoint whose keys, token and logs `…/services/{name}/…` asks for: the endpoint of that
   * name or, when there is none, the one endpoint with a version (deployment) of that name, as
   * azureml-core asks for a version's keys under the version's name (`AksEndpoint.versions[name]`
   * is an `AksWebservice` named after its version). Versions of that name in several endpoints are
   * a 409 naming them.
   */
  async endpointOrVersion(
    ws: WorkspaceInfo,
    name: string,
  ): Promise<{ endpoint: StoredResource; deployment?: StoredResource }> {
    try {
      return { endpoint: await this.endpoint(ws, name) };
    } catch (e) {
      if (!(e instanceof NotFound)) throw e;
      const { value: endpoints } = await this.serving.endpoints.list(ws, { top: 100_000 });
      const found: { endpoint: StoredResource; deployment: StoredResource }[] = [];
      for (const ep of endpoints) {
        const d = await this.serving.deployments.get(ws, ep.name, name).catch((x) => {
          if (x instanceof NotFound) return undefined;
          throw x;
        });
        if (d && !V1WebserviceDeployer.computeType(ep)) found.push({ endpoint: ep, deployment: d });
      }
      if (found.length === 1) return found[0]!;
      if (found.length > 1)
        throw new Conflict(
          `'${name}' is a version of several webservices (${found.map((f) => f.endpoint.name).join(', ')}); ask the webservice itself, or score the version at its scoring_uri with the webservice's keys`,
          { code: 'CONFLICT' },
        );
      throw e;
    }
  }

  private async service(ws: WorkspaceInfo, ep: StoredResource, images: V1Image[]): Promise<V1Service> {
    const { value: deployments } = await this.serving.deployments.list(ws, ep.name, { top: 1000 });
    const traffic = (ep.properties.traffic as Record<string, number>) ?? {};
    const share = (d: string) => Object.entries(traffic).find(([k]) => k.toLowerCase() === d.toLowerCase())?.[1] ?? 0;
    const prefix = this.serving.endpoints.prefix(ws, ep.name);
    const scoringUri = `${prefix}/score`;
    const authEnabled = ep.properties.authMode === 'Key';
    const tokenAuth = ep.properties.authMode === 'AMLToken';
    const top = Math.max(0, ...deployments.map((d) => share(d.name)));
    // The attached compute the endpoint runs on (azureml-core's AksEndpoint.create_version reads it).
    const computeName = typeof ep.properties.compute === 'string' ? ep.properties.compute.split('/').pop()! : null;
    const versions: Record<string, unknown> = {};
    const modelIds: string[] = [];
    const svcImages: V1Image[] = [];
    for (const d of deployments) {
      const p = d.properties;
      const rs = (p.requestSettings ?? {}) as Obj;
      const live = (p.livenessProbe ?? {}) as Obj;
      const capacity = Number((d.sku as Obj | undefined)?.capacity ?? 1);
      const models: Record<string, unknown>[] = [];
      const several = ((p.properties ?? {}) as Record<string, string>)[MODELS_PROPERTY];
      const refs = several ? several.split(',') : typeof p.model === 'string' ? [p.model] : [];
      for (const m of refs) {
        try {
          const ref = parseModelRef(m.trim(), ws);
          modelIds.push(`${ref.name}:${ref.version}`);
          const { mv, x } = await this.models.v1Find(ws, `${ref.name}:${ref.version}`);
          models.push(this.models.v1Dto(ws, mv, x));
        } catch (e) {
          if (!(e instanceof NotFound) && !(e instanceof InvalidInput)) throw e;
        }
      }
      const own = images.filter((i) => i.deploymentId?.toLowerCase() === d.id.toLowerCase());
      svcImages.push(...own);
      const image = own[0];
      const state = versionState(p.provisioningState);
      versions[d.name] = {
        computeType: VERSION_COMPUTE_TYPE,
        name: d.name,
        description: p.description ?? null,
        kvTags: d.tags,
        properties: (p.properties as Record<string, string>) ?? {},
        createdTime: iso(d.createdAt),
        updatedTime: iso(d.updatedAt),
        state,
        error: state === 'Failed' ? { message: `deployment '${d.name}' failed: see get_logs()` } : null,
        imageId: image?.id ?? null,
        imageDigest: image?.digest || null,
        models,
        appInsightsEnabled: Boolean(p.appInsightsEnabled),
        authEnabled,
        aadAuthEnabled: tokenAuth,
        autoScaler: autoScalerOf(p, capacity),
        computeName,
        containerResourceRequirements: {
          cpu: null,
          cpuLimit: null,
          memoryInGB: null,
          memoryInGBLimit: null,
          gpu: null,
        },
        dataCollection: { eventHubEnabled: false, storageEnabled: false },
        maxConcurrentRequestsPerContainer: Number(rs.maxConcurrentRequestsPerInstance ?? 1),
        maxQueueWaitMs: millis(rs.maxQueueWait, 500),
        scoringTimeoutMs: millis(rs.requestTimeout, 5000),
        numReplicas: capacity,
        // The version's own scoring path (its deployment, whatever the traffic split).
        scoringUri: `${prefix}/${DEPLOYMENT_PATH}/${encodeURIComponent(d.name)}/score`,
        livenessProbeRequirements: {
          periodSeconds: seconds(live.period, 10_000),
          initialDelaySeconds: seconds(live.initialDelay, 10_000),
          timeoutSeconds: seconds(live.timeout, 2_000),
          successThreshold: Number(live.successThreshold ?? 1),
          failureThreshold: Number(live.failureThreshold ?? 30),
        },
        trafficPercentile: share(d.name),
        isDefault: deployments.length > 0 && share(d.name) === top && top > 0,
        type: share(d.name) === top && top > 0 ? 'Control' : 'Treatment',
        deploymentStatus: p.provisioningState ?? null,
      };
    }
    // The endpoint's state: its deployments' (every one healthy → Healthy; one changing → Transitioning).
    const states = Object.values(versions).map((v) => (v as Obj).state as string);
    const state =
      ep.properties.provisioningState === 'Deleting' || states.includes('Transitioning')
        ? 'Transitioning'
        : states.length === 0
          ? 'Unhealthy'
          : states.every((s) => s === 'Failed')
            ? 'Failed'
            : states.includes('Failed')
              ? 'Unhealthy'
              : 'Healthy';
    const dto = {
      computeType: SERVICE_COMPUTE_TYPE,
      name: ep.name,
      description: (ep.properties.description as string | undefined) ?? null,
      kvTags: ep.tags,
      properties: (ep.properties.properties as Record<string, string>) ?? {},
      createdTime: iso(ep.createdAt),
      updatedTime: iso(ep.updatedAt),
      state,
      error:
        state === 'Unhealthy' && states.length === 0
          ? { message: `endpoint '${ep.name}' has no deployment yet` }
          : state === 'Failed' || state === 'Unhealthy'
            ? { message: 'a deployment of this endpoint failed: see get_logs()' }
            : null,
      authEnabled,
      aadAuthEnabled: tokenAuth,
      appInsightsEnabled: false,
      computeName,
      scoringUri,
      swaggerUri: `${prefix}/swagger.json`,
      versions,
      deploymentStatus: ep.properties.provisioningState ?? null,
      namespace: null,
    };
    const v1Type = V1WebserviceDeployer.computeType(ep);
    if (v1Type) {
      // A service made by Model.deploy: the ACI / AKS payload of its serving deployment (most traffic).
      const own = (ep.properties.properties as Record<string, string>) ?? {};
      const main = [...deployments].sort((a, b) => share(b.name) - share(a.name))[0];
      let res: Obj;
      try {
        res = JSON.parse(own[V1_RESOURCES] ?? '{}') as Obj;
      } catch {
        res = {};
      }
      const flat: Record<string, unknown> = {
        ...((main ? versions[main.name] : {}) as Obj),
        ...dto,
        computeType: v1Type,
        properties: Object.fromEntries(Object.entries(own).filter(([k]) => !k.startsWith('azureml.v1.'))),
        computeName: own[V1_COMPUTE_NAME] ?? null,
        containerResourceRequirements: {
          cpu: res.cpu ?? null,
          memoryInGB: res.memoryInGB ?? null,
          cpuLimit: null,
          memoryInGBLimit: null,
          gpu: null,
        },
        location: ep.location ?? ws.location,
        sslEnabled: false,
        sslCertificate: null,
        sslKey: null,
        cname: null,
        publicIp: null,
        publicFqdn: null,
        encryptionProperties: null,
        vnetConfiguration: null,
        environmentImageRequest: { environment: await this.environmentOf(ws, main) },
      };
      delete flat.versions;
      delete flat.trafficPercentile;
      delete flat.isDefault;
      delete flat.type;
      return {
        name: ep.name,
        dto: flat,
        tags: ep.tags,
        properties: flat.properties as Record<string, string>,
        modelIds,
        images: svcImages,
      };
    }
    return {
      name: ep.name,
      dto,
      tags: ep.tags,
      properties: dto.properties,
      modelIds,
      images: svcImages,
    };
  }

  /** `GET services?computeType=&modelName=&modelId=&imageName=&imageId=&imageDigest=&tags=&properties=`. */
  async query(ws: WorkspaceInfo, q: Record<string, string | undefined>): Promise<V1Service[]> {
    const { value: endpoints } = await this.serving.endpoints.list(ws, { top: 100_000, name: q.name || undefined });
    const images = await this.images.all(ws);
    let list: V1Service[] = [];
    for (const ep of endpoints) {
      const type = V1WebserviceDeployer.computeType(ep) ?? SERVICE_COMPUTE_TYPE;
      if (q.computeType && q.computeType.toUpperCase() !== type) continue;
      list.push(await this.service(ws, ep, images));
    }
    if (q.modelName) list = list.filter((s) => s.modelIds.some((m) => m.split(':')[0] === q.modelName));
    if (q.modelId) list = list.filter((s) => s.modelIds.includes(q.modelId!));
    if (q.imageId) list = list.filter((s) => s.images.some((i) => i.id === q.imageId));
    if (q.imageName) list = list.filter((s) => s.images.some((i) => i.name === q.imageName));
    if (q.imageDigest) list = list.filter((s) => s.images.some((i) => i.digest === q.imageDigest));
    for (const [k, v] of pairs(q.tags)) list = list.filter((s) => matches(s.tags, k, v));
    for (const [k, v] of pairs(q.properties)) list = list.filter((s) => matches(s.properties, k, v));
    return list;
  }

  async get(ws: WorkspaceInfo, name: string): Promise<V1Service> {
    return this.service(ws, await this.endpoint(ws, name), await this.images.all(ws));
  }

  /**
   * `PATCH …/services/{name}` with a JSON Patch list, as `AksEndpoint.update_version` and
   * `delete_version` send it: a version's `trafficPercentile` (the version with most traffic among
   * those not named takes the rest, as Azure's default version does), `numReplicas` (sku.capacity)
   * and `tags`; `remove /versions/{d}` deletes the deployment. Everything is checked before anything
   * changes; other paths are a 400 naming them.
   */
  async patch(ws: WorkspaceInfo, ep: StoredResource, body: unknown, by: Principal): Promise<void> {
    if (!Array.isArray(body) || body.length === 0)
      throw new InvalidInput(
        'the body must be a JSON Patch list such as [{"op": "replace", "path": "/versions/{name}/trafficPercentile", "value": 50}]',
        {
          code: 'INVALID_INPUT',
        },
      );
    const { value: deployments } = await this.serving.deployments.list(ws, ep.name, { top: 1000 });
    const byName = new Map(deployments.map((d) => [d.name.toLowerCase(), d]));
    const traffic: Record<string, number> = { ...((ep.properties.traffic as Record<string, number>) ?? {}) };
    const named = new Set<string>();
    const changes = new Map<string, { capacity?: number; tags?: Record<string, string> }>();
    const removes: StoredResource[] = [];
    body.forEach((raw, i) => {
      const t = `body[${i}]`;
      const o = obj(raw, t)!;
      const op = str(o, 'op', t, { required: true, oneOf: ['add', 'replace', 'remove'] })!;
      const path = str(o, 'path', t, { required: true, max: 500 })!;
      const m = /^\/versions\/([^/]+)(?:\/(trafficPercentile|numReplicas|tags))?$/.exec(path);
      if (!m)
        throw new InvalidInput(
          `${t}.path '${path}' is not served: a version's trafficPercentile, numReplicas and tags can change, or a version be removed; change the endpoint itself through ARM PATCH W/onlineEndpoints/${ep.name}`,
          { code: 'INVALID_INPUT', target: `${t}.path` },
        );
      const d = byName.get(m[1]!.toLowerCase());
      if (!d)
        throw new NotFound(
          `webservice '${ep.name}' has no version '${m[1]}' (it has ${[...byName.values()].map((x) => x.name).join(', ') || 'none'})`,
          {
            code: 'NOT_FOUND',
          },
        );
      if (!m[2]) {
        if (op !== 'remove')
          throw new InvalidInput(`${t}: a version can only be removed here; create one through ARM`, {
            code: 'INVALID_INPUT',
            target: `${t}.op`,
          });
        removes.push(d);
        return;
      }
      const v = o.value;
      const change = changes.get(d.name) ?? {};
      if (m[2] === 'trafficPercentile') {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 100)
          throw new InvalidInput(`${t}.value must be a whole percent from 0 to 100, got ${JSON.stringify(v)}`, {
            code: 'INVALID_TRAFFIC',
            target: `${t}.value`,
          });
        traffic[d.name] = v;
        named.add(d.name);
      } else if (m[2] === 'numReplicas') {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 32)
          throw new InvalidInput(
            `${t}.value must be a whole number of replicas from 1 to 32, got ${JSON.stringify(v)}`,
            { code: 'INVALID_INPUT', target: `${t}.value` },
          );
        change.capacity = v;
      } else {
        if (!v || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string'))
          throw new InvalidInput(`${t}.value must be an object of string tags`, {
            code: 'INVALID_INPUT',
            target: `${t}.value`,
          });
        change.tags = v as Record<string, string>;
      }
      changes.set(d.name, change);
    });
    if (named.size) {
      // The rest goes to the version with most traffic among those the patch does not name.
      const sum = Object.values(traffic).reduce((a, b) => a + b, 0);
      const others = deployments
        .filter((d) => !named.has(d.name))
        .sort((a, b) => (traffic[b.name] ?? 0) - (traffic[a.name] ?? 0));
      if (sum !== 100 && others.length) {
        const rest =
          100 -
          Object.entries(traffic)
            .filter(([k]) => k !== others[0]!.name)
            .reduce((a, [, b]) => a + b, 0);
        if (rest >= 0) traffic[others[0]!.name] = rest;
      }
      await this.serving.endpoints.checkTraffic(
        ep.id,
        traffic,
        (ep.properties.mirrorTraffic as Record<string, number>) ?? {},
      );
    }
    for (const d of removes)
      if ((traffic[d.name] ?? 0) > 0)
        throw new Conflict(
          `version '${d.name}' gets ${traffic[d.name]}% of webservice '${ep.name}''s traffic; set its trafficPercentile to 0 first`,
          {
            code: 'ONLINE_DEPLOYMENT_BUSY',
          },
        );
    if (named.size) await this.serving.endpoints.patch(ws, ep, { properties: { traffic } }, by);
    for (const [name, c] of changes) {
      if (c.capacity === undefined && c.tags === undefined) continue;
      const d = byName.get(name.toLowerCase())!;
      await this.serving.deployments.patch(
        ws,
        d,
        { ...(c.tags ? { tags: c.tags } : {}), ...(c.capacity !== undefined ? { sku: { capacity: c.capacity } } : {}) },
        by,
      );
    }
    for (const d of removes) await this.serving.deployments.delete(ws, ep.name, d.name);
  }

  /**
   * `service.update(…)` (`PATCH …/services/{name}` with service paths): description, kvTags,
   * properties, numReplicas; autoScaler (an AKS service on a Ray compute: Ray Serve's autoscaler);
   * authEnabled / aadAuthEnabled (an AKS service switches between keys
   * and tokens; never neither); a new environmentImageRequest (inference_config / models) makes a new version of a
   * service made by Model.deploy (the returned operation). Everything is checked before anything changes.
   */
  async update(
    ws: WorkspaceInfo,
    ep: StoredResource,
    body: unknown[],
    by: Principal,
    deployer: V1WebserviceDeployer,
  ): Promise<Operation | undefined> {
    const v1Type = V1WebserviceDeployer.computeType(ep);
    const own: Record<string, string> = { ...((ep.properties.properties as Record<string, string>) ?? {}) };
    let tags: Record<string, string> | undefined;
    let description: string | undefined;
    let capacity: number | undefined;
    let image: unknown;
    let resources: Obj | undefined;
    const authMode = ep.properties.authMode;
    let keyAuth: boolean | undefined;
    let tokenAuth: boolean | undefined;
    let authAt = '';
    const autoScaler: Obj = {};
    let autoAt = '';
    body.forEach((raw, i) => {
      const t = `body[${i}]`;
      const o = obj(raw, t)!;
      str(o, 'op', t, { required: true, oneOf: ['add', 'replace'] });
      const p = str(o, 'path', t, { required: true, max: 500 })!;
      const v = o.value;
      const bad = (why: string) =>
        new InvalidInput(`${t} (${p}): ${why}`, { code: 'INVALID_INPUT', target: `${t}.value` });
      const prop = /^\/properties\/(.+)$/.exec(p);
      const res = /^\/containerResourceRequirements\/(cpu|memoryInGB)$/.exec(p);
      if (p === '/kvTags') {
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad('must be an object of tags');
        tags = Object.fromEntries(Object.entries(v as Obj).map(([k, x]) => [k, String(x)]));
      } else if (prop) {
        if (prop[1]!.startsWith('azureml.v1.')) throw bad('this property is kept by the server');
        own[prop[1]!] = String(v);
      } else if (p === '/description') {
        if (typeof v !== 'string' || v.length > 5000) throw bad('must be a text of at most 5000 characters');
        description = v;
      } else if (p === '/authEnabled' || p === '/aadAuthEnabled') {
        if (typeof v !== 'boolean') throw bad('must be true or false');
        if (p === '/authEnabled') keyAuth = v;
        else tokenAuth = v;
        authAt = t;
      } else if (p === '/appInsightsEnabled') {
        if (typeof v !== 'boolean') throw bad('must be true or false');
        if (v) throw appInsightsNotServed(`${t}.value`);
      } else if (p === '/dataCollection/storageEnabled') {
        if (typeof v !== 'boolean') throw bad('must be true or false');
        if (v) throw dataCollectionNotServed(`${t}.value`);
      } else if (
        /^\/autoScaler\/(autoscaleEnabled|minReplicas|maxReplicas|refreshPeriodInSeconds|targetUtilization)$/.test(p)
      ) {
        if (v1Type !== 'AKS')
          throw bad(
            v1Type === 'ACI'
              ? 'an ACI service runs a fixed number of replicas (Azure gives ACI no autoscaling)'
              : "this endpoint was made through ARM: change its deployments' scaleSettings through ARM",
          );
        autoScaler[p.slice('/autoScaler/'.length)] = v;
        autoAt = t;
      } else if (p === '/numReplicas') {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 32)
          throw bad(`must be a whole number of replicas from 1 to 32, got ${JSON.stringify(v)}`);
        capacity = v;
      } else if (p === '/environmentImageRequest' && v1Type) {
        image = v;
      } else if (res && v1Type) {
        if (typeof v !== 'number' || v <= 0) throw bad('must be a positive number');
        resources = { ...(resources ?? JSON.parse(own[V1_RESOURCES] ?? '{}')), [res[1]!]: v };
      } else
        throw new InvalidInput(
          `${t}.path '${p}' cannot change here: description, tags, properties, num_replicas${v1Type ? ', the inference_config / models' : ''} can${v1Type ? '' : ' (a service made through ARM changes through ARM PATCH W/onlineEndpoints/' + ep.name + ')'}`,
          { code: 'INVALID_INPUT', target: `${t}.path` },
        );
    });
    // Authentication: keys or tokens (AKS may switch, as Azure allows); never none.
    let switchTo: 'Key' | 'AMLToken' | undefined;
    if (keyAuth !== undefined || tokenAuth !== undefined) {
      const key = keyAuth ?? (authMode === 'Key' && tokenAuth !== true);
      const token = tokenAuth ?? (authMode === 'AMLToken' && keyAuth !== true);
      const refuse = (why: string) => new InvalidInput(`${authAt}: ${why}`, { code: 'INVALID_INPUT', target: authAt });
      if (key && token)
        throw refuse('a service uses keys or tokens, not both: set one of auth_enabled and token_auth_enabled');
      if (!key && !token)
        throw refuse(
          "every request to a service here is authenticated (Atelier's security rule): keep auth_enabled=True (keys: get_keys()) or, for an AKS service, token_auth_enabled=True (get_access_token())",
        );
      const mode = token ? 'AMLToken' : 'Key';
      if (mode !== authMode) {
        if (v1Type !== 'AKS')
          throw refuse(
            v1Type === 'ACI'
              ? 'an ACI service authenticates with keys (Azure gives ACI no token authentication)'
              : `this endpoint was made through ARM, where its authMode cannot change: change it through ARM by making a new endpoint`,
          );
        switchTo = mode;
      }
    }
    if (resources) own[V1_RESOURCES] = JSON.stringify(resources);
    const { value: deployments } = await this.serving.deployments.list(ws, ep.name, { top: 1000 });
    if (capacity !== undefined && deployments.length !== 1)
      throw new InvalidInput(
        `webservice '${ep.name}' has ${deployments.length} versions: set num_replicas on one with update_version`,
        { code: 'INVALID_INPUT' },
      );
    // Autoscaling (AKS on a Ray compute): the given autoScaler fields over the version's own, checked
    // as at deploy time; on becomes Ray Serve's autoscaling_config (starting at the minimum), off a
    // fixed number of replicas (num_replicas, else as many as run now).
    let rescale: { scaleSettings: Obj; capacity: number } | undefined;
    if (autoAt) {
      const refuse = (why: string) => new InvalidInput(`${autoAt}: ${why}`, { code: 'INVALID_INPUT', target: autoAt });
      if (deployments.length !== 1)
        throw refuse(
          `webservice '${ep.name}' has ${deployments.length} versions: set autoscaling on one with update_version`,
        );
      if (image !== undefined) throw refuse('change autoscaling and the inference_config / models in two updates');
      const d = deployments[0]!;
      const current = autoScalerOf(d.properties, Number(d.sku?.capacity ?? 1));
      const on = autoScaler.autoscaleEnabled ?? current.autoscaleEnabled;
      if (typeof on !== 'boolean') throw refuse('autoscale_enabled must be true or false');
      if (!on && Object.keys(autoScaler).some((k) => k !== 'autoscaleEnabled'))
        throw refuse(
          'autoscale_min_replicas, _max_replicas, _target_utilization and _refresh_seconds need autoscale_enabled=True',
        );
      const scaleSettings = on
        ? scaleSettingsOf(
            { ...(current.autoscaleEnabled ? current : {}), ...autoScaler, autoscaleEnabled: true },
            `${autoAt}.value`,
            Boolean(ep.properties.compute),
          )!
        : { scaleType: 'Default' };
      if (on && capacity !== undefined)
        throw refuse('num_replicas and autoscaling exclude each other: the autoscaler sets the replicas');
      rescale = {
        scaleSettings,
        capacity: on ? Number(scaleSettings.minInstances) : (capacity ?? Number(d.sku?.capacity ?? 1)),
      };
    }
    // The new version first (it checks the request and its uploads): a 4xx there changes nothing.
    const op = image !== undefined ? await deployer.replaceVersion(ws, ep, image, by) : undefined;
    const scaled = rescale ? await this.serving.deployments.rescale(ws, deployments[0]!, rescale, by) : undefined;
    await this.serving.endpoints.patch(
      ws,
      ep,
      {
        ...(tags ? { tags } : {}),
        properties: { properties: own, ...(description !== undefined ? { description } : {}) },
      },
      by,
    );
    if (!rescale && capacity !== undefined && !op)
      await this.serving.deployments.patch(ws, deployments[0]!, { sku: { capacity } }, by);
    if (switchTo) await this.serving.endpoints.switchAuthMode(ws, ep, switchTo);
    return op ?? scaled;
  }

  /** The logs of the endpoint's deployments, most traffic first, each under its name. */
  async logs(ws: WorkspaceInfo, name: string, tail: number | undefined, init: boolean): Promise<string> {
    const { endpoint: ep, deployment } = await this.endpointOrVersion(ws, name);
    const traffic = (ep.properties.traffic as Record<string, number>) ?? {};
    const deployments = deployment
      ? [deployment]
      : (await this.serving.deployments.list(ws, ep.name, { top: 1000 })).value;
    deployments.sort((a, b) => (traffic[b.name] ?? 0) - (traffic[a.name] ?? 0) || a.name.localeCompare(b.name));
    const parts: string[] = [];
    for (const d of deployments) {
      const { content } = await this.serving.deployments.getLogs(d, {
        ...(tail !== undefined ? { tail } : {}),
        containerType: init ? 'StorageInitializer' : 'InferenceServer',
      });
      parts.push(deployments.length > 1 ? `== deployment ${d.name} ==\n${content}` : content);
    }
    return parts.join('\n');
  }
}
