import crypto from 'node:crypto';
import type { Principal } from '../identity/principals.js';
import type { DatastoreService } from '../assets/datastores.js';
import type { ArtifactService } from '../tracking/artifacts/artifacts.js';
import type { ModelVersionJson, RegisteredModelJson } from '../tracking/registry/registry.js';
import type { StoredResource } from '../resources/engine.js';
import type { Page } from '../resources/registry.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import { parseDatastoreUri } from '../assets/data-assets.js';
import { AtelierError, Conflict, InvalidInput, NotFound } from '../errors.js';
import type { AzureModelExtras, AzureModelService } from './azure-models.js';

export const MODEL_CONTAINER_TYPE = 'Microsoft.MachineLearningServices/workspaces/models';
export const MODEL_VERSION_TYPE = 'Microsoft.MachineLearningServices/workspaces/models/versions';
/** Where files registered from outside the artifact store are copied (below the workspace's artifact root). */
const REGISTRY_FOLDER = 'registry';
/** Container-level Azure fields (isArchived) are kept as the extras of version 0, which MLflow never numbers. */
const CONTAINER = 0;
const MODEL_TYPES = ['custom_model', 'mlflow_model', 'triton_model', 'CustomModel', 'MLFlowModel', 'TritonModel'];
const VERSION_KEYS = [
  'description',
  'tags',
  'properties',
  'isArchived',
  'isAnonymous',
  'flavors',
  'modelType',
  'modelUri',
  'jobName',
  'stage',
  'provisioningState',
  'intellectualProperty',
  'systemMetadata',
];
const CONTAINER_KEYS = [
  'description',
  'tags',
  'properties',
  'isArchived',
  'latestVersion',
  'nextVersion',
  'provisioningState',
];

const bad = (target: string, why: string) => new InvalidInput(`${target} ${why}`, { code: 'INVALID_INPUT', target });

function checkKeys(p: Record<string, unknown>, allowed: string[], what: string): void {
  const extra = Object.keys(p).filter((k) => !allowed.includes(k));
  if (extra.length)
    throw bad(`properties.${extra[0]}`, `is not a property of a ${what} (allowed: ${allowed.join(', ')})`);
}

function strMap(v: unknown, target: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(target, 'must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x === 'string') out[k] = x;
    else if (typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
    else if (x === null) out[k] = '';
    else throw bad(`${target}.${k}`, 'must be a string');
  }
  return out;
}

function optBool(v: unknown, target: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return /^true$/i.test(v);
  throw bad(target, 'must be true or false');
}

function optStr(v: unknown, target: string, max = 2000): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) throw bad(target, `must be a string of at most ${max} characters`);
  return v;
}

/**
 * `W/models` versions are MLflow's, which are whole numbers (a decision: a string version would be a
 * second name of an MLflow number; docs/design-notes.md, "One model registry, three protocols").
 */
export function checkModelVersion(v: string): number {
  if (!/^[1-9]\d{0,8}$/.test(v))
    throw new InvalidInput(
      `model version '${v}' is not served: versions are whole numbers from 1 (one registry serves MLflow, azureml-core and ARM, and MLflow and azureml-core number versions); use e.g. '1', or leave the version out to take the next, and put a label such as '${v}' in a tag`,
      { code: 'INVALID_ASSET_VERSION', target: 'version' },
    );
  return Number(v);
}

/**
 * ARM's `W/models/{name}` and `W/models/{name}/versions/{version}` (azure-ai-ml's `ml_client.models`)
 * over the one registry: a container is an MLflow registered model, a version an MLflow model version.
 * A version's files stay where MLflow can read them: `mlflow-artifacts:/…`, `runs:/…` and `models:/…`
 * URIs are the version's source as they are; files named by a datastore URI (where azure-ai-ml
 * uploads, `azureml://datastores/{name}/paths/{path}`) are copied into the workspace's artifact store
 * (`registry/{id}/`), so MLflow clients and deployments read them there.
 */
