import { preview } from '../../text.js';
import crypto from 'node:crypto';
import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { AppContext } from '../../context.js';
import { NotFound, NotImplemented } from '../../errors.js';
import type { ArtifactFileInfo, ArtifactService, WorkspaceRef } from '../artifacts/artifacts.js';
import { bad, checkString, checkTagKey, checkTags, missing } from '../registry/registry-validation.js';
import {
  numericComparison,
  pageToken,
  parseFilter,
  parsePageToken,
  stringComparison,
} from '../registry/registry-search.js';
import type { LoggedModelRow } from './tables.js';
import './tables.js';
import { pythonJson } from '../shared/python-json.js';
import { modelMetricView, type ModelMetricView } from './model-metrics.js';

/** What the logged-model service needs to know about experiments (the tracking core answers). */
export interface ExperimentRef {
  experimentId: string;
  /** e.g. `mlflow-artifacts:/<experiment_id>` */
  artifactLocation: string;
  lifecycleStage: string;
}

export interface ExperimentLookup {
  getExperiment(ws: WorkspaceRef, experimentId: string): Promise<ExperimentRef | undefined>;
}

export const LOGGED_MODEL_STATUSES = [
  'LOGGED_MODEL_STATUS_UNSPECIFIED',
  'LOGGED_MODEL_PENDING',
  'LOGGED_MODEL_READY',
  'LOGGED_MODEL_UPLOAD_FAILED',
] as const;

export interface LoggedModelJson {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    creation_timestamp_ms: number;
    last_updated_timestamp_ms: number;
    artifact_uri: string;
    status: string;
    model_type?: string;
    source_run_id?: string;
    status_message?: string;
    tags: { key: string; value: string }[];
  };
  data: { params: { key: string; value: string }[]; metrics: ModelMetricView[] };
}

/** Tag where MLflow records the registry versions a logged model was registered as. */
export const MODEL_VERSIONS_TAG = 'mlflow.modelVersions';
export const MAX_PARAM_VALUE_LENGTH = 6000;
const SEARCH_DEFAULT = 100;
const SEARCH_MAX = 1000;

const ADJECTIVES = [
  'amber',
  'bold',
  'brisk',
  'calm',
  'clever',
  'crisp',
  'eager',
  'gentle',
  'keen',
  'lucid',
  'merry',
  'nimble',
  'quiet',
  'rapid',
  'sunny',
  'tidy',
  'vivid',
  'witty',
];
const NOUNS = [
  'badger',
  'cedar',
  'comet',
  'falcon',
  'fjord',
  'heron',
  'lark',
  'maple',
  'otter',
  'pine',
  'quartz',
  'raven',
  'river',
  'sparrow',
  'tiger',
  'willow',
];

