import { refuseControlCharacters, preview } from '../../text.js';
import crypto from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Tables } from '../../store/schema.js';
import type { Database } from '../../store/database.js';
import { AtelierError, InvalidInput, NotFound } from '../../errors.js';
import type { RunRow } from './tables.js';
import './tables.js';
import {
  DEFAULT_EXPERIMENT_ID,
  ExperimentService,
  checkTags,
  toStringList,
  type Tag,
} from '../experiments/experiments.js';
import {
  LIMITS,
  batchLimit,
  checkExperimentId,
  checkLength,
  checkMetricKey,
  checkParamKey,
  checkRunId,
  checkRunStatus,
  checkViewType,
  double,
  int64,
  stagesOf,
} from '../shared/validation.js';
import { planRunSearch, decodeOffsetToken, encodeOffsetToken } from '../shared/search.js';
import { randomRunName } from './run-names.js';
import { MetricWriteCache } from '../metrics/metric-cache.js';
import type { Tx } from '../../store/tx.js';
import { trackingSql } from '../shared/dialects/index.js';
import { RUN_NAME_TAG, insertRun } from './run-create.js';
import { jsonDouble, type DatasetView, type MetricIn, type ParamIn, type RunInfoView, type RunView } from './types.js';
import {
  readLatestMetrics,
  writeMetrics as writeMetricBlocks,
  writeMetricsMany,
  type Current as LatestMetric,
} from '../metrics/metric-write.js';
import { writeModelMetrics } from '../logged-models/model-metrics.js';
import { checkModelInputs, readModelInputs, writeModelInputs } from '../logged-models/model-inputs.js';

export const LOGGED_MODELS_TAG = 'mlflow.log-model.history';

export { jsonDouble } from './types.js';
export type { DatasetView, JsonDouble, MetricIn, MetricView, ParamIn, RunInfoView, RunView } from './types.js';

export function runInfo(r: RunRow): RunInfoView {
  const v: RunInfoView = {
    run_id: r.run_uuid,
    run_uuid: r.run_uuid,
    run_name: r.name,
    experiment_id: String(r.experiment_id),
    user_id: r.user_id,
    status: r.status,
    start_time: Number(r.start_time),
    artifact_uri: r.artifact_uri,
    lifecycle_stage: r.lifecycle_stage,
  };
  if (r.end_time !== null && r.end_time !== undefined) v.end_time = Number(r.end_time);
  return v;
}

/**
 * Validates one metric of a request (MLflow's _validate_metric). `where` names it in errors: a
 * number is its index in a log-batch's `metrics`. A batch holds up to 1,000 metrics, so a valid
 * one is taken without building any message text (numbers as they came, each key checked once).
 */
export function checkMetric(m: unknown, where: string | number = 'metric', validKeys?: Set<unknown>): MetricIn {
  if (typeof m !== 'object' || m === null)
    throw new InvalidInput(`${metricAt(where)} must be an object {key, value, timestamp, step}`);
  const o = m as Record<string, unknown>;
  // A batch repeats few keys many times: each is checked once.
  const key = validKeys?.has(o.key) ? (o.key as string) : checkMetricKey(o.key);
  validKeys?.add(key);
  const value = typeof o.value === 'number' ? o.value : metricValue(o.value, key, where);
  const timestamp =
    typeof o.timestamp === 'number' && Number.isSafeInteger(o.timestamp)
      ? o.timestamp
      : metricTimestamp(o.timestamp, where);
  if (timestamp < 0)
    throw new InvalidInput(
      `Got invalid timestamp ${timestamp} for metric '${key}' (value=${value}). Timestamp must be a nonnegative long (64-bit integer) `,
      { code: 'INVALID_METRIC_VALUE' },
    );
  const step =
    o.step === undefined || o.step === null
      ? 0
      : typeof o.step === 'number' && Number.isSafeInteger(o.step)
        ? o.step
        : int64(o.step, `${metricAt(where)}.step`);
  const out: MetricIn = { key, value, timestamp, step };
  // MLflow 3: the logged model (and dataset) the value was measured for; '' is unset (proto3).
  if (o.model_id !== undefined || o.dataset_name !== undefined || o.dataset_digest !== undefined) {
    const modelId = optionalField(o.model_id, `${metricAt(where)}.model_id`, 64);
    const name = optionalField(o.dataset_name, `${metricAt(where)}.dataset_name`, LIMITS.datasetName);
    const digest = optionalField(o.dataset_digest, `${metricAt(where)}.dataset_digest`, LIMITS.datasetDigest);
    // (As in MLflow, a dataset counts only for a metric of a logged model.)
    if (modelId !== undefined) {
      out.model_id = modelId;
      if (name !== undefined) out.dataset_name = name;
      if (digest !== undefined) out.dataset_digest = digest;
    }
  }
  return out;
}

/** How errors name a metric of a request. */
function metricAt(where: string | number): string {
  return typeof where === 'number' ? `metrics[${where}]` : where;
}