export class ArmModels {
  constructor(
    private readonly models: AzureModelService,
    private readonly datastores: DatastoreService,
    private readonly artifacts: ArtifactService,
  ) {}

  private containerResource(
    ws: WorkspaceInfo,
    m: RegisteredModelJson,
    x: AzureModelExtras,
    versions: number[],
  ): StoredResource {
    const latest = versions.length ? Math.max(...versions) : undefined;
    return {
      id: `${ws.id}/models/${m.name}`,
      name: m.name,
      type: MODEL_CONTAINER_TYPE,
      subscriptionId: ws.subscriptionId,
      resourceGroup: ws.resourceGroup,
      groupKey: '',
      tags: {},
      properties: {
        ...(m.description ? { description: m.description } : {}),
        tags: Object.fromEntries(m.tags.map((t) => [t.key, t.value])),
        properties: x.properties ?? {},
        isArchived: x.isArchived ?? false,
        ...(latest !== undefined ? { latestVersion: String(latest) } : {}),
        nextVersion: String((latest ?? 0) + 1),
        provisioningState: 'Succeeded',
      },
      etag: `"${m.last_updated_timestamp}"`,
      createdAt: m.creation_timestamp,
      createdBy: m.user_id ?? 'system',
      updatedAt: m.last_updated_timestamp,
      updatedBy: m.user_id ?? 'system',
    };
  }

  /** The datastore URI of an MLflow-born version's files (the artifact store is `workspaceartifactstore`). */
  private uriOf(ws: WorkspaceInfo, mv: ModelVersionJson): string {
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*)$/.exec(mv.source);
    if (!m) return mv.source;
    const root = this.artifacts.key({ workspaceId: ws.workspaceId, storageAccountId: ws.storageAccountId ?? null }, '');
    const inContainer = root.replace(/^azureml\//, '');
    return `azureml://subscriptions/${ws.subscriptionId}/resourcegroups/${ws.resourceGroup}/workspaces/${ws.name}/datastores/workspaceartifactstore/paths/${inContainer}/${m[1]}`;
  }

  versionResource(ws: WorkspaceInfo, mv: ModelVersionJson, x: AzureModelExtras): StoredResource {
    return {
      id: `${ws.id}/models/${mv.name}/versions/${mv.version}`,
      name: mv.version,
      type: MODEL_VERSION_TYPE,
      subscriptionId: ws.subscriptionId,
      resourceGroup: ws.resourceGroup,
      groupKey: '',
      tags: {},
      properties: {
        ...(mv.description ? { description: mv.description } : {}),
        tags: Object.fromEntries(mv.tags.map((t) => [t.key, t.value])),
        properties: x.properties ?? {},
        isArchived: x.isArchived ?? false,
        isAnonymous: false,
        modelType: x.modelType ?? (x.framework ? 'custom_model' : 'custom_model'),
        modelUri: x.modelUri ?? this.uriOf(ws, mv),
        flavors: x.flavors ?? {},
        ...(x.jobName ? { jobName: x.jobName } : mv.run_id ? { jobName: mv.run_id } : {}),
        stage: x.stage ?? (mv.current_stage === 'None' ? 'Development' : mv.current_stage),
        provisioningState: 'Succeeded',
      },
      etag: `"${mv.last_updated_timestamp}"`,
      createdAt: mv.creation_timestamp,
      createdBy: mv.user_id ?? 'system',
      updatedAt: mv.last_updated_timestamp,
      updatedBy: mv.user_id ?? 'system',
    };
  }

  private async visibleModels(ws: WorkspaceInfo): Promise<RegisteredModelJson[]> {
    const all = await this.models.registry.listRegisteredModels(this.models.ref(ws));
    return all.filter((m) => !m.tags.some((t) => t.key === 'mlflow.prompt.is_prompt' && t.value === 'true'));
  }

