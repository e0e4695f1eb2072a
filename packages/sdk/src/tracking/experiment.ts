import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import {
  TrackingClient,
  checkArtifactName,
  localFiles,
  proxyPathOf,
  type TrackingWorkspace,
  type TransferProgress,
} from './client.js';
import type * as C from '@atelier/contracts';

/** MLflow's run as the server answers it (`service.proto` Run). */
export type MlflowRun = C.Run;
/** MLflow's experiment as the server answers it (`service.proto` Experiment). */
export type MlflowExperiment = C.Experiment;

/** azureml-core's run states, from MLflow's. */
const STATUS: Record<string, string> = {
  RUNNING: 'Running',
  SCHEDULED: 'NotStarted',
  FINISHED: 'Completed',
  FAILED: 'Failed',
  KILLED: 'Canceled',
};
const PARENT_TAG = 'mlflow.parentRunId';
/** How a metric name was logged (list, row, table, image): kept as a run tag so getMetrics can rebuild it. */
const KIND_TAG = 'atelier.metric.kind.';
const IMAGE_TAG = 'atelier.metric.image.';
const BATCH = 1000;

const clients = new WeakMap<object, TrackingClient>();
/** One tracking client per workspace object. */
export function trackingOf(ws: TrackingWorkspace): TrackingClient {
  let c = clients.get(ws);
  if (!c) clients.set(ws, (c = new TrackingClient(ws)));
  return c;
}

const toMs = (v: number | string | undefined): number | undefined =>
  v === undefined || v === null || v === '' ? undefined : Number(v);
const iso = (v: number | string | undefined): string | undefined =>
  toMs(v) === undefined ? undefined : new Date(toMs(v)!).toISOString();
const kv = (list: { key: string; value: string }[] | undefined): Record<string, string> =>
  Object.fromEntries((list ?? []).map((t) => [t.key, t.value]));
const quote = (v: string, what: string): string => {
  if (v.includes("'"))
    throw new ValidationError(`${what} '${v}' cannot be used in a filter: it contains a single quote`, {
      target: what,
    });
  return `'${v}'`;
};

function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !name.trim())
    throw new ValidationError(`${what} must be a non-empty string`, { target: what });
  if (name.length > 250)
    throw new ValidationError(`${what} '${name.slice(0, 40)}…' is longer than 250 characters`, { target: what });
  return name;
}
function metricValue(name: string, v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  throw new ValidationError(
    `metric '${name}' must be a number or a boolean, got ${typeof v}; record text with run.tag(name, value)`,
    { target: name },
  );
}
function checkTags(tags: unknown, what = 'tags'): Record<string, string> {
  if (!tags || typeof tags !== 'object' || Array.isArray(tags))
    throw new ValidationError(`${what} must be an object of string values`, { target: what });
  for (const [k, v] of Object.entries(tags))
    if (typeof v !== 'string')
      throw new ValidationError(`${what}.${k} must be a string, got ${typeof v}`, { target: `${what}.${k}` });
  return tags as Record<string, string>;
}

/**
 * An experiment of a workspace: azureml-core's `Experiment`. `new Experiment(ws, name)` names it;
 * it is made on the server when first used (`startLogging`), as azureml-core does.
 */
export class Experiment {
  private record?: MlflowExperiment;
  readonly name: string;
  constructor(
    readonly workspace: TrackingWorkspace,
    name: string,
    record?: MlflowExperiment,
  ) {
    this.name = checkName(name, 'experiment name');
    this.record = record;
  }
  /** The MLflow experiment id (known once the experiment exists on the server). */
  get id(): string | undefined {
    return this.record?.experiment_id;
  }
  get tags(): Record<string, string> {
    return kv(this.record?.tags);
  }
  get archived(): boolean {
    return this.record?.lifecycle_stage === 'deleted';
  }
  get artifactLocation(): string | undefined {
    return this.record?.artifact_location;
  }
  private get tracking(): TrackingClient {
    return trackingOf(this.workspace);
  }