/** A metric value that is not a JSON number: a string MLflow accepts ("NaN", "1.5"), or the error. */
function metricValue(v: unknown, key: string, where: string | number): number {
  if (v === undefined || v === null)
    throw new InvalidInput(
      `Missing value for required parameter '${metricAt(where)}.value'. See the API docs for more information about request parameters.`,
      { code: 'INVALID_METRIC_VALUE' },
    );
  if (typeof v === 'boolean')
    throw new InvalidInput(
      `Got invalid value ${v} for metric '${key}'. Please specify value as a valid double (64-bit floating point)`,
      { code: 'INVALID_METRIC_VALUE' },
    );
  return double(v, `metric '${key}'`);
}

/** A metric timestamp that is not a safe whole JSON number: a numeric string, or the error. */
function metricTimestamp(v: unknown, where: string | number): number {
  if (v === undefined || v === null)
    throw new InvalidInput(
      `Missing value for required parameter '${metricAt(where)}.timestamp'. See the API docs for more information about request parameters.`,
      { code: 'INVALID_METRIC_VALUE' },
    );
  return int64(v, `${metricAt(where)}.timestamp`);
}

/** An optional string field of a metric: undefined when absent or empty, else at most `max` characters. */
function optionalField(v: unknown, where: string, max: number): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string')
    throw new InvalidInput(`Invalid value ${preview(v)} for parameter '${where}' supplied: it must be a string`);
  if (v.length > max) throw new InvalidInput(`'${where}' is ${v.length} characters long; it may have at most ${max}`);
  return v;
}

export function checkParam(p: unknown, where = 'param'): ParamIn {
  if (typeof p !== 'object' || p === null) throw new InvalidInput(`${where} must be an object {key, value}`);
  const o = p as Record<string, unknown>;
  const key = checkParamKey(o.key);
  const value = o.value === undefined || o.value === null ? '' : o.value;
  if (typeof value !== 'string')
    throw new InvalidInput(`Param '${key}' must have a string value, got ${preview(value)}`);
  return { key, value: checkLength('Param value', LIMITS.paramValue, value) };
}

/** Most points of a log-batch that shares its write with other metric requests (database.batch). */
const BATCHED_METRICS = 100;

/** Runs of workspaces and what is logged into them (MLflow semantics). */
export class RunService {
  private readonly db: Kysely<Tables>;
  /** Runs made by this process, and when the planner statistics were last refreshed. */
  private made = 0;
  private nextAnalyze = 100;
  private analyzing: Promise<void> | undefined;
  /**
   * Metric points into one run (log-metric, a log-batch of metrics only): concurrent requests share
   * one write (`database.batch`), a run's requests one after the other, different runs side by side.
   */
  private readonly metricWrites: (w: { ws: string; runId: string; metrics: MetricIn[] }) => Promise<void>;
  /** What the batched metric writes last left in recent runs (a guess each batch checks: metric-cache.ts). */
  readonly metricCache = new MetricWriteCache();
  constructor(
    private readonly database: Database,
    readonly experiments: ExperimentService,
    private readonly onError: (e: unknown) => void = () => {},
  ) {
    this.db = database.db;
    const manySql = trackingSql(database.dialect).metricsMany;
    this.metricWrites = database.batch<{ ws: string; runId: string; metrics: MetricIn[] }, void>({
      key: (w) => w.runId,
      // Not found, not active, an unknown logged model: each is found before the request writes.
      isolated: (e) => e instanceof AtelierError,
      run: async (tx, w) => {
        // The series' latest values are read in the same round trip as the run (after its lock).
        const found = this.activeRunIn(tx, w.ws, w.runId);
        const latest = readLatestMetrics(tx, w.runId, w.metrics);
        await this.writeMetrics(tx, await found, w.metrics, latest);
      },
      // Where statements are costly (PostgreSQL), the whole batch in a few statements; points that
      // name a logged model go request by request (their model is checked first).
      ...(manySql && {
        many: async (tx, ws) => {
          if (ws.some((w) => w.metrics.some((m) => m.model_id !== undefined))) return undefined;
          const refused = await writeMetricsMany(
            tx,
            manySql,
            ws,
            (run, w) =>
              !run || run.workspace_id !== w.ws
                ? new NotFound(`Run with id=${w.runId} not found`, { code: 'RUN_NOT_FOUND' })
                : run.lifecycle_stage !== 'active'
                  ? RunService.notActive(run)
                  : undefined,
            this.metricCache,
          );
          return refused.map((e) => (e ? { ok: false as const, error: e } : { ok: true as const, value: undefined }));
        },
      }),
    });
  }

