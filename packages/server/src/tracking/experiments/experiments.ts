import type { Kysely } from 'kysely';
import type { Tables } from '../../store/schema.js';
import type { Database } from '../../store/database.js';
import { Conflict, InvalidInput, NotFound } from '../../errors.js';
import type { ExperimentRow } from './tables.js';
import './tables.js';
import {
  LIMITS,
  decodeFully,
  checkExperimentId,
  checkExperimentName,
  checkLength,
  checkTagKey,
  checkViewType,
  stagesOf,
  type ViewType,
} from '../shared/validation.js';
import { compileExperimentSearch, decodeOffsetToken, encodeOffsetToken } from '../shared/search.js';

export const DEFAULT_EXPERIMENT_ID = 0;
export const DEFAULT_EXPERIMENT_NAME = 'Default';

export interface Tag {
  key: string;
  value: string;
}

/** MLflow's Experiment message (proto JSON: empty fields left out). */
export interface ExperimentView {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: string;
  last_update_time: number;
  creation_time: number;
  tags?: Tag[];
}

/** Artifact root of an experiment: proxied through this server, as `mlflow server --serve-artifacts`. */
export const experimentArtifactLocation = (experimentId: number): string => `mlflow-artifacts:/${experimentId}`;

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return (
    err?.code === '23505' ||
    err?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    /UNIQUE constraint failed|duplicate key/.test(err?.message ?? '')
  );
}

/** Experiments of workspaces (MLflow semantics; mlflow/store/tracking/sqlalchemy_store.py). */
export class ExperimentService {
  private readonly db: Kysely<Tables>;
  /** Workspaces whose Default experiment is known to exist (made lazily, once). */
  private readonly defaults = new Set<string>();

  constructor(private readonly database: Database) {
    this.db = database.db;
  }

  /** Every workspace has experiment "0", `Default`; made the first time the workspace is tracked into. */
  async ensureDefault(ws: string): Promise<void> {
    if (this.defaults.has(ws)) return;
    const now = Date.now();
    await this.db
      .insertInto('tracking_experiments')
      .values({
        workspace_id: ws,
        experiment_id: DEFAULT_EXPERIMENT_ID,
        name: DEFAULT_EXPERIMENT_NAME,
        artifact_location: experimentArtifactLocation(0),
        lifecycle_stage: 'active',
        creation_time: now,
        last_update_time: now,
      })
      .onConflict((oc) => oc.doNothing())
      .execute()
      .catch((e) => {
        // A user experiment may already be called "Default": the workspace then has no "0".
        if (!isUniqueViolation(e)) throw e;
      });
    if (this.defaults.size > 100000) this.defaults.clear();
    this.defaults.add(ws);
  }