  /** Every experiment of the workspace (active ones; `viewType: 'all'` adds archived ones). */
  static async list(
    ws: TrackingWorkspace,
    opts: { viewType?: 'active' | 'archived' | 'all'; name?: string } = {},
  ): Promise<Experiment[]> {
    const view = { active: 'ACTIVE_ONLY', archived: 'DELETED_ONLY', all: 'ALL' }[opts.viewType ?? 'active'];
    if (!view) throw new ValidationError("viewType must be 'active', 'archived' or 'all'", { target: 'viewType' });
    const out: Experiment[] = [];
    const filter = opts.name ? `name = ${quote(opts.name, 'name')}` : undefined;
    for await (const e of trackingOf(ws).pages<MlflowExperiment>(
      'POST',
      '/experiments/search',
      'experiments',
      'list experiments',
      { view_type: view, max_results: 1000, filter },
    ))
      out.push(new Experiment(ws, e.name, e));
    return out;
  }

  /** An existing experiment by name (NotFoundError when there is none). */
  static async get(ws: TrackingWorkspace, name: string): Promise<Experiment> {
    const r = await trackingOf(ws).call<C.GetExperimentResponse>(
      'GET',
      '/experiments/get-by-name',
      `get experiment '${name}'`,
      { experiment_name: checkName(name, 'experiment name') },
    );
    return new Experiment(ws, r.experiment.name, r.experiment);
  }

  /** Makes the experiment on the server if it is not there yet; returns its id. */
  async ensure(): Promise<string> {
    if (this.record) return this.record.experiment_id;
    try {
      this.record = (await Experiment.get(this.workspace, this.name)).record;
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      try {
        const made = await this.tracking.call<C.CreateExperimentResponse>(
          'POST',
          '/experiments/create',
          `create experiment '${this.name}'`,
          { name: this.name },
        );
        this.record = (
          await this.tracking.call<C.GetExperimentResponse>(
            'GET',
            '/experiments/get',
            `get experiment '${this.name}'`,
            { experiment_id: made.experiment_id },
          )
        ).experiment;
      } catch (e2) {
        // Made by someone else meanwhile.
        if (!(e2 instanceof ConflictError) && (e2 as { code?: string }).code !== 'RESOURCE_ALREADY_EXISTS') throw e2;
        this.record = (await Experiment.get(this.workspace, this.name)).record;
      }
    }
    return this.record!.experiment_id;
  }

  /** Starts an interactive run (azureml-core's `start_logging`): status Running until `complete()`/`fail()`. */
  async startLogging(opts: { displayName?: string; tags?: Record<string, string> } = {}): Promise<Run> {
    const id = await this.ensure();
    return Run.create(this, id, { displayName: opts.displayName, tags: opts.tags });
  }
  /** Same as `startLogging`. */
  startRun(opts: { displayName?: string; tags?: Record<string, string> } = {}): Promise<Run> {
    return this.startLogging(opts);
  }

