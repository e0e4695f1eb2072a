import crypto from 'node:crypto';
import type { AppContext } from '../context.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { RegistryService, ModelVersionJson } from '../tracking/registry/registry.js';
import type { WorkspaceRef } from '../tracking/artifacts/artifacts.js';
import type { RunHistoryService } from '../run-history/run-history.js';
import { AtelierError, InvalidInput, NotFound, NotImplemented } from '../errors.js';
import './tables.js';

/** What Azure's clients keep on a version beyond MLflow's row (one JSON document per version). */
export interface AzureModelExtras {
  /** azureml-core's properties = azure-ai-ml's `properties.properties` (string → string; keys are never removed). */
  properties?: Record<string, string>;
  framework?: string;
  frameworkVersion?: string;
  mimeType?: string;
  unpack?: boolean;
  /** `aml://asset/{id}`: the v1 asset the files were registered from. */
  url?: string;
  experimentName?: string;
  /** The run as azureml-core named it (MLflow's run id is this uuid without dashes). */
  runId?: string;
  datasets?: { name: string; id: string }[];
  sampleInputData?: string;
  sampleOutputData?: string;
  resourceRequirements?: unknown;
  /** azure-ai-ml: custom_model, mlflow_model, triton_model. */
  modelType?: string;
  modelUri?: string;
  flavors?: unknown;
  jobName?: string;
  isArchived?: boolean;
  stage?: string;
}

/** An artifact prefix of a v1 asset: `{origin}/{container}/{path}`. */
export interface AssetArtifact {
  prefix?: string;
  id?: string;
}

export interface V1Asset {
  id: string;
  name: string;
  createdTime: number;
  artifacts: AssetArtifact[];
  kvTags: Record<string, string>;
  properties: Record<string, string>;
  runid?: string;
  description?: string;
}

/**
 * Where the files of a v1 artifact prefix are, as a URI the registry can keep as a version's source
 * (`mlflow-artifacts:/…`): run artifacts (`ExperimentRun/dcid.{run}/…`) are resolved here; other
 * origins (`LocalUpload/…`, what `Model.register` uploads) by the artifact service when it serves them.
 */
export type ArtifactLocator = (ws: WorkspaceInfo, origin: string, container: string, path: string) => Promise<string>;

const MODEL_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$/;
const PROMPT_TAG = 'mlflow.prompt.is_prompt';

const tagMap = (tags: { key: string; value: string }[]): Record<string, string> =>
  Object.fromEntries(tags.map((t) => [t.key, t.value]));

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw new InvalidInput(`${field} must be an object of string values`, { target: field });
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
    else if (typeof x === 'string') out[k] = x;
    else if (x === null) out[k] = '';
    else throw new InvalidInput(`${field}.${k} must be a string`, { target: `${field}.${k}` });
  }
  return out;
}

function optString(v: unknown, field: string, max = 1000): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max)
    throw new InvalidInput(`${field} must be a string of at most ${max} characters`, { target: field });
  return v;
}

/**
 * The model registry as Azure's clients see it: azureml-core's model management (`/modelmanagement/v1.0`,
 * models `name:version` with kvTags and properties) and ARM's `W/models/{name}/versions/{v}`
 * (azure-ai-ml). There is one registry — MLflow's (`services.tracking.registry`): a version made here
 * is an MLflow model version (tags = its tags, description = its description, files = its source) and
 * every MLflow version shows here; what the Azure shapes carry beyond MLflow's fields is kept beside
 * it (`azure_model_versions`).
 */
export class AzureModelService {
  /** Resolves v1 artifact prefixes other than run artifacts (set by the artifact service's module). */
  artifactLocator?: ArtifactLocator;

  constructor(
    private readonly ctx: AppContext,
    readonly registry: RegistryService,
    private readonly runHistory: RunHistoryService,
  ) {}

  ref(ws: WorkspaceInfo): WorkspaceRef {
    return { workspaceId: ws.workspaceId, storageAccountId: ws.storageAccountId ?? null };
  }

  // ---- extras --------------------------------------------------------------------------

