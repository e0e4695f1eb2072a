import { randomUUID } from 'node:crypto';
import type { Database, Tx } from '../store/database.js';
import type { TrackingServices } from '../tracking/services.js';
import type { ExperimentView } from '../tracking/experiments/experiments.js';
import type { RunView } from '../tracking/runs/types.js';
import { checkTags } from '../tracking/experiments/experiments.js';
import { checkExperimentName, type ViewType } from '../tracking/shared/validation.js';
import { Conflict, InvalidInput, NotFound, AtelierError } from '../errors.js';
import { experimentFilter, runFilter } from './run-filter.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import { TERMINAL } from '../jobs/spec.js';
import '../jobs/tables.js';
import './tables.js';

/**
 * azureml-core's run history (SDK v1 `Experiment`, `Run`) over the MLflow tracking store: a v1
 * experiment is the MLflow experiment of the same name, a v1 run the MLflow run with the same id
 * (azureml-core chooses run ids, uuid4 strings, which MLflow's id rule accepts), its tags and
 * properties MLflow tags, its metrics MLflow metrics. One store, so a run logged with
 * `Experiment.start_logging()` is the run MLflow clients and the studio see.
 */

const TO_MLFLOW: Record<string, string> = {
  NotStarted: 'SCHEDULED',
  Queued: 'SCHEDULED',
  Preparing: 'SCHEDULED',
  Provisioning: 'SCHEDULED',
  Starting: 'RUNNING',
  Running: 'RUNNING',
  Finalizing: 'RUNNING',
  CancelRequested: 'RUNNING',
  Completed: 'FINISHED',
  Failed: 'FAILED',
  Canceled: 'KILLED',
};
const FROM_MLFLOW: Record<string, string> = {
  SCHEDULED: 'NotStarted',
  RUNNING: 'Running',
  FINISHED: 'Completed',
  FAILED: 'Failed',
  KILLED: 'Canceled',
};
const EVENT_STATUS: Record<string, string> = {
  'Microsoft.MachineLearning.Run.Start': 'Running',
  'Microsoft.MachineLearning.Run.Queued': 'Queued',
  'Microsoft.MachineLearning.Run.Completed': 'Completed',
  'Microsoft.MachineLearning.Run.Failed': 'Failed',
  'Microsoft.MachineLearning.Run.Canceled': 'Canceled',
  'Microsoft.MachineLearning.Run.CancelRequested': 'CancelRequested',
};
/** MLflow tags that say what a v1 run said in other fields. */
const PROPERTY_PREFIX = 'azureml.property.';
/**
 * An artifact-backed metric (run.log_image, log_confusion_matrix, …) is a pointer to a run file, not
 * a number, so MLflow cannot keep it as a metric: it is the run tag `azureml.metric.{name}` holding
 * `{type, location, createdUtc}` of its first value (the one azureml-core's get_metrics reads).
 */
const ARTIFACT_METRIC_PREFIX = 'azureml.metric.';
/**
 * A run's error (`run.fail(error_details)`, a local run's failure: the `Run.Error` event's
 * `ErrorResponse`), `{code, message}` as JSON: MLflow has no error field, so it is this hidden tag,
 * which the run's details answer as `error`.
 */
const ERROR_TAG = 'azureml.error';
const ERROR_EVENT = 'Microsoft.MachineLearning.Run.Error';

/** Which of `names` are text metrics of the run, read in the caller's transaction. */
async function textNamesIn(tx: Tx, runUuid: string, names: string[]): Promise<string[]> {
  const found: string[] = [];
  for (let i = 0; i < names.length; i += 500) {
    const rows = await tx.db
      .selectFrom('run_text_metrics')
      .select('name')
      .distinct()
      .where('run_uuid', '=', runUuid)
      .where('name', 'in', names.slice(i, i + 500))
      .execute();
    found.push(...rows.map((r) => r.name));
  }
  return found;
}

/** An artifact-backed metric's value: the metric kind (azureml.v1.image, …) and the run file it points at. */
export interface ArtifactMetric {
  name: string;
  type: string | null;
  location: string;
  createdUtc: string;
}
/** A text point of a metric (run.log(name, 'text'), a table's text column): kept beside MLflow, whose metrics are numbers. */
export interface TextPoint {
  key: string;
  value: string;
  timestamp: number;
  step: number;
}
/**
 * What made a run (azureml-core's `run.type`, `Experiment.get_runs(type=…)`): the run tag
 * `azureml.runType` (e.g. `azureml.scriptrun` for a ScriptRunConfig submission), and the tag
 * `azureml.runTypeV2` with the `runTypeV2` the client sent (start_logging: orchestrator External).
 */