  private async model(ws: WorkspaceInfo, name: string): Promise<RegisteredModelJson> {
    const m = (await this.visibleModels(ws)).find((x) => x.name === name);
    if (!m)
      throw new NotFound(`model '${name}' could not be found in workspace '${ws.name}'`, {
        code: 'REGISTERED_MODEL_NOT_FOUND',
      });
    return m;
  }

  async getContainer(ws: WorkspaceInfo, name: string): Promise<StoredResource> {
    const m = await this.model(ws, name);
    const versions = (await this.models.versions(ws, name)).map((v) => Number(v.mv.version));
    return this.containerResource(ws, m, await this.models.extras(ws, name, CONTAINER), versions);
  }

  async listContainers(
    ws: WorkspaceInfo,
    opts: { after?: string; top: number; includeArchived: boolean },
  ): Promise<Page> {
    const all = await this.visibleModels(ws);
    const versions = await this.models.versions(ws);
    const out: StoredResource[] = [];
    for (const m of all) {
      if (opts.after !== undefined && m.name <= opts.after) continue;
      const x = await this.models.extras(ws, m.name, CONTAINER);
      if (x.isArchived && !opts.includeArchived) continue;
      const nums = versions.filter((v) => v.mv.name === m.name).map((v) => Number(v.mv.version));
      out.push(this.containerResource(ws, m, x, nums));
      if (out.length > opts.top) break;
    }
    const hasMore = out.length > opts.top;
    const value = out.slice(0, opts.top);
    return { value, hasMore, ...(hasMore ? { lastKey: value[value.length - 1]!.name } : {}) };
  }

  async putContainer(ws: WorkspaceInfo, name: string, body: Record<string, unknown>, by: Principal) {
    const p = (body.properties ?? {}) as Record<string, unknown>;
    checkKeys(p, CONTAINER_KEYS, 'model container');
    const tags = strMap(p.tags, 'properties.tags');
    const description = optStr(p.description, 'properties.description', 5000);
    const isArchived = optBool(p.isArchived, 'properties.isArchived');
    const properties = strMap(p.properties, 'properties.properties');
    const ref = this.models.ref(ws);
    let created = false;
    try {
      await this.models.registry.getRegisteredModel(ref, name);
    } catch (e) {
      if (!(e instanceof AtelierError && e.kind === 'not_found')) throw e;
      await this.models.registry.createRegisteredModel(
        ref,
        { name, description, tags: Object.entries(tags ?? {}).map(([key, value]) => ({ key, value })) },
        by.id,
      );
      created = true;
    }
    if (!created) {
      if (description !== undefined) await this.models.registry.updateRegisteredModel(ref, name, description);
      if (tags) {
        const now = (await this.models.registry.getRegisteredModel(ref, name)).tags;
        for (const t of now)
          if (!(t.key in tags)) await this.models.registry.deleteRegisteredModelTag(ref, name, t.key);
        for (const [k, v] of Object.entries(tags)) await this.models.registry.setRegisteredModelTag(ref, name, k, v);
      }
    }
    const x = await this.models.extras(ws, name, CONTAINER);
    await this.models.setExtras(ws, name, CONTAINER, {
      ...x,
      ...(isArchived !== undefined ? { isArchived } : {}),
      properties: { ...(x.properties ?? {}), ...(properties ?? {}) },
    });
    return { resource: await this.getContainer(ws, name), created };
  }

  async deleteContainer(ws: WorkspaceInfo, name: string): Promise<boolean> {
    try {
      await this.model(ws, name);
    } catch (e) {
      if (e instanceof AtelierError && e.kind === 'not_found') return false;
      throw e;
    }
    // One write deletes the model and all its versions, or nothing while a deployment serves one.
    await this.models.registry.deleteRegisteredModel(this.models.ref(ws), name);
    await this.models.forgetExtras(ws, name);
    await this.models.setExtras(ws, name, CONTAINER, {});
    return true;
  }

  async getVersion(ws: WorkspaceInfo, name: string, version: string): Promise<StoredResource> {
    await this.model(ws, name);
    const { mv, x } = await this.models.version(ws, name, checkModelVersion(version));
    return this.versionResource(ws, mv, x);
  }