  async extras(ws: WorkspaceInfo, name: string, version: number): Promise<AzureModelExtras> {
    const row = await this.ctx.db
      .selectFrom('azure_model_versions')
      .select('body')
      .where('workspace_id', '=', ws.workspaceId)
      .where('name', '=', name)
      .where('version', '=', version)
      .executeTakeFirst();
    return row ? (JSON.parse(row.body) as AzureModelExtras) : {};
  }

  private async extrasOf(ws: WorkspaceInfo, names: string[]): Promise<Map<string, AzureModelExtras>> {
    const out = new Map<string, AzureModelExtras>();
    if (!names.length) return out;
    const rows = await this.ctx.db
      .selectFrom('azure_model_versions')
      .selectAll()
      .where('workspace_id', '=', ws.workspaceId)
      .where('name', 'in', [...new Set(names)])
      .execute();
    for (const r of rows) out.set(`${r.name}\n${r.version}`, JSON.parse(r.body) as AzureModelExtras);
    return out;
  }

  async setExtras(ws: WorkspaceInfo, name: string, version: number, extras: AzureModelExtras): Promise<void> {
    const body = JSON.stringify(extras);
    await this.ctx.database.write(async ({ db }) => {
      await db
        .deleteFrom('azure_model_versions')
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', '=', name)
        .where('version', '=', version)
        .execute();
      await db
        .insertInto('azure_model_versions')
        .values({ workspace_id: ws.workspaceId, name, version, body })
        .execute();
    });
  }

  /** Names of the workspace's prompts (registered models MLflow marks as prompts): no Azure view shows them. */
  private async prompts(ws: WorkspaceInfo): Promise<Set<string>> {
    const models = await this.registry.listRegisteredModels(this.ref(ws));
    return new Set(
      models.filter((m) => m.tags.some((t) => t.key === PROMPT_TAG && t.value === 'true')).map((m) => m.name),
    );
  }

  /** Every visible version (of `name`, when given), newest first, with its extras. */
  async versions(ws: WorkspaceInfo, name?: string): Promise<{ mv: ModelVersionJson; x: AzureModelExtras }[]> {
    const [all, prompts] = await Promise.all([this.registry.listVersions(this.ref(ws), name), this.prompts(ws)]);
    const visible = all.filter((v) => !prompts.has(v.name));
    const extras = await this.extrasOf(
      ws,
      visible.map((v) => v.name),
    );
    return visible.map((mv) => ({ mv, x: extras.get(`${mv.name}\n${mv.version}`) ?? {} }));
  }

  async version(
    ws: WorkspaceInfo,
    name: string,
    version: number,
  ): Promise<{ mv: ModelVersionJson; x: AzureModelExtras }> {
    const mv = await this.registry.getModelVersion(this.ref(ws), name, version);
    return { mv, x: await this.extras(ws, name, version) };
  }

  /**
   * Makes a version in the one registry: the registered model when it is new, the MLflow version
   * (source = where its files are), then its Azure extras. A failure after the MLflow version was
   * made removes it again, so nothing half-made stays.
   */
  async createVersion(
    ws: WorkspaceInfo,
    input: {
      name: string;
      source: string;
      tags: Record<string, string>;
      description?: string;
      runId?: string;
      version?: number;
      extras: AzureModelExtras;
    },
    userId: string,
  ): Promise<{ mv: ModelVersionJson; x: AzureModelExtras }> {
    const ref = this.ref(ws);
    await this.registry.createRegisteredModel(ref, { name: input.name }, userId).catch((e: unknown) => {
      if (!(e instanceof AtelierError && e.kind === 'conflict')) throw e;
    });
    const mv = await this.registry.createModelVersion(
      ref,
      {
        name: input.name,
        source: input.source,
        tags: Object.entries(input.tags).map(([key, value]) => ({ key, value })),
        description: input.description,
        run_id: input.runId,
      },
      userId,
      input.version,
    );
    try {
      await this.setExtras(ws, input.name, Number(mv.version), input.extras);
    } catch (e) {
      await this.registry.deleteModelVersion(ref, input.name, mv.version).catch(() => {});
      throw e;
    }
    return { mv, x: input.extras };
  }