const RUN_TYPE_TAG = 'azureml.runType';
const RUN_TYPE_V2_TAG = 'azureml.runTypeV2';
export const SCRIPT_RUN_TYPE = 'azureml.scriptrun';
const DESCRIPTION_TAG = 'mlflow.note.content';
/** A child run (azureml-core's `run.child_run()`): MLflow's nested-run tag, and the top run of its tree. */
const PARENT_TAG = 'mlflow.parentRunId';
const ROOT_TAG = 'mlflow.rootRunId';

/**
 * The MLflow id of a v1 run id. azureml-core names runs with uuid4 strings (36 characters); MLflow's
 * are uuid4 hex (32, the store's column width): the same uuid without its dashes. Other ids are kept
 * as they are when they fit MLflow's rule (at most 32 characters here).
 */
export function mlflowRunId(v1: string): string {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v1))
    return v1.replace(/-/g, '').toLowerCase();
  if (!/^[a-zA-Z0-9][\w-]{0,31}$/.test(v1))
    throw new InvalidInput(
      `run id '${v1}' is not accepted: use a uuid, or at most 32 letters, digits, '_' and '-' starting with a letter or digit`,
      { target: 'runId' },
    );
  return v1;
}

export interface V1RunPatch {
  status?: unknown;
  startTimeUtc?: unknown;
  endTimeUtc?: unknown;
  name?: unknown;
  displayName?: unknown;
  description?: unknown;
  tags?: unknown;
  properties?: unknown;
  parentRunId?: unknown;
  runType?: unknown;
  runTypeV2?: unknown;
}

/** The runTypeV2 kept in its tag (or null). */
function typeV2(tag: string | undefined): { orchestrator: string | null; traits: string[] } | null {
  if (!tag) return null;
  try {
    const v = JSON.parse(tag) as { orchestrator?: string | null; traits?: string[] };
    return { orchestrator: v.orchestrator ?? null, traits: v.traits ?? [] };
  } catch {
    return null;
  }
}

const iso = (ms: number | undefined | null) =>
  ms === undefined || ms === null ? undefined : new Date(ms).toISOString();

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw new InvalidInput(`${field} must be an object of strings`, { target: field });
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === null || x === undefined) continue;
    if (typeof x !== 'string') throw new InvalidInput(`${field}.${k} must be a string`, { target: `${field}.${k}` });
    out[k] = x;
  }
  return out;
}

function time(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new InvalidInput(`${field} must be an ISO 8601 time`, { target: field });
  return t;
}

/** The jobs of the workspace (set by the composition root): `Experiment.delete` removes an experiment's jobs with it. */
export interface ExperimentJobPort {
  /** Forgets a job that has ended, and its files (jobs.delete). */
  delete(ws: WorkspaceInfo, name: string): Promise<unknown>;
}

export class RunHistoryService {
  jobs?: ExperimentJobPort;
  /** Test-only: called inside logMetrics' write after its numbers and tags are written, before its text points. */
  testHooks: { metricsWritten?: () => Promise<void> } = {};

  constructor(
    private readonly tracking: TrackingServices,
    private readonly database: Database,
  ) {}

  experimentDto(e: ExperimentView) {
    const tags = Object.fromEntries((e.tags ?? []).map((t) => [t.key, t.value]));
    return {
      experimentId: e.experiment_id,
      name: e.name,
      description: tags[DESCRIPTION_TAG] ?? null,
      createdUtc: iso(e.creation_time),
      lastModifiedUtc: iso(e.last_update_time),
      tags,
      archivedTime: e.lifecycle_stage === 'deleted' ? iso(e.last_update_time) : null,
      artifactLocation: e.artifact_location,
    };
  }

  /** The experiment of this name, or undefined. */
  async findExperiment(ws: string, name: string): Promise<ExperimentView | undefined> {
    try {
      return await this.tracking.experiments.getByName(ws, name);
    } catch (e) {
      if (e instanceof AtelierError && e.kind === 'not_found') return undefined;
      throw e;
    }
  }

  async getExperiment(ws: string, name: string): Promise<ExperimentView> {
    const e = await this.findExperiment(ws, name);
    if (!e) throw new NotFound(`experiment '${name}' could not be found`, { code: 'EXPERIMENT_NOT_FOUND' });
    return e;
  }

  async getExperimentById(ws: string, id: string): Promise<ExperimentView> {
    if (!/^\d{1,18}$/.test(id))
      throw new NotFound(`experiment id '${id}' could not be found`, { code: 'EXPERIMENT_NOT_FOUND' });
    return this.tracking.experiments.get(ws, id);
  }

  /** Get-or-create, as azureml-core's `Experiment(ws, name)` does. */
  async ensureExperiment(ws: string, name: string): Promise<ExperimentView> {
    const found = await this.findExperiment(ws, name);
    if (found) return found;
    try {
      const id = await this.tracking.experiments.create(ws, name, undefined, undefined);
      return await this.tracking.experiments.get(ws, id);
    } catch (e) {
      // Made by a concurrent request in between: that one is the answer.
      const again = await this.findExperiment(ws, name);
      if (again) return again;
      throw e;
    }
  }

