import crypto from 'node:crypto';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import tarStream from 'tar-stream';
import type { AppContext } from '../context.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { StoredResource } from '../resources/engine.js';
import type { DeploymentServices } from '../deployments/services.js';
import type { OperationService, Operation } from '../operations/operations.js';
import type { AzureModelService } from '../models/azure-models.js';
import type { V1ArtifactService } from '../v1-artifacts/artifacts.js';
import type { V1EnvironmentService } from '../v1-environments/environments.js';
import type { CodeService } from '../codes/code-assets.js';
import type { VersionedAssetService } from '../assets/versioned-assets.js';
import type { Principal } from '../identity/principals.js';
import { endpointDefinition } from '../deployments/online-endpoints.js';
import { MODELS_PROPERTY } from '../deployments/model-source.js';
import { deploymentDefinition } from '../deployments/online-deployments.js';
import { Conflict, InvalidInput, NotFound, NotImplemented } from '../errors.js';
import { obj, str, type Obj } from '../assets/validate.js';

/** Keys of an endpoint's `properties.properties` that make it an azureml-core (v1) webservice. */
export const V1_COMPUTE_TYPE = 'azureml.v1.computeType';
export const V1_COMPUTE_NAME = 'azureml.v1.computeName';
export const V1_RESOURCES = 'azureml.v1.containerResourceRequirements';
/** The operation kind of `service.update(inference_config=…)`: a new deployment, then the traffic moves to it. */
export const UPDATE_OPERATION = 'v1.webservice.update';

/** The compute types azureml-core's `Model.deploy` can create here. */
export type V1ComputeType = 'ACI' | 'AKS';

/** Limits of an uploaded entry script / source directory (the code snapshot's own limits are larger). */
const MAX_FILES = 2_000;
const MAX_BYTES = 200 * 1024 ** 2;

const invalid = (target: string, message: string) => new InvalidInput(message, { code: 'INVALID_INPUT', target });

/**
 * What each Ray Serve replica of an AKS service (or of a version of an endpoint on a compute)
 * reserves: its `cpu_cores` / `memory_gb`, by default Azure's AKS defaults (0.1 CPU, 0.5 GB).
 */
function replicaRequests(raw: unknown): Obj {
  const res = (raw && typeof raw === 'object' ? raw : {}) as Obj;
  const cpu = typeof res.cpu === 'number' && res.cpu > 0 ? res.cpu : 0.1;
  const gb = typeof res.memoryInGB === 'number' && res.memoryInGB > 0 ? res.memoryInGB : 0.5;
  return { containerResourceRequests: { cpu: String(cpu), memory: `${Math.ceil(gb * 1024)}Mi` } };
}

/**
 * azureml-core's `autoScaler` (AksWebservice `autoscale_*`) as an online deployment's `scaleSettings`
 * (TargetUtilization; Ray Serve's autoscaler runs it), with AKS's defaults (1–10 replicas, 70 %,
 * every second); undefined when autoscaling is off. A service without a compute (ACI) has none:
 * Azure's ACI has no autoscaling either.
 */