  /** Sets a version's tags to exactly `tags` (MLflow version tags). */
  async replaceTags(ws: WorkspaceInfo, mv: ModelVersionJson, tags: Record<string, string>): Promise<void> {
    const ref = this.ref(ws);
    for (const t of mv.tags)
      if (!(t.key in tags)) await this.registry.deleteModelVersionTag(ref, mv.name, mv.version, t.key);
    const now = tagMap(mv.tags);
    for (const [k, v] of Object.entries(tags))
      if (now[k] !== v) await this.registry.setModelVersionTag(ref, mv.name, mv.version, k, v);
  }

  /** Deletes a version (refused, changing nothing, while a deployment serves it), then its Azure fields. */
  async deleteVersion(ws: WorkspaceInfo, name: string, version: number): Promise<void> {
    await this.registry.deleteModelVersion(this.ref(ws), name, version);
    await this.forgetExtras(ws, name, version);
  }

  /** The Azure fields of a deleted model's versions (or of one deleted version). */
  async forgetExtras(ws: WorkspaceInfo, name: string, version?: number): Promise<void> {
    let q = this.ctx.db
      .deleteFrom('azure_model_versions')
      .where('workspace_id', '=', ws.workspaceId)
      .where('name', '=', name);
    if (version !== undefined) q = q.where('version', '=', version);
    await q.execute();
  }

  async deleteWorkspace(workspaceId: string): Promise<void> {
    await this.ctx.db.deleteFrom('azure_model_versions').where('workspace_id', '=', workspaceId).execute();
    await this.ctx.db.deleteFrom('azure_model_assets').where('workspace_id', '=', workspaceId).execute();
  }

  // ---- azureml-core's model management (v1) --------------------------------------------------

  /** `name:version` (or a bare name: its latest version) → the version. */
  async v1Find(ws: WorkspaceInfo, id: string): Promise<{ mv: ModelVersionJson; x: AzureModelExtras }> {
    const m = /^(.+):(\d{1,9})$/.exec(id);
    const notFound = () =>
      new NotFound(`model '${id}' could not be found in workspace '${ws.name}'`, { code: 'MODEL_VERSION_NOT_FOUND' });
    if (!m) {
      const latest = (await this.versions(ws, MODEL_NAME.test(id) ? id : undefined)).filter((v) => v.mv.name === id);
      if (!latest.length) throw notFound();
      return latest.sort((a, b) => Number(b.mv.version) - Number(a.mv.version))[0]!;
    }
    if (!MODEL_NAME.test(m[1]!)) throw notFound();
    if ((await this.prompts(ws)).has(m[1]!)) throw notFound();
    try {
      return await this.version(ws, m[1]!, Number(m[2]));
    } catch (e) {
      if (e instanceof AtelierError && e.kind === 'not_found') throw notFound();
      throw e;
    }
  }

  /** The asset id a version's files are reached by (`aml://asset/{id}`). */
  static assetIdOf(mv: ModelVersionJson, x: AzureModelExtras): string {
    const fromUrl = /^aml:\/\/asset\/(.+)$/.exec(x.url ?? '')?.[1];
    return fromUrl ?? `model.${Buffer.from(mv.name).toString('hex')}.${mv.version}`;
  }