  /**
   * The runs of this experiment, newest first: top-level runs unless `includeChildren`; filtered by
   * tags (`{key: value}`, or keys that must be present), properties (`{key: value}`) and status.
   */
  async getRuns(
    opts: {
      includeChildren?: boolean;
      tags?: Record<string, string> | string[];
      properties?: Record<string, string>;
      status?: string;
      maxResults?: number;
    } = {},
  ): Promise<Run[]> {
    const id =
      this.id ?? (await Experiment.get(this.workspace, this.name).then((e) => ((this.record = e.record), e.id!)));
    const clauses: string[] = [];
    const tagKeys: string[] = [];
    if (Array.isArray(opts.tags)) tagKeys.push(...opts.tags);
    else if (opts.tags)
      for (const [k, v] of Object.entries(checkTags(opts.tags)))
        clauses.push(`tags.\`${k}\` = ${quote(v, `tags.${k}`)}`);
    if (opts.properties)
      for (const [k, v] of Object.entries(checkTags(opts.properties, 'properties')))
        clauses.push(`params.\`${k}\` = ${quote(v, `properties.${k}`)}`);
    if (opts.status !== undefined) {
      const s = Object.entries(STATUS).find(
        ([m, a]) => a.toLowerCase() === opts.status!.toLowerCase() || m === opts.status!.toUpperCase(),
      )?.[0];
      if (!s)
        throw new ValidationError(`status '${opts.status}' is not one of ${Object.values(STATUS).join(', ')}`, {
          target: 'status',
        });
      clauses.push(`attributes.status = '${s}'`);
    }
    const limit = opts.maxResults ?? Infinity;
    if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1))
      throw new ValidationError('maxResults must be a positive integer', { target: 'maxResults' });
    const wanted = (r: Run) => (opts.includeChildren || !r.parentId) && tagKeys.every((k) => k in r.tags);
    const all: Run[] = [];
    let kept = 0;
    // Newest first; stops reading once `maxResults` runs are found.
    for await (const r of this.tracking.pages<MlflowRun>(
      'POST',
      '/runs/search',
      'runs',
      `list the runs of experiment '${this.name}'`,
      {
        experiment_ids: [id],
        filter: clauses.join(' AND ') || undefined,
        order_by: ['attributes.start_time DESC'],
        max_results: Math.min(1000, limit === Infinity ? 1000 : Math.max(limit, 100)),
      },
    )) {
      const run = new Run(this, r);
      all.push(run);
      if (wanted(run) && ++kept >= limit) break;
    }
    const byId = new Map(all.map((r) => [r.id, r]));
    for (const run of all) if (run.parentId) run.parent = byId.get(run.parentId);
    return all.filter(wanted).slice(0, limit);
  }

  async tag(key: string, value = ''): Promise<void> {
    const id = await this.ensure();
    await this.tracking.call('POST', '/experiments/set-experiment-tag', `tag experiment '${this.name}'`, {
      experiment_id: id,
      key: checkName(key, 'tag key'),
      value,
    });
    this.record!.tags = [...(this.record!.tags ?? []).filter((t) => t.key !== key), { key, value }];
  }
  /** Archives the experiment (MLflow: deleted lifecycle stage; it can be reactivated). */
  async archive(): Promise<void> {
    const id = await this.ensure();
    await this.tracking.call('POST', '/experiments/delete', `archive experiment '${this.name}'`, { experiment_id: id });
    this.record!.lifecycle_stage = 'deleted';
  }
  async reactivate(): Promise<void> {
    if (!this.id)
      throw new NotFoundError(
        `experiment '${this.name}' is not known here; get it with Experiment.list(ws, { viewType: 'archived' })`,
      );
    await this.tracking.call('POST', '/experiments/restore', `reactivate experiment '${this.name}'`, {
      experiment_id: this.id,
    });
    this.record!.lifecycle_stage = 'active';
  }
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      id: this.id,
      archived: this.archived,
      tags: this.tags,
      artifactLocation: this.artifactLocation,
    };
  }
}

/** The metrics of a run as azureml-core returns them: a number, a list, a table (`{col: [...]}`) or an image's artifact path. */
export type MetricValue = number | number[] | Record<string, number[]> | string;

/**
 * A run: azureml-core's `Run`, over MLflow's tracking API. Made by `experiment.startLogging()`,
 * `run.child()`, or read with `ws.getRun(id)` / `experiment.getRuns()`.
 */
export class Run {
  private record: MlflowRun;
  /** The parent run of a child run (set when it is known; `parentId` always is). */
  parent?: Run;
  private steps = new Map<string, number>();
  private kinds = new Map<string, string>();

  constructor(
    readonly experiment: Experiment,
    record: MlflowRun,
  ) {
    this.record = record;
    for (const m of record.data?.metrics ?? []) this.steps.set(m.key, Number(m.step ?? 0) + 1);
    for (const [k, v] of Object.entries(this.tags))
      if (k.startsWith(KIND_TAG)) this.kinds.set(k.slice(KIND_TAG.length), v);
  }