export function scaleSettingsOf(raw: unknown, target: string, onCompute: boolean): Obj | undefined {
  const a = (raw && typeof raw === 'object' ? raw : {}) as Obj;
  if (a.autoscaleEnabled !== true) return undefined;
  if (!onCompute)
    throw invalid(
      `${target}.autoscaleEnabled`,
      'an ACI service runs a fixed number of replicas (Azure gives ACI no autoscaling); autoscale an AKS service on an attached Ray compute',
    );
  const num = (k: string, def: number, min: number, max: number) => {
    const v = a[k] == null ? def : a[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw invalid(`${target}.${k}`, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return v;
  };
  const minInstances = num('minReplicas', 1, 1, 32);
  const maxInstances = num('maxReplicas', Math.max(10, minInstances), 1, 32);
  if (maxInstances < minInstances)
    throw invalid(`${target}.maxReplicas`, `must be at least autoscale_min_replicas (${minInstances})`);
  return {
    scaleType: 'TargetUtilization',
    minInstances,
    maxInstances,
    targetUtilizationPercentage: num('targetUtilization', 70, 1, 100),
    pollingInterval: `PT${num('refreshPeriodInSeconds', 1, 1, 3600)}S`,
  };
}

/**
 * Settings of a v1 service that are not built (501, naming them), never silently dropped:
 * `enable_app_insights=True` (there is no Application Insights here) and `collect_model_data=True`
 * (`dataCollection.storageEnabled`, Azure's model data collection into the default datastore).
 */
export function notServed(o: Obj, target: string): void {
  if (o.appInsightsEnabled === true) throw appInsightsNotServed(`${target}.appInsightsEnabled`);
  const dc = (o.dataCollection ?? {}) as Obj;
  if (dc.storageEnabled === true) throw dataCollectionNotServed(`${target}.dataCollection.storageEnabled`);
  if (dc.eventHubEnabled === true)
    throw new NotImplemented(
      `${target}.dataCollection.eventHubEnabled: model data collection to an event hub is not built`,
      {
        target: `${target}.dataCollection.eventHubEnabled`,
      },
    );
}

export const appInsightsNotServed = (target: string): NotImplemented =>
  new NotImplemented(
    `${target}: enable_app_insights=True is not built: Atelier has no Application Insights; read a service's logs with get_logs()`,
    { target },
  );

export const dataCollectionNotServed = (target: string): NotImplemented =>
  new NotImplemented(
    `${target}: collect_model_data=True is not built: scoring inputs and outputs are not written to the default datastore (Azure's modeldata/… files); leave it out or False`,
    { target },
  );

/** One file of the code a v1 service runs. */
export interface CodeFile {
  path: string;
  data: Buffer;
}

/** What `environmentImageRequest` (or an image made by `Image.create`) asks for, checked. */
export interface ImageRequest {
  model?: string;
  /** Every model (the first is `model`) when there are several. */
  several?: string[];
  modelIds: string[];
  environment?: { name: string; body: Obj };
  files?: CodeFile[];
  entryScript?: string;
}

export async function readAll(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > limit) throw invalid('environmentImageRequest.assets', `${what} is larger than ${limit / 1024 ** 2} MiB`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A relative '/'-separated path with no '..', or undefined (the tar's root entry). */
function cleanPath(p: string): string | undefined {
  const parts = p
    .replace(/\\/g, '/')
    .split('/')
    .filter((s) => s && s !== '.');
  if (!parts.length) return undefined;
  if (parts.includes('..') || p.startsWith('/'))
    throw invalid('environmentImageRequest.assets', `the source directory holds '${p}', which leaves its folder`);
  return parts.join('/');
}

/** The regular files of a .tar.gz (azureml-core's packed source directory); links and devices are refused. */
export async function untar(buf: Buffer): Promise<CodeFile[]> {
  let raw: Buffer;
  try {
    raw = zlib.gunzipSync(buf, { maxOutputLength: MAX_BYTES });
  } catch (e) {
    throw invalid('environmentImageRequest.assets', `the source directory is not a .tar.gz: ${(e as Error).message}`);
  }
  const files: CodeFile[] = [];
  const extract = tarStream.extract();
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        try {
          if (header.type === 'file') {
            const p = cleanPath(header.name);
            if (p) files.push({ path: p, data: Buffer.concat(chunks) });
            if (files.length > MAX_FILES)
              throw invalid(
                'environmentImageRequest.assets',
                `the source directory holds more than ${MAX_FILES} files`,
              );
          } else if (header.type !== 'directory' && header.type !== 'pax-header' && header.type !== 'gnu-long-path')
            throw invalid(
              'environmentImageRequest.assets',
              `the source directory holds '${header.name}', a ${header.type}; only files and folders are served`,
            );
          next();
        } catch (e) {
          reject(e as Error);
        }
      });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', (e: Error) =>
      reject(invalid('environmentImageRequest.assets', `the source directory is not a tar archive: ${e.message}`)),
    );
    extract.end(raw);
  });
  return files;
}

/**
 * azureml-core's `Model.deploy` / `Webservice.deploy_from_model` / `service.update` over the
 * online endpoints: a v1 service is an endpoint named like the service (its v1 compute type in
 * `properties.properties`) with one deployment `version-{n}`, whose code is the uploaded entry
 * script or source directory (an anonymous code asset) and whose environment is the v1 Environment
 * sent (registered as a workspace environment version; built by uv when the deployment
 * provisions). Everything is checked before anything is made; a failure midway removes what was made.
 */
export class V1WebserviceDeployer {
  /** The deployment properties of an image `Image.create` made (`Webservice.deploy_from_image`); set by services.ts. */
  imageSource?: (ws: WorkspaceInfo, imageId: unknown) => Promise<Obj>;