  /** azureml-core's Model DTO of a version. */
  v1Dto(ws: WorkspaceInfo, mv: ModelVersionJson, x: AzureModelExtras): Record<string, unknown> {
    const runId = x.runId ?? mv.run_id;
    return {
      id: `${mv.name}:${mv.version}`,
      name: mv.name,
      version: Number(mv.version),
      // azureml-core's Model reads these keys unconditionally: null, never absent.
      description: mv.description || null,
      createdTime: new Date(mv.creation_timestamp).toISOString(),
      modifiedTime: new Date(mv.last_updated_timestamp).toISOString(),
      kvTags: tagMap(mv.tags),
      properties: x.properties ?? {},
      framework: x.framework ?? 'Custom',
      frameworkVersion: x.frameworkVersion ?? null,
      mimeType: x.mimeType ?? 'application/octet-stream',
      unpack: x.unpack ?? false,
      url: `aml://asset/${AzureModelService.assetIdOf(mv, x)}`,
      experimentName: x.experimentName ?? null,
      runId: runId ?? null,
      datasets: x.datasets ?? [],
      sampleInputData: x.sampleInputData,
      sampleOutputData: x.sampleOutputData,
      resourceRequirements: x.resourceRequirements,
      derivedModelIds: [],
      createdBy: mv.user_id ? { userName: mv.user_id } : null,
    };
  }

  /** `GET models?name=&tags=&properties=&framework=&runId=&count=&$skipToken=&orderBy=&latestVersionOnly=`. */
  async v1Query(
    ws: WorkspaceInfo,
    q: Record<string, string | undefined>,
  ): Promise<{ value: { mv: ModelVersionJson; x: AzureModelExtras }[]; skip?: number }> {
    let list = await this.versions(ws);
    const pairs = (s: string | undefined) =>
      (s ?? '')
        .split(',')
        .filter(Boolean)
        .map((p) => {
          const i = p.indexOf('=');
          return i < 0 ? { k: p } : { k: p.slice(0, i), v: p.slice(i + 1) };
        });
    if (q.name) list = list.filter((e) => e.mv.name === q.name);
    if (q.framework)
      list = list.filter((e) => (e.x.framework ?? 'Custom').toLowerCase() === q.framework!.toLowerCase());
    if (q.runId)
      list = list.filter((e) => (e.x.runId ?? e.mv.run_id) === q.runId || e.mv.run_id === q.runId!.replace(/-/g, ''));
    if (q.description) list = list.filter((e) => (e.mv.description ?? '').includes(q.description!));
    for (const { k, v } of pairs(q.tags ?? q.tag)) {
      list = list.filter((e) => {
        const t = tagMap(e.mv.tags);
        return k in t && (v === undefined || t[k] === v);
      });
    }
    for (const { k, v } of pairs(q.properties)) {
      list = list.filter((e) => {
        const p = e.x.properties ?? {};
        return k in p && (v === undefined || p[k] === v);
      });
    }
    if (/^true$/i.test(q.latestVersionOnly ?? '')) {
      const best = new Map<string, number>();
      for (const e of list) best.set(e.mv.name, Math.max(best.get(e.mv.name) ?? 0, Number(e.mv.version)));
      list = list.filter((e) => Number(e.mv.version) === best.get(e.mv.name));
    }
    const order = (q.orderBy ?? 'CreatedAtDesc').toLowerCase();
    const created = (e: { mv: ModelVersionJson }) => e.mv.creation_timestamp * 1e6 + Number(e.mv.version);
    if (order === 'createdatasc') list.sort((a, b) => created(a) - created(b));
    else if (order === 'createdatdesc') list.sort((a, b) => created(b) - created(a));
    else if (order === 'updatedatdesc') list.sort((a, b) => b.mv.last_updated_timestamp - a.mv.last_updated_timestamp);
    else if (order === 'updatedatasc') list.sort((a, b) => a.mv.last_updated_timestamp - b.mv.last_updated_timestamp);
    else
      throw new InvalidInput(
        `orderBy '${q.orderBy}' is not understood; use CreatedAtDesc, CreatedAtAsc, UpdatedAtDesc or UpdatedAtAsc`,
        { target: 'orderBy' },
      );
    const count = q.count === undefined ? 255 : Number(q.count);
    if (!Number.isInteger(count) || count < 1 || count > 1000)
      throw new InvalidInput(`count must be a whole number from 1 to 1000, got '${q.count}'`, { target: 'count' });
    const from = q.$skipToken ? Number(q.$skipToken) : q.offset ? Number(q.offset) : 0;
    if (!Number.isInteger(from) || from < 0)
      throw new InvalidInput('$skipToken is not one this server handed out', { target: '$skipToken' });
    const page = list.slice(from, from + count);
    return { value: page, ...(from + count < list.length ? { skip: from + count } : {}) };
  }