  /**
   * A planner that plans searches from table statistics (PostgreSQL) is outrun by a fast-growing
   * table: refresh them in the background as the runs grow (after 100, 200, 400, … runs, then every
   * 50,000). SQLite's plans do not depend on them.
   */
  private runCreated(): void {
    this.made++;
    const refresh = trackingSql(this.database.dialect).refreshStatistics;
    if (refresh === undefined || this.made < this.nextAnalyze || this.analyzing) return;
    this.nextAnalyze = this.made < 25000 ? this.made * 2 : this.made + 50000;
    this.analyzing = sql
      .raw(refresh)
      .execute(this.db)
      .then(() => undefined, this.onError)
      .finally(() => {
        this.analyzing = undefined;
      });
  }

  /** Waits for background work (statistics refresh) to end: call before closing the database. */
  async idle(): Promise<void> {
    await this.analyzing;
  }

  async row(ws: string, runId: unknown): Promise<RunRow> {
    const id = checkRunId(runId);
    const row = await this.db
      .selectFrom('tracking_runs')
      .selectAll()
      .where('run_uuid', '=', id)
      .where('workspace_id', '=', ws)
      .executeTakeFirst();
    if (!row) throw new NotFound(`Run with id=${id} not found`, { code: 'RUN_NOT_FOUND' });
    return row;
  }

  private static requireActive(run: RunRow): void {
    if (run.lifecycle_stage !== 'active') throw RunService.notActive(run);
  }

  private static notActive(run: RunRow): InvalidInput {
    return new InvalidInput(
      `The run ${run.run_uuid} must be in the 'active' state. Current state is ${run.lifecycle_stage}.`,
      { code: 'RUN_NOT_ACTIVE' },
    );
  }

  /** The run row inside a write transaction (so a concurrent delete cannot slip between check and write). */
  private async activeRunIn(tx: Tx, ws: string, runId: string): Promise<RunRow> {
    // Both sent at once (PostgreSQL pipelines them: one round trip); the read runs after the lock.
    const [, [row]] = await Promise.all([
      trackingSql(tx.dialect).lockRun(tx, runId),
      tx.all<RunRow>('select * from tracking_runs where run_uuid = ? and workspace_id = ?', [runId, ws]),
    ]);
    if (!row) throw new NotFound(`Run with id=${runId} not found`, { code: 'RUN_NOT_FOUND' });
    RunService.requireActive(row);
    return row;
  }

  async create(
    ws: string,
    body: { experiment_id?: unknown; user_id?: unknown; start_time?: unknown; tags?: unknown; run_name?: unknown },
    defaultUser: string,
    /** A chosen run id (checked like any run id); the jobs module gives a job's name. */
    opts: { runId?: string } = {},
  ): Promise<RunView> {
    const tags = checkTags(body.tags, 'run');
    let runName: string | undefined;
    if (body.run_name !== undefined && body.run_name !== null && body.run_name !== '') {
      if (typeof body.run_name !== 'string') throw new InvalidInput('run_name must be a string');
      runName = refuseControlCharacters(checkLength('Run name', LIMITS.runName, body.run_name), 'Run name');
    }
    const nameTag = tags.find((t) => t.key === RUN_NAME_TAG)?.value;
    if (runName !== undefined && nameTag !== undefined && nameTag !== runName) {
      throw new InvalidInput(
        `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${runName}', mlflow.runName='${nameTag}').`,
      );
    }
    runName = runName ?? (nameTag || undefined) ?? randomRunName();
    checkLength('Run name', LIMITS.runName, runName);
    if (body.user_id !== undefined && body.user_id !== null && typeof body.user_id !== 'string')
      throw new InvalidInput('user_id must be a string');
    const user = checkLength('user_id', 256, (body.user_id as string | undefined) || defaultUser);
    const start =
      body.start_time === undefined || body.start_time === null
        ? Date.now()
        : int64(body.start_time, 'start_time', { min: 0 });
    const experimentId = checkExperimentId(body.experiment_id ?? '0');
    if (experimentId === DEFAULT_EXPERIMENT_ID) await this.experiments.ensureDefault(ws);
    const runId = opts.runId === undefined ? undefined : checkRunId(opts.runId);
    const view = await insertRun(this.database, {
      workspaceId: ws,
      experimentId,
      name: runName,
      user,
      start,
      tags,
      ...(runId ? { runId } : {}),
    });
    this.runCreated();
    return view;
  }

  async get(ws: string, runId: unknown): Promise<RunView> {
    return (await this.views([await this.row(ws, runId)]))[0]!;
  }

  async update(
    ws: string,
    runId: unknown,
    body: { status?: unknown; end_time?: unknown; run_name?: unknown },
  ): Promise<RunInfoView> {
    const id = checkRunId(runId);
    const status = body.status === undefined || body.status === null ? undefined : checkRunStatus(body.status);
    const end =
      body.end_time === undefined || body.end_time === null ? undefined : int64(body.end_time, 'end_time', { min: 0 });
    let name: string | undefined;
    if (body.run_name !== undefined && body.run_name !== null && body.run_name !== '') {
      if (typeof body.run_name !== 'string') throw new InvalidInput('run_name must be a string');
      name = checkLength('Run name', LIMITS.runName, body.run_name);
    }
    return this.database.write(async (tx) => {
      const run = await this.activeRunIn(tx, ws, id);
      const next = { ...run, status: status ?? run.status, end_time: end ?? run.end_time, name: name ?? run.name };
      await tx.run('update tracking_runs set status = ?, end_time = ?, name = ? where run_uuid = ?', [
        next.status,
        next.end_time,
        next.name,
        id,
      ]);
      if (name !== undefined) await this.upsertTags(tx, run, [{ key: RUN_NAME_TAG, value: name }]);
      return runInfo(next);
    });
  }