  /** @internal */
  static async create(
    experiment: Experiment,
    experimentId: string,
    opts: { displayName?: string; tags?: Record<string, string>; parent?: Run },
  ): Promise<Run> {
    const tags = {
      ...(opts.tags ? checkTags(opts.tags) : {}),
      ...(opts.parent ? { [PARENT_TAG]: opts.parent.id } : {}),
      'mlflow.source.name': 'atelier-sdk',
      'mlflow.source.type': 'LOCAL',
    };
    const t = trackingOf(experiment.workspace);
    const r = await t.call<C.RunResponse>('POST', '/runs/create', `start a run in experiment '${experiment.name}'`, {
      experiment_id: experimentId,
      start_time: Date.now(),
      ...(opts.displayName ? { run_name: opts.displayName } : {}),
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    });
    const run = new Run(experiment, r.run);
    run.parent = opts.parent;
    return run;
  }

  /** A run of the workspace by id, with its experiment and (for a child run) its parent. */
  static async get(ws: TrackingWorkspace, runId: string): Promise<Run> {
    if (typeof runId !== 'string' || !/^[0-9a-zA-Z_-]{1,64}$/.test(runId))
      throw new ValidationError(`run id '${runId}' is not a run id (32 hex characters)`, { target: 'runId' });
    const t = trackingOf(ws);
    const r = await t.call<C.RunResponse>('GET', '/runs/get', `get run '${runId}'`, { run_id: runId });
    const e = await t.call<C.GetExperimentResponse>('GET', '/experiments/get', `get the experiment of run '${runId}'`, {
      experiment_id: r.run.info.experiment_id,
    });
    const run = new Run(new Experiment(ws, e.experiment.name, e.experiment), r.run);
    if (run.parentId) run.parent = await Run.get(ws, run.parentId);
    return run;
  }

  private get tracking(): TrackingClient {
    return trackingOf(this.experiment.workspace);
  }
  get id(): string {
    return this.record.info.run_id;
  }
  get displayName(): string | undefined {
    return this.record.info.run_name;
  }
  /** azureml-core's status: Running, Completed, Failed, Canceled, NotStarted. */
  get status(): string {
    return STATUS[this.record.info.status] ?? this.record.info.status;
  }
  get parentId(): string | undefined {
    return this.tags[PARENT_TAG];
  }
  /** Every tag, including MLflow's system tags (`mlflow.*`). */
  get tags(): Record<string, string> {
    return kv(this.record.data?.tags);
  }
  /** Params (MLflow) are azureml-core's properties: set once, never changed. */
  get properties(): Record<string, string> {
    return kv(this.record.data?.params);
  }
  /** The run as the server answered it last. */
  get mlflowRun(): MlflowRun {
    return this.record;
  }
  private get artifactRoot(): string {
    return proxyPathOf(this.record.info.artifact_uri, `run '${this.id}'`);
  }

  /** Reads the run again from the server. */
  async refresh(): Promise<this> {
    this.record = (
      await this.tracking.call<C.RunResponse>('GET', '/runs/get', `get run '${this.id}'`, { run_id: this.id })
    ).run;
    return this;
  }
  async getStatus(): Promise<string> {
    return (await this.refresh()).status;
  }

  private async batch(
    body: { metrics?: unknown[]; params?: unknown[]; tags?: unknown[] },
    what: string,
  ): Promise<void> {
    const metrics = body.metrics ?? [];
    const params = body.params ?? [];
    const tags = body.tags ?? [];
    // MLflow's limits: 1000 metrics, 100 params, 100 tags, 1000 items per request.
    for (let i = 0, p = 0, g = 0; i < metrics.length || p < params.length || g < tags.length;) {
      const ps = params.slice(p, p + 100);
      const gs = tags.slice(g, g + 100);
      const ms = metrics.slice(i, i + BATCH - ps.length - gs.length);
      await this.tracking.call('POST', '/runs/log-batch', what, { run_id: this.id, metrics: ms, params: ps, tags: gs });
      i += ms.length;
      p += ps.length;
      g += gs.length;
    }
  }
  private nextStep(name: string, count = 1): number {
    const s = this.steps.get(name) ?? 0;
    this.steps.set(name, s + count);
    return s;
  }
  private async setKind(name: string, kind: string): Promise<{ key: string; value: string }[]> {
    const had = this.kinds.get(name);
    if (had === kind) return [];
    if (had)
      throw new ValidationError(`metric '${name}' was logged as a ${had}; log the ${kind} under another name`, {
        target: name,
      });
    if (kind !== 'list' && this.steps.has(name))
      throw new ValidationError(`metric '${name}' was logged as values; log the ${kind} under another name`, {
        target: name,
      });
    this.kinds.set(name, kind);
    return [{ key: `${KIND_TAG}${name}`, value: kind }];
  }