  /** Where the files of a v1 asset are, as a source URI for the registry. */
  private async sourceOfAsset(ws: WorkspaceInfo, asset: V1Asset): Promise<string> {
    const prefix = asset.artifacts.find((a) => a.prefix)?.prefix ?? asset.artifacts.find((a) => a.id)?.id;
    if (!prefix)
      throw new InvalidInput(`asset '${asset.id}' names no artifacts; upload the model's files first`, {
        target: 'url',
      });
    const [origin = '', container = '', ...rest] = prefix.split('/');
    const path = rest.join('/');
    if (!origin || !container)
      throw new InvalidInput(`artifact prefix '${prefix}' is not {origin}/{container}/{path}`, { target: 'url' });
    const run = /^dcid\.(.+)$/.exec(container);
    if (origin === 'ExperimentRun' && run) {
      const r = await this.runHistory.getRun(ws.workspaceId, run[1]!);
      return path ? `${r.info.artifact_uri.replace(/\/+$/, '')}/${path}` : r.info.artifact_uri;
    }
    if (!this.artifactLocator)
      throw new NotImplemented(
        `model files uploaded to artifact origin '${origin}' cannot be registered yet (the artifact service does not serve it); register the model from a run's outputs (run.register_model) or through MLflow / azure-ai-ml`,
        { code: 'NOT_IMPLEMENTED' },
      );
    return this.artifactLocator(ws, origin, container, path);
  }

  /** `POST models`: azureml-core's `Model.register` / `run.register_model` after it made the asset. */
  async v1Register(ws: WorkspaceInfo, body: Record<string, unknown>, userId: string) {
    const name = optString(body.name, 'name', 255);
    if (!name || !MODEL_NAME.test(name))
      throw new InvalidInput(
        `model name '${String(body.name ?? '')}' is invalid: use letters, digits, '-', '_' and '.', starting with a letter or digit (at most 255)`,
        { target: 'name' },
      );
    const url = optString(body.url, 'url', 2000);
    const assetId = /^aml:\/\/asset\/([A-Za-z0-9._-]{1,64})$/.exec(url ?? '')?.[1];
    if (!assetId)
      throw new InvalidInput(`url must be aml://asset/{id} of an asset made with POST assets; got '${url ?? ''}'`, {
        target: 'url',
      });
    const asset = await this.getAsset(ws, assetId);
    const tags = stringMap(body.kvTags, 'kvTags');
    const properties = stringMap(body.properties, 'properties');
    const datasets = Array.isArray(body.datasets)
      ? (body.datasets as { name?: unknown; id?: unknown }[]).map((d, i) => ({
          name: optString(d?.name, `datasets[${i}].name`, 255) ?? '',
          id: optString(d?.id, `datasets[${i}].id`, 500) ?? '',
        }))
      : [];
    const runId = optString(body.runId, 'runId', 100);
    const source = await this.sourceOfAsset(ws, asset);
    const extras: AzureModelExtras = {
      properties,
      framework: optString(body.framework, 'framework', 100),
      frameworkVersion: optString(body.frameworkVersion, 'frameworkVersion', 100),
      mimeType: optString(body.mimeType, 'mimeType', 200),
      unpack: body.unpack === true,
      url: `aml://asset/${assetId}`,
      experimentName: optString(body.experimentName, 'experimentName', 255),
      runId,
      datasets,
      sampleInputData: optString(body.sampleInputData, 'sampleInputData', 500),
      sampleOutputData: optString(body.sampleOutputData, 'sampleOutputData', 500),
      resourceRequirements: body.resourceRequirements ?? undefined,
    };
    let mlflowRun: string | undefined;
    if (runId) {
      const r = await this.runHistory.findRun(ws.workspaceId, runId).catch(() => undefined);
      mlflowRun = r?.info.run_id;
    }
    return this.createVersion(
      ws,
      { name, source, tags, description: optString(body.description, 'description', 5000), runId: mlflowRun, extras },
      userId,
    );
  }