  async delete(ws: string, runId: unknown): Promise<void> {
    const run = await this.row(ws, runId);
    await this.db
      .updateTable('tracking_runs')
      .set({ lifecycle_stage: 'deleted', deleted_time: Date.now() })
      .where('run_uuid', '=', run.run_uuid)
      .execute();
  }

  async restore(ws: string, runId: unknown): Promise<void> {
    const run = await this.row(ws, runId);
    await this.db
      .updateTable('tracking_runs')
      .set({ lifecycle_stage: 'active', deleted_time: null })
      .where('run_uuid', '=', run.run_uuid)
      .execute();
  }

  async logMetric(ws: string, runId: unknown, metric: unknown): Promise<void> {
    const m = checkMetric(metric, 'metric');
    const id = checkRunId(runId);
    await this.metricWrites({ ws, runId: id, metrics: [m] });
  }

  async logParam(ws: string, runId: unknown, param: unknown): Promise<void> {
    const p = checkParam(param);
    const id = checkRunId(runId);
    await this.database.write(async (tx) => {
      const run = await this.activeRunIn(tx, ws, id);
      await this.writeParams(tx, run, [p]);
    });
  }

  async setTag(ws: string, runId: unknown, key: unknown, value: unknown): Promise<void> {
    const [tag] = checkTags([{ key, value }], 'run');
    const id = checkRunId(runId);
    await this.database.write(async (tx) => {
      const run = await this.activeRunIn(tx, ws, id);
      await this.upsertTags(tx, run, [tag!]);
    });
  }

  async deleteTag(ws: string, runId: unknown, key: unknown): Promise<void> {
    if (typeof key !== 'string' || key === '')
      throw new InvalidInput(
        "Missing value for required parameter 'key'. See the API docs for more information about request parameters.",
      );
    const id = checkRunId(runId);
    await this.database.write(async (tx) => {
      const run = await this.activeRunIn(tx, ws, id);
      const n = await tx.run('delete from tracking_tags where run_uuid = ? and key = ?', [run.run_uuid, key]);
      if (n === 0)
        throw new NotFound(`No tag with name: ${key} in run with id ${run.run_uuid}`, { code: 'TAG_NOT_FOUND' });
    });
  }

