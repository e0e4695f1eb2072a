import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import { toArmBody, type ResourceEngine, type ResourceDefinition, type StoredResource } from '../resources/engine.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { OperationService, Operation } from '../operations/operations.js';
import { resolveWorkspaceById } from '../resources/workspaces.js';
import { parseResourceId } from '../resources/resource-ids.js';
import { Conflict, InvalidInput, NotFound, NotImplemented } from '../errors.js';
import { bool, invalid, obj, onlyKeys, str, stringMap, type Obj } from '../assets/validate.js';
import { versionsNamed, type VersionedAssetService } from '../assets/versioned-assets.js';
import type { Tx } from '../store/database.js';
import type { DeploymentSpec, ProbeSettings, ServingEngine } from './engines/engine.js';
import type { BalancerSettings } from './proxy/balancer.js';
import { DEPLOYMENT_TYPE, type OnlineEndpointService } from './online-endpoints.js';
import {
  MODELS_PROPERTY,
  mlflowModelDir,
  mlflowRequirements,
  modelsServed,
  parseModelList,
  parseModelRef,
  type ModelSource,
} from './model-source.js';
import type { ServingRuntimes } from './serving.js';
import type { CodeSnapshotsPort, EnvironmentBuildsPort } from './ports.js';
import { parseQuantity } from './quantities.js';
import type { DeploymentPackages, PackageContents } from './packages.js';
import { formatDuration, parseDuration } from './durations.js';
import { tailFile } from './logs.js';

/** What a deployment's instances are started from: its properties but the provisioning state, and its sku. */
export function deploymentVersion(r: StoredResource): string {
  const { provisioningState: _state, ...props } = r.properties;
  return crypto
    .createHash('sha256')
    .update(JSON.stringify([props, r.sku ?? null]))
    .digest('hex');
}

const DEPLOYMENT_NAME = /^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$/;
/** Most instances one deployment may ask for on this machine. */
export const MAX_CAPACITY = 32;

export const deploymentDefinition: ResourceDefinition = {
  type: DEPLOYMENT_TYPE,
  checkName(name: string) {
    if (!DEPLOYMENT_NAME.test(name))
      throw new InvalidInput(
        `deployment name '${name}' is invalid: use 3–32 letters, digits and '-', starting with a letter and not ending with '-'`,
        { code: 'INVALID_ENDPOINT_NAME', target: 'name' },
      );
  },
  immutable: ['endpointComputeType'],
};

/** Azure's probe defaults, except the readiness probe's initial delay: a worker says when it listens, so none is needed. */
const READINESS: ProbeSettings = {
  initialDelayMs: 0,
  periodMs: 10_000,
  timeoutMs: 2_000,
  failureThreshold: 30,
  successThreshold: 1,
};
const LIVENESS: ProbeSettings = {
  initialDelayMs: 10_000,
  periodMs: 10_000,
  timeoutMs: 2_000,
  failureThreshold: 30,
  successThreshold: 1,
};

const ALLOWED = [
  'endpointComputeType',
  'model',
  'modelMountPath',
  'codeConfiguration',
  'environmentId',
  'environmentVariables',
  'instanceType',
  'containerResourceRequirements',
  'scaleSettings',
  'requestSettings',
  'livenessProbe',
  'readinessProbe',
  'startupProbe',
  'description',
  'properties',
  'appInsightsEnabled',
  'egressPublicNetworkAccess',
  'dataCollector',
  'provisioningState',
];