  /** Logs a metric value (azureml-core `log`): each call adds the next step of the series. */
  async log(name: string, value: number | boolean, opts: { step?: number; description?: string } = {}): Promise<void> {
    checkName(name, 'metric name');
    const v = metricValue(name, value);
    const had = this.kinds.get(name);
    if (had && had !== 'list')
      throw new ValidationError(`metric '${name}' was logged as a ${had}; log values under another name`, {
        target: name,
      });
    const step = opts.step ?? this.nextStep(name);
    if (opts.step !== undefined) this.steps.set(name, Math.max(this.steps.get(name) ?? 0, opts.step + 1));
    await this.batch({ metrics: [{ key: name, value: v, timestamp: Date.now(), step }] }, `log metric '${name}'`);
  }
  /** Logs a list of values as one metric series (azureml-core `log_list`), batched. */
  async logList(name: string, values: (number | boolean)[]): Promise<void> {
    checkName(name, 'metric name');
    if (!Array.isArray(values))
      throw new ValidationError(`values of '${name}' must be an array of numbers`, { target: name });
    const vs = values.map((v) => metricValue(name, v));
    const tags = await this.setKind(name, 'list');
    const start = this.nextStep(name, vs.length);
    const now = Date.now();
    await this.batch(
      { metrics: vs.map((value, i) => ({ key: name, value, timestamp: now, step: start + i })), tags },
      `log list '${name}'`,
    );
  }
  /** Adds one row to a table metric (azureml-core `log_row`): each column is the series `name/column`. */
  async logRow(name: string, row: Record<string, number | boolean>): Promise<void> {
    checkName(name, 'metric name');
    if (!row || typeof row !== 'object' || Array.isArray(row) || !Object.keys(row).length)
      throw new ValidationError(`a row of '${name}' must be an object of column values`, { target: name });
    const tags = await this.setKind(name, 'table');
    const step = this.nextStep(name);
    const now = Date.now();
    await this.batch(
      {
        metrics: Object.entries(row).map(([col, v]) => ({
          key: `${name}/${checkName(col, 'column name')}`,
          value: metricValue(`${name}/${col}`, v),
          timestamp: now,
          step,
        })),
        tags,
      },
      `log row '${name}'`,
    );
  }
  /** Logs a table (azureml-core `log_table`): `{column: [values]}`, columns of equal length. */
  async logTable(name: string, table: Record<string, (number | boolean)[]>): Promise<void> {
    checkName(name, 'metric name');
    if (!table || typeof table !== 'object' || Array.isArray(table) || !Object.keys(table).length)
      throw new ValidationError(`table '${name}' must be an object of columns ({column: [values]})`, { target: name });
    const cols = Object.entries(table);
    const n = Array.isArray(cols[0]![1]) ? cols[0]![1].length : -1;
    for (const [c, vs] of cols)
      if (!Array.isArray(vs) || vs.length !== n)
        throw new ValidationError(`the columns of table '${name}' must be arrays of the same length ('${c}' differs)`, {
          target: `${name}.${c}`,
        });
    const tags = await this.setKind(name, 'table');
    const start = this.nextStep(name, n);
    const now = Date.now();
    const metrics = cols.flatMap(([c, vs]) =>
      vs.map((v, i) => ({
        key: `${name}/${checkName(c, 'column name')}`,
        value: metricValue(`${name}/${c}`, v),
        timestamp: now,
        step: start + i,
      })),
    );
    await this.batch({ metrics, tags }, `log table '${name}'`);
  }
  /**
   * Logs an image (azureml-core `log_image`): the file (or PNG bytes) becomes the artifact
   * `images/<name>.<ext>` and the metric `name` refers to it.
   */
  async logImage(name: string, image: string | Uint8Array, opts: { description?: string } = {}): Promise<string> {
    checkName(name, 'image name');
    void opts;
    const ext = typeof image === 'string' ? path.extname(image) || '.png' : '.png';
    const artifact = `images/${checkArtifactName(name.replace(/[^\w.-]+/g, '_'), 'image name')}${ext.toLowerCase()}`;
    if (typeof image === 'string') await this.uploadFile(artifact, image);
    else if (image instanceof Uint8Array)
      await this.tracking.uploadBytes(image, `${this.artifactRoot}/${artifact}`, `log image '${name}'`);
    else throw new ValidationError(`image '${name}' must be a file path or bytes`, { target: name });
    const tags = await this.setKind(name, 'image');
    await this.batch({ tags: [...tags, { key: `${IMAGE_TAG}${name}`, value: artifact }] }, `log image '${name}'`);
    return artifact;
  }