  constructor(
    private readonly ctx: AppContext,
    private readonly serving: DeploymentServices,
    private readonly models: AzureModelService,
    private readonly artifacts: V1ArtifactService,
    private readonly environments: V1EnvironmentService,
    private readonly environmentVersions: VersionedAssetService,
    private readonly codes: CodeService,
    private readonly operations: OperationService,
  ) {
    // An update whose server stopped: its new deployment goes (the old one still serves).
    operations.onRecover(UPDATE_OPERATION, async (op, journal) => {
      const ws = journal.workspace as WorkspaceInfo | undefined;
      if (ws && typeof journal.endpoint === 'string' && typeof journal.deployment === 'string')
        await this.serving.deployments.delete(ws, journal.endpoint, journal.deployment).catch(() => undefined);
    });
  }

  /** The operation once it has ended (it runs in this process; a crash fails it through the sweeper). */
  private async settle(id: string): Promise<Operation> {
    for (;;) {
      const op = await this.operations.require(id);
      if (op.status !== 'InProgress') return op;
      await sleep(500);
    }
  }

  /** The v1 compute type of an endpoint made by `Model.deploy`, or undefined. */
  static computeType(ep: StoredResource): V1ComputeType | undefined {
    const t = ((ep.properties.properties ?? {}) as Record<string, string>)[V1_COMPUTE_TYPE];
    return t === 'ACI' || t === 'AKS' ? t : undefined;
  }

  /** Checks `environmentImageRequest` and reads its uploaded files (nothing is stored). */
  async imageRequest(ws: WorkspaceInfo, raw: unknown): Promise<ImageRequest> {
    const T = 'environmentImageRequest';
    const r = obj(raw, T)!;
    const ids = r.modelIds ?? [];
    if (!Array.isArray(ids) || ids.some((x) => typeof x !== 'string'))
      throw invalid(`${T}.modelIds`, 'must be a list of model ids (name:version)');
    if (ids.length > 32) throw invalid(`${T}.modelIds`, `a service serves at most 32 models, got ${ids.length}`);
    const models: string[] = [];
    for (const id of ids as string[]) {
      try {
        const { mv } = await this.models.v1Find(ws, id);
        models.push(`azureml:${mv.name}:${mv.version}`);
      } catch (e) {
        if (e instanceof NotFound)
          throw invalid(
            `${T}.modelIds`,
            `model '${id}' could not be found in workspace '${ws.name}'; register it first`,
          );
        throw e;
      }
    }
    if (new Set(models).size !== models.length) throw invalid(`${T}.modelIds`, 'names a model twice');
    const model = models[0];
    // Several models: AZUREML_MODEL_DIR holds each under {name}/{version}/ (Azure ML v1's layout).
    const several = models.length > 1 ? models : undefined;
    const env = r.environment == null ? undefined : obj(r.environment, `${T}.environment`)!;
    const assets = r.assets ?? [];
    if (!Array.isArray(assets)) throw invalid(`${T}.assets`, 'must be a list');
    if (!env) {
      // No-code deployment: the model alone (an MLflow model serves itself).
      if (assets.length)
        throw invalid(`${T}.environment`, 'is required with an entry script: give the InferenceConfig an environment');
      if (!model || several)
        throw invalid(
          `${T}.modelIds`,
          `a deployment without an entry script serves one (MLflow) model, got ${models.length}: give the InferenceConfig an entry script to serve several`,
        );
      return { model, modelIds: ids as string[] };
    }
    const name = str(env, 'name', `${T}.environment`, { required: true, max: 255 })!;
    const vars = (env.environmentVariables ?? {}) as Obj;
    const entry = typeof vars.AZUREML_ENTRY_SCRIPT === 'string' ? vars.AZUREML_ENTRY_SCRIPT : undefined;
    if (!entry)
      throw invalid(
        `${T}.environment.environmentVariables.AZUREML_ENTRY_SCRIPT`,
        'is missing: give the InferenceConfig an entry_script (the scoring script with init() and run())',
      );
    const entryScript = cleanPath(entry);
    if (!entryScript || !entryScript.endsWith('.py'))
      throw invalid(
        `${T}.environment.environmentVariables.AZUREML_ENTRY_SCRIPT`,
        `'${entry}' is not a Python script path inside the source directory`,
      );
    const driver = typeof r.driverProgram === 'string' ? r.driverProgram : undefined;
    // azureml-core uploads its own driver (a wrapper importing the entry script) and the entry
    // script or the packed source directory; the deployment runs the entry script itself.
    const code = assets.filter((a) => !(a && typeof a === 'object' && (a as Obj).id === driver));
    if (code.length !== 1)
      throw invalid(
        `${T}.assets`,
        `must hold the uploaded entry script or source directory (one asset besides the driver program), got ${code.length}`,
      );
    const a = obj(code[0], `${T}.assets[0]`)!;
    const url = str(a, 'url', `${T}.assets[0]`, { required: true, max: 2000 })!;
    const m = /^aml:\/\/artifact\/([^/]+)\/([^/]+)\/(.+)$/.exec(url);
    if (!m)
      throw invalid(
        `${T}.assets[0].url`,
        `'${url.slice(0, 200)}' is not an uploaded artifact (aml://artifact/{origin}/{container}/{path}); upload the code with azureml-core`,
      );
    let buf: Buffer;
    try {
      const { stream } = await this.artifacts.download(ws, m[1]!, m[2]!, m[3]!);
      buf = await readAll(stream, MAX_BYTES, 'the uploaded code');
    } catch (e) {
      if (e instanceof NotFound) throw invalid(`${T}.assets[0].url`, `nothing was uploaded at '${url.slice(0, 200)}'`);
      throw e;
    }
    const files = a.unpack === true ? await untar(buf) : [{ path: path.posix.basename(m[3]!), data: buf }];
    if (!files.some((f) => f.path === entryScript))
      throw invalid(
        `${T}.environment.environmentVariables.AZUREML_ENTRY_SCRIPT`,
        `the entry script '${entryScript}' is not among the uploaded files (${files
          .slice(0, 10)
          .map((f) => f.path)
          .join(', ')})`,
      );
    // Checked now (the v1 definition → ARM properties); registered once everything else is.
    this.environments.toArm(name, env);
    return { model, several, modelIds: ids as string[], environment: { name, body: env }, files, entryScript };
  }

