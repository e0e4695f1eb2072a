import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { localFiles, proxyPathOf, type TrackingWorkspace, type TransferProgress } from './client.js';
import { Run, trackingOf, type MlflowRun } from './experiment.js';
import type * as C from '@atelier/contracts';

/** A model version as MLflow's registry answers it (`model_registry.proto` ModelVersion). */
export type MlflowModelVersion = C.ModelVersion;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
function checkModelName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name))
    throw new ValidationError(
      `model name '${String(name)}' must be 1–255 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      { target: 'modelName' },
    );
  return name;
}
function checkTags(tags: unknown): Record<string, string> {
  if (tags === undefined) return {};
  if (!tags || typeof tags !== 'object' || Array.isArray(tags))
    throw new ValidationError('tags must be an object of string values', { target: 'tags' });
  for (const [k, v] of Object.entries(tags))
    if (typeof v !== 'string')
      throw new ValidationError(`tag '${k}' must be a string, got ${typeof v}`, { target: `tags.${k}` });
  return tags as Record<string, string>;
}
const q = (v: string): string => {
  if (v.includes("'")) throw new ValidationError(`'${v}' cannot be used in a filter: it contains a single quote`);
  return `'${v}'`;
};

export interface RegisterModelOptions {
  /** A local file or folder: its files are uploaded (streamed) and become the version's files. */
  modelPath: string;
  modelName: string;
  tags?: Record<string, string>;
  description?: string;
  /** Upload into this run's artifacts (under the file/folder name) and link the version to the run. */
  runId?: string;
  onProgress?: (p: TransferProgress) => void;
}

/**
 * A registered model version: azureml-core's `Model` over MLflow's model registry. `id` is
 * `name:version`. Register with `Model.register`, read with `Model.get`/`Model.list`/`ws.models()`.
 */
export class Model {
  private record: MlflowModelVersion;
  constructor(
    readonly workspace: TrackingWorkspace,
    record: MlflowModelVersion,
  ) {
    this.record = record;
  }
  get name(): string {
    return this.record.name;
  }
  get version(): number {
    return Number(this.record.version);
  }
  get id(): string {
    return `${this.name}:${this.version}`;
  }
  get description(): string | undefined {
    return this.record.description || undefined;
  }
  /** The version's tags (without Atelier's own `atelier.*` ones). */
  get tags(): Record<string, string> {
    return Object.fromEntries(
      (this.record.tags ?? []).filter((t) => !t.key.startsWith('atelier.')).map((t) => [t.key, t.value]),
    );
  }
  private get modelPath(): string | undefined {
    return this.record.tags?.find((t) => t.key === 'atelier.model.path')?.value;
  }
  get runId(): string | undefined {
    return this.record.run_id || undefined;
  }
  get stage(): string | undefined {
    return this.record.current_stage;
  }
  get aliases(): string[] {
    return this.record.aliases ?? [];
  }
  get createdTime(): string | undefined {
    return this.record.creation_timestamp === undefined
      ? undefined
      : new Date(Number(this.record.creation_timestamp)).toISOString();
  }
  /** Where the files are (an `mlflow-artifacts:/…` or `runs:/…` URI). */
  get source(): string {
    return this.record.source;
  }
  /** `models:/name/version`, as MLflow clients load it. */
  get uri(): string {
    return `models:/${this.name}/${this.version}`;
  }

  /**
   * Registers a model (azureml-core `Model.register`): uploads the file or folder at `modelPath`
   * (streamed), then makes the registered model if needed and a new version pointing at the files.
   * If anything fails, what this call made is removed again.
   */
  static async register(ws: TrackingWorkspace, opts: RegisterModelOptions): Promise<Model> {
    const name = checkModelName(opts.modelName);
    const tags = checkTags(opts.tags);
    if (opts.description !== undefined && typeof opts.description !== 'string')
      throw new ValidationError('description must be a string', { target: 'description' });
    const st = await fsp.stat(opts.modelPath).catch(() => undefined);
    if (!st || (!st.isFile() && !st.isDirectory()))
      throw new ValidationError(`modelPath '${opts.modelPath}' is not a file or folder`, { target: 'modelPath' });
    const base = path.basename(path.resolve(opts.modelPath));
    const t = trackingOf(ws);

    // Where the files go: below the run's artifacts, or a folder of their own.
    let root: string;
    let run: Run | undefined;
    if (opts.runId) {
      run = await Run.get(ws, opts.runId);
      const r: MlflowRun = run.mlflowRun;
      root = proxyPathOf(r.info.artifact_uri, `run '${opts.runId}'`);
      const existing = await t.listFiles(root);
      if (existing.some((f) => f.path === base || f.path.startsWith(`${base}/`)))
        throw new ConflictError(
          `run '${opts.runId}' already has artifacts at '${base}'; register them with run.registerModel or rename the model path`,
          { target: 'modelPath' },
        );
    } else {
      root = `registered-models/${name}/${crypto.randomUUID().replace(/-/g, '')}`;
    }
    const files = st.isFile()
      ? [{ rel: base, abs: opts.modelPath, size: st.size }]
      : (await localFiles(opts.modelPath)).map((f) => ({ ...f, rel: `${base}/${f.rel}` }));
    if (files.length === 0)
      throw new ValidationError(`modelPath '${opts.modelPath}' is an empty folder`, { target: 'modelPath' });
    const total = files.reduce((s, f) => s + f.size, 0);

    let createdModel = false;
    const cleanup = async () => {
      await t.deleteArtifact(run ? `${root}/${base}` : root).catch(() => undefined);
      if (createdModel) await t.call('DELETE', '/registered-models/delete', 'undo', { name }).catch(() => undefined);
    };
    try {
      let done = 0;
      let count = 0;
      for (const f of files) {
        await t.uploadFile(f.abs, `${root}/${f.rel}`, (b) =>
          opts.onProgress?.({
            file: f.rel,
            bytesDone: (done += b),
            bytesTotal: total,
            filesDone: count,
            filesTotal: files.length,
          }),
        );
        count++;
      }
      try {
        await t.call('POST', '/registered-models/create', `register model '${name}'`, { name });
        createdModel = true;
      } catch (e) {
        if ((e as { code?: string }).code !== 'RESOURCE_ALREADY_EXISTS') throw e;
      }
      const r = await t.call<C.ModelVersionResponse>(
        'POST',
        '/model-versions/create',
        `register a version of model '${name}'`,
        {
          name,
          source: `mlflow-artifacts:/${root}`,
          ...(run ? { run_id: run.id } : {}),
          ...(opts.description ? { description: opts.description } : {}),
          tags: Object.entries({ ...tags, 'atelier.model.path': base }).map(([key, value]) => ({ key, value })),
        },
      );
      return new Model(ws, r.model_version);
    } catch (e) {
      await cleanup();
      throw e;
    }
  }

  /** Registers files a run has already uploaded (`run.registerModel` in azureml-core). */
  static async registerFromRun(
    run: Run,
    opts: { modelName: string; modelPath: string; tags?: Record<string, string>; description?: string },
  ): Promise<Model> {
    const name = checkModelName(opts.modelName);
    const tags = checkTags(opts.tags);
    const rel = opts.modelPath.replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
    if (!rel || rel.split('/').some((p) => p === '..' || p === '.'))
      throw new ValidationError(
        `modelPath '${opts.modelPath}' must name artifacts of the run, e.g. 'outputs/model.pkl'`,
        { target: 'modelPath' },
      );
    const ws = run.experiment.workspace;
    const t = trackingOf(ws);
    const root = proxyPathOf(run.mlflowRun.info.artifact_uri, `run '${run.id}'`);
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    const names = await run.getFileNames();
    if (!names.some((n) => n === rel || n.startsWith(`${rel}/`)))
      throw new NotFoundError(`run '${run.id}' has no artifacts at '${rel}'`, { target: 'modelPath' });
    let created = false;
    try {
      await t.call('POST', '/registered-models/create', `register model '${name}'`, { name });
      created = true;
    } catch (e) {
      if ((e as { code?: string }).code !== 'RESOURCE_ALREADY_EXISTS') throw e;
    }
    try {
      const r = await t.call<C.ModelVersionResponse>(
        'POST',
        '/model-versions/create',
        `register a version of model '${name}'`,
        {
          name,
          source: `mlflow-artifacts:/${parent ? `${root}/${parent}` : root}`,
          run_id: run.id,
          ...(opts.description ? { description: opts.description } : {}),
          tags: Object.entries({ ...tags, 'atelier.model.path': rel.slice(parent ? parent.length + 1 : 0) }).map(
            ([key, value]) => ({ key, value }),
          ),
        },
      );
      return new Model(ws, r.model_version);
    } catch (e) {
      if (created) await t.call('DELETE', '/registered-models/delete', 'undo', { name }).catch(() => undefined);
      throw e;
    }
  }

  /** A version of a model: the given one, else the latest (`Model.get(ws, name, { version })`). */
  static async get(ws: TrackingWorkspace, name: string, opts: { version?: number | string } = {}): Promise<Model> {
    checkModelName(name);
    const t = trackingOf(ws);
    if (opts.version !== undefined) {
      const r = await t.call<C.ModelVersionResponse>(
        'GET',
        '/model-versions/get',
        `get model '${name}' version ${opts.version}`,
        { name, version: String(opts.version) },
      );
      return new Model(ws, r.model_version);
    }
    const all = await Model.list(ws, { name });
    if (!all.length) throw new NotFoundError(`there is no model named '${name}'`, { target: 'name' });
    return all[0]!;
  }

  /**
   * Model versions of the workspace, newest version first (azureml-core `Model.list`): filtered by
   * name, by tags (`{key: value}` or keys that must be present), or only the latest of each name.
   */
  static async list(
    ws: TrackingWorkspace,
    opts: { name?: string; tags?: Record<string, string> | string[]; latest?: boolean; runId?: string } = {},
  ): Promise<Model[]> {
    const clauses: string[] = [];
    if (opts.name !== undefined) clauses.push(`name = ${q(checkModelName(opts.name))}`);
    if (opts.runId !== undefined) clauses.push(`run_id = ${q(opts.runId)}`);
    const keys = Array.isArray(opts.tags) ? opts.tags : [];
    if (opts.tags && !Array.isArray(opts.tags))
      for (const [k, v] of Object.entries(checkTags(opts.tags))) clauses.push(`tags.\`${k}\` = ${q(v)}`);
    const out: Model[] = [];
    for await (const v of trackingOf(ws).pages<MlflowModelVersion>(
      'GET',
      '/model-versions/search',
      'model_versions',
      'list models',
      {
        filter: clauses.join(' AND ') || undefined,
        max_results: 10000,
        order_by: ['name ASC', 'version_number DESC'],
      },
    )) {
      out.push(new Model(ws, v));
    }
    let models = out.filter((m) => keys.every((k) => k in m.tags));
    models.sort((a, b) => a.name.localeCompare(b.name) || b.version - a.version);
    if (opts.latest) models = models.filter((m, i) => i === 0 || models[i - 1]!.name !== m.name);
    return models;
  }

  /**
   * Downloads the version's files into `targetDir` (streamed), as azureml-core does: returns the
   * path of the model file or folder there. Existing files are an error unless `existOk`.
   */
  async download(
    targetDir = '.',
    opts: { existOk?: boolean; onProgress?: (p: TransferProgress) => void } = {},
  ): Promise<string> {
    const t = trackingOf(this.workspace);
    const r = await t.call<C.GetModelVersionDownloadUriResponse>(
      'GET',
      '/model-versions/get-download-uri',
      `download model '${this.id}'`,
      { name: this.name, version: String(this.version) },
    );
    let uri = r.artifact_uri;
    const runs = /^runs:\/+([^/]+)\/?(.*)$/.exec(uri);
    if (runs) {
      const run = await Run.get(this.workspace, runs[1]!);
      uri = runs[2] ? `${run.mlflowRun.info.artifact_uri}/${runs[2]}` : run.mlflowRun.info.artifact_uri;
    }
    const root = proxyPathOf(uri, `model '${this.id}'`);
    const only = this.modelPath;
    const listed = await t.listFiles(root);
    const files = only ? listed.filter((f) => f.path === only || f.path.startsWith(`${only}/`)) : listed;
    if (!files.length) throw new NotFoundError(`model '${this.id}' has no files at '${uri}'`);
    if (!opts.existOk) {
      for (const f of files) {
        const dest = path.join(targetDir, ...f.path.split('/'));
        if (fs.existsSync(dest))
          throw new ConflictError(`'${dest}' exists already; remove it or pass existOk: true`, { target: dest });
      }
    }
    const total = files.reduce((s, f) => s + f.size, 0);
    let done = 0;
    let count = 0;
    for (const f of files) {
      const dest = path.join(targetDir, ...f.path.split('/'));
      await t.downloadFile(`${root}/${f.path}`, dest, {
        overwrite: true,
        onBytes: (b) =>
          opts.onProgress?.({
            file: f.path,
            bytesDone: (done += b),
            bytesTotal: total,
            filesDone: count,
            filesTotal: files.length,
          }),
      });
      count++;
    }
    opts.onProgress?.({ file: '', bytesDone: done, bytesTotal: total, filesDone: count, filesTotal: files.length });
    return only ? path.join(targetDir, only) : targetDir;
  }

  /** Deletes this version; the registered model goes too when it was its last version. */
  async delete(): Promise<void> {
    const t = trackingOf(this.workspace);
    await t.call('DELETE', '/model-versions/delete', `delete model '${this.id}'`, {
      name: this.name,
      version: String(this.version),
    });
    const left = await Model.list(this.workspace, { name: this.name });
    if (!left.length)
      await t
        .call('DELETE', '/registered-models/delete', `delete model '${this.name}'`, { name: this.name })
        .catch((e) => {
          if (!(e instanceof NotFoundError)) throw e;
        });
  }
  /** Adds (or replaces) tags of this version. */
  async addTags(tags: Record<string, string>): Promise<void> {
    const t = trackingOf(this.workspace);
    for (const [key, value] of Object.entries(checkTags(tags)))
      await t.call('POST', '/model-versions/set-tag', `tag model '${this.id}'`, {
        name: this.name,
        version: String(this.version),
        key,
        value,
      });
    await this.refresh();
  }
  async removeTags(keys: string[]): Promise<void> {
    const t = trackingOf(this.workspace);
    for (const key of keys)
      await t.call('DELETE', '/model-versions/delete-tag', `untag model '${this.id}'`, {
        name: this.name,
        version: String(this.version),
        key,
      });
    await this.refresh();
  }
  async refresh(): Promise<this> {
    const r = await trackingOf(this.workspace).call<C.ModelVersionResponse>(
      'GET',
      '/model-versions/get',
      `get model '${this.id}'`,
      { name: this.name, version: String(this.version) },
    );
    this.record = r.model_version;
    return this;
  }
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      version: this.version,
      id: this.id,
      description: this.description,
      tags: this.tags,
      runId: this.runId,
      stage: this.stage,
      aliases: this.aliases,
      createdTime: this.createdTime,
      source: this.source,
    };
  }
}