  async create(ws: string, name: unknown, artifactLocation: unknown, tags: unknown): Promise<string> {
    const n = checkExperimentName(name);
    if (artifactLocation !== undefined && artifactLocation !== null && artifactLocation !== '') {
      if (typeof artifactLocation !== 'string') throw new InvalidInput('artifact_location must be a string');
      if (artifactLocation.startsWith('runs:'))
        throw new InvalidInput(`Artifact location cannot be a runs:/ URI. Given: '${artifactLocation}'`);
      checkArtifactLocation(artifactLocation);
      // Room for the run suffix ('/<32-hex run id>/artifacts') within the 1000-character column.
      checkLength('artifact_location', 900, artifactLocation);
    }
    const tagList = checkTags(tags, 'experiment');
    await this.ensureDefault(ws);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.database.write(async ({ db: trx }) => {
          const existing = await trx
            .selectFrom('tracking_experiments')
            .select(['lifecycle_stage'])
            .where('workspace_id', '=', ws)
            .where('name', '=', n)
            .executeTakeFirst();
          if (existing) {
            throw new Conflict(
              existing.lifecycle_stage === 'deleted'
                ? `Experiment '${n}' already exists in deleted state. You can restore the experiment, or permanently delete the experiment to create a new one with the same name.`
                : `Experiment(name=${n}) already exists.`,
              { code: 'EXPERIMENT_EXISTS' },
            );
          }
          const max = await trx
            .selectFrom('tracking_experiments')
            .select((eb) => eb.fn.max('experiment_id').as('m'))
            .where('workspace_id', '=', ws)
            .executeTakeFirst();
          const id = Math.max(Number(max?.m ?? 0), 0) + 1;
          const now = Date.now();
          const location =
            typeof artifactLocation === 'string' && artifactLocation
              ? artifactLocation
              : experimentArtifactLocation(id);
          await trx
            .insertInto('tracking_experiments')
            .values({
              workspace_id: ws,
              experiment_id: id,
              name: n,
              artifact_location: location,
              lifecycle_stage: 'active',
              creation_time: now,
              last_update_time: now,
            })
            .execute();
          if (tagList.length)
            await trx
              .insertInto('tracking_experiment_tags')
              .values(tagList.map((t) => ({ workspace_id: ws, experiment_id: id, key: t.key, value: t.value })))
              .execute();
          return String(id);
        });
      } catch (e) {
        // Two creations raced for the same id (PostgreSQL): take the next one.
        if (isUniqueViolation(e) && attempt < 5) continue;
        if (isUniqueViolation(e))
          throw new Conflict(`Experiment(name=${n}) already exists.`, { code: 'EXPERIMENT_EXISTS' });
        throw e;
      }
    }
  }

  /** The row of an experiment; NotFound unless it exists in the workspace (in the given stages). */
  async row(ws: string, id: unknown, stages?: string[]): Promise<ExperimentRow> {
    const eid = checkExperimentId(id);
    if (eid === DEFAULT_EXPERIMENT_ID) await this.ensureDefault(ws);
    const row = await this.db
      .selectFrom('tracking_experiments')
      .selectAll()
      .where('workspace_id', '=', ws)
      .where('experiment_id', '=', eid)
      .executeTakeFirst();
    if (!row || (stages && !stages.includes(row.lifecycle_stage)))
      throw new NotFound(`No Experiment with id=${eid} exists`, { code: 'EXPERIMENT_NOT_FOUND' });
    return row;
  }

  /** The experiment, which must be active (to log into it, rename it, tag it). */
  async requireActive(ws: string, id: unknown): Promise<ExperimentRow> {
    const row = await this.row(ws, id);
    if (row.lifecycle_stage !== 'active') {
      throw new InvalidInput(
        `The experiment ${row.experiment_id} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`,
        { code: 'EXPERIMENT_NOT_ACTIVE' },
      );
    }
    return row;
  }

  async get(ws: string, id: unknown): Promise<ExperimentView> {
    const row = await this.row(ws, id);
    return (await this.views(ws, [row]))[0]!;
  }

  async getByName(ws: string, name: unknown): Promise<ExperimentView> {
    if (typeof name !== 'string' || name === '')
      throw new InvalidInput(
        "Missing value for required parameter 'experiment_name'. See the API docs for more information about request parameters.",
      );
    await this.ensureDefault(ws);
    const row = await this.db
      .selectFrom('tracking_experiments')
      .selectAll()
      .where('workspace_id', '=', ws)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw new NotFound(`Could not find experiment with name '${name}'`, { code: 'EXPERIMENT_NOT_FOUND' });
    return (await this.views(ws, [row]))[0]!;
  }

  async rename(ws: string, id: unknown, newName: unknown): Promise<void> {
    const n = checkExperimentName(newName);
    const row = await this.row(ws, id);
    if (row.lifecycle_stage !== 'active')
      throw new InvalidInput('Cannot rename a non-active experiment.', { code: 'EXPERIMENT_NOT_ACTIVE' });
    if (row.name === n) return;
    try {
      await this.db
        .updateTable('tracking_experiments')
        .set({ name: n, last_update_time: Date.now() })
        .where('workspace_id', '=', ws)
        .where('experiment_id', '=', row.experiment_id)
        .execute();
    } catch (e) {
      if (isUniqueViolation(e))
        throw new Conflict(`Experiment(name=${n}) already exists.`, { code: 'EXPERIMENT_EXISTS' });
      throw e;
    }
  }

  /** Marks the experiment and its runs deleted (restorable), as MLflow does. */
  async delete(ws: string, id: unknown): Promise<void> {
    const row = await this.row(ws, id, ['active']);
    const now = Date.now();
    await this.database.write(async ({ db: trx }) => {
      await trx
        .updateTable('tracking_experiments')
        .set({ lifecycle_stage: 'deleted', last_update_time: now })
        .where('workspace_id', '=', ws)
        .where('experiment_id', '=', row.experiment_id)
        .execute();
      await trx
        .updateTable('tracking_runs')
        .set({ lifecycle_stage: 'deleted', deleted_time: now })
        .where('workspace_id', '=', ws)
        .where('experiment_id', '=', row.experiment_id)
        .where('lifecycle_stage', '=', 'active')
        .execute();
    });
  }

  async restore(ws: string, id: unknown): Promise<void> {
    const row = await this.row(ws, id, ['deleted']);
    const now = Date.now();
    await this.database.write(async ({ db: trx }) => {
      await trx
        .updateTable('tracking_experiments')
        .set({ lifecycle_stage: 'active', last_update_time: now })
        .where('workspace_id', '=', ws)
        .where('experiment_id', '=', row.experiment_id)
        .execute();
      await trx
        .updateTable('tracking_runs')
        .set({ lifecycle_stage: 'active', deleted_time: null })
        .where('workspace_id', '=', ws)
        .where('experiment_id', '=', row.experiment_id)
        .where('lifecycle_stage', '=', 'deleted')
        .execute();
    });
  }

  async setTag(ws: string, id: unknown, key: unknown, value: unknown): Promise<void> {
    const [tag] = checkTags([{ key, value }], 'experiment');
    const row = await this.requireActive(ws, id);
    await this.db
      .insertInto('tracking_experiment_tags')
      .values({ workspace_id: ws, experiment_id: row.experiment_id, key: tag!.key, value: tag!.value })
      .onConflict((oc) => oc.columns(['workspace_id', 'experiment_id', 'key']).doUpdateSet({ value: tag!.value }))
      .execute();
  }

  async deleteTag(ws: string, id: unknown, key: unknown): Promise<void> {
    if (typeof key !== 'string' || key === '')
      throw new InvalidInput(
        "Missing value for required parameter 'key'. See the API docs for more information about request parameters.",
      );
    const row = await this.requireActive(ws, id);
    const res = await this.db
      .deleteFrom('tracking_experiment_tags')
      .where('workspace_id', '=', ws)
      .where('experiment_id', '=', row.experiment_id)
      .where('key', '=', key)
      .executeTakeFirst();
    if (Number(res.numDeletedRows) === 0)
      throw new NotFound(`No tag with name: ${key} in experiment with id ${row.experiment_id}`, {
        code: 'TAG_NOT_FOUND',
      });
  }

  async search(
    ws: string,
    req: { view_type?: unknown; max_results?: unknown; filter?: unknown; order_by?: unknown; page_token?: unknown },
  ): Promise<{ experiments: ExperimentView[]; next_page_token?: string }> {
    const view: ViewType = checkViewType(req.view_type);
    const max =
      req.max_results === undefined || req.max_results === null || req.max_results === ''
        ? 1000
        : Number(req.max_results);
    if (!Number.isInteger(max) || max < 1)
      throw new InvalidInput(
        `Invalid value for request parameter max_results. It must be a positive integer, but got ${String(req.max_results)}`,
      );
    if (max > LIMITS.searchExperimentsMaxResults)
      throw new InvalidInput(
        `Invalid value ${max} for parameter 'max_results' supplied. It must be at most ${LIMITS.searchExperimentsMaxResults}`,
      );
    const offset = decodeOffsetToken(req.page_token);
    await this.ensureDefault(ws);
    const compiled = compileExperimentSearch(this.database.dialect, {
      workspaceId: ws,
      stages: stagesOf(view),
      filter:
        typeof req.filter === 'string'
          ? req.filter
          : req.filter === undefined || req.filter === null
            ? ''
            : (() => {
                throw new InvalidInput('filter must be a string');
              })(),
      orderBy: toStringList(req.order_by, 'order_by'),
      limit: max + 1,
      offset,
    });
    const rows = (await compiled.execute(this.db)).rows as ExperimentRow[];
    const page = rows.slice(0, max);
    const out: { experiments: ExperimentView[]; next_page_token?: string } = {
      experiments: await this.views(ws, page),
    };
    if (rows.length > max) out.next_page_token = encodeOffsetToken(offset + max);
    return out;
  }

  async views(ws: string, rows: ExperimentRow[]): Promise<ExperimentView[]> {
    if (rows.length === 0) return [];
    const tags = await this.db
      .selectFrom('tracking_experiment_tags')
      .select(['experiment_id', 'key', 'value'])
      .where('workspace_id', '=', ws)
      .where(
        'experiment_id',
        'in',
        rows.map((r) => r.experiment_id),
      )
      .orderBy('key')
      .execute();
    const byId = new Map<number, Tag[]>();
    for (const t of tags) {
      const id = Number(t.experiment_id);
      let l = byId.get(id);
      if (!l) byId.set(id, (l = []));
      l.push({ key: t.key, value: t.value });
    }
    return rows.map((r) => {
      const v: ExperimentView = {
        experiment_id: String(r.experiment_id),
        name: r.name,
        artifact_location: r.artifact_location,
        lifecycle_stage: r.lifecycle_stage,
        last_update_time: Number(r.last_update_time),
        creation_time: Number(r.creation_time),
      };
      const t = byId.get(Number(r.experiment_id));
      if (t?.length) v.tags = t;
      return v;
    });
  }
}