  /**
   * Makes what an image request runs: the environment version and the code asset (both undone by the
   * returned `undo`), and the deployment body's properties.
   */
  async materialise(
    ws: WorkspaceInfo,
    req: ImageRequest,
    by: Principal,
    undo: (() => Promise<unknown>)[],
  ): Promise<Obj> {
    const props: Obj = {};
    if (req.model) props.model = req.model;
    if (req.several) props.properties = { [MODELS_PROPERTY]: req.several.join(',') };
    if (req.environment) {
      const before = await this.environments
        .get(ws, req.environment.name)
        .then((e) => String(e.version))
        .catch((e) => {
          if (e instanceof NotFound) return undefined;
          throw e;
        });
      const env = await this.environments.register(ws, req.environment.name, undefined, req.environment.body, by);
      if (String(env.version) !== before)
        undo.push(() => this.environmentVersions.deleteVersion(ws, req.environment!.name, String(env.version)));
      props.environmentId = String(env.assetId);
    }
    if (req.files && req.entryScript) {
      const upload = await this.codes.startPendingUpload(ws, {});
      const uri = new URL(upload.blobReferenceForConsumption.blobUri);
      const [account = '', container = '', ...dir] = uri.pathname.split('/').filter(Boolean).slice(1);
      const store = this.ctx.blobs.account(account, container);
      const folder = dir.map(decodeURIComponent).join('/');
      undo.push(() => store.deletePrefix(folder));
      for (const f of req.files) await store.put(`${folder}/${f.path}`, Readable.from([f.data]));
      const codeName = crypto.randomUUID();
      await this.codes.versions.putVersion(
        ws,
        codeName,
        '1',
        { properties: { codeUri: upload.blobReferenceForConsumption.blobUri, isAnonymous: true } },
        by,
      );
      undo.push(() => this.codes.versions.deleteVersion(ws, codeName, '1'));
      props.codeConfiguration = {
        codeId: `${ws.id}/codes/${codeName}/versions/1`,
        scoringScript: req.entryScript,
      };
    }
    return props;
  }

  static async undoAll(undo: (() => Promise<unknown>)[]): Promise<void> {
    for (const u of undo.reverse()) await u().catch(() => undefined);
  }