  /** Uploads a local file as the artifact `name` (streamed). */
  async uploadFile(
    name: string,
    pathOrStream: string,
    opts: { onProgress?: (p: TransferProgress) => void } = {},
  ): Promise<{ name: string; size: number }> {
    const n = checkArtifactName(name);
    const st = await fsp.stat(pathOrStream).catch(() => undefined);
    if (!st?.isFile()) throw new ValidationError(`'${pathOrStream}' is not a file`, { target: 'path' });
    let done = 0;
    const size = await this.tracking.uploadFile(pathOrStream, `${this.artifactRoot}/${n}`, (b) =>
      opts.onProgress?.({ file: n, bytesDone: (done += b), bytesTotal: st.size, filesDone: 0, filesTotal: 1 }),
    );
    return { name: n, size };
  }
  /** Uploads every file below a local folder as artifacts under `name/` (streamed, one at a time). */
  async uploadFolder(
    name: string,
    folder: string,
    opts: { onProgress?: (p: TransferProgress) => void } = {},
  ): Promise<{ files: number; bytes: number }> {
    const n = checkArtifactName(name);
    if (!fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory())
      throw new ValidationError(`'${folder}' is not a folder`, { target: 'folder' });
    const files = await localFiles(folder);
    const total = files.reduce((s, f) => s + f.size, 0);
    let done = 0;
    let count = 0;
    for (const f of files) {
      await this.tracking.uploadFile(f.abs, `${this.artifactRoot}/${n}/${f.rel}`, (b) =>
        opts.onProgress?.({
          file: `${n}/${f.rel}`,
          bytesDone: (done += b),
          bytesTotal: total,
          filesDone: count,
          filesTotal: files.length,
        }),
      );
      count++;
    }
    return { files: files.length, bytes: total };
  }
  /** The artifact names of the run (every file, recursively). */
  async getFileNames(): Promise<string[]> {
    return (await this.tracking.listFiles(this.artifactRoot)).map((f) => f.path);
  }
  /** Downloads one artifact (streamed); `outputFilePath` may be a folder (the file keeps its name). Returns the local path. */
  async downloadFile(name: string, outputFilePath?: string, opts: { overwrite?: boolean } = {}): Promise<string> {
    const n = checkArtifactName(name);
    let dest = outputFilePath ?? path.basename(n);
    if (fs.statSync(dest, { throwIfNoEntry: false })?.isDirectory()) dest = path.join(dest, path.basename(n));
    await this.tracking.downloadFile(`${this.artifactRoot}/${n}`, dest, { overwrite: opts.overwrite ?? true });
    return dest;
  }
  /** Downloads every artifact below `prefix` into a local folder. */
  async downloadFiles(prefix = '', outputDirectory = '.', opts: { overwrite?: boolean } = {}): Promise<string[]> {
    const p = prefix ? checkArtifactName(prefix, 'prefix') : '';
    const base = p ? `${this.artifactRoot}/${p}` : this.artifactRoot;
    const files = await this.tracking.listFiles(base);
    const out: string[] = [];
    for (const f of files) {
      const dest = path.join(outputDirectory, ...(p ? p.split('/') : []), ...f.path.split('/'));
      await this.tracking.downloadFile(`${base}/${f.path}`, dest, { overwrite: opts.overwrite ?? true });
      out.push(dest);
    }
    return out;
  }