  async listVersions(
    ws: WorkspaceInfo,
    name: string,
    opts: { after?: string; top: number; includeArchived: boolean; query: Record<string, string | undefined> },
  ): Promise<Page> {
    await this.model(ws, name);
    let all = (await this.models.versions(ws, name)).sort((a, b) => Number(b.mv.version) - Number(a.mv.version));
    if (!opts.includeArchived) all = all.filter((v) => !v.x.isArchived);
    if (opts.query.tags) {
      const want = opts.query.tags.split(',').map((s) => s.split('='));
      all = all.filter((v) =>
        want.every(([k, val]) => v.mv.tags.some((t) => t.key === k && (val === undefined || t.value === val))),
      );
    }
    if (opts.after !== undefined) all = all.filter((v) => Number(v.mv.version) < Number(opts.after));
    const value = all.slice(0, opts.top).map((v) => this.versionResource(ws, v.mv, v.x));
    const hasMore = all.length > opts.top;
    return { value, hasMore, ...(hasMore ? { lastKey: value[value.length - 1]!.name } : {}) };
  }

  /**
   * PUT of a version. A new version takes its files from `modelUri`; an existing one may change its
   * description, tags, stage and archived flag and gain properties — its files never change.
   */
  async putVersion(ws: WorkspaceInfo, name: string, version: string, body: Record<string, unknown>, by: Principal) {
    const n = checkModelVersion(version);
    const p = (body.properties ?? {}) as Record<string, unknown>;
    checkKeys(p, VERSION_KEYS, 'model version');
    const tags = strMap(p.tags, 'properties.tags');
    const properties = strMap(p.properties, 'properties.properties');
    const description = optStr(p.description, 'properties.description', 5000);
    const isArchived = optBool(p.isArchived, 'properties.isArchived');
    const stage = optStr(p.stage, 'properties.stage', 100);
    const modelUri = optStr(p.modelUri, 'properties.modelUri');
    const modelType = optStr(p.modelType, 'properties.modelType', 100);
    if (modelType && !MODEL_TYPES.includes(modelType))
      throw bad('properties.modelType', `'${modelType}' is not one of custom_model, mlflow_model, triton_model`);
    if (optBool(p.isAnonymous, 'properties.isAnonymous'))
      throw bad('properties.isAnonymous', 'is not served: give the model a name and version');
    let existing: { mv: ModelVersionJson; x: AzureModelExtras } | undefined;
    try {
      existing = await this.models.version(ws, name, n);
    } catch (e) {
      if (!(e instanceof AtelierError && e.kind === 'not_found')) throw e;
    }
    if (existing) {
      const { mv, x } = existing;
      const uri = x.modelUri ?? this.uriOf(ws, mv);
      if (modelUri && modelUri !== uri)
        throw new Conflict(
          `model '${name}' version ${n} exists with other files (${uri}); versions are immutable — register a new version`,
          { code: 'ASSET_VERSION_IMMUTABLE', target: 'properties.modelUri' },
        );
      for (const [k, v] of Object.entries(properties ?? {}))
        if (k in (x.properties ?? {}) && x.properties![k] !== v)
          throw bad(`properties.properties.${k}`, 'is already set; properties of a version cannot change');
      if (tags) await this.models.replaceTags(ws, mv, tags);
      if (description !== undefined)
        await this.models.registry.updateModelVersion(this.models.ref(ws), name, n, description);
      await this.models.setExtras(ws, name, n, {
        ...x,
        properties: { ...(x.properties ?? {}), ...(properties ?? {}) },
        ...(isArchived !== undefined ? { isArchived } : {}),
        ...(stage !== undefined ? { stage } : {}),
      });
      return { resource: await this.getVersion(ws, name, version), created: false };
    }
    if (!modelUri) throw bad('properties.modelUri', 'is required: where the model files are');
    const { source, copied } = await this.sourceOf(ws, modelUri, by);
    try {
      const { mv, x } = await this.models.createVersion(
        ws,
        {
          name,
          source,
          tags: tags ?? {},
          description,
          version: n,
          extras: {
            properties: properties ?? {},
            modelType: modelType ?? 'custom_model',
            modelUri,
            ...(p.flavors !== undefined ? { flavors: p.flavors } : {}),
            ...(optStr(p.jobName, 'properties.jobName', 200) ? { jobName: String(p.jobName) } : {}),
            ...(isArchived !== undefined ? { isArchived } : {}),
            ...(stage !== undefined ? { stage } : {}),
          },
        },
        by.id,
      );
      return { resource: this.versionResource(ws, mv, x), created: true };
    } catch (e) {
      if (copied) await this.artifacts.delete(this.models.ref(ws), copied).catch(() => {});
      throw e;
    }
  }