  /**
   * `POST …/services` (Model.deploy, Webservice.deploy_from_model): an ACI or AKS service. Returns
   * the operation azureml-core polls (the deployment's provisioning).
   */
  async create(ws: WorkspaceInfo, raw: unknown, by: Principal): Promise<{ operation: Operation }> {
    const T = 'body';
    const b = obj(raw, T)!;
    const name = str(b, 'name', T, { required: true, max: 100 })!;
    endpointDefinition.checkName(name);
    const computeType = str(b, 'computeType', T, { required: true, max: 40 })!.toUpperCase();
    if (computeType !== 'ACI' && computeType !== 'AKS' && computeType !== 'AKSENDPOINT')
      throw invalid(
        `${T}.computeType`,
        `'${computeType}' services are not served here: deploy with AciWebservice.deploy_configuration(), or AksWebservice.deploy_configuration() / AksEndpoint.deploy_configuration() on a compute target`,
      );
    if (b.imageId != null && !this.imageSource)
      throw invalid(`${T}.imageId`, 'services from images are not served here: deploy with an InferenceConfig');
    // Authentication: ACI's keys are always on here (an endpoint always authenticates); AKS may use tokens.
    const authEnabled = b.authEnabled;
    const tokenAuth = b.aadAuthEnabled === true;
    if (authEnabled === false && !tokenAuth)
      throw invalid(
        `${T}.authEnabled`,
        "every request to a service here is authenticated (Atelier's security rule): leave auth_enabled out or True (keys: get_keys())" +
          (computeType === 'AKS' ? ', or set token_auth_enabled=True' : ''),
      );
    if (authEnabled === true && tokenAuth)
      throw invalid(
        `${T}.aadAuthEnabled`,
        'a service uses keys or tokens, not both: set one of auth_enabled and token_auth_enabled',
      );
    let compute: string | undefined;
    if (computeType !== 'ACI') {
      compute = str(b, 'computeName', T, { max: 255 });
      if (!compute)
        throw invalid(
          `${T}.computeName`,
          `an ${computeType === 'AKS' ? 'AKS service' : 'AksEndpoint'} runs on a compute target: pass compute_target_name (an attached Ray compute of the workspace)`,
        );
    }
    // An AksEndpoint comes with its first version (azureml-core sends one): what it runs is the version's.
    let version = 'version-1';
    let v: Obj = b;
    if (computeType === 'AKSENDPOINT') {
      const versions = obj(b.versions, `${T}.versions`)!;
      const names = Object.keys(versions);
      if (names.length !== 1)
        throw invalid(`${T}.versions`, `must hold the endpoint's first version, got ${names.length} versions`);
      version = names[0]!;
      deploymentDefinition.checkName(version);
      v = obj(versions[version], `${T}.versions.${version}`)!;
      if (b.keys && typeof b.keys === 'object' && Object.values(b.keys as Obj).some((k) => k != null))
        throw invalid(
          `${T}.keys`,
          'keys are made with the endpoint: leave primary_key / secondary_key out, then set one with regen_key(key, set_key=…)',
        );
    }
    notServed(b, T);
    if (v !== b) notServed(v, `${T}.versions.${version}`);
    const numReplicas = v.numReplicas == null ? ((v.autoScaler as Obj | undefined)?.minReplicas ?? 1) : v.numReplicas;
    if (typeof numReplicas !== 'number' || !Number.isInteger(numReplicas) || numReplicas < 1 || numReplicas > 32)
      throw invalid(
        `${T}.numReplicas`,
        `must be a whole number of replicas from 1 to 32, got ${JSON.stringify(numReplicas)}`,
      );
    const scaleSettings = scaleSettingsOf(v.autoScaler, `${T}.autoScaler`, computeType !== 'ACI');
    const existing = await this.serving.endpoints.get(ws, name).then(
      () => true,
      (e) => {
        if (e instanceof NotFound) return false;
        throw e;
      },
    );
    if (existing)
      throw new Conflict(
        `a webservice named '${name}' already exists in workspace '${ws.name}': delete it, or change it with service.update(…)`,
        { code: 'CONFLICT' },
      );
    // Webservice.deploy_from_image: the image's model, code and environment, made when it was created.
    const fromImage = b.imageId != null ? await this.imageSource!(ws, b.imageId) : undefined;
    const req = fromImage ? undefined : await this.imageRequest(ws, v.environmentImageRequest);
    const userProps = (b.properties && typeof b.properties === 'object' ? b.properties : {}) as Obj;
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(userProps)) if (!k.startsWith('azureml.v1.')) properties[k] = String(v);
    const res = (v.containerResourceRequirements ?? {}) as Obj;
    // An AksEndpoint is an endpoint as ARM makes them (its versions its deployments); an ACI / AKS
    // service keeps its v1 compute type, compute and resources for azureml-core to read back.
    if (computeType !== 'AKSENDPOINT') {
      properties[V1_COMPUTE_TYPE] = computeType;
      if (compute) properties[V1_COMPUTE_NAME] = compute;
      properties[V1_RESOURCES] = JSON.stringify({
        cpu: typeof res.cpu === 'number' ? res.cpu : null,
        memoryInGB: typeof res.memoryInGB === 'number' ? res.memoryInGB : null,
      });
    }
    const versionTags =
      computeType === 'AKSENDPOINT' && v.kvTags && typeof v.kvTags === 'object' ? (v.kvTags as Obj) : {};
    const tags = (b.kvTags && typeof b.kvTags === 'object' ? b.kvTags : {}) as Obj;
    const description = typeof b.description === 'string' ? b.description : undefined;