  /**
   * The metrics of the run, as azureml-core returns them: one value → the number; a series → the
   * list; a table → `{column: [values]}`; an image → its artifact name. `recursive` adds child runs'
   * metrics, keyed by run id.
   */
  async getMetrics(opts: { name?: string; recursive?: boolean } = {}): Promise<Record<string, MetricValue>> {
    await this.refresh();
    const tags = this.tags;
    const kinds = new Map<string, string>();
    for (const [k, v] of Object.entries(tags)) if (k.startsWith(KIND_TAG)) kinds.set(k.slice(KIND_TAG.length), v);
    const out: Record<string, MetricValue> = {};
    const keys = (this.record.data?.metrics ?? []).map((m) => m.key);
    const tableOf = (key: string): string | undefined =>
      [...kinds].find(([n, k]) => k === 'table' && key.startsWith(`${n}/`))?.[0];
    for (const key of keys) {
      const table = tableOf(key);
      const metricName = table ?? key;
      if (opts.name !== undefined && opts.name !== metricName) continue;
      const history = await this.history(key);
      if (table) {
        const t = (out[table] ??= {}) as Record<string, number[]>;
        t[key.slice(table.length + 1)] = history;
      } else if (kinds.get(key) === 'list' || history.length > 1) out[key] = history;
      else out[key] = history[0]!;
    }
    for (const [k, v] of Object.entries(tags)) {
      if (!k.startsWith(IMAGE_TAG)) continue;
      const n = k.slice(IMAGE_TAG.length);
      if (opts.name === undefined || opts.name === n) out[n] = v;
    }
    if (opts.recursive) {
      const nested: Record<string, MetricValue> = {};
      for (const c of await this.getChildren({ recursive: true }))
        nested[c.id] = (await c.getMetrics({ name: opts.name })) as unknown as MetricValue;
      return { ...out, ...nested };
    }
    return out;
  }
  private async history(key: string): Promise<number[]> {
    const points: C.Metric[] = [];
    for await (const m of this.tracking.pages<C.Metric>(
      'GET',
      '/metrics/get-history',
      'metrics',
      `read metric '${key}'`,
      { run_id: this.id, metric_key: key, max_results: 25000 },
    ))
      points.push(m);
    points.sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
    // NaN and the infinities come as strings (proto3 JSON): Number() reads them.
    return points.map((p) => Number(p.value));
  }

  /** azureml-core's `get_details`. */
  async getDetails(): Promise<Record<string, unknown>> {
    await this.refresh();
    const i = this.record.info;
    const tags = this.tags;
    return {
      runId: i.run_id,
      displayName: i.run_name,
      experimentId: i.experiment_id,
      experimentName: this.experiment.name,
      target: 'local',
      status: this.status,
      startTimeUtc: iso(i.start_time),
      endTimeUtc: iso(i.end_time),
      submittedBy: i.user_id,
      parentRunId: this.parentId,
      properties: this.properties,
      tags: Object.fromEntries(Object.entries(tags).filter(([k]) => !k.startsWith('atelier.metric.'))),
      inputDatasets: (this.record.inputs?.dataset_inputs ?? []).map((d) => ({
        name: d.dataset.name,
        digest: d.dataset.digest,
        sourceType: d.dataset.source_type,
        source: d.dataset.source,
      })),
      artifactUri: i.artifact_uri,
      logFiles: {},
    };
  }