/**
 * An experiment's own artifact location. MLflow's server makes a local path absolute on the
 * server's machine; this server refuses local paths (relative, absolute, file:, drive letters): a
 * path of the server's machine is not the caller's to choose and is outside the workspace's artifact
 * store. Remote URIs (s3://, wasbs://, gs://, …; the client writes there) and mlflow-artifacts:/
 * paths within the workspace's store are accepted; none may climb out with '..'.
 */
export function checkArtifactLocation(location: string): void {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(location)?.[1]?.toLowerCase();
  if (!scheme || scheme === 'file' || scheme.length === 1 /* a Windows drive letter */) {
    throw new InvalidInput(
      `Invalid artifact_location '${location}': local paths are not accepted by this server. Leave artifact_location out to keep the experiment's artifacts in the workspace's artifact store (mlflow-artifacts:/<experiment_id>), or give a remote URI such as s3://bucket/prefix or wasbs://container@account.blob.core.windows.net/prefix.`,
    );
  }
  const decoded = decodeFully(location);
  if (
    decoded.includes('\0') ||
    decoded
      .slice(scheme.length + 1)
      .split(/[/\\]/)
      .some((seg) => seg === '..')
  ) {
    throw new InvalidInput(
      `Invalid artifact_location '${location}': it must not contain relative path references ('..') or NUL characters.`,
    );
  }
}