function randomName(): string {
  const pick = <T>(a: readonly T[]): T => a[crypto.randomInt(a.length)]!;
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${crypto.randomInt(1000)}`;
}

function checkLoggedModelName(value: unknown): string | undefined {
  const name = checkString(value, 'name');
  if (name === undefined || name === '') return undefined;
  const badChars = ['/', ':', '.', '%', '"', "'"];
  if (badChars.some((c) => name.includes(c))) {
    throw bad(
      `Invalid model name ('${name}') provided. Model name must be a non-empty string and cannot contain the following characters: ${badChars.join(' ')}`,
    );
  }
  if (name.length > 500) throw bad("'name' exceeds the maximum length of 500 characters");
  return name;
}

function checkParams(value: unknown): { key: string; value: string }[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw bad("Invalid value for parameter 'params': it must be a list of {key, value} objects.");
  const byKey = new Map<string, string>();
  value.forEach((p, i) => {
    const o = (p ?? {}) as { key?: unknown; value?: unknown };
    const key = checkTagKey(o.key, `params[${i}].key`);
    const v = checkString(o.value, `params[${i}].value`) ?? '';
    if (v.length > MAX_PARAM_VALUE_LENGTH)
      throw bad(`'params[${i}].value' exceeds the maximum length of ${MAX_PARAM_VALUE_LENGTH} characters`);
    if (byKey.has(key) && byKey.get(key) !== v)
      throw bad(`Duplicate parameter key '${key}' with different values; log each key once.`);
    byKey.set(key, v);
  });
  return [...byKey].map(([key, v]) => ({ key, value: v }));
}

export function parseLoggedModelStatus(value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < LOGGED_MODEL_STATUSES.length)
    return value;
  if (typeof value === 'string') {
    const i = LOGGED_MODEL_STATUSES.indexOf(value.toUpperCase() as (typeof LOGGED_MODEL_STATUSES)[number]);
    if (i >= 0) return i;
    if (/^\d$/.test(value) && Number(value) < LOGGED_MODEL_STATUSES.length) return Number(value);
  }
  if (value === undefined || value === null) throw missing('status');
  throw bad(
    `Invalid value ${preview(value)} for parameter 'status': use one of ${LOGGED_MODEL_STATUSES.slice(1).join(', ')}.`,
  );
}

/** The `datasets` of a logged-model search (MLflow: each needs a name; no digest matches metrics logged without one). */
function checkDatasets(value: unknown): { name: string; digest: string | null }[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw bad("Invalid value for parameter 'datasets': it must be a list of {dataset_name, dataset_digest} objects.");
  return value.map((d, i) => {
    const o = (d ?? {}) as { dataset_name?: unknown; dataset_digest?: unknown };
    const name = checkString(o.dataset_name, `datasets[${i}].dataset_name`);
    if (!name) throw bad('`dataset_name` in the `datasets` clause must be specified.');
    return { name, digest: checkString(o.dataset_digest, `datasets[${i}].dataset_digest`) || null };
  });
}

/** Whether a model metric (`mm`) was logged on one of the datasets (true when none are given). */
function datasetCondition(datasets: { name: string; digest: string | null }[]): RawBuilder<SqlBool> {
  if (datasets.length === 0) return sql<SqlBool>`1 = 1`;
  const one = datasets.map((d) =>
    d.digest === null
      ? sql`(mm.dataset_name = ${d.name} and mm.dataset_digest is null)`
      : sql`(mm.dataset_name = ${d.name} and mm.dataset_digest = ${d.digest})`,
  );
  return sql<SqlBool>`(${sql.join(one, sql` or `)})`;
}

/** The artifact path (below the workspace artifact root) of an `mlflow-artifacts:` URI, if it is one. */
export function proxiedArtifactPath(uri: string): string | undefined {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*)$/.exec(uri);
  return m ? m[1] : undefined;
}

/**
 * MLflow 3 logged models: created PENDING under an experiment, artifacts uploaded through the
 * artifact proxy to `<experiment artifact location>/models/<model_id>/artifacts`, then finalized
 * READY (or UPLOAD_FAILED). Soft-deleted like MLflow's store.
 */
export class LoggedModelService {
  constructor(
    private readonly ctx: AppContext,
    private readonly experiments: ExperimentLookup,
    private readonly artifacts: ArtifactService,
  ) {}

  private async row(ws: WorkspaceRef, modelId: unknown, allowDeleted = false): Promise<LoggedModelRow> {
    const id = checkString(modelId, 'model_id', { required: true })!;
    const row = await this.ctx.db
      .selectFrom('mlflow_logged_models')
      .selectAll()
      .where('model_id', '=', id)
      .where('workspace_id', '=', ws.workspaceId)
      .executeTakeFirst();
    if (!row || (!allowDeleted && row.lifecycle_stage === 'deleted'))
      throw new NotFound(`Logged model with ID '${id}' not found.`, { code: 'LOGGED_MODEL_NOT_FOUND' });
    return row;
  }

  private async toJson(rows: LoggedModelRow[]): Promise<LoggedModelJson[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.model_id);
    const [params, tags, metrics] = await Promise.all([
      this.ctx.db
        .selectFrom('mlflow_logged_model_params')
        .selectAll()
        .where('model_id', 'in', ids)
        .orderBy('key')
        .execute(),
      this.ctx.db
        .selectFrom('mlflow_logged_model_tags')
        .selectAll()
        .where('model_id', 'in', ids)
        .orderBy('key')
        .execute(),
      this.ctx.db
        .selectFrom('tracking_model_metrics')
        .selectAll()
        .where('workspace_id', '=', rows[0]!.workspace_id)
        .where('model_id', 'in', ids)
        .orderBy('model_id')
        .orderBy('key')
        .orderBy('timestamp')
        .orderBy('step')
        .orderBy('run_uuid')
        .execute(),
    ]);
    const metricsOf = new Map<string, ModelMetricView[]>();
    for (const m of metrics) {
      const l = metricsOf.get(m.model_id);
      if (l) l.push(modelMetricView(m));
      else metricsOf.set(m.model_id, [modelMetricView(m)]);
    }
    return rows.map((r) => {
      const info: LoggedModelJson['info'] = {
        model_id: r.model_id,
        experiment_id: r.experiment_id,
        name: r.name,
        creation_timestamp_ms: r.creation_timestamp_ms,
        last_updated_timestamp_ms: r.last_updated_timestamp_ms,
        artifact_uri: r.artifact_location,
        status: LOGGED_MODEL_STATUSES[r.status] ?? LOGGED_MODEL_STATUSES[0],
        tags: tags.filter((t) => t.model_id === r.model_id).map((t) => ({ key: t.key, value: t.value })),
      };
      if (r.model_type) info.model_type = r.model_type;
      if (r.source_run_id) info.source_run_id = r.source_run_id;
      if (r.status_message) info.status_message = r.status_message;
      return {
        info,
        data: {
          params: params.filter((p) => p.model_id === r.model_id).map((p) => ({ key: p.key, value: p.value })),
          metrics: metricsOf.get(r.model_id) ?? [],
        },
      };
    });
  }

  async create(
    ws: WorkspaceRef,
    input: {
      experiment_id?: unknown;
      name?: unknown;
      model_type?: unknown;
      source_run_id?: unknown;
      params?: unknown;
      tags?: unknown;
    },
  ): Promise<LoggedModelJson> {
    const experimentId = checkString(input.experiment_id, 'experiment_id', { required: true })!;
    const name = checkLoggedModelName(input.name) ?? randomName();
    const modelType = checkString(input.model_type, 'model_type') || null;
    if (modelType && modelType.length > 500) throw bad("'model_type' exceeds the maximum length of 500 characters");
    const sourceRunId = checkString(input.source_run_id, 'source_run_id') || null;
    if (sourceRunId && sourceRunId.length > 64)
      throw bad("'source_run_id' exceeds the maximum length of 64 characters");
    const params = checkParams(input.params);
    const tags = checkTags(input.tags);
    const experiment = await this.experiments.getExperiment(ws, experimentId);
    if (!experiment)
      throw new NotFound(`No Experiment with id=${experimentId} exists`, { code: 'EXPERIMENT_NOT_FOUND' });
    if (experiment.lifecycleStage !== 'active') {
      throw bad(
        `The experiment ${experimentId} must be in the 'active' state. Current state is ${experiment.lifecycleStage}.`,
      );
    }
    const modelId = `m-${crypto.randomUUID().replace(/-/g, '')}`;
    const artifactLocation = `${experiment.artifactLocation.replace(/\/+$/, '')}/models/${modelId}/artifacts`;
    const now = Date.now();
    const row: LoggedModelRow = {
      model_id: modelId,
      workspace_id: ws.workspaceId,
      experiment_id: experimentId,
      name,
      artifact_location: artifactLocation,
      creation_timestamp_ms: now,
      last_updated_timestamp_ms: now,
      status: 1,
      status_message: null,
      lifecycle_stage: 'active',
      model_type: modelType,
      source_run_id: sourceRunId,
    };
    await this.ctx.database.write(async ({ db: trx }) => {
      await trx.insertInto('mlflow_logged_models').values(row).execute();
      if (params.length)
        await trx
          .insertInto('mlflow_logged_model_params')
          .values(params.map((p) => ({ model_id: modelId, key: p.key, value: p.value })))
          .execute();
      const realTags = tags.map((t) => ({ model_id: modelId, key: t.key, value: t.value ?? '' }));
      if (realTags.length) await trx.insertInto('mlflow_logged_model_tags').values(realTags).execute();
    });
    return (await this.toJson([row]))[0]!;
  }

  async get(ws: WorkspaceRef, modelId: unknown, allowDeleted = false): Promise<LoggedModelJson> {
    return (await this.toJson([await this.row(ws, modelId, allowDeleted)]))[0]!;
  }

  /** The row, for other services (registry: `models:/<model_id>` sources). */
  async getRow(ws: WorkspaceRef, modelId: string): Promise<LoggedModelRow> {
    return this.row(ws, modelId);
  }

  async finalize(ws: WorkspaceRef, modelId: unknown, status: unknown): Promise<LoggedModelJson> {
    const row = await this.row(ws, modelId);
    const s = parseLoggedModelStatus(status);
    const now = Date.now();
    await this.ctx.db
      .updateTable('mlflow_logged_models')
      .set({ status: s, last_updated_timestamp_ms: now })
      .where('model_id', '=', row.model_id)
      .execute();
    return (await this.toJson([{ ...row, status: s, last_updated_timestamp_ms: now }]))[0]!;
  }

  async delete(ws: WorkspaceRef, modelId: unknown): Promise<void> {
    const row = await this.row(ws, modelId);
    await this.ctx.db
      .updateTable('mlflow_logged_models')
      .set({ lifecycle_stage: 'deleted', last_updated_timestamp_ms: Date.now() })
      .where('model_id', '=', row.model_id)
      .execute();
  }

  async setTags(ws: WorkspaceRef, modelId: unknown, tags: unknown): Promise<void> {
    const row = await this.row(ws, modelId);
    const list = checkTags(tags);
    await this.ctx.database.write(async ({ db: trx }) => {
      for (const t of list) {
        await trx
          .deleteFrom('mlflow_logged_model_tags')
          .where('model_id', '=', row.model_id)
          .where('key', '=', t.key)
          .execute();
        await trx
          .insertInto('mlflow_logged_model_tags')
          .values({ model_id: row.model_id, key: t.key, value: t.value ?? '' })
          .execute();
      }
    });
  }

  async deleteTag(ws: WorkspaceRef, modelId: unknown, key: unknown): Promise<void> {
    const row = await this.row(ws, modelId);
    const k = checkString(key, 'tag_key', { required: true })!;
    const res = await this.ctx.db
      .deleteFrom('mlflow_logged_model_tags')
      .where('model_id', '=', row.model_id)
      .where('key', '=', k)
      .executeTakeFirst();
    if (Number(res.numDeletedRows) === 0)
      throw new NotFound(`No tag with key '${k}' found for model with ID '${row.model_id}'.`, {
        code: 'LOGGED_MODEL_TAG_NOT_FOUND',
      });
  }

  /** Logs params; a key logged again must keep its value (params are immutable, as for runs). */
  async logParams(ws: WorkspaceRef, modelId: unknown, params: unknown): Promise<void> {
    const row = await this.row(ws, modelId);
    const list = checkParams(params);
    if (list.length === 0) return;
    await this.ctx.database.write(async ({ db: trx }) => {
      const existing = await trx
        .selectFrom('mlflow_logged_model_params')
        .selectAll()
        .where('model_id', '=', row.model_id)
        .where(
          'key',
          'in',
          list.map((p) => p.key),
        )
        .execute();
      const have = new Map(existing.map((p) => [p.key, p.value]));
      const fresh = [];
      for (const p of list) {
        if (!have.has(p.key)) fresh.push({ model_id: row.model_id, key: p.key, value: p.value });
        else if (have.get(p.key) !== p.value) {
          throw bad(
            `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${have.get(p.key)}' for logged model ID='${row.model_id}'. Attempted logging new value '${p.value}'.`,
          );
        }
      }
      if (fresh.length) await trx.insertInto('mlflow_logged_model_params').values(fresh).execute();
    });
  }

  /** Forgets every logged model of a workspace (when the workspace is deleted). */
  async deleteWorkspace(workspaceId: string): Promise<void> {
    await this.ctx.database.write(async ({ db: trx }) => {
      const ids = trx.selectFrom('mlflow_logged_models').select('model_id').where('workspace_id', '=', workspaceId);
      await trx.deleteFrom('mlflow_logged_model_params').where('model_id', 'in', ids).execute();
      await trx.deleteFrom('mlflow_logged_model_tags').where('model_id', 'in', ids).execute();
      await trx.deleteFrom('mlflow_logged_models').where('workspace_id', '=', workspaceId).execute();
    });
  }

  /** Records that the model was registered as `name` version `version` (MLflow's tag). */
  async addRegistration(ws: WorkspaceRef, modelId: string, name: string, version: number): Promise<void> {
    const row = await this.row(ws, modelId);
    await this.ctx.database.write(async ({ db: trx }) => {
      const tag = await trx
        .selectFrom('mlflow_logged_model_tags')
        .selectAll()
        .where('model_id', '=', row.model_id)
        .where('key', '=', MODEL_VERSIONS_TAG)
        .executeTakeFirst();
      let list: { name: string; version: number }[] = [];
      try {
        const parsed: unknown = tag ? JSON.parse(tag.value) : [];
        if (Array.isArray(parsed)) list = parsed as typeof list;
      } catch {
        list = [];
      }
      list.push({ name, version });
      await trx
        .deleteFrom('mlflow_logged_model_tags')
        .where('model_id', '=', row.model_id)
        .where('key', '=', MODEL_VERSIONS_TAG)
        .execute();
      await trx
        .insertInto('mlflow_logged_model_tags')
        .values({ model_id: row.model_id, key: MODEL_VERSIONS_TAG, value: pythonJson(list) })
        .execute();
    });
  }

  async search(
    ws: WorkspaceRef,
    input: {
      experiment_ids?: unknown;
      filter?: unknown;
      datasets?: unknown;
      max_results?: unknown;
      order_by?: unknown;
      page_token?: unknown;
    },
  ): Promise<{ models: LoggedModelJson[]; next_page_token?: string }> {
    if (!Array.isArray(input.experiment_ids) || input.experiment_ids.length === 0) throw missing('experiment_ids');
    const experimentIds = input.experiment_ids.map((e, i) =>
      checkString(e, `experiment_ids[${i}]`, { required: true })!,
    );
    const datasets = checkDatasets(input.datasets);
    let maxResults = SEARCH_DEFAULT;
    if (input.max_results !== undefined && input.max_results !== null) {
      maxResults = Number(input.max_results);
      if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > SEARCH_MAX)
        throw bad(`max_results must be a whole number from 1 to ${SEARCH_MAX}, got ${String(input.max_results)}`);
    }
    const offset = parsePageToken(checkString(input.page_token, 'page_token'));
    const dialect = this.ctx.database.dialect;
    let q = this.ctx.db
      .selectFrom('mlflow_logged_models as m')
      .selectAll('m')
      .where('m.workspace_id', '=', ws.workspaceId)
      .where('m.experiment_id', 'in', experimentIds)
      .where('m.lifecycle_stage', '=', 'active');
    let metricFiltered = false;
    for (const c of parseFilter(checkString(input.filter, 'filter'))) {
      if (c.type === 'tag') {
        const cond = stringComparison(sql.ref('t.value'), c.comparator, c.value, dialect);
        q = q.where(({ exists, selectFrom }) =>
          exists(
            selectFrom('mlflow_logged_model_tags as t')
              .select(sql.lit(1).as('one'))
              .whereRef('t.model_id', '=', 'm.model_id')
              .where('t.key', '=', c.key)
              .where(() => cond),
          ),
        );
        continue;
      }
      if (c.key.toLowerCase().startsWith('params.')) {
        const key = c.key.slice('params.'.length).replace(/^[`"](.*)[`"]$/, '$1');
        const cond = stringComparison(sql.ref('p.value'), c.comparator, c.value, dialect);
        q = q.where(({ exists, selectFrom }) =>
          exists(
            selectFrom('mlflow_logged_model_params as p')
              .select(sql.lit(1).as('one'))
              .whereRef('p.model_id', '=', 'm.model_id')
              .where('p.key', '=', key)
              .where(() => cond),
          ),
        );
        continue;
      }
      if (c.key.toLowerCase().startsWith('metrics.')) {
        // Any point of the metric (on one of `datasets`, if given) matches, as in MLflow.
        const key = c.key.slice('metrics.'.length).replace(/^`(.*)`$/, '$1');
        if (typeof c.value !== 'number')
          throw bad(`'${c.key}' is compared with a number, got ${JSON.stringify(c.value)}`);
        const cond = numericComparison(sql.ref('mm.value'), c.comparator, c.value);
        const onDatasets = datasetCondition(datasets);
        q = q.where(({ exists, selectFrom }) =>
          exists(
            selectFrom('tracking_model_metrics as mm')
              .select(sql.lit(1).as('one'))
              .whereRef('mm.model_id', '=', 'm.model_id')
              .where('mm.key', '=', key)
              .where(() => cond)
              .where(() => onDatasets),
          ),
        );
        metricFiltered = true;
        continue;
      }
      const numeric: Record<string, 'm.creation_timestamp_ms' | 'm.last_updated_timestamp_ms'> = {
        creation_timestamp: 'm.creation_timestamp_ms',
        creation_time: 'm.creation_timestamp_ms',
        last_updated_timestamp: 'm.last_updated_timestamp_ms',
      };
      const strings: Record<string, 'm.name' | 'm.model_id' | 'm.model_type' | 'm.source_run_id'> = {
        name: 'm.name',
        model_id: 'm.model_id',
        model_type: 'm.model_type',
        source_run_id: 'm.source_run_id',
      };
      const key = c.key.toLowerCase();
      if (numeric[key]) {
        if (typeof c.value !== 'number')
          throw bad(`'${c.key}' is compared with a number, got ${JSON.stringify(c.value)}`);
        const cond = numericComparison(sql.ref(numeric[key]!), c.comparator, c.value);
        q = q.where(() => cond);
      } else if (strings[key]) {
        const cond = stringComparison(sql.ref(strings[key]!), c.comparator, c.value, dialect);
        q = q.where(() => cond);
      } else if (key === 'status') {
        if (c.comparator !== '=' && c.comparator !== '!=') throw bad('status is compared with = or !=');
        const s = parseLoggedModelStatus(c.value);
        q = q.where('m.status', c.comparator === '=' ? '=' : '<>', s);
      } else {
        throw bad(
          `Invalid attribute key '${c.key}' in the filter; use name, model_id, model_type, status, source_run_id, creation_timestamp, last_updated_timestamp, params.<key> or tags.<key>`,
        );
      }
    }
    // Datasets without a metric filter: models with any metric on one of them.
    if (datasets.length && !metricFiltered) {
      const onDatasets = datasetCondition(datasets);
      q = q.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('tracking_model_metrics as mm')
            .select(sql.lit(1).as('one'))
            .whereRef('mm.model_id', '=', 'm.model_id')
            .where(() => onDatasets),
        ),
      );
    }
    const orderBy = input.order_by === undefined || input.order_by === null ? [] : input.order_by;
    if (!Array.isArray(orderBy))
      throw bad("Invalid value for parameter 'order_by': it must be a list of {field_name, ascending} objects.");
    const columns: Record<string, 'm.creation_timestamp_ms' | 'm.last_updated_timestamp_ms' | 'm.name' | 'm.model_id'> =
      {
        creation_timestamp: 'm.creation_timestamp_ms',
        creation_time: 'm.creation_timestamp_ms',
        last_updated_timestamp: 'm.last_updated_timestamp_ms',
        name: 'm.name',
        model_id: 'm.model_id',
      };
    const used = new Set<string>();
    for (const o of orderBy as {
      field_name?: unknown;
      ascending?: unknown;
      dataset_name?: unknown;
      dataset_digest?: unknown;
    }[]) {
      const field = checkString(o?.field_name, 'order_by.field_name', { required: true })!;
      if (field.startsWith('metrics.')) {
        // The model's latest value of the metric (by timestamp, then step; first run id on a tie),
        // on the given dataset if any; models without it last, as MLflow orders them.
        const key = field.slice('metrics.'.length);
        const dsName = checkString(o.dataset_name, 'order_by.dataset_name') || undefined;
        const dsDigest = checkString(o.dataset_digest, 'order_by.dataset_digest') || undefined;
        const latest = sql`(select mm.value from tracking_model_metrics mm where mm.model_id = m.model_id and mm.key = ${key}${dsName === undefined ? sql`` : sql` and mm.dataset_name = ${dsName}`}${dsDigest === undefined ? sql`` : sql` and mm.dataset_digest = ${dsDigest}`} order by mm.timestamp desc, mm.step desc, mm.run_uuid asc limit 1)`;
        q = q
          .orderBy(sql`case when ${latest} is null then 1 else 0 end`, 'asc')
          .orderBy(latest, o.ascending === false ? 'desc' : 'asc');
        continue;
      }
      const col = columns[field.toLowerCase()];
      if (!col) throw bad(`Invalid order_by field '${field}'; use one of ${Object.keys(columns).join(', ')}`);
      used.add(col);
      q = q.orderBy(col, o.ascending === false ? 'desc' : 'asc');
    }
    if (!used.has('m.creation_timestamp_ms')) q = q.orderBy('m.creation_timestamp_ms', 'desc');
    if (!used.has('m.model_id')) q = q.orderBy('m.model_id', 'asc');
    const rows = await q
      .limit(maxResults + 1)
      .offset(offset)
      .execute();
    const page = rows.slice(0, maxResults);
    const result: { models: LoggedModelJson[]; next_page_token?: string } = { models: await this.toJson(page) };
    if (rows.length > maxResults) result.next_page_token = pageToken(offset + maxResults);
    return result;
  }

  /** Where a model's artifacts are in the workspace's artifact store, or 501 if elsewhere. */
  private artifactRoot(row: LoggedModelRow): string {
    const p = proxiedArtifactPath(row.artifact_location);
    if (p === undefined)
      throw new NotImplemented(
        `the artifacts of logged model '${row.model_id}' are at '${row.artifact_location}', outside this server's artifact store; read them from there`,
      );
    return p;
  }

  async listArtifacts(
    ws: WorkspaceRef,
    modelId: unknown,
    directory?: string,
  ): Promise<{ root_uri: string; files: ArtifactFileInfo[] }> {
    const row = await this.row(ws, modelId);
    const root = this.artifactRoot(row);
    const dir = directory ? directory.replace(/^\/+|\/+$/g, '') : '';
    if (dir.split('/').some((s) => s === '..')) throw bad(`Invalid path '${directory}': it must not contain '..'`);
    const files = await this.artifacts.list(ws, dir ? `${root}/${dir}` : root);
    return {
      root_uri: row.artifact_location,
      files: files.map((f) => ({ ...f, path: dir ? `${dir}/${f.path}` : f.path })),
    };
  }

  /** The artifact path of one of the model's files (for download through the artifact service). */
  async artifactPath(ws: WorkspaceRef, modelId: unknown, file: unknown): Promise<string> {
    const row = await this.row(ws, modelId);
    const f = checkString(file, 'artifact_file_path', { required: true })!;
    if (f.split('/').some((s) => s === '..')) throw bad(`Invalid path '${f}': it must not contain '..'`);
    return `${this.artifactRoot(row)}/${f.replace(/^\/+/, '')}`;
  }
}