  /**
   * azureml-core's experiment query (`Experiment.list`, `ws.experiments`): `viewType` ActiveOnly (the
   * default), ArchivedOnly or All — an archived experiment is MLflow's deleted one — and its filter
   * (`name eq …`, `Tags/…`; experimentFilter).
   */
  async queryExperiments(ws: string, body: unknown): Promise<ExperimentView[]> {
    const q = (body ?? {}) as { filter?: unknown; viewType?: unknown };
    if (typeof q !== 'object' || Array.isArray(q))
      throw new InvalidInput('the experiment query must be a JSON object', { target: 'body' });
    const views: Record<string, ViewType> = { activeonly: 'ACTIVE_ONLY', archivedonly: 'DELETED_ONLY', all: 'ALL' };
    const view =
      q.viewType === undefined || q.viewType === null ? 'ACTIVE_ONLY' : views[String(q.viewType).toLowerCase()];
    if (!view)
      throw new InvalidInput(`viewType must be ActiveOnly, ArchivedOnly or All, not '${String(q.viewType)}'`, {
        target: 'viewType',
      });
    const keep = experimentFilter(q.filter);
    return (await this.experiments(ws, view)).filter((e) =>
      keep({ name: e.name, tags: Object.fromEntries((e.tags ?? []).map((t) => [t.key, t.value])) }),
    );
  }