  /**
   * `PATCH models/{id}` (JSON Patch): replace `/kvTags` and `/description`; add `/properties` (new
   * keys only: a property never changes), `/datasets`; replace `/sampleInputData`,
   * `/sampleOutputData`, `/resourceRequirements`. All operations are checked before any is applied.
   */
  async v1Patch(ws: WorkspaceInfo, id: string, ops: unknown) {
    const { mv, x } = await this.v1Find(ws, id);
    if (!Array.isArray(ops))
      throw new InvalidInput('the body must be a JSON Patch list of {op, path, value}', { target: 'body' });
    let tags: Record<string, string> | undefined;
    let description: string | undefined;
    const next: AzureModelExtras = { ...x, properties: { ...(x.properties ?? {}) } };
    for (const [i, raw] of ops.entries()) {
      const { op, path, value } = (raw ?? {}) as { op?: unknown; path?: unknown; value?: unknown };
      const at = `[${i}]`;
      if (op !== 'replace' && op !== 'add')
        throw new InvalidInput(`${at}.op '${String(op)}' is not served; use 'add' or 'replace'`, {
          target: `${at}.op`,
        });
      switch (path) {
        case '/kvTags':
          tags = stringMap(value, 'kvTags');
          break;
        case '/description':
          description = optString(value, 'description', 5000) ?? '';
          break;
        case '/properties': {
          const add = stringMap(value, 'properties');
          for (const [k, v] of Object.entries(add)) {
            if (k in next.properties! && next.properties![k] !== v)
              throw new InvalidInput(`property '${k}' of model '${id}' is already set; properties cannot change`, {
                target: `properties.${k}`,
              });
            next.properties![k] = v;
          }
          break;
        }
        case '/datasets':
          if (!Array.isArray(value)) throw new InvalidInput('datasets must be a list', { target: 'datasets' });
          next.datasets = [
            ...(next.datasets ?? []),
            ...value.map((d: { name?: unknown; id?: unknown }, j: number) => ({
              name: optString(d?.name, `datasets[${j}].name`, 255) ?? '',
              id: optString(d?.id, `datasets[${j}].id`, 500) ?? '',
            })),
          ];
          break;
        case '/sampleInputData':
          next.sampleInputData = optString(value, 'sampleInputData', 500);
          break;
        case '/sampleOutputData':
          next.sampleOutputData = optString(value, 'sampleOutputData', 500);
          break;
        case '/resourceRequirements':
          next.resourceRequirements = value;
          break;
        default:
          throw new InvalidInput(
            `${at}.path '${String(path)}' cannot be changed; kvTags, description, properties, datasets, sampleInputData, sampleOutputData and resourceRequirements can`,
            { target: `${at}.path` },
          );
      }
    }
    if (tags) await this.replaceTags(ws, mv, tags);
    if (description !== undefined)
      await this.registry.updateModelVersion(this.ref(ws), mv.name, mv.version, description);
    await this.setExtras(ws, mv.name, Number(mv.version), next);
    return this.version(ws, mv.name, Number(mv.version));
  }

  /** The artifact URI of a run (by MLflow id, azureml-core's uuid, or a job's name). */
  async runOf(ws: WorkspaceInfo, runId: string): Promise<string> {
    const r = await this.runHistory.findRun(ws.workspaceId, runId).catch(() => undefined);
    if (!r)
      throw new InvalidInput(`run or job '${runId}' could not be found in workspace '${ws.name}'`, {
        code: 'RUN_NOT_FOUND',
        target: 'modelUri',
      });
    return r.info.artifact_uri;
  }

  // ---- v1 assets -------------------------------------------------------------------------