  async deleteVersion(ws: WorkspaceInfo, name: string, version: string): Promise<boolean> {
    const n = checkModelVersion(version);
    try {
      await this.models.version(ws, name, n);
    } catch (e) {
      if (e instanceof AtelierError && e.kind === 'not_found') return false;
      throw e;
    }
    await this.models.deleteVersion(ws, name, n);
    return true;
  }

  /**
   * The registry source of a new version's files, from its `modelUri`: MLflow's own URIs as they are;
   * a job's or run's outputs resolved to the run's artifacts; datastore files copied into the artifact store.
   */
  private async sourceOf(ws: WorkspaceInfo, uri: string, by: Principal): Promise<{ source: string; copied?: string }> {
    if (/^(mlflow-artifacts|models):/i.test(uri)) return { source: uri };
    const run =
      /^runs:\/+([^/]+)\/?(.*)$/i.exec(uri) ??
      /^azureml:\/\/jobs\/([^/]+)\/outputs\/artifacts\/(?:paths\/)?(.*)$/i.exec(uri);
    if (run) {
      const r = await this.models.runOf(ws, run[1]!);
      return { source: run[2] ? `${r.replace(/\/+$/, '')}/${run[2]}` : r };
    }
    const ds = /^azureml:/i.test(uri) ? parseDatastoreUri(uri) : undefined;
    if (!ds)
      throw bad(
        'properties.modelUri',
        `'${uri.slice(0, 300)}' is not understood: give azureml://datastores/{datastore}/paths/{path} (where azure-ai-ml uploads), azureml://jobs/{job}/outputs/artifacts/paths/{path}, runs:/{run}/{path}, models:/{name}/{version} or mlflow-artifacts:/{path}`,
      );
    const backend = await this.datastores.backend(ws, ds.datastore, by, 'read');
    const st = ds.path ? await backend.stat(ds.path) : { isDir: true, size: 0 };
    if (!st)
      throw bad(
        'properties.modelUri',
        `names '${ds.path}' of datastore '${ds.datastore}', which holds no files; upload the model first`,
      );
    const files = st.isDir
      ? (await backend.list(ds.path, { recursive: true })).filter((f) => !f.isDir)
      : [{ path: ds.path, size: st.size, isDir: false, modified: 0 }];
    if (!files.length)
      throw bad('properties.modelUri', `folder '${ds.path}' of datastore '${ds.datastore}' holds no files`);
    const base = st.isDir
      ? ds.path
        ? `${ds.path.replace(/\/+$/, '')}/`
        : ''
      : ds.path.slice(0, ds.path.lastIndexOf('/') + 1);
    const folder = `${REGISTRY_FOLDER}/${crypto.randomUUID().replace(/-/g, '')}`;
    const ref = this.models.ref(ws);
    try {
      for (const f of files) {
        const rel = f.path.slice(base.length);
        const { stream } = await backend.get(f.path);
        await this.artifacts.upload(ref, `${folder}/${rel}`, stream);
      }
    } catch (e) {
      await this.artifacts.delete(ref, folder).catch(() => {});
      throw e;
    }
    return { source: `mlflow-artifacts:/${folder}`, copied: folder };
  }
}