    const undo: (() => Promise<unknown>)[] = [];
    try {
      const depProps = fromImage ? { ...fromImage } : await this.materialise(ws, req!, by, undo);
      if (compute) depProps.containerResourceRequirements = replicaRequests(res);
      const ep = await this.serving.endpoints.put(
        ws,
        name,
        {
          location: ws.location,
          tags: Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)])),
          properties: {
            authMode: tokenAuth ? 'AMLToken' : 'Key',
            ...(description !== undefined ? { description } : {}),
            ...(compute ? { compute } : {}),
            properties,
          },
        },
        by,
      );
      undo.push(() => this.serving.endpoints.delete(ws, name));
      const { operation } = await this.serving.deployments.put(
        ws,
        name,
        version,
        {
          location: ws.location,
          tags: Object.fromEntries(Object.entries(versionTags).map(([k, x]) => [k, String(x)])),
          sku: { name: 'Default', capacity: numReplicas },
          properties: {
            ...depProps,
            ...(scaleSettings ? { scaleSettings } : {}),
            ...(typeof v.description === 'string' ? { description: v.description } : {}),
          },
        },
        by,
      );
      // The only version takes all traffic (whatever its traffic_percentile: there is no other).
      await this.serving.endpoints.patch(ws, ep.resource, { properties: { traffic: { [version]: 100 } } }, by);
      return { operation: operation! };
    } catch (e) {
      await V1WebserviceDeployer.undoAll(undo);
      throw e;
    }
  }

  /**
   * `service.update(inference_config=…)` (or `models=`): a new deployment `version-{n+1}` with the
   * new code, environment and model; when it is up the traffic moves to it and the old ones go.
   * Failing, the new deployment goes and the service keeps serving as before.
   */
  async replaceVersion(ws: WorkspaceInfo, ep: StoredResource, raw: unknown, by: Principal): Promise<Operation> {
    const req = await this.imageRequest(ws, raw);
    const { value: deployments } = await this.serving.deployments.list(ws, ep.name, { top: 1000 });
    const n = Math.max(0, ...deployments.map((d) => Number(/^version-(\d+)$/.exec(d.name)?.[1] ?? 0))) + 1;
    const name = `version-${n}`;
    const desc = ep.properties.description;
    const own = (ep.properties.properties ?? {}) as Record<string, string>;
    return this.startVersion(
      ws,
      ep,
      name,
      req,
      {
        capacity: Number(deployments[0]?.sku?.capacity ?? 1),
        ...(ep.properties.compute
          ? { resources: replicaRequests(JSON.parse(String(own[V1_RESOURCES] ?? '{}')) as Obj) }
          : {}),
        ...(typeof desc === 'string' ? { description: desc } : {}),
      },
      by,
      async (fresh) => {
        await this.serving.endpoints.patch(ws, fresh, { properties: { traffic: { [name]: 100 } } }, by);
        for (const d of deployments) await this.serving.deployments.delete(ws, ep.name, d.name);
      },
    );
  }

  /**
   * `AksEndpoint.create_version(name, …)` (`PATCH …/services/{e}` adding `/versions/{name}`): a new
   * deployment of the endpoint from the version's environmentImageRequest; when it is up,
   * `onReady` gives it its traffic. Checked before anything is made (a 4xx makes nothing).
   */
  async addVersion(
    ws: WorkspaceInfo,
    ep: StoredResource,
    name: string,
    raw: unknown,
    by: Principal,
    onReady: (traffic: number) => Promise<void>,
  ): Promise<Operation> {
    const T = 'body[0].value';
    const v = obj(raw, T)!;
    deploymentDefinition.checkName(name);
    notServed(v, T);
    const taken = await this.serving.deployments.get(ws, ep.name, name).then(
      () => true,
      (e) => {
        if (e instanceof NotFound) return false;
        throw e;
      },
    );
    if (taken)
      throw new Conflict(`webservice '${ep.name}' already has a version '${name}': update it, or name another`, {
        code: 'CONFLICT',
      });
    const traffic = v.trafficPercentile == null ? 0 : v.trafficPercentile;
    if (typeof traffic !== 'number' || !Number.isInteger(traffic) || traffic < 0 || traffic > 100)
      throw invalid(`${T}.trafficPercentile`, `must be a whole percent from 0 to 100, got ${JSON.stringify(traffic)}`);
    // A version autoscales (Ray Serve's autoscaler, starting at its minimum) or runs num_replicas.
    const auto = (v.autoScaler ?? {}) as Obj;
    const scaleSettings = scaleSettingsOf(auto, `${T}.autoScaler`, Boolean(ep.properties.compute));
    const replicas = v.numReplicas ?? (scaleSettings ? scaleSettings.minInstances : 1);
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 1 || replicas > 32)
      throw invalid(
        `${T}.numReplicas`,
        `must be a whole number of replicas from 1 to 32, got ${JSON.stringify(replicas)}`,
      );
    const req = await this.imageRequest(ws, v.environmentImageRequest);
    const tags = v.kvTags && typeof v.kvTags === 'object' ? (v.kvTags as Obj) : {};
    return this.startVersion(
      ws,
      ep,
      name,
      req,
      {
        capacity: replicas as number,
        ...(scaleSettings ? { scaleSettings } : {}),
        ...(ep.properties.compute ? { resources: replicaRequests(v.containerResourceRequirements) } : {}),
        tags: Object.fromEntries(Object.entries(tags).map(([k, x]) => [k, String(x)])),
        ...(typeof v.description === 'string' ? { description: v.description } : {}),
      },
      by,
      () => onReady(traffic),
    );
  }

  /** Makes the deployment `name` of an image request and the operation that waits for it, then runs `onReady`. */
  private async startVersion(
    ws: WorkspaceInfo,
    ep: StoredResource,
    name: string,
    req: ImageRequest,
    opts: {
      capacity: number;
      tags?: Record<string, string>;
      description?: string;
      resources?: Obj;
      scaleSettings?: Obj;
    },
    by: Principal,
    onReady: (fresh: StoredResource) => Promise<void>,
  ): Promise<Operation> {
    const undo: (() => Promise<unknown>)[] = [];
    let provision: Operation;
    try {
      const depProps = await this.materialise(ws, req, by, undo);
      const r = await this.serving.deployments.put(
        ws,
        ep.name,
        name,
        {
          location: ws.location,
          tags: opts.tags ?? {},
          sku: { name: 'Default', capacity: opts.capacity },
          properties: {
            ...depProps,
            ...(opts.resources ? { containerResourceRequirements: opts.resources } : {}),
            ...(opts.scaleSettings ? { scaleSettings: opts.scaleSettings } : {}),
            ...(opts.description !== undefined ? { description: opts.description } : {}),
          },
        },
        by,
      );
      undo.push(() => this.serving.deployments.delete(ws, ep.name, name));
      provision = r.operation!;
    } catch (e) {
      await V1WebserviceDeployer.undoAll(undo);
      throw e;
    }
    return this.operations.start(
      UPDATE_OPERATION,
      { id: ep.id, subscriptionId: ep.subscriptionId, location: ep.location ?? ws.location },
      by.id,
      async (journal) => {
        await journal.record({ workspace: ws, endpoint: ep.name, deployment: name });
        const done = await this.settle(provision.id);
        if (done.status !== 'Succeeded') {
          await V1WebserviceDeployer.undoAll(undo);
          throw new InvalidInput(
            `the new version '${name}' of webservice '${ep.name}' failed and was removed; the service serves as before: ${done.error?.message ?? done.status}`,
            { code: 'INVALID_INPUT' },
          );
        }
        await onReady(await this.serving.endpoints.get(ws, ep.name));
      },
    );
  }
}