  /** Sets a tag (azureml-core `tag`; the value defaults to ''). */
  async tag(key: string, value = ''): Promise<void> {
    await this.setTags({ [key]: value });
  }
  async setTags(tags: Record<string, string>): Promise<void> {
    checkTags(tags);
    for (const k of Object.keys(tags)) checkName(k, 'tag key');
    await this.batch({ tags: Object.entries(tags).map(([key, value]) => ({ key, value })) }, `tag run '${this.id}'`);
    await this.refresh();
  }
  /** The run's tags without MLflow's and Atelier's system tags. */
  async getTags(): Promise<Record<string, string>> {
    await this.refresh();
    return Object.fromEntries(
      Object.entries(this.tags).filter(([k]) => !k.startsWith('mlflow.') && !k.startsWith('atelier.')),
    );
  }
  async removeTags(keys: string[]): Promise<void> {
    for (const key of keys)
      await this.tracking.call('POST', '/runs/delete-tag', `remove tag '${key}'`, { run_id: this.id, key });
    await this.refresh();
  }
  /** Adds properties (MLflow params: immutable; setting one again to another value fails). */
  async addProperties(properties: Record<string, string>): Promise<void> {
    checkTags(properties, 'properties');
    await this.batch(
      { params: Object.entries(properties).map(([key, value]) => ({ key, value })) },
      `add properties to run '${this.id}'`,
    );
    await this.refresh();
  }
  getProperties(): Record<string, string> {
    return this.properties;
  }

  private async end(status: 'FINISHED' | 'FAILED' | 'KILLED'): Promise<void> {
    const r = await this.tracking.call<C.UpdateRunResponse>('POST', '/runs/update', `end run '${this.id}'`, {
      run_id: this.id,
      status,
      end_time: Date.now(),
    });
    if (r.run_info) this.record = { ...this.record, info: r.run_info };
    else await this.refresh();
  }
  /** Marks the run Completed. */
  complete(): Promise<void> {
    return this.end('FINISHED');
  }
  /** Marks the run Failed; `errorDetails` is kept as the tag `error`. */
  async fail(errorDetails?: string | Error): Promise<void> {
    if (errorDetails !== undefined)
      await this.tag(
        'error',
        String(errorDetails instanceof Error ? errorDetails.message : errorDetails).slice(0, 5000),
      );
    await this.end('FAILED');
  }
  /** Marks the run Canceled. */
  cancel(): Promise<void> {
    return this.end('KILLED');
  }

  /** Starts a child run (azureml-core `child_run`) in the same experiment. */
  async child(opts: { name?: string; tags?: Record<string, string> } = {}): Promise<Run> {
    return Run.create(this.experiment, this.record.info.experiment_id, {
      displayName: opts.name,
      tags: opts.tags,
      parent: this,
    });
  }
  /** Starts `count` child runs, or one per value of `tagValues` tagged `tagKey` (azureml-core `create_children`). */
  async createChildren(opts: { count?: number; tagKey?: string; tagValues?: string[] } = {}): Promise<Run[]> {
    if (opts.tagValues && !opts.tagKey) throw new ValidationError('tagValues needs tagKey', { target: 'tagKey' });
    const n = opts.tagValues?.length ?? opts.count;
    if (n === undefined || !Number.isInteger(n) || n < 0 || n > 1000)
      throw new ValidationError('count must be an integer from 0 to 1000 (or give tagKey and tagValues)', {
        target: 'count',
      });
    const out: Run[] = [];
    for (let i = 0; i < n; i++)
      out.push(await this.child({ tags: opts.tagValues ? { [opts.tagKey!]: opts.tagValues[i]! } : undefined }));
    return out;
  }
  /** The child runs (and with `recursive`, theirs), newest first. */
  async getChildren(opts: { recursive?: boolean } = {}): Promise<Run[]> {
    const out: Run[] = [];
    for await (const r of this.tracking.pages<MlflowRun>(
      'POST',
      '/runs/search',
      'runs',
      `list the children of run '${this.id}'`,
      {
        experiment_ids: [this.record.info.experiment_id],
        filter: `tags.\`${PARENT_TAG}\` = '${this.id}'`,
        order_by: ['attributes.start_time DESC'],
        max_results: 1000,
      },
    )) {
      const c = new Run(this.experiment, r);
      c.parent = this;
      out.push(c);
      if (opts.recursive) out.push(...(await c.getChildren({ recursive: true })));
    }
    return out;
  }

  toJSON(): Record<string, unknown> {
    const i = this.record.info;
    return {
      id: i.run_id,
      displayName: i.run_name,
      experiment: this.experiment.name,
      status: this.status,
      parentId: this.parentId,
      startTimeUtc: iso(i.start_time),
      endTimeUtc: iso(i.end_time),
    };
  }
}