/** A list of strings from a request (JSON array, or one string / repeated query parameter). */
export function toStringList(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  for (const s of list) if (typeof s !== 'string') throw new InvalidInput(`${what} must be a list of strings`);
  return list as string[];
}

/** Validates a list of {key, value} tags (experiment tag limits, or run tag limits). */
export function checkTags(tags: unknown, kind: 'experiment' | 'run'): Tag[] {
  if (tags === undefined || tags === null) return [];
  if (!Array.isArray(tags)) throw new InvalidInput('tags must be a list of {key, value} objects');
  const out: Tag[] = [];
  for (const t of tags) {
    if (typeof t !== 'object' || t === null) throw new InvalidInput('tags must be a list of {key, value} objects');
    const { key, value } = t as { key?: unknown; value?: unknown };
    const k = checkTagKey(key, kind === 'experiment' ? LIMITS.experimentTagKey : LIMITS.entityKey);
    if (value !== undefined && value !== null && typeof value !== 'string')
      throw new InvalidInput(`Tag '${k}' must have a string value`);
    const v = checkLength(
      'Tag value',
      kind === 'experiment' ? LIMITS.experimentTagValue : LIMITS.tagValue,
      (value as string | undefined) ?? '',
    );
    out.push({ key: k, value: v });
  }
  return out;
}