function int(o: Obj, key: string, target: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalid(`${target}.${key}`, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function probe(p: Obj, key: string, defaults: ProbeSettings): Obj {
  const o = obj(p[key], `properties.${key}`, false);
  const t = `properties.${key}`;
  if (!o) return wireProbe(defaults);
  onlyKeys(o, ['initialDelay', 'period', 'timeout', 'failureThreshold', 'successThreshold'], t);
  const s: ProbeSettings = {
    initialDelayMs:
      o.initialDelay === undefined || o.initialDelay === null
        ? defaults.initialDelayMs
        : parseDuration(o.initialDelay, `${t}.initialDelay`, { maxMs: 3_600_000 }),
    periodMs:
      o.period === undefined || o.period === null
        ? defaults.periodMs
        : parseDuration(o.period, `${t}.period`, { minMs: 1_000, maxMs: 3_600_000 }),
    timeoutMs:
      o.timeout === undefined || o.timeout === null
        ? defaults.timeoutMs
        : parseDuration(o.timeout, `${t}.timeout`, { minMs: 100, maxMs: 600_000 }),
    failureThreshold: int(o, 'failureThreshold', t, 1, 1000) ?? defaults.failureThreshold,
    successThreshold: int(o, 'successThreshold', t, 1, 1000) ?? defaults.successThreshold,
  };
  return wireProbe(s);
}

function wireProbe(s: ProbeSettings): Obj {
  return {
    initialDelay: formatDuration(s.initialDelayMs),
    period: formatDuration(s.periodMs),
    timeout: formatDuration(s.timeoutMs),
    failureThreshold: s.failureThreshold,
    successThreshold: s.successThreshold,
  };
}

function probeSettings(w: Obj): ProbeSettings {
  return {
    initialDelayMs: parseDuration(w.initialDelay, 'initialDelay'),
    periodMs: parseDuration(w.period, 'period'),
    timeoutMs: parseDuration(w.timeout, 'timeout'),
    failureThreshold: Number(w.failureThreshold),
    successThreshold: Number(w.successThreshold),
  };
}

/** A deployment's autoscaling (scaleSettings TargetUtilization, as validated) for its engine, or undefined. */
export function autoscaleOf(props: Obj): DeploymentSpec['autoscale'] {
  const s = (props.scaleSettings ?? {}) as Obj;
  if (s.scaleType !== 'TargetUtilization') return undefined;
  return {
    minInstances: Number(s.minInstances ?? 1),
    maxInstances: Number(s.maxInstances ?? 1),
    targetUtilization: Number(s.targetUtilizationPercentage ?? 70),
    pollingIntervalS: parseDuration(s.pollingInterval ?? 'PT1S', 'scaleSettings.pollingInterval') / 1000,
  };
}

export function balancerSettings(props: Obj, capacity: number): BalancerSettings {
  const rs = (props.requestSettings ?? {}) as Obj;
  const per = Number(rs.maxConcurrentRequestsPerInstance ?? 1);
  return {
    requestTimeoutMs: parseDuration(rs.requestTimeout ?? 'PT5S', 'requestTimeout'),
    maxQueueWaitMs: parseDuration(rs.maxQueueWait ?? 'PT0.5S', 'maxQueueWait'),
    maxQueueLength: Math.max(64, per * capacity * 16),
  };
}

/** What a provisioning assembled, for its package record. */
interface PackageCollector {
  contents: Partial<PackageContents>;
  lines: string[];
}

/**
 * Online deployments (`W/onlineEndpoints/{e}/deployments/{d}`): a registered model (and, for a
 * scoring script, a code asset and an environment) served by `sku.capacity` instances of a
 * serving engine. Provisioning is a durable long-running operation: the model's files are
 * fetched, the environment built, the instances started and probed; a model that fails to load
 * leaves the deployment Failed with the log's tail in the operation's error (and `getLogs`).
 */
export class OnlineDeploymentService {
  /** Plugged in by the composition root when the modules that provide them exist. */
  environments?: EnvironmentBuildsPort;
  codes?: CodeSnapshotsPort;
  /** The Ray Serve engine of a cluster (by dashboard address): deployments of endpoints on an attached Ray compute. */
  rayServe?: (dashboardUrl: string) => ServingEngine;
  private readonly logDir: string;
  /** Starts under way in this replica (ensureRunning, reconcile), by lower-cased deployment id. */
  private readonly starting = new Map<string, Promise<boolean>>();
  private readonly misses = new Map<string, number>();
  private following?: NodeJS.Timeout;

  /**
   * The versioned assets (environments, codes) a deployment may name with a version, set at the
   * composition root: a deployment is written holding each version it names (see `usingVersion`).
   */
  versions: Record<string, Pick<VersionedAssetService, 'hold'>> = {};
  /** Test-only: called inside a deployment's write once it holds the versions it names. */
  testHooks: { versionsHeld?: () => Promise<void> } = {};

  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
    private readonly operations: OperationService,
    private readonly endpoints: OnlineEndpointService,
    private readonly models: ModelSource,
    private readonly runtimes: ServingRuntimes,
    private readonly servingEngine: ServingEngine,
    private readonly servingPython: string | undefined,
    private readonly packages: DeploymentPackages,
  ) {
    this.logDir = path.join(ctx.config.home, 'serving', 'logs');
    operations.onRecover('onlineDeployment.provision', async (op) => {
      await this.engine.setProperties(op.resourceId, { provisioningState: 'Failed' }).catch(() => undefined);
    });
  }

  idOf(endpointId: string, name: string): string {
    return `${endpointId}/deployments/${name}`;
  }

  logFile(deploymentId: string): string {
    return path.join(
      this.logDir,
      `${crypto.createHash('sha256').update(deploymentId.toLowerCase()).digest('hex').slice(0, 32)}.log`,
    );
  }

  async get(ws: WorkspaceInfo, endpoint: string, name: string): Promise<StoredResource> {
    const ep = await this.endpoints.get(ws, endpoint);
    const r = await this.engine.get(this.idOf(ep.id, name));
    if (!r)
      throw new NotFound(`online endpoint '${ep.name}' has no deployment '${name}'`, {
        code: 'ONLINE_DEPLOYMENT_NOT_FOUND',
      });
    return r;
  }

  async list(ws: WorkspaceInfo, endpoint: string, page: { after?: string; top: number }) {
    const ep = await this.endpoints.get(ws, endpoint);
    return this.engine.list({ type: DEPLOYMENT_TYPE, parentId: ep.id, after: page.after, top: page.top });
  }

  /** Validates a PUT body into stored properties and sku (nothing is stored here). */
  private async validate(
    ws: WorkspaceInfo,
    ep: StoredResource,
    body: Obj,
  ): Promise<{ props: Obj; sku: Obj; capacity: number }> {
    onlyKeys(
      body,
      ['location', 'tags', 'identity', 'kind', 'sku', 'properties', 'id', 'name', 'type', 'systemData'],
      'body',
    );
    const T = 'properties';
    const p = obj(body.properties, T)!;
    onlyKeys(p, ALLOWED, T);
    // An endpoint on an attached compute (a Ray cluster) runs Kubernetes deployments, as Azure's
    // endpoints on attached Kubernetes computes do; one without runs Managed ones on this machine.
    const onCompute = typeof ep.properties.compute === 'string' ? ep.properties.compute : undefined;
    const computeType =
      str(p, 'endpointComputeType', T, { oneOf: ['Managed', 'Kubernetes', 'AzureMLCompute'] }) ??
      (onCompute ? 'Kubernetes' : 'Managed');
    if (onCompute && computeType !== 'Kubernetes')
      throw invalid(
        `${T}.endpointComputeType`,
        `endpoint '${ep.name}' runs its deployments on its compute '${onCompute.split('/').pop()}' (Ray Serve): use Kubernetes (the type of deployments on an endpoint's attached compute) or leave it out`,
      );
    if (!onCompute && computeType !== 'Managed')
      throw invalid(
        `${T}.endpointComputeType`,
        `${computeType} deployments run on the endpoint's attached compute, and endpoint '${ep.name}' has none: use Managed (instances on this machine), or deploy to an endpoint created with properties.compute naming an attached Ray compute`,
      );
    const props: Obj = { endpointComputeType: computeType };
    const onRay = computeType === 'Kubernetes';
    const model = str(p, 'model', T, { max: 1000 });
    if (model !== undefined) {
      const ref = parseModelRef(model, ws);
      await this.models.check(ws, ref);
      props.model = model;
    }
    const code = obj(p.codeConfiguration, `${T}.codeConfiguration`, false);
    if (code) {
      onlyKeys(code, ['codeId', 'scoringScript'], `${T}.codeConfiguration`);
      const codeId = str(code, 'codeId', `${T}.codeConfiguration`, { required: true, max: 1000 })!;
      const scoringScript = str(code, 'scoringScript', `${T}.codeConfiguration`, { required: true, max: 500 })!;
      if (path.isAbsolute(scoringScript) || scoringScript.split(/[\\/]/).includes('..'))
        throw invalid(
          `${T}.codeConfiguration.scoringScript`,
          'must be a path inside the code folder (no .., not absolute)',
        );
      props.codeConfiguration = { codeId, scoringScript };
    }
    if (!model && !code)
      throw invalid(`${T}.model`, 'is required (or a codeConfiguration whose scoring script finds its own model)');
    const environmentId = str(p, 'environmentId', T, { max: 1000 });
    if (environmentId !== undefined) props.environmentId = environmentId;
    if (code && !environmentId && !this.servingPython && !onRay)
      throw invalid(
        `${T}.environmentId`,
        'is required with a codeConfiguration: name the environment the scoring script runs in',
      );
    if (code && !this.codes)
      throw new NotImplemented(
        'deployments with a codeConfiguration need code snapshots, which this server does not provide yet; deploy an MLflow model without code',
        { code: 'ENVIRONMENT_BUILDS_UNAVAILABLE' },
      );
    if (environmentId !== undefined && !this.environments && !onRay)
      throw new NotImplemented(
        'environment builds are not available on this server yet: leave environmentId out to serve an MLflow model with ATELIER_SERVING_PYTHON',
        { code: 'ENVIRONMENT_BUILDS_UNAVAILABLE' },
      );
    if (environmentId !== undefined && this.environments) {
      // Checked now (exists, buildable here) so a bad id is a 400 that stores nothing; built in the operation.
      try {
        await this.environments.check(ws, environmentId);
      } catch (e) {
        if (e instanceof NotFound || e instanceof InvalidInput)
          throw new InvalidInput(`${T}.environmentId: ${e.message}`, {
            code: e instanceof NotFound ? 'INVALID_INPUT' : e.code,
            target: `${T}.environmentId`,
          });
        throw e;
      }
    }
    if (environmentId !== undefined && onRay && !this.environments)
      throw new NotImplemented('environments are not available on this server yet: leave environmentId out', {
        code: 'ENVIRONMENT_BUILDS_UNAVAILABLE',
      });
    if (environmentId === undefined && !this.servingPython && !this.environments && !onRay)
      throw new NotImplemented(
        "this server cannot make a Python environment for the model: set ATELIER_SERVING_PYTHON (a Python with mlflow and the model's requirements) or give an environmentId",
        { code: 'ENVIRONMENT_BUILDS_UNAVAILABLE' },
      );
    const env = stringMap(p, 'environmentVariables', T, {
      keyPattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
      rule: 'must be a variable name (letters, digits, _)',
    });
    if (env) {
      for (const k of Object.keys(env))
        if (/^(ATELIER_|AZUREML_MODEL_DIR$)/.test(k))
          throw invalid(`${T}.environmentVariables.${k}`, 'is set by the server; remove it');
      props.environmentVariables = env;
    } else props.environmentVariables = {};
    props.instanceType = str(p, 'instanceType', T, { max: 100 }) ?? (onRay ? 'Ray' : 'Local');
    const resources = obj(p.containerResourceRequirements, `${T}.containerResourceRequirements`, false);
    if (resources) {
      const RT = `${T}.containerResourceRequirements`;
      if (!onRay)
        throw invalid(RT, 'sizes the replicas of a deployment on an attached compute; a Managed deployment has none');
      onlyKeys(resources, ['containerResourceRequests', 'containerResourceLimits'], RT);
      if (resources.containerResourceLimits != null)
        throw invalid(
          `${RT}.containerResourceLimits`,
          'Ray reserves resources for each replica but does not cap them: give containerResourceRequests only',
        );
      const req = obj(resources.containerResourceRequests, `${RT}.containerResourceRequests`, false) ?? {};
      onlyKeys(req, ['cpu', 'memory', 'gpu'], `${RT}.containerResourceRequests`);
      const out: Obj = {};
      for (const k of ['cpu', 'memory', 'gpu'] as const) {
        const v = str(req, k, `${RT}.containerResourceRequests`, { max: 40 });
        if (v === undefined) continue;
        parseQuantity(v, k, `${RT}.containerResourceRequests.${k}`);
        out[k] = v;
      }
      props.containerResourceRequirements = { containerResourceRequests: out };
    }
    const description = str(p, 'description', T, { max: 5000 });
    if (description !== undefined) props.description = description;
    props.properties = stringMap(p, 'properties', T) ?? {};
    const several = (props.properties as Record<string, string>)[MODELS_PROPERTY];
    if (several !== undefined) {
      const target = `${T}.properties.${MODELS_PROPERTY}`;
      const refs = parseModelList(several, ws, target);
      for (const r of refs) await this.models.check(ws, r);
      const first = model === undefined ? undefined : parseModelRef(model, ws);
      if (!first || first.name !== refs[0]!.name || first.version !== refs[0]!.version)
        throw invalid(target, `lists the models of a deployment whose properties.model is the first of them`);
    }
    props.appInsightsEnabled = bool(p, 'appInsightsEnabled', T) ?? false;
    props.egressPublicNetworkAccess =
      str(p, 'egressPublicNetworkAccess', T, { oneOf: ['Enabled', 'Disabled'] }) ?? 'Enabled';
    const scale = obj(p.scaleSettings, `${T}.scaleSettings`, false);
    if (scale) {
      const S = `${T}.scaleSettings`;
      const st = str(scale, 'scaleType', S, { oneOf: ['Default', 'TargetUtilization'] });
      if (st === 'TargetUtilization') {
        if (!onRay)
          throw invalid(
            `${S}.scaleType`,
            `a Managed deployment runs sku.capacity worker processes on this machine, an executor with no autoscaler; autoscaling (TargetUtilization) runs on an endpoint on an attached Ray compute (Ray Serve's autoscaler): use Default and set sku.capacity here`,
          );
        onlyKeys(
          scale,
          ['scaleType', 'minInstances', 'maxInstances', 'targetUtilizationPercentage', 'pollingInterval'],
          S,
        );
        const minInstances = int(scale, 'minInstances', S, 1, MAX_CAPACITY) ?? 1;
        const maxInstances = int(scale, 'maxInstances', S, 1, MAX_CAPACITY) ?? Math.max(1, minInstances);
        if (maxInstances < minInstances)
          throw invalid(`${S}.maxInstances`, `must be at least minInstances (${minInstances}), got ${maxInstances}`);
        const pollMs =
          scale.pollingInterval == null
            ? 1_000
            : parseDuration(scale.pollingInterval, `${S}.pollingInterval`, { minMs: 1_000, maxMs: 3_600_000 });
        props.scaleSettings = {
          scaleType: 'TargetUtilization',
          minInstances,
          maxInstances,
          targetUtilizationPercentage: int(scale, 'targetUtilizationPercentage', S, 1, 100) ?? 70,
          pollingInterval: formatDuration(pollMs),
        };
      } else onlyKeys(scale, ['scaleType'], S);
    }
    const rs = obj(p.requestSettings, `${T}.requestSettings`, false) ?? {};
    onlyKeys(rs, ['maxConcurrentRequestsPerInstance', 'requestTimeout', 'maxQueueWait'], `${T}.requestSettings`);
    props.requestSettings = {
      maxConcurrentRequestsPerInstance:
        int(rs, 'maxConcurrentRequestsPerInstance', `${T}.requestSettings`, 1, 1000) ?? 1,
      requestTimeout: formatDuration(
        rs.requestTimeout == null
          ? 5_000
          : parseDuration(rs.requestTimeout, `${T}.requestSettings.requestTimeout`, { minMs: 1, maxMs: 180_000 }),
      ),
      maxQueueWait: formatDuration(
        rs.maxQueueWait == null
          ? 500
          : parseDuration(rs.maxQueueWait, `${T}.requestSettings.maxQueueWait`, { maxMs: 60_000 }),
      ),
    };
    props.livenessProbe = probe(p, 'livenessProbe', LIVENESS);
    props.readinessProbe = probe(p, 'readinessProbe', READINESS);
    const sku = obj(body.sku, 'sku', false) ?? {};
    onlyKeys(sku, ['name', 'tier', 'size', 'family', 'capacity'], 'sku');
    const capacity = int(sku, 'capacity', 'sku', 1, MAX_CAPACITY) ?? 1;
    return { props, sku: { name: str(sku, 'name', 'sku', { max: 100 }) ?? 'Default', capacity }, capacity };
  }

  /** The deployments of `ws` that name a version (`{segment}/{name}/{version}`), read in `tx` (the version delete's). */
  async usingVersion(tx: Pick<Tx, 'db'>, ws: WorkspaceInfo, key: string): Promise<string[]> {
    const prefix = `${ws.id.toLowerCase()}/`;
    return (await this.engine.scan({ type: DEPLOYMENT_TYPE }, tx))
      .filter((d) => d.id.toLowerCase().startsWith(prefix) && versionsNamed(d.properties).has(key))
      .map((d) => `deployment '${d.name}' of online endpoint '${parseResourceId(d.parentId!).name}'`);
  }

  /**
   * The deployments of a workspace (by its GUID: the registry's key) that serve one of a model's
   * `versions`, read in `tx` (the model or version delete's, which holds those versions' rows).
   */
  async usingModel(tx: Pick<Tx, 'db'>, workspaceId: string, name: string, versions: number[]): Promise<string[]> {
    const hit = await tx.db
      .selectFrom('workspace_ids')
      .select('id_key')
      .where('workspace_id', '=', workspaceId.toLowerCase())
      .executeTakeFirst();
    if (!hit) return [];
    const ws = { id: hit.id_key, name: parseResourceId(hit.id_key).name };
    const prefix = `${hit.id_key.toLowerCase()}/`;
    return (await this.engine.scan({ type: DEPLOYMENT_TYPE }, tx))
      .filter(
        (d) =>
          d.id.toLowerCase().startsWith(prefix) &&
          modelsServed(d.properties, ws).some((r) => r.name === name && versions.includes(Number(r.version))),
      )
      .map((d) => `deployment '${d.name}' of online endpoint '${parseResourceId(d.parentId!).name}'`);
  }

  async put(
    ws: WorkspaceInfo,
    endpoint: string,
    name: string,
    body: Obj,
    by: Principal,
  ): Promise<{ resource: StoredResource; created: boolean; operation?: Operation }> {
    deploymentDefinition.checkName(name);
    const ep = await this.endpoints.get(ws, endpoint);
    if (ep.properties.provisioningState === 'Deleting')
      throw new Conflict(`online endpoint '${ep.name}' is being deleted`, { code: 'ONLINE_DEPLOYMENT_BUSY' });
    const id = this.idOf(ep.id, name);
    const { props, sku } = await this.validate(ws, ep, body);
    const active = await this.operations.activeOn(id);
    if (active)
      throw new Conflict(`deployment '${name}' is being provisioned by another operation; wait for it to end`, {
        code: 'ONLINE_DEPLOYMENT_BUSY',
      });
    const existing = await this.engine.get(id);
    props.provisioningState = existing ? 'Updating' : 'Creating';
    // Written holding the model, environment and code versions it names: a delete of one waits for
    // this write and then sees the deployment, or this waits for the delete and then fails.
    const res = await this.ctx.database.write(async (tx) => {
      const models = modelsServed(props, ws);
      for (const ref of models) await this.models.hold(tx, ws, ref);
      const named = [...versionsNamed(props)];
      for (const key of named) {
        const [segment, vname, version] = key.split('/') as [string, string, string];
        await this.versions[segment]?.hold(tx, ws, vname, version);
      }
      if (named.length || models.length) await this.testHooks.versionsHeld?.();
      return this.engine.put(
        deploymentDefinition,
        id,
        {
          location: typeof body.location === 'string' ? body.location : ep.location,
          kind: typeof body.kind === 'string' ? body.kind : String(props.endpointComputeType),
          tags: stringMap(body, 'tags', 'body') ?? {},
          sku,
          properties: props,
        },
        by,
        {},
        tx,
      );
    });
    const operation = await this.provision(ws, res.resource, by);
    return { ...res, operation };
  }

  /** PATCH: tags and sku.capacity (a scale change re-provisions). */
  async patch(ws: WorkspaceInfo, r: StoredResource, body: Obj, by: Principal): Promise<StoredResource> {
    onlyKeys(body, ['tags', 'sku', 'properties'], 'body');
    const sku = obj(body.sku, 'sku', false);
    const capacity = sku ? int(sku, 'capacity', 'sku', 1, MAX_CAPACITY) : undefined;
    const p = obj(body.properties, 'properties', false);
    if (p && Object.keys(p).length) throw invalid('properties', 'cannot be patched; PUT the whole deployment');
    if (capacity !== undefined && (await this.operations.activeOn(r.id)))
      throw new Conflict(`deployment '${r.name}' is being provisioned by another operation; wait for it to end`, {
        code: 'ONLINE_DEPLOYMENT_BUSY',
      });
    const updated = await this.engine.patch(
      deploymentDefinition,
      r.id,
      {
        tags: stringMap(body, 'tags', 'body'),
        sku: capacity !== undefined ? { ...(r.sku ?? {}), capacity } : undefined,
        properties: capacity !== undefined ? { provisioningState: 'Updating' } : undefined,
      },
      by,
    );
    if (capacity !== undefined) await this.provision(ws, updated, by);
    return (await this.engine.get(r.id)) ?? updated;
  }

  /**
   * Changes how a deployment scales (azureml-core's `service.update(autoscale_*…)`): `scaleSettings`
   * as `validate` makes them (TargetUtilization only on an attached Ray compute, whose Ray Serve
   * autoscaler runs them) or `{ scaleType: 'Default' }` with a fixed `capacity`; re-provisions (the
   * operation returned).
   */
  async rescale(
    ws: WorkspaceInfo,
    r: StoredResource,
    change: { scaleSettings: Obj; capacity: number },
    by: Principal,
  ): Promise<Operation> {
    if (change.scaleSettings.scaleType === 'TargetUtilization' && r.properties.endpointComputeType !== 'Kubernetes')
      throw invalid('scaleSettings.scaleType', 'autoscaling runs on a deployment on an attached Ray compute');
    if (await this.operations.activeOn(r.id))
      throw new Conflict(`deployment '${r.name}' is being provisioned by another operation; wait for it to end`, {
        code: 'ONLINE_DEPLOYMENT_BUSY',
      });
    const updated = await this.engine.patch(
      deploymentDefinition,
      r.id,
      {
        sku: { ...(r.sku ?? {}), capacity: change.capacity },
        properties: { provisioningState: 'Updating', scaleSettings: change.scaleSettings },
      },
      by,
    );
    return this.provision(ws, updated, by);
  }

  /** Starts the operation that brings the deployment's instances up (replacing running ones when they are ready). */
  private async provision(ws: WorkspaceInfo, r: StoredResource, by: Principal | undefined): Promise<Operation> {
    return this.operations.start(
      'onlineDeployment.provision',
      { id: r.id, subscriptionId: r.subscriptionId, location: r.location ?? ws.location },
      by?.id,
      async () => {
        // The package record (an image of the workspace): what this provisioning assembled, and its log.
        const pkg: PackageCollector = { contents: {}, lines: [] };
        const record = await this.packages.begin(r.id, ws);
        try {
          await this.startRuntime(ws, r, pkg);
          await this.engine.setProperties(r.id, { provisioningState: 'Succeeded' });
          await this.packages.finish(record, 'Succeeded', pkg.contents, pkg.lines.join('\n'));
        } catch (e) {
          await this.engine.setProperties(r.id, { provisioningState: 'Failed' }).catch(() => undefined);
          pkg.lines.push(`failed: ${(e as Error).message}`);
          await this.packages.finish(record, 'Failed', pkg.contents, pkg.lines.join('\n')).catch(() => undefined);
          throw e;
        }
      },
    );
  }

  /** Resolves what the instances run, starts them, and puts them in service. */
  private async startRuntime(ws: WorkspaceInfo, r: StoredResource, pkg?: PackageCollector): Promise<void> {
    const p = r.properties;
    const logFile = this.logFile(r.id);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const note = (line: string) => {
      const stamped = `${new Date().toISOString()} [atelier] ${line}`;
      pkg?.lines.push(stamped);
      fs.appendFileSync(logFile, `${stamped}\n`);
    };
    const c = pkg?.contents ?? {};
    c.model = typeof p.model === 'string' ? p.model : null;
    note(`provisioning ${r.name}`);
    const servingEngine = await this.engineFor(ws, r);
    let modelDir = '';
    let modelName = r.name;
    let modelVersion = '1';
    if (typeof p.model === 'string') {
      const ref = parseModelRef(p.model, ws);
      modelName = ref.name;
      modelVersion = ref.version;
      modelDir = await this.models.fetch(ws, ref);
      note(`model ${ref.name}:${ref.version} fetched`);
      const several = ((p.properties ?? {}) as Record<string, string>)[MODELS_PROPERTY];
      if (several) {
        const refs = parseModelList(several, ws, `properties.properties.${MODELS_PROPERTY}`);
        modelDir = await this.models.fetchAll(ws, refs);
        note(`models ${refs.map((r) => `${r.name}:${r.version}`).join(', ')} under {name}/{version}/`);
      }
    }
    const code = p.codeConfiguration as { codeId: string; scoringScript: string } | undefined;
    let codeDir: string | undefined;
    let mode: DeploymentSpec['mode'] = 'score';
    if (code) {
      if (!this.codes)
        throw new NotImplemented('code snapshots are not available on this server', {
          code: 'ENVIRONMENT_BUILDS_UNAVAILABLE',
        });
      const snap = await this.codes.snapshot(ws, code.codeId);
      codeDir = snap.dir;
      Object.assign(c, { codeId: code.codeId, codeHash: snap.hash, scoringScript: code.scoringScript });
      if (!fs.existsSync(path.join(codeDir, code.scoringScript)))
        throw new InvalidInput(
          `properties.codeConfiguration.scoringScript: the code asset has no file '${code.scoringScript}'`,
          { code: 'ONLINE_DEPLOYMENT_FAILED', target: 'properties.codeConfiguration.scoringScript' },
        );
      if (!modelDir) {
        modelDir = path.join(this.ctx.config.home, 'serving', 'empty-model');
        fs.mkdirSync(modelDir, { recursive: true });
      }
    } else {
      const dir = mlflowModelDir(modelDir);
      if (!dir)
        throw new InvalidInput(
          `model ${modelName}:${modelVersion} is not an MLflow model (no MLmodel file): give the deployment a codeConfiguration with a scoring script`,
          { code: 'ONLINE_DEPLOYMENT_FAILED', target: 'properties.codeConfiguration' },
        );
      modelDir = dir;
      mode = 'mlflow';
    }
    let pythonPath: string;
    let pipRequirements: string[];
    if (servingEngine.kind === 'ray-serve') {
      // Ray builds the replicas' environment itself (runtime_env.pip): nothing is built here.
      pythonPath = '';
      if (typeof p.environmentId === 'string') {
        if (!this.environments)
          throw new NotImplemented('environments are not available on this server', {
            code: 'ENVIRONMENT_BUILDS_UNAVAILABLE',
          });
        const e = await this.environments.requirements(ws, p.environmentId);
        pipRequirements = e.pipRequirements;
        Object.assign(c, { environmentId: p.environmentId, environmentDigest: `sha256:${e.specHash}` });
        note(`environment ${p.environmentId}: ${pipRequirements.length} pip requirement(s), installed by Ray`);
      } else pipRequirements = mode === 'mlflow' ? mlflowRequirements(modelDir) : [];
    } else if (typeof p.environmentId === 'string') {
      if (!this.environments)
        throw new NotImplemented('environment builds are not available on this server', {
          code: 'ENVIRONMENT_BUILDS_UNAVAILABLE',
        });
      const b = await this.environments.ensure(ws, p.environmentId, { onLog: note });
      pythonPath = b.pythonPath;
      pipRequirements = b.pipRequirements;
      Object.assign(c, {
        environmentId: p.environmentId,
        environmentDigest: b.specHash ? `sha256:${b.specHash}` : null,
      });
    } else if (this.servingPython) {
      pythonPath = this.servingPython;
      pipRequirements = mlflowRequirements(modelDir);
    } else if (this.environments) {
      pipRequirements = mlflowRequirements(modelDir);
      const b = await this.environments.ensureForRequirements(pipRequirements, undefined, { onLog: note });
      pythonPath = b.pythonPath;
      c.environmentDigest = b.specHash ? `sha256:${b.specHash}` : null;
    } else
      throw new NotImplemented('no Python to run the model: set ATELIER_SERVING_PYTHON or give an environmentId', {
        code: 'ENVIRONMENT_BUILDS_UNAVAILABLE',
      });
    const capacity = Number((r.sku as Obj | undefined)?.capacity ?? 1);
    const rs = (p.requestSettings ?? {}) as Obj;
    Object.assign(c, {
      mode,
      pipRequirements,
      environmentId: c.environmentId ?? '',
      environmentDigest: c.environmentDigest ?? null,
      codeId: c.codeId ?? null,
      codeHash: c.codeHash ?? null,
      scoringScript: c.scoringScript ?? null,
      engine: servingEngine.kind,
    });
    const spec: DeploymentSpec = {
      deploymentId: r.id,
      mode,
      modelDir,
      modelName,
      modelVersion,
      codeDir,
      scoringScript: code?.scoringScript,
      pythonPath,
      pipRequirements,
      environmentVariables: (p.environmentVariables as Record<string, string>) ?? {},
      instanceCount: capacity,
      ...(autoscaleOf(p) ? { autoscale: autoscaleOf(p) } : {}),
      maxConcurrentPerInstance: Number(rs.maxConcurrentRequestsPerInstance ?? 1),
      livenessProbe: probeSettings(p.livenessProbe as Obj),
      readinessProbe: probeSettings(p.readinessProbe as Obj),
      resources: resourcesOf(p),
    };
    const runtime = await servingEngine.start(spec, { logFile });
    // The deployment may have been deleted while it started.
    if (!(await this.engine.get(r.id))) {
      await runtime.stop();
      return;
    }
    await this.runtimes.set(r.id, runtime, balancerSettings(p, capacity), deploymentVersion(r));
  }

  /**
   * The engine of a deployment: Ray Serve on the cluster of its endpoint's attached Ray compute
   * (looked up now: the compute may have been detached since), else worker processes here.
   */
  private async engineFor(ws: WorkspaceInfo, r: StoredResource): Promise<ServingEngine> {
    if (r.properties.endpointComputeType !== 'Kubernetes') return this.servingEngine;
    const ep = await this.engine.get(r.parentId!);
    const compute = typeof ep?.properties.compute === 'string' ? ep.properties.compute : undefined;
    if (!compute || !this.endpoints.computes || !this.rayServe)
      throw new InvalidInput(
        `endpoint '${ep?.name ?? '?'}' names no attached compute to run deployment '${r.name}' on`,
        {
          code: 'ONLINE_DEPLOYMENT_FAILED',
        },
      );
    let c: Awaited<ReturnType<NonNullable<OnlineEndpointService['computes']>['capacity']>>;
    try {
      c = await this.endpoints.computes.capacity(ws, compute);
    } catch (e) {
      throw new InvalidInput(
        `the endpoint's compute '${compute.split('/').pop()}' cannot run the deployment: ${(e as Error).message}`,
        { code: 'ONLINE_DEPLOYMENT_FAILED' },
      );
    }
    if (c.computeType !== 'Ray' || !c.rayAddress)
      throw new InvalidInput(`the endpoint's compute '${c.name}' is not an attached Ray cluster`, {
        code: 'ONLINE_DEPLOYMENT_FAILED',
      });
    return this.rayServe(c.rayAddress);
  }

  /**
   * Makes a deployment serve in this replica: another replica (same database) provisioned it, so
   * this one starts its own instances from the durable record (deduplicated; resolves false when
   * the deployment is not Succeeded or is being provisioned). A miss is remembered for a second.
   */
  async ensureRunning(deploymentId: string): Promise<boolean> {
    if (this.runtimes.has(deploymentId)) return true;
    const key = deploymentId.toLowerCase();
    const missed = this.misses.get(key);
    if (missed && Date.now() - missed < 1_000) return false;
    let p = this.starting.get(key);
    if (!p) {
      p = (async () => {
        const r = await this.engine.get(deploymentId);
        if (!r || r.properties.provisioningState !== 'Succeeded' || (await this.operations.activeOn(r.id))) {
          this.misses.set(key, Date.now());
          return false;
        }
        const ws = await resolveWorkspaceById(this.ctx, parseResourceId(r.parentId!).parentId!);
        await this.startRuntime(ws, r);
        return this.runtimes.has(deploymentId);
      })()
        .catch((e) => {
          this.ctx.log.warn(
            { deployment: deploymentId, err: (e as Error).message.split('\n')[0] },
            'a deployment provisioned by another replica could not start here',
          );
          this.misses.set(key, Date.now());
          return false;
        })
        .finally(() => this.starting.delete(key));
      this.starting.set(key, p);
    }
    return p;
  }

  /**
   * Follows the durable records of the deployments running here (every few seconds, one read per
   * running deployment): one deleted, or no longer Succeeded after its provisioning ended, stops;
   * one changed by another replica (a new version Succeeded) restarts here with what it now names.
   */
  async reconcile(): Promise<void> {
    for (const { id, version } of this.runtimes.entries()) {
      if (this.starting.has(id)) continue;
      const r = await this.engine.get(id);
      if (!r || r.properties.provisioningState === 'Deleting') {
        await this.runtimes.remove(id);
        continue;
      }
      if (r.properties.provisioningState !== 'Succeeded' || (await this.operations.activeOn(r.id))) continue;
      if (deploymentVersion(r) === version) continue;
      const p = (async () => {
        const ws = await resolveWorkspaceById(this.ctx, parseResourceId(r.parentId!).parentId!);
        await this.startRuntime(ws, r);
        return true;
      })()
        .catch((e) => {
          this.ctx.log.warn(
            { deployment: id, err: (e as Error).message.split('\n')[0] },
            'a deployment update failed here',
          );
          return false;
        })
        .finally(() => this.starting.delete(id));
      this.starting.set(id, p);
      await p;
    }
  }

  /** Starts following the records (reconcile) until the server closes, every ATELIER_DEPLOYMENT_FOLLOW_MS. */
  follow(everyMs = this.ctx.config.deploymentFollowMs ?? 3_000): void {
    if (this.following) return;
    let busy = false;
    this.following = setInterval(() => {
      if (busy) return;
      busy = true;
      this.reconcile()
        .catch((e) => this.ctx.log.warn({ err: (e as Error).message }, 'following deployments failed'))
        .finally(() => (busy = false));
    }, everyMs);
    this.following.unref();
    this.ctx.onClose.unshift(() => clearInterval(this.following));
  }

  /** Deletes a deployment (refused while it has live traffic) and stops its instances. */
  async delete(ws: WorkspaceInfo, endpoint: string, name: string): Promise<boolean> {
    const ep = await this.endpoints.get(ws, endpoint);
    const id = this.idOf(ep.id, name);
    const r = await this.engine.get(id);
    if (!r) return false;
    const traffic = (ep.properties.traffic as Record<string, number>) ?? {};
    const share = Object.entries(traffic).find(([d]) => d.toLowerCase() === r.name.toLowerCase())?.[1] ?? 0;
    if (share > 0)
      throw new Conflict(
        `deployment '${r.name}' gets ${share}% of endpoint '${ep.name}''s traffic; set its traffic to 0 first`,
        { code: 'ONLINE_DEPLOYMENT_BUSY' },
      );
    await this.runtimes.remove(r.id);
    await this.engine.delete(r.id);
    // Mirror traffic to it goes with it.
    const mirror = { ...((ep.properties.mirrorTraffic as Record<string, number>) ?? {}) };
    for (const d of Object.keys(mirror)) if (d.toLowerCase() === r.name.toLowerCase()) delete mirror[d];
    const cleaned = Object.fromEntries(
      Object.entries(traffic).filter(([d]) => d.toLowerCase() !== r.name.toLowerCase()),
    );
    await this.engine.setProperties(ep.id, { mirrorTraffic: mirror, traffic: cleaned });
    this.endpoints.invalidate(ws.workspaceId, ep.name);
    await fs.promises.rm(this.logFile(r.id), { force: true });
    return true;
  }

  toBody(r: StoredResource): Record<string, unknown> {
    const body = toArmBody(r, {
      ...r.properties,
      scaleSettings: r.properties.scaleSettings ?? { scaleType: 'Default' },
    });
    return body;
  }

  /**
   * `POST …/getLogs {tail, containerType, instance}`: the last lines of the deployment's log — every
   * instance's lines (`[instance-N]` here, `[replica-…]` on Ray Serve) and the server's own
   * provisioning lines (`[atelier]`: model fetch, environment build, starts and restarts).
   * `containerType` narrows as Azure's does: `InferenceServer` the instances' lines,
   * `StorageInitializer` the provisioning lines; `instance` (an Atelier extension) one instance's.
   */
  async getLogs(r: StoredResource, body: Obj): Promise<{ content: string }> {
    onlyKeys(body, ['tail', 'containerType', 'instance'], 'body');
    const tail = int(body, 'tail', 'body', 0, 100_000);
    const container = str(body, 'containerType', 'body', { oneOf: ['InferenceServer', 'StorageInitializer'] });
    const instance = str(body, 'instance', 'body', {
      pattern: /^(instance|replica)-[A-Za-z0-9_-]{1,64}$/,
      rule: 'must name one instance as its log lines do: instance-0, instance-1… (replica-… on Ray Serve)',
    });
    const rt = this.runtimes.runtime(r.id);
    const read = (n?: number) => (rt ? rt.logs(n) : tailFile(this.logFile(r.id), n));
    if (!container && !instance) return { content: await read(tail) };
    const keep = (tag: string | undefined) =>
      instance
        ? tag === instance
        : container === 'StorageInitializer'
          ? tag === 'atelier'
          : tag !== undefined && tag !== 'atelier';
    // Filtered from a longer tail so that `tail` lines of the kind asked remain.
    const lines = (await read(Math.min(100_000, Math.max(1_000, (tail ?? 1_000) * 8))))
      .split('\n')
      .filter((l) => l && keep(/^(?:\S+ )?\[([^\]]+)\]/.exec(l)?.[1]));
    if (instance && !lines.length) {
      const known = new Set(
        (await read(2_000))
          .split('\n')
          .map((l) => /^(?:\S+ )?\[((?:instance|replica)-[^\]]+)\]/.exec(l)?.[1])
          .filter(Boolean),
      );
      throw new NotFound(
        `deployment '${r.name}' has no log lines of ${instance}${known.size ? `; its instances are ${[...known].sort().join(', ')}` : ''}`,
        { code: 'ONLINE_DEPLOYMENT_NOT_FOUND' },
      );
    }
    const out = tail === undefined ? lines : tail <= 0 ? [] : lines.slice(-tail);
    return { content: out.join('\n') + (out.length ? '\n' : '') };
  }

  /**
   * At start: brings back the instances of the deployments that were Succeeded (this process serves
   * them). A deployment whose model no longer loads becomes Failed.
   */
  async resume(): Promise<void> {
    const all = await this.engine.scan({ type: DEPLOYMENT_TYPE, provisioningStates: ['Succeeded'] });
    for (const r of all) {
      if (this.runtimes.has(r.id)) continue;
      try {
        const ws = await resolveWorkspaceById(this.ctx, parseResourceId(r.parentId!).parentId!);
        await this.startRuntime(ws, r);
      } catch (e) {
        this.ctx.log.warn(
          { deployment: r.id, err: (e as Error).message.split('\n')[0] },
          'a deployment could not be resumed',
        );
        await this.engine.setProperties(r.id, { provisioningState: 'Failed' }).catch(() => undefined);
      }
    }
  }
}

/** containerResourceRequests (validated at PUT) as an engine's numbers. */
function resourcesOf(p: Obj): DeploymentSpec['resources'] {
  const req = ((p.containerResourceRequirements as Obj | undefined)?.containerResourceRequests ?? {}) as Record<
    string,
    string
  >;
  const t = 'properties.containerResourceRequirements.containerResourceRequests';
  return {
    ...(req.cpu ? { cpu: parseQuantity(req.cpu, 'cpu', `${t}.cpu`) } : {}),
    ...(req.gpu ? { gpu: parseQuantity(req.gpu, 'gpu', `${t}.gpu`) } : {}),
    ...(req.memory ? { memoryBytes: parseQuantity(req.memory, 'memory', `${t}.memory`) } : {}),
  };
}