  /** log-batch: all or nothing, within MLflow's limits. */
  async logBatch(
    ws: string,
    runId: unknown,
    body: { metrics?: unknown; params?: unknown; tags?: unknown },
  ): Promise<void> {
    const id = checkRunId(runId);
    const list = (v: unknown, what: string): unknown[] => {
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v)) throw new InvalidInput(`${what} must be a list`);
      return v;
    };
    const rawMetrics = list(body.metrics, 'metrics');
    const rawParams = list(body.params, 'params');
    const rawTags = list(body.tags, 'tags');
    batchLimit('metrics', LIMITS.metricsPerBatch, rawMetrics.length);
    batchLimit('params', LIMITS.paramsTagsPerBatch, rawParams.length);
    batchLimit('tags', LIMITS.paramsTagsPerBatch, rawTags.length);
    batchLimit(
      'metrics, params, and tags',
      LIMITS.entitiesPerBatch,
      rawMetrics.length + rawParams.length + rawTags.length,
    );
    const validKeys = new Set<unknown>();
    const metrics = rawMetrics.map((m, i) => checkMetric(m, i, validKeys));
    const params = rawParams.map((p, i) => checkParam(p, `params[${i}]`));
    const tags = checkTags(rawTags, 'run');
    const seen = new Set<string>();
    const dupes: string[] = [];
    for (const p of params) {
      if (seen.has(p.key)) dupes.push(p.key);
      else seen.add(p.key);
    }
    if (dupes.length)
      throw new InvalidInput(
        `Duplicate parameter keys have been submitted: [${dupes.map((k) => `'${k}'`).join(', ')}]. Please ensure the request contains only one param value per param key.`,
      );
    // A few metrics alone (what a training loop sends each step) share a write with other metric
    // requests; a large batch is work enough for a write (and a connection) of its own.
    if (metrics.length && metrics.length <= BATCHED_METRICS && !params.length && !tags.length)
      return this.metricWrites({ ws, runId: id, metrics });
    await this.database.write(async (tx) => {
      const found = this.activeRunIn(tx, ws, id);
      const latest = metrics.length ? readLatestMetrics(tx, id, metrics) : undefined;
      const run = await found;
      if (params.length) await this.writeParams(tx, run, params);
      if (metrics.length) await this.writeMetrics(tx, run, metrics, latest);
      if (tags.length) await this.upsertTags(tx, run, tags);
    });
  }

  /**
   * A write into one run of more than MLflow's log-batch (azureml-core's metrics: numbers, their
   * artifact tags and text points are one commit). Holds the run as every writer of it does (on
   * PostgreSQL writers of one run take turns; SQLite has one writer), so a check the caller makes
   * in the same transaction still holds when it writes. Not found / not active throw here.
   */
  holdActiveRun(tx: Tx, ws: string, runId: unknown): Promise<RunRow> {
    return this.activeRunIn(tx, ws, checkRunId(runId));
  }

  /** Which of `keys` the run has as numeric metrics (series) or as tags, read in the caller's transaction. */
  async keysIn(tx: Tx, run: RunRow, of: 'metrics' | 'tags', keys: string[]): Promise<string[]> {
    const table = of === 'metrics' ? 'tracking_latest_metrics' : 'tracking_tags';
    const found: string[] = [];
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const rows = await tx.all<{ key: string }>(
        `select key from ${table} where run_uuid = ? and key in (${chunk.map(() => '?').join(',')})`,
        [run.run_uuid, ...chunk],
      );
      found.push(...rows.map((r) => r.key));
    }
    return found;
  }

  /**
   * Metric points and tags into a run the caller holds (`holdActiveRun`), in its transaction: each
   * checked as log-batch checks them (every one before any is written), without log-batch's
   * per-request counts, which are MLflow's request limits.
   */
  async writeBatchIn(tx: Tx, run: RunRow, body: { metrics: unknown[]; tags: unknown[] }): Promise<void> {
    const validKeys = new Set<unknown>();
    const metrics = body.metrics.map((m, i) => checkMetric(m, i, validKeys));
    const tags = checkTags(body.tags, 'run');
    if (metrics.length) await this.writeMetrics(tx, run, metrics, readLatestMetrics(tx, run.run_uuid, metrics));
    if (tags.length) await this.upsertTags(tx, run, tags);
  }

  private async writeParams(tx: Tx, run: RunRow, params: ParamIn[]): Promise<void> {
    const existing = new Map<string, string>();
    for (let i = 0; i < params.length; i += 500) {
      const chunk = params.slice(i, i + 500);
      const rows = await tx.all<{ key: string; value: string }>(
        `select key, value from tracking_params where run_uuid = ? and key in (${chunk.map(() => '?').join(',')})`,
        [run.run_uuid, ...chunk.map((p) => p.key)],
      );
      for (const r of rows) existing.set(r.key, r.value);
    }
    const changed = params.filter((p) => existing.has(p.key) && existing.get(p.key) !== p.value);
    if (changed.length === 1) {
      const p = changed[0]!;
      throw new InvalidInput(
        `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${existing.get(p.key)}' for run ID='${run.run_uuid}'. Attempted logging new value '${p.value}'.`,
        { code: 'PARAM_CHANGED' },
      );
    }
    if (changed.length > 1) {
      throw new InvalidInput(
        `Changing param values is not allowed. Params were already logged='${JSON.stringify(changed.map((p) => ({ key: p.key, old_value: existing.get(p.key), new_value: p.value })))}' for run ID='${run.run_uuid}'.`,
        { code: 'PARAM_CHANGED' },
      );
    }
    const fresh = params.filter((p) => !existing.has(p.key));
    if (fresh.length === 0) return;
    await trackingSql(tx.dialect).insertRows(
      tx,
      'insert into tracking_params (run_uuid, key, value, workspace_id, experiment_id)',
      5,
      fresh.map((p) => [run.run_uuid, p.key, p.value, run.workspace_id, run.experiment_id]),
    );
  }

  private async upsertTags(tx: Tx, run: RunRow, tags: Tag[]): Promise<void> {
    // Last value wins within one request, as repeated set-tag calls would.
    const byKey = new Map(tags.map((t) => [t.key, t.value]));
    const list = [...byKey].map(([key, value]) => ({ key, value }));
    const upsert = 'on conflict (run_uuid, key) do update set value = excluded.value';
    await trackingSql(tx.dialect).insertRows(
      tx,
      'insert into tracking_tags (run_uuid, key, value, workspace_id, experiment_id)',
      5,
      list.map((t) => [run.run_uuid, t.key, t.value, run.workspace_id, run.experiment_id]),
      upsert,
    );
    const name = byKey.get(RUN_NAME_TAG);
    if (name !== undefined)
      await tx.run('update tracking_runs set name = ? where run_uuid = ?', [
        checkLength('Run name', LIMITS.runName, name),
        run.run_uuid,
      ]);
  }

  /** Appends metric points (tracking/metrics/metric-write.ts). The caller holds the run. */
  private async writeMetrics(
    tx: Tx,
    run: RunRow,
    metrics: MetricIn[],
    latest?: Promise<Map<string, LatestMetric>>,
  ): Promise<void> {
    // (What the batched writes know of this run is no longer so.)
    this.metricCache.forget(run.run_uuid);
    // Points naming a logged model are also that model's metrics (checked first: an unknown model refuses all).
    await writeModelMetrics(tx, run, metrics);
    await writeMetricBlocks(tx, run, metrics, latest);
  }

  /** log-inputs: datasets (made once per experiment by name and digest) and their input tags. */
  async logInputs(ws: string, runId: unknown, body: { datasets?: unknown; models?: unknown }): Promise<void> {
    const id = checkRunId(runId);
    const raw = body.datasets === undefined || body.datasets === null ? [] : body.datasets;
    if (!Array.isArray(raw)) throw new InvalidInput('datasets must be a list of {tags, dataset} objects');
    batchLimit('datasets', LIMITS.datasetsPerBatch, raw.length);
    const inputs = raw.map((d, i) => checkDatasetInput(d, i));
    const modelIds = checkModelInputs(body.models, LIMITS.entitiesPerBatch);
    await this.database.write(async (tx) => {
      const run = await this.activeRunIn(tx, ws, id);
      await writeModelInputs(tx, ws, run.run_uuid, modelIds);
      for (const inp of inputs) {
        const d = inp.dataset;
        let [hit] = await tx.all<{ dataset_uuid: string }>(
          'select dataset_uuid from tracking_datasets where workspace_id = ? and experiment_id = ? and name = ? and digest = ?',
          [ws, run.experiment_id, d.name, d.digest],
        );
        if (!hit) {
          hit = { dataset_uuid: crypto.randomBytes(16).toString('hex') };
          await tx.run(
            'insert into tracking_datasets (dataset_uuid, workspace_id, experiment_id, name, digest, source_type, source, schema, profile) values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
            [
              hit.dataset_uuid,
              ws,
              run.experiment_id,
              d.name,
              d.digest,
              d.source_type,
              d.source,
              d.schema ?? null,
              d.profile ?? null,
            ],
          );
        }
        const context = inp.tags.find((t) => t.key === 'mlflow.data.context')?.value ?? null;
        await tx.run(
          'insert into tracking_inputs (run_uuid, dataset_uuid, tags, context, created_at) values (?, ?, ?, ?, ?) on conflict do nothing',
          [run.run_uuid, hit.dataset_uuid, JSON.stringify(inp.tags), context, Date.now()],
        );
      }
    });
  }

  /** log-outputs: models a run produced (MLflow 3), with the step they were logged at. */
  async logOutputs(ws: string, runId: unknown, body: { models?: unknown }): Promise<void> {
    const id = checkRunId(runId);
    const raw = body.models === undefined || body.models === null ? [] : body.models;
    if (!Array.isArray(raw)) throw new InvalidInput('models must be a list of {model_id, step} objects');
    batchLimit('models', LIMITS.entitiesPerBatch, raw.length);
    const models = raw.map((m, i) => {
      const o = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>;
      if (typeof o.model_id !== 'string' || !/^[\w.-]{1,64}$/.test(o.model_id))
        throw new InvalidInput(`models[${i}].model_id must be a model id (letters, digits, '_', '-', '.'; at most 64)`);
      return {
        model_id: o.model_id,
        step: o.step === undefined || o.step === null ? 0 : int64(o.step, `models[${i}].step`),
      };
    });
    await this.database.write(async (tx) => {
      const run = await this.activeRunIn(tx, ws, id);
      for (const m of models) {
        await tx.run(
          'insert into tracking_outputs (run_uuid, model_id, step) values (?, ?, ?) on conflict (run_uuid, model_id) do update set step = excluded.step',
          [run.run_uuid, m.model_id, m.step],
        );
      }
    });
  }

  /**
   * log-model (MLflow 2 clients): appends the model's description to the run's
   * `mlflow.log-model.history` tag, as MLflow's record_logged_model does.
   */
  async logModel(ws: string, runId: unknown, modelJson: unknown): Promise<void> {
    const id = checkRunId(runId);
    if (typeof modelJson !== 'string' || modelJson === '')
      throw new InvalidInput(
        "Missing value for required parameter 'model_json'. See the API docs for more information about request parameters.",
      );
    let model: Record<string, unknown>;
    try {
      model = JSON.parse(modelJson) as Record<string, unknown>;
      if (typeof model !== 'object' || model === null || Array.isArray(model)) throw new Error('not an object');
    } catch {
      throw new InvalidInput(`Malformed model info. \n ${modelJson.slice(0, 500)} \n is not a valid JSON.`);
    }
    const missing = ['artifact_path', 'flavors', 'utc_time_created', 'run_id'].filter((k) => !(k in model));
    if (missing.length)
      throw new InvalidInput(`Model json is missing mandatory fields: {${missing.map((k) => `'${k}'`).join(', ')}}`);
    const entry = { ...model };
    delete entry.signature;
    delete entry.saved_input_example_info;
    await this.database.write(async (tx) => {
      const run = await this.activeRunIn(tx, ws, id);
      const [prev] = await tx.all<{ value: string }>('select value from tracking_tags where run_uuid = ? and key = ?', [
        run.run_uuid,
        LOGGED_MODELS_TAG,
      ]);
      let history: unknown[] = [];
      if (prev) {
        try {
          const parsed = JSON.parse(prev.value) as unknown;
          if (Array.isArray(parsed)) history = parsed;
        } catch {
          history = [];
        }
      }
      const value = JSON.stringify([...history, entry]);
      checkLength('Tag value', LIMITS.tagValue, value);
      await this.upsertTags(tx, run, [{ key: LOGGED_MODELS_TAG, value }]);
    });
  }

  async search(
    ws: string,
    req: {
      experiment_ids?: unknown;
      filter?: unknown;
      run_view_type?: unknown;
      max_results?: unknown;
      order_by?: unknown;
      page_token?: unknown;
    },
  ): Promise<{ runs: RunView[]; next_page_token?: string }> {
    const ids = toStringList(req.experiment_ids, 'experiment_ids');
    const view = checkViewType(req.run_view_type);
    const max =
      req.max_results === undefined || req.max_results === null || req.max_results === ''
        ? 1000
        : Number(req.max_results);
    if (!Number.isInteger(max) || max < 0)
      throw new InvalidInput(
        `Invalid value for request parameter max_results. It must be a non-negative integer, but got ${String(req.max_results)}`,
      );
    if (max > LIMITS.searchRunsMaxResults)
      throw new InvalidInput(
        `Invalid value ${max} for parameter 'max_results' supplied. It must be at most ${LIMITS.searchRunsMaxResults}`,
      );
    if (req.filter !== undefined && req.filter !== null && typeof req.filter !== 'string')
      throw new InvalidInput('filter must be a string');
    const offset = decodeOffsetToken(req.page_token);
    const orderBy = toStringList(req.order_by, 'order_by');
    // Ids that cannot be ours (not decimal) match no experiment here.
    const experimentIds = ids.filter((i) => /^\d{1,15}$/.test(i)).map(Number);
    const plan = planRunSearch(this.database.dialect, {
      workspaceId: ws,
      experimentIds,
      stages: stagesOf(view),
      filter: (req.filter as string | undefined) ?? '',
      orderBy,
      limit: max + 1,
      offset,
    });
    if (experimentIds.length === 0 || max === 0) return { runs: [] };
    let query = plan.full();
    if (plan.lead) {
      // Read just enough rows in the first sort key's (index) order, plus those tied with the
      // last: the page is among them. Then sort only those by the whole order.
      const need = offset + max + 1;
      if (need <= 5000) {
        const first = (await plan.lead.first(need).execute(this.db)).rows;
        const ids = new Set(first.map((r) => r.run_uuid));
        if (first.length === need) {
          for (const r of (await plan.lead.ties(first[need - 1]!.lead, need).execute(this.db)).rows)
            ids.add(r.run_uuid);
        }
        // A lead over the runs that have the sort key only: fewer than `need` of them means the
        // page reaches the runs without it, which only the full query orders.
        const complete = !plan.lead.partial || first.length === need;
        if (complete && ids.size === 0) return { runs: [] };
        if (complete && ids.size <= 10000) query = plan.full([...ids]);
      }
    }
    const rows = (await query.execute(this.db)).rows as RunRow[];
    const page = rows.slice(0, max);
    const out: { runs: RunView[]; next_page_token?: string } = { runs: await this.views(page) };
    if (rows.length > max) out.next_page_token = encodeOffsetToken(offset + max);
    return out;
  }

  /** Full runs (info, latest metrics, params, tags, inputs, outputs) for rows, in their order. */
  async views(rows: RunRow[]): Promise<RunView[]> {
    if (rows.length === 0) return [];
    const out = new Map<string, RunView>();
    for (const r of rows) out.set(r.run_uuid, { info: runInfo(r), data: {}, inputs: {} });
    const ids = rows.map((r) => r.run_uuid);
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const [metrics, params, tags, inputs, outputs] = await Promise.all([
        this.db
          .selectFrom('tracking_latest_metrics')
          .select(['run_uuid', 'key', 'value', 'is_nan', 'timestamp', 'step'])
          .where('run_uuid', 'in', chunk)
          .orderBy('run_uuid')
          .orderBy('key')
          .execute(),
        this.db
          .selectFrom('tracking_params')
          .select(['run_uuid', 'key', 'value'])
          .where('run_uuid', 'in', chunk)
          .orderBy('run_uuid')
          .orderBy('key')
          .execute(),
        this.db
          .selectFrom('tracking_tags')
          .select(['run_uuid', 'key', 'value'])
          .where('run_uuid', 'in', chunk)
          .orderBy('run_uuid')
          .orderBy('key')
          .execute(),
        this.db
          .selectFrom('tracking_inputs as i')
          .innerJoin('tracking_datasets as d', 'd.dataset_uuid', 'i.dataset_uuid')
          .select(['i.run_uuid', 'i.tags', 'd.name', 'd.digest', 'd.source_type', 'd.source', 'd.schema', 'd.profile'])
          .where('i.run_uuid', 'in', chunk)
          .orderBy('i.run_uuid')
          .orderBy('i.created_at')
          .orderBy('d.name')
          .execute(),
        this.db
          .selectFrom('tracking_outputs')
          .select(['run_uuid', 'model_id', 'step'])
          .where('run_uuid', 'in', chunk)
          .orderBy('run_uuid')
          .orderBy('model_id')
          .execute(),
      ]);
      for (const m of metrics)
        (out.get(m.run_uuid)!.data.metrics ??= []).push({
          key: m.key,
          value: jsonDouble(Number(m.is_nan) ? NaN : Number(m.value)),
          timestamp: Number(m.timestamp),
          step: Number(m.step),
        });
      for (const p of params) (out.get(p.run_uuid)!.data.params ??= []).push({ key: p.key, value: p.value });
      for (const t of tags) (out.get(t.run_uuid)!.data.tags ??= []).push({ key: t.key, value: t.value });
      for (const d of inputs) {
        const ds: DatasetView = { name: d.name, digest: d.digest, source_type: d.source_type, source: d.source };
        if (d.schema) ds.schema = d.schema;
        if (d.profile) ds.profile = d.profile;
        const t = JSON.parse(d.tags) as Tag[];
        (out.get(d.run_uuid)!.inputs.dataset_inputs ??= []).push(t.length ? { tags: t, dataset: ds } : { dataset: ds });
      }
      for (const o of outputs)
        ((out.get(o.run_uuid)!.outputs ??= {}).model_outputs ??= []).push({
          model_id: o.model_id,
          step: Number(o.step),
        });
      for (const [runId, models] of await readModelInputs(this.db, chunk)) out.get(runId)!.inputs.model_inputs = models;
    }
    return rows.map((r) => out.get(r.run_uuid)!);
  }
}