  async createAsset(ws: WorkspaceInfo, body: Record<string, unknown>): Promise<V1Asset> {
    const name = optString(body.name, 'name', 255);
    if (!name) throw new InvalidInput('name is required', { target: 'name' });
    if (!Array.isArray(body.artifacts) || !body.artifacts.length)
      throw new InvalidInput('artifacts must list at least one {prefix} or {id}', { target: 'artifacts' });
    const artifacts = (body.artifacts as Record<string, unknown>[]).map((a, i) => {
      const prefix = optString(a?.prefix, `artifacts[${i}].prefix`, 1000);
      const id = optString(a?.id, `artifacts[${i}].id`, 1000);
      if (!prefix && !id)
        throw new InvalidInput(`artifacts[${i}] needs a prefix or an id`, { target: `artifacts[${i}]` });
      for (const p of [prefix, id])
        if (p && p.split('/').some((s) => s === '..' || s === '.'))
          throw new InvalidInput(`artifacts[${i}] must not contain '.' or '..' segments`, {
            target: `artifacts[${i}]`,
          });
      return { ...(prefix ? { prefix } : {}), ...(id ? { id } : {}) };
    });
    const asset: V1Asset = {
      id: crypto.randomUUID().replace(/-/g, ''),
      name,
      createdTime: Date.now(),
      artifacts,
      kvTags: stringMap(body.kvTags, 'kvTags'),
      properties: stringMap(body.properties, 'properties'),
      runid: optString(body.runid, 'runid', 100),
      description: optString(body.description, 'description', 5000),
    };
    const { id, createdTime, ...rest } = asset;
    await this.ctx.db
      .insertInto('azure_model_assets')
      .values({ workspace_id: ws.workspaceId, id, name, created_time: createdTime, body: JSON.stringify(rest) })
      .execute();
    return asset;
  }

  /**
   * A v1 asset: one made with POST assets, or the asset of an MLflow-born version
   * (`model.{hex name}.{version}`), whose artifact prefix is its run's outputs when its files are a
   * run's artifacts (`mlflow-artifacts:/{experiment}/{run}/artifacts/…`).
   */
  async getAsset(ws: WorkspaceInfo, id: string): Promise<V1Asset> {
    const synth = /^model\.([0-9a-f]+)\.(\d{1,9})$/.exec(id);
    if (synth) {
      const name = Buffer.from(synth[1]!, 'hex').toString();
      const { mv } = await this.v1Find(ws, `${name}:${synth[2]}`);
      const storage = await this.registry.getDownloadUri(this.ref(ws), mv.name, mv.version);
      const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*\d+\/([0-9a-f]{32})\/artifacts\/?(.*)$/.exec(storage);
      return {
        id,
        name: mv.name,
        createdTime: mv.creation_timestamp,
        artifacts: m ? [{ prefix: `ExperimentRun/dcid.${m[1]}/${m[2]}`.replace(/\/$/, '') }] : [],
        kvTags: {},
        properties: {},
        runid: mv.run_id,
      };
    }
    const row = await this.ctx.db
      .selectFrom('azure_model_assets')
      .selectAll()
      .where('workspace_id', '=', ws.workspaceId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row)
      throw new NotFound(`asset '${id}' could not be found in workspace '${ws.name}'`, { code: 'ASSET_NOT_FOUND' });
    return {
      id: row.id,
      name: row.name,
      createdTime: Number(row.created_time),
      ...(JSON.parse(row.body) as Omit<V1Asset, 'id' | 'name' | 'createdTime'>),
    };
  }

  async deleteAsset(ws: WorkspaceInfo, id: string): Promise<void> {
    const r = await this.ctx.db
      .deleteFrom('azure_model_assets')
      .where('workspace_id', '=', ws.workspaceId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!Number(r.numDeletedRows))
      throw new NotFound(`asset '${id}' could not be found in workspace '${ws.name}'`, { code: 'ASSET_NOT_FOUND' });
  }

  static assetDto(a: V1Asset): Record<string, unknown> {
    return {
      id: a.id,
      name: a.name,
      type: 'model',
      description: a.description,
      artifacts: a.artifacts,
      kvTags: a.kvTags,
      properties: a.properties,
      runid: a.runid,
      meta: {},
      createdTime: new Date(a.createdTime).toISOString(),
    };
  }
}