  /**
   * azureml-core's `ModifyExperimentDto` (`PATCH …/experimentids/{id}`): `archive` true archives the
   * experiment (MLflow's delete: hidden from lists, restorable, its runs with it), false reactivates it;
   * `name` renames, `description` and `tags` (a value of null is an empty tag) are set. Everything is
   * checked before anything changes.
   */
  async updateExperiment(ws: string, e: ExperimentView, body: unknown): Promise<ExperimentView> {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new InvalidInput('the experiment change must be a JSON object', { target: 'body' });
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b))
      if (!['name', 'description', 'archive', 'tags'].includes(k))
        throw new InvalidInput(`'${k}' cannot be changed on an experiment (name, description, archive, tags)`, {
          target: k,
        });
    const name = b.name === undefined || b.name === null ? undefined : checkExperimentName(b.name);
    if (b.archive !== undefined && b.archive !== null && typeof b.archive !== 'boolean')
      throw new InvalidInput('archive must be true or false', { target: 'archive' });
    if (b.description !== undefined && b.description !== null && typeof b.description !== 'string')
      throw new InvalidInput('description must be a string', { target: 'description' });
    if (b.tags !== undefined && b.tags !== null && (typeof b.tags !== 'object' || Array.isArray(b.tags)))
      throw new InvalidInput('tags must be an object of strings', { target: 'tags' });
    const tags = checkTags(
      [
        ...Object.entries((b.tags ?? {}) as Record<string, unknown>).map(([key, value]) => ({
          key,
          value: value ?? '',
        })),
        ...(typeof b.description === 'string' ? [{ key: DESCRIPTION_TAG, value: b.description }] : []),
      ],
      'experiment',
    );
    const archived = e.lifecycle_stage === 'deleted';
    const changes = name !== undefined || tags.length > 0;
    if (archived && changes && b.archive !== false)
      throw new Conflict(`experiment '${e.name}' is archived: reactivate it (archive: false) before changing it`, {
        code: 'EXPERIMENT_NOT_ACTIVE',
      });
    const exps = this.tracking.experiments;
    if (b.archive === false && archived) await exps.restore(ws, e.experiment_id);
    if (name !== undefined) await exps.rename(ws, e.experiment_id, name);
    for (const t of tags) await exps.setTag(ws, e.experiment_id, t.key, t.value);
    if (b.archive === true && !archived) await exps.delete(ws, e.experiment_id);
    return exps.get(ws, e.experiment_id);
  }

  /**
   * azureml-core's `Experiment.delete(ws, id)` (`DELETE …/experimentids/{id}`): removes the experiment
   * for good — unlike MLflow's delete (and `archive()`), which keeps it restorable — with its runs,
   * their params, tags, metrics (numbers and text), inputs and outputs, its logged models and its
   * jobs, in one write transaction; then its artifact folder (and the run files linked from
   * datastores) and the jobs' files. Refused with a 409 while one of its runs or jobs has not ended.
   */
  async deleteExperiment(w: WorkspaceInfo, e: ExperimentView): Promise<void> {
    const ws = w.workspaceId;
    const eid = Number(e.experiment_id);
    const db = this.database.db;
    const running = await db
      .selectFrom('tracking_runs')
      .select(['run_uuid', 'status'])
      .where('workspace_id', '=', ws)
      .where('experiment_id', '=', eid)
      .where('status', 'in', ['RUNNING', 'SCHEDULED'])
      .limit(1)
      .executeTakeFirst();
    const jobs = await db
      .selectFrom('jobs')
      .select(['name', 'status', 'parent_name'])
      .where('workspace_id', '=', ws)
      .where('experiment_id', '=', eid)
      .execute();
    const live = jobs.find((j) => !(TERMINAL as readonly string[]).includes(j.status));
    if (running || live)
      throw new Conflict(
        `experiment '${e.name}' has ${live ? `job '${live.name}' (${live.status})` : `run '${running!.run_uuid}' (${FROM_MLFLOW[running!.status] ?? running!.status})`} still active; cancel or complete its runs before deleting it`,
        { code: 'EXPERIMENT_HAS_ACTIVE_RUNS' },
      );
    if (jobs.length && !this.jobs)
      throw new Conflict(`experiment '${e.name}' has jobs, which this server cannot delete here`, { code: 'CONFLICT' });
    const gone = await this.database.write(async (tx) => {
      const runs = 'select run_uuid from tracking_runs where workspace_id = ? and experiment_id = ?';
      const ids = (await tx.all<{ run_uuid: string }>(runs, [ws, eid])).map((r) => r.run_uuid);
      const series = 'select series_id from tracking_latest_metrics where workspace_id = ? and experiment_id = ?';
      const models = 'select model_id from mlflow_logged_models where workspace_id = ? and experiment_id = ?';
      const we = [ws, eid];
      for (const t of ['tracking_metric_blocks', 'tracking_metric_block_stats'])
        await tx.run(`delete from ${t} where series_id in (${series})`, we);
      for (const t of [
        'tracking_inputs',
        'tracking_model_inputs',
        'tracking_outputs',
        'tracking_metric_log',
        'run_text_metrics',
      ])
        await tx.run(`delete from ${t} where run_uuid in (${runs})`, we);
      for (const t of ['tracking_model_metrics', 'mlflow_logged_model_params', 'mlflow_logged_model_tags'])
        await tx.run(`delete from ${t} where model_id in (${models})`, [ws, String(eid)]);
      await tx.run('delete from mlflow_logged_models where workspace_id = ? and experiment_id = ?', [ws, String(eid)]);
      for (const t of [
        'tracking_model_metrics',
        'tracking_latest_metrics',
        'tracking_params',
        'tracking_tags',
        'tracking_datasets',
        'tracking_runs',
        'tracking_experiment_tags',
        'tracking_experiments',
      ])
        await tx.run(`delete from ${t} where workspace_id = ? and experiment_id = ?`, we);
      return ids;
    });
    // After the commit: the jobs' records and files, and the artifact folder (a failure here leaves
    // files no row names, never a row without its files).
    for (const j of jobs) if (!j.parent_name) await this.jobs!.delete(w, j.name);
    if (e.artifact_location !== `mlflow-artifacts:/${eid}`) return;
    const ref = { workspaceId: ws, storageAccountId: w.storageAccountId ?? null };
    // Experiment ids are numbered from the highest one: an experiment made since the commit may have
    // this id again, and its folder is then its own — only the deleted runs' folders go.
    const reused = await db
      .selectFrom('tracking_experiments')
      .select('experiment_id')
      .where('workspace_id', '=', ws)
      .where('experiment_id', '=', eid)
      .executeTakeFirst();
    if (!reused) await this.tracking.artifacts.delete(ref, String(eid));
    else for (const r of gone) await this.tracking.artifacts.delete(ref, `${eid}/${r}`);
  }

  /** `POST …/experimentids/{id}/tags:delete` (`experiment.remove_tags`): tags that are not there are no error. */
  async deleteExperimentTags(ws: string, e: ExperimentView, body: unknown): Promise<{ errors: Record<string, never> }> {
    const keys = (body as { tags?: unknown } | null)?.tags;
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string' || k === ''))
      throw new InvalidInput('tags must be a list of tag names', { target: 'tags' });
    if (e.lifecycle_stage === 'deleted')
      throw new Conflict(`experiment '${e.name}' is archived: reactivate it before changing its tags`, {
        code: 'EXPERIMENT_NOT_ACTIVE',
      });
    const present = new Set((e.tags ?? []).map((t) => t.key));
    for (const k of keys as string[])
      if (present.has(k)) await this.tracking.experiments.deleteTag(ws, e.experiment_id, k);
    return { errors: {} };
  }

  async experiments(ws: string, view: ViewType = 'ACTIVE_ONLY'): Promise<ExperimentView[]> {
    const out: ExperimentView[] = [];
    let page_token: string | undefined;
    do {
      const r = await this.tracking.experiments.search(ws, { max_results: 1000, page_token, view_type: view });
      out.push(...r.experiments);
      page_token = r.next_page_token;
    } while (page_token);
    return out;
  }

  runDto(r: RunView, experimentName: string) {
    const allTags = Object.fromEntries((r.data.tags ?? []).map((t) => [t.key, t.value]));
    const tags: Record<string, string> = {};
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(allTags)) {
      if (k.startsWith(PROPERTY_PREFIX)) properties[k.slice(PROPERTY_PREFIX.length)] = v;
      else if (
        !k.startsWith('mlflow.') &&
        !k.startsWith(ARTIFACT_METRIC_PREFIX) &&
        k !== ERROR_TAG &&
        k !== RUN_TYPE_TAG &&
        k !== RUN_TYPE_V2_TAG
      )
        tags[k] = v;
    }
    const i = r.info;
    return {
      runId: i.run_id,
      // Azure numbers runs per workspace; MLflow has no such number: the start second stands in (it orders runs alike).
      runNumber: Math.floor(i.start_time / 1000) % 2 ** 31,
      runUuid: i.run_id,
      parentRunId: allTags[PARENT_TAG] ?? null,
      rootRunId: allTags[ROOT_TAG] ?? i.run_id,
      experimentId: i.experiment_id,
      experimentName,
      name: i.run_name,
      displayName: i.run_name,
      description: allTags[DESCRIPTION_TAG] ?? null,
      status: FROM_MLFLOW[i.status] ?? i.status,
      createdUtc: iso(i.start_time),
      startTimeUtc: iso(i.start_time),
      endTimeUtc: iso(i.end_time),
      userId: i.user_id,
      createdBy: { userName: i.user_id, userObjectId: i.user_id },
      tags,
      properties,
      hidden: false,
      // What made the run, when that is known (Experiment.submit: azureml.scriptrun); none for a run
      // the client logs itself (start_logging, child_run), which sends only its runTypeV2.
      runType: allTags[RUN_TYPE_TAG] ?? null,
      runTypeV2: typeV2(allTags[RUN_TYPE_V2_TAG]),
      target: 'local',
      dataContainerId: `dcid.${i.run_id}`,
      artifactUri: i.artifact_uri,
    };
  }

  /** The run's error (its `Run.Error` event), as run details answer it; null when it has none. */
  errorOf(r: RunView): { error: { code: string; message: string } } | null {
    const v = (r.data.tags ?? []).find((t) => t.key === ERROR_TAG)?.value;
    if (!v) return null;
    try {
      return { error: JSON.parse(v) as { code: string; message: string } };
    } catch {
      return null;
    }
  }

  /** The run, or undefined when there is none with this id. */
  async findRun(ws: string, runId: string): Promise<RunView | undefined> {
    try {
      return await this.tracking.runs.get(ws, mlflowRunId(runId));
    } catch (e) {
      if (e instanceof AtelierError && e.kind === 'not_found') return undefined;
      throw e;
    }
  }

  async getRun(ws: string, runId: string): Promise<RunView> {
    const r = await this.findRun(ws, runId);
    if (!r) throw new NotFound(`run '${runId}' could not be found`, { code: 'RUN_NOT_FOUND' });
    return r;
  }

  async experimentNameOf(ws: string, r: RunView): Promise<string> {
    return (await this.tracking.experiments.get(ws, r.info.experiment_id)).name;
  }

  /**
   * azureml-core's create-or-update of a run (`PATCH …/experiments/{name}/runs/{runId}`): a new id
   * makes the run in that experiment (made if missing); an existing one gets the given fields.
   * Everything is checked before anything is written.
   */
  async patchRun(
    ws: string,
    experiment: ExperimentView,
    v1RunId: string,
    body: V1RunPatch,
    user: string,
  ): Promise<RunView> {
    const runId = mlflowRunId(v1RunId);
    const tags = stringMap(body.tags, 'tags');
    const properties = stringMap(body.properties, 'properties');
    let status: string | undefined;
    if (body.status !== undefined && body.status !== null) {
      if (typeof body.status !== 'string' || !TO_MLFLOW[body.status])
        throw new InvalidInput(`status must be one of ${Object.keys(TO_MLFLOW).join(', ')}`, { target: 'status' });
      status = TO_MLFLOW[body.status];
    }
    const start = time(body.startTimeUtc, 'startTimeUtc');
    const end = time(body.endTimeUtc, 'endTimeUtc');
    const name = [body.displayName, body.name].find((n) => typeof n === 'string' && n !== '') as string | undefined;
    if (body.description !== undefined && body.description !== null && typeof body.description !== 'string')
      throw new InvalidInput('description must be a string', { target: 'description' });
    const mlflowTags = [
      ...Object.entries(tags).map(([key, value]) => ({ key, value })),
      ...Object.entries(properties).map(([key, value]) => ({ key: `${PROPERTY_PREFIX}${key}`, value })),
      ...(typeof body.description === 'string' ? [{ key: DESCRIPTION_TAG, value: body.description }] : []),
    ];
    if (body.runType !== undefined && body.runType !== null) {
      if (typeof body.runType !== 'string' || !/^[\w.-]{1,100}$/.test(body.runType))
        throw new InvalidInput('runType must be a run type name (letters, digits, ., _, -)', { target: 'runType' });
      mlflowTags.push({ key: RUN_TYPE_TAG, value: body.runType });
    }
    if (body.runTypeV2 !== undefined && body.runTypeV2 !== null) {
      const v2 = body.runTypeV2 as { orchestrator?: unknown; traits?: unknown };
      if (
        typeof v2 !== 'object' ||
        Array.isArray(v2) ||
        (v2.orchestrator !== undefined && v2.orchestrator !== null && typeof v2.orchestrator !== 'string') ||
        (v2.traits !== undefined &&
          v2.traits !== null &&
          (!Array.isArray(v2.traits) || v2.traits.some((t) => typeof t !== 'string')))
      )
        throw new InvalidInput('runTypeV2 must be {orchestrator: string, traits: [string]}', { target: 'runTypeV2' });
      mlflowTags.push({
        key: RUN_TYPE_V2_TAG,
        value: JSON.stringify({ orchestrator: v2.orchestrator ?? null, traits: v2.traits ?? [] }),
      });
    }
    let parent: string | undefined;
    if (body.parentRunId !== undefined && body.parentRunId !== null) {
      if (typeof body.parentRunId !== 'string')
        throw new InvalidInput('parentRunId must be a run id', { target: 'parentRunId' });
      parent = mlflowRunId(body.parentRunId);
    }
    let run = await this.findRun(ws, runId);
    if (run && parent !== undefined && parent !== this.parentOf(run))
      throw new InvalidInput(`run '${runId}' exists with another parent (or none); a run's parent cannot change`, {
        target: 'parentRunId',
      });
    if (!run) {
      if (parent !== undefined) {
        const p = await this.findRun(ws, parent);
        if (!p || p.info.experiment_id !== experiment.experiment_id)
          throw new InvalidInput(`parent run '${parent}' could not be found in experiment '${experiment.name}'`, {
            target: 'parentRunId',
          });
        const root = (p.data.tags ?? []).find((t) => t.key === ROOT_TAG)?.value ?? p.info.run_id;
        mlflowTags.push({ key: PARENT_TAG, value: p.info.run_id }, { key: ROOT_TAG, value: root });
      }
      run = await this.tracking.runs.create(
        ws,
        { experiment_id: experiment.experiment_id, start_time: start, tags: mlflowTags, run_name: name },
        user,
        { runId },
      );
    } else {
      if (run.info.experiment_id !== experiment.experiment_id)
        throw new InvalidInput(`run '${runId}' belongs to another experiment`, { target: 'runId' });
      if (mlflowTags.length) await this.tracking.runs.logBatch(ws, runId, { tags: mlflowTags });
    }
    if (status !== undefined || end !== undefined || (name !== undefined && name !== run.info.run_name)) {
      const finished = status === 'FINISHED' || status === 'FAILED' || status === 'KILLED';
      await this.tracking.runs.update(ws, runId, {
        ...(status ? { status } : {}),
        ...(end !== undefined ? { end_time: end } : finished && !run.info.end_time ? { end_time: Date.now() } : {}),
        ...(name !== undefined ? { run_name: name } : {}),
      });
    }
    return this.getRun(ws, runId);
  }

  /**
   * A run event (`POST …/runs/{runId}/events`): the lifecycle events change the run's status
   * (Start → Running, Completed/Failed/Canceled → that status with its end time); heartbeats,
   * warnings and errors change nothing here (errors arrive again with the Failed status).
   */
  async event(ws: string, experiment: ExperimentView, runId: string, body: unknown, user: string): Promise<void> {
    const e = body as { name?: unknown; data?: Record<string, unknown> } | undefined;
    if (!e || typeof e.name !== 'string') throw new InvalidInput('the event needs a name', { target: 'name' });
    if (e.name === ERROR_EVENT) {
      const response = (e.data?.ErrorResponse ?? e.data?.errorResponse) as { error?: unknown } | undefined;
      const root = (response?.error ?? response) as { code?: unknown; message?: unknown } | undefined;
      const error = {
        code: typeof root?.code === 'string' && root.code ? root.code : 'UserError',
        message: typeof root?.message === 'string' ? root.message.slice(0, 4000) : '',
      };
      const run = await this.getRun(ws, runId);
      if (run.info.experiment_id !== experiment.experiment_id)
        throw new InvalidInput(`run '${runId}' belongs to another experiment`, { target: 'runId' });
      await this.tracking.runs.logBatch(ws, run.info.run_id, {
        tags: [{ key: ERROR_TAG, value: JSON.stringify(error) }],
      });
      return;
    }
    const status = EVENT_STATUS[e.name];
    if (!status) return;
    const at = typeof e.data?.EndTime === 'string' ? e.data.EndTime : undefined;
    await this.patchRun(
      ws,
      experiment,
      runId,
      { status, ...(at && status !== 'Running' ? { endTimeUtc: at } : {}) },
      user,
    );
  }

  private parentOf(r: RunView): string | undefined {
    return (r.data.tags ?? []).find((t) => t.key === PARENT_TAG)?.value;
  }

  /**
   * The runs of an experiment as DTOs, newest first (`…/runs:query`; azureml-core's
   * `Experiment.get_runs`, `Run.get_children(recursive=True)`), kept by the query's OData `filter`
   * (run-filter.ts: checked before anything is read).
   */
  async queryRuns(ws: string, e: ExperimentView, filter: unknown) {
    const keep = runFilter(filter);
    return (await this.runsOf(ws, e.experiment_id)).map((r) => this.runDto(r, e.name)).filter(keep);
  }

  /** The direct children of a run (`…/runs/{id}/children`; azureml-core's `Run.get_children()`), newest first. */
  async children(ws: string, v1RunId: string) {
    const run = await this.getRun(ws, v1RunId);
    const e = await this.experimentNameOf(ws, run);
    // (run ids are [0-9a-zA-Z_-], mlflowRunId: nothing to quote.)
    const kids = await this.runsOf(ws, run.info.experiment_id, [`tags.\`${PARENT_TAG}\` = '${run.info.run_id}'`]);
    return kids.map((r) => this.runDto(r, e));
  }

  /** The runs of an experiment, newest first (optionally an MLflow search filter). */
  async runsOf(ws: string, experimentId: string, filter: string[] = []): Promise<RunView[]> {
    const out: RunView[] = [];
    let page_token: string | undefined;
    do {
      const r = await this.tracking.runs.search(ws, {
        experiment_ids: [experimentId],
        max_results: 1000,
        page_token,
        ...(filter.length ? { filter: filter.join(' and ') } : {}),
      });
      out.push(...r.runs);
      page_token = r.next_page_token;
    } while (page_token);
    return out;
  }

  /** Names of the run's metrics: the numeric ones (MLflow metrics), the text ones and the artifact-backed ones. */
  async metricNames(ws: string, v1RunId: string): Promise<{ numbers: string[]; texts: string[]; artifacts: string[] }> {
    const runId = mlflowRunId(v1RunId);
    const r = await this.getRun(ws, runId);
    const texts = await this.database.db
      .selectFrom('run_text_metrics')
      .select('name')
      .distinct()
      .where('run_uuid', '=', r.info.run_id)
      .where('workspace_id', '=', ws)
      .execute();
    return {
      numbers: [...new Set((r.data.metrics ?? []).map((m) => m.key))].sort(),
      texts: texts.map((t) => t.name).sort(),
      artifacts: (r.data.tags ?? [])
        .filter((t) => t.key.startsWith(ARTIFACT_METRIC_PREFIX))
        .map((t) => t.key.slice(ARTIFACT_METRIC_PREFIX.length))
        .sort(),
    };
  }

  /** The artifact-backed metric `name` of the run (its first value), if it has one. */
  async artifactMetric(ws: string, v1RunId: string, name: string): Promise<ArtifactMetric | undefined> {
    const r = await this.getRun(ws, mlflowRunId(v1RunId));
    const tag = (r.data.tags ?? []).find((t) => t.key === ARTIFACT_METRIC_PREFIX + name);
    if (!tag) return undefined;
    try {
      const v = JSON.parse(tag.value) as Partial<ArtifactMetric>;
      if (typeof v.location !== 'string') return undefined;
      return { name, type: v.type ?? null, location: v.location, createdUtc: v.createdUtc ?? iso(r.info.start_time)! };
    } catch {
      return undefined;
    }
  }

  /** Every point of one metric, oldest first; undefined when the run has no such metric. */
  async metricHistory(ws: string, v1RunId: string, name: string) {
    const runId = mlflowRunId(v1RunId);
    await this.getRun(ws, runId);
    const points: { key: string; value: unknown; timestamp: number; step: number }[] = [];
    let page_token: string | undefined;
    do {
      const r = await this.tracking.metrics.history(ws, {
        run_id: runId,
        metric_key: name,
        max_results: 25000,
        page_token,
      });
      points.push(...r.metrics);
      page_token = r.next_page_token;
    } while (page_token);
    return points.length ? points.sort((a, b) => a.timestamp - b.timestamp || a.step - b.step) : undefined;
  }

  /** Records what made a run (runDto's `runType`), e.g. SCRIPT_RUN_TYPE for a ScriptRunConfig submission's job run. */
  async setRunType(ws: string, mlflowRunId: string, type: string): Promise<void> {
    await this.tracking.runs.logBatch(ws, mlflowRunId, { tags: [{ key: RUN_TYPE_TAG, value: type }] });
  }

  /** Every text point of one metric, oldest first; undefined when the run has no such text metric. */
  async textMetricHistory(ws: string, v1RunId: string, name: string): Promise<TextPoint[] | undefined> {
    const runId = mlflowRunId(v1RunId);
    await this.getRun(ws, runId);
    const rows = await this.database.db
      .selectFrom('run_text_metrics')
      .select(['value', 'timestamp', 'step'])
      .where('run_uuid', '=', runId)
      .where('name', '=', name)
      .where('workspace_id', '=', ws)
      .orderBy('timestamp')
      .orderBy('step')
      .execute();
    return rows.length
      ? rows.map((r) => ({ key: name, value: r.value, timestamp: Number(r.timestamp), step: Number(r.step) }))
      : undefined;
  }

  /** A deleted workspace's text metrics. */
  async forgetWorkspace(ws: { workspaceId?: string }): Promise<void> {
    if (!ws.workspaceId) return;
    await this.database.db.deleteFrom('run_text_metrics').where('workspace_id', '=', ws.workspaceId).execute();
  }

  /**
   * Metrics of v1 DTOs (`{name, cells: [{name: value}], …}` or v2's `{name, data: {…}}`): numbers as
   * MLflow metrics, artifact-backed metrics as their run tag (the first value of each name is kept,
   * as azureml-core reads only that one), text points as rows of their own — all in one write.
   */
  async logMetrics(
    ws: string,
    v1RunId: string,
    body: {
      points: { key: string; value: number; timestamp: number; step: number }[];
      texts: TextPoint[];
      artifacts: ArtifactMetric[];
    },
  ) {
    const runId = mlflowRunId(v1RunId);
    const { points: metrics, texts, artifacts } = body;
    for (const t of texts)
      if (t.key.length > 250)
        throw new InvalidInput(`metric name '${t.key.slice(0, 60)}…' is longer than 250 characters`, {
          target: 'name',
        });
    // A name holds numbers or text, not both: get_metrics reads one kind per name.
    const textNames = [...new Set(texts.map((t) => t.key))];
    const numberNames = [...new Set(metrics.map((m) => m.key))];
    const inBatch = numberNames.find((n) => textNames.includes(n));
    if (inBatch !== undefined) throw RunHistoryService.holdsText(inBatch, v1RunId);
    // One write: the numbers, the artifact tags and the text points of a request are kept together
    // or not at all, and the name checks read in the write that follows them, holding the run (its
    // writers take turns), so two requests cannot each pass the check and then log one name as both.
    await this.database.write(async (tx) => {
      const run = await this.tracking.runs.holdActiveRun(tx, ws, runId);
      if (numberNames.length) {
        const [name] = await textNamesIn(tx, runId, numberNames);
        if (name !== undefined) throw RunHistoryService.holdsText(name, v1RunId);
      }
      if (textNames.length) {
        const [name] = await this.tracking.runs.keysIn(tx, run, 'metrics', textNames);
        if (name !== undefined)
          throw new InvalidInput(`metric '${name}' of run '${v1RunId}' holds numbers; log text under another name`, {
            target: 'name',
          });
      }
      // An artifact-backed metric keeps its first value (the one azureml-core reads).
      const tags: { key: string; value: string }[] = [];
      if (artifacts.length) {
        const keys = [...new Set(artifacts.map((a) => ARTIFACT_METRIC_PREFIX + a.name))];
        const have = new Set(await this.tracking.runs.keysIn(tx, run, 'tags', keys));
        for (const a of artifacts) {
          const key = ARTIFACT_METRIC_PREFIX + a.name;
          if (have.has(key)) continue;
          have.add(key);
          tags.push({ key, value: JSON.stringify({ type: a.type, location: a.location, createdUtc: a.createdUtc }) });
        }
      }
      await this.tracking.runs.writeBatchIn(tx, run, { metrics, tags });
      await this.testHooks.metricsWritten?.();
      for (let i = 0; i < texts.length; i += 200)
        await tx.db
          .insertInto('run_text_metrics')
          .values(
            texts.slice(i, i + 200).map((t) => ({
              workspace_id: ws,
              run_uuid: runId,
              name: t.key,
              point_id: randomUUID(),
              timestamp: t.timestamp,
              step: t.step,
              value: t.value,
            })),
          )
          .execute();
    });
  }

  private static holdsText(name: string, v1RunId: string): InvalidInput {
    return new InvalidInput(`metric '${name}' of run '${v1RunId}' holds text; log numbers under another name`, {
      target: 'name',
    });
  }
}