function checkDatasetInput(d: unknown, i: number): { tags: Tag[]; dataset: DatasetView } {
  if (typeof d !== 'object' || d === null) throw new InvalidInput(`datasets[${i}] must be an object {tags, dataset}`);
  const o = d as Record<string, unknown>;
  const tagsRaw = o.tags === undefined || o.tags === null ? [] : o.tags;
  if (!Array.isArray(tagsRaw)) throw new InvalidInput(`datasets[${i}].tags must be a list of {key, value}`);
  const tags: Tag[] = tagsRaw.map((t, j) => {
    const to = (typeof t === 'object' && t !== null ? t : {}) as Record<string, unknown>;
    if (typeof to.key !== 'string' || to.key === '')
      throw new InvalidInput(`datasets[${i}].tags[${j}].key is required`);
    if (typeof to.value !== 'string')
      throw new InvalidInput(`datasets[${i}].tags[${j}].value is required and must be a string`);
    return {
      key: checkLength('Input tag key', LIMITS.inputTagKey, to.key),
      value: checkLength('Input tag value', LIMITS.inputTagValue, to.value),
    };
  });
  const ds = o.dataset;
  if (typeof ds !== 'object' || ds === null) throw new InvalidInput(`datasets[${i}].dataset is required`);
  const x = ds as Record<string, unknown>;
  const need = (k: string, limit: number): string => {
    if (typeof x[k] !== 'string' || x[k] === '')
      throw new InvalidInput(`datasets[${i}].dataset.${k} is required and must be a string`);
    return checkLength(`Dataset ${k}`, limit, x[k] as string);
  };
  const opt = (k: string, limit: number): string | undefined => {
    if (x[k] === undefined || x[k] === null || x[k] === '') return undefined;
    if (typeof x[k] !== 'string') throw new InvalidInput(`datasets[${i}].dataset.${k} must be a string`);
    return checkLength(`Dataset ${k}`, limit, x[k] as string);
  };
  const known = new Set(['name', 'digest', 'source_type', 'source', 'schema', 'profile']);
  for (const k of Object.keys(x))
    if (!known.has(k)) throw new InvalidInput(`datasets[${i}].dataset has an unknown field '${k}'`);
  const dataset: DatasetView = {
    name: need('name', LIMITS.datasetName),
    digest: need('digest', LIMITS.datasetDigest),
    source_type: need('source_type', 36),
    source: need('source', LIMITS.datasetSource),
  };
  const schema = opt('schema', LIMITS.datasetSchema);
  const profile = opt('profile', LIMITS.datasetProfile);
  if (schema) dataset.schema = schema;
  if (profile) dataset.profile = profile;
  return { tags, dataset };
}
