import { sql, type Kysely, type Transaction } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Tables } from '../../store/schema.js';
import { Conflict, NotFound } from '../../errors.js';
import type { WorkspaceRef } from '../artifacts/artifacts.js';
import type { LoggedModelService } from '../logged-models/logged-models.js';
import type { ModelVersionRow, RegisteredModelRow } from './tables.js';
import {
  ACTIVE_STAGES,
  STAGE_DELETED,
  STAGES,
  bad,
  canonicalStage,
  checkAlias,
  checkDescription,
  checkModelName,
  checkSource,
  checkString,
  checkTagKey,
  checkTagValue,
  checkTags,
  checkVersion,
} from './registry-validation.js';
import {
  numericComparison,
  pageToken,
  parseFilter,
  parseOrderBy,
  parsePageToken,
  stringComparison,
  type FilterClause,
} from './registry-search.js';
import { trackingSql } from '../shared/dialects/index.js';
import './tables.js';
import type { Tx } from '../../store/database.js';
import { rowLocks } from '../../store/row-locks.js';

export interface ModelVersionJson {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id?: string;
  current_stage: string;
  description?: string;
  source: string;
  run_id?: string;
  status: string;
  status_message?: string;
  tags: { key: string; value: string }[];
  run_link?: string;
  aliases: string[];
  model_id?: string;
}

export interface RegisteredModelJson {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id?: string;
  description?: string;
  latest_versions: ModelVersionJson[];
  tags: { key: string; value: string }[];
  aliases: { alias: string; version: string }[];
}

const PROMPT_TAG = 'mlflow.prompt.is_prompt';
const RM_SEARCH_DEFAULT = 100;
const RM_SEARCH_MAX = 1000;
const MV_SEARCH_DEFAULT = 10_000;
const MV_SEARCH_MAX = 200_000;

type Db = Kysely<Tables> | Transaction<Tables>;

/** Who uses any of a model's `versions` in a workspace (descriptions, e.g. "deployment 'blue' of online endpoint 'ep'"), read in `tx`. */
export type ModelVersionUsers = (
  tx: Pick<Tx, 'db'>,
  ws: WorkspaceRef,
  name: string,
  versions: number[],
) => Promise<string[]>;

const notFoundModel = (name: string): NotFound =>
  new NotFound(`Registered Model with name=${name} not found`, { code: 'REGISTERED_MODEL_NOT_FOUND' });
const notFoundVersion = (name: string, version: number | string): NotFound =>
  new NotFound(`Model Version (name=${name}, version=${version}) not found`, { code: 'MODEL_VERSION_NOT_FOUND' });
const exists = (name: string): Conflict =>
  new Conflict(`Registered Model (name=${name}) already exists.`, { code: 'REGISTERED_MODEL_EXISTS' });

/** A unique-key violation on either dialect (a concurrent writer won the race). */
function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return (
    err?.code === '23505' ||
    err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    err?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    /UNIQUE constraint failed/.test(err?.message ?? '')
  );
}

/**
 * Prompts live in the registry but are not models: a search returns them only when its filter
 * asks for them (tag `mlflow.prompt.is_prompt` = 'true' or != 'false'); otherwise the prompt tag
 * condition (MLflow's client always adds `!= 'true'`) is dropped and prompts are left out.
 */
function splitPromptFilter(clauses: FilterClause[]): { clauses: FilterClause[]; prompts: boolean } {
  const hit = clauses.find((c) => c.type === 'tag' && c.key === PROMPT_TAG);
  const v = String(hit?.value ?? '').toLowerCase();
  const prompts = Boolean(
    hit && ((hit.comparator === '=' && v === 'true') || (hit.comparator === '!=' && v === 'false')),
  );
  return { clauses: prompts ? clauses : clauses.filter((c) => !(c.type === 'tag' && c.key === PROMPT_TAG)), prompts };
}

function parseMaxResults(value: unknown, def: number, max: number): number {
  if (value === undefined || value === null || value === '') return def;
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1)
    throw bad(`Invalid value for max_results. It must be a positive integer, but got ${String(value)}`);
  if (n > max)
    throw bad(`Invalid value for request parameter max_results. It must be at most ${max}, but got value ${n}`);
  return n;
}

/**
 * MLflow's model registry for one workspace: registered models with tags and aliases, numbered
 * versions with stages and tags. Sources are referenced, not copied (as MLflow's server does);
 * `models:/…` sources are resolved to the artifact location they name.
 */
export class RegistryService {
  /**
   * Who uses a model version (online deployments, hence azureml-core's webservices: registered at
   * the composition root); a version, or a model with such a version, is not deleted while any does.
   */
  readonly versionUsers: ModelVersionUsers[] = [];
  /** Test-only: called inside a version's or model's delete after the in-use check, before the delete. */
  testHooks: { inUseChecked?: () => Promise<void> } = {};

  constructor(
    private readonly ctx: AppContext,
    private readonly loggedModels: LoggedModelService,
  ) {}

  /**
   * Holds a version in a write transaction that comes to use it (a deployment written): its row
   * locked FOR SHARE until the transaction ends, so a delete of it waits for that write and then
   * sees the user, or this waits for the delete and then throws MODEL_VERSION_NOT_FOUND.
   */
  async holdVersion(tx: Tx, ws: Pick<WorkspaceRef, 'workspaceId'>, name: string, version: number): Promise<void> {
    const q = tx.db
      .selectFrom('mlflow_model_versions')
      .select('version')
      .where('workspace_id', '=', ws.workspaceId)
      .where('name', '=', name)
      .where('version', '=', version)
      .where('current_stage', '<>', STAGE_DELETED);
    if (!(await rowLocks(tx).forShare(q).executeTakeFirst())) throw notFoundVersion(name, version);
  }

  /**
   * The delete side of `holdVersion`: holds the model's live versions (`version`: that one only)
   * FOR UPDATE and refuses (409 ASSET_IN_USE, naming the users) while anything uses one of them.
   * Read in the delete's own transaction, so no user can come between the check and the delete.
   */
  private async refuseInUse(tx: Tx, ws: WorkspaceRef, name: string, version?: number): Promise<void> {
    let q = tx.db
      .selectFrom('mlflow_model_versions')
      .select('version')
      .where('workspace_id', '=', ws.workspaceId)
      .where('name', '=', name)
      .where('current_stage', '<>', STAGE_DELETED);
    if (version !== undefined) q = q.where('version', '=', version);
    const versions = (await rowLocks(tx).forUpdate(q).execute()).map((r) => Number(r.version));
    const users: string[] = [];
    if (versions.length) for (const u of this.versionUsers) users.push(...(await u(tx, ws, name, versions)));
    if (users.length)
      throw new Conflict(
        `model '${name}' ${version === undefined ? 'has versions' : `version ${version} is`} used by ${users.join(', ')}; delete the deployment(s) (or move them to another model version) first`,
        { code: 'ASSET_IN_USE' },
      );
    await this.testHooks.inUseChecked?.();
  }

  private get db(): Kysely<Tables> {
    return this.ctx.db;
  }

  private async modelRow(db: Db, ws: WorkspaceRef, name: string): Promise<RegisteredModelRow> {
    const row = await db
      .selectFrom('mlflow_registered_models')
      .selectAll()
      .where('workspace_id', '=', ws.workspaceId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFoundModel(name);
    return row;
  }

  private async versionRow(db: Db, ws: WorkspaceRef, name: string, version: number): Promise<ModelVersionRow> {
    const row = await db
      .selectFrom('mlflow_model_versions')
      .selectAll()
      .where('workspace_id', '=', ws.workspaceId)
      .where('name', '=', name)
      .where('version', '=', version)
      .where('current_stage', '<>', STAGE_DELETED)
      .executeTakeFirst();
    if (!row) throw notFoundVersion(name, version);
    return row;
  }

  // ---- JSON shapes ----------------------------------------------------------------------

  private async versionsJson(ws: WorkspaceRef, rows: ModelVersionRow[]): Promise<ModelVersionJson[]> {
    if (rows.length === 0) return [];
    const names = [...new Set(rows.map((r) => r.name))];
    const [tags, aliases] = await Promise.all([
      this.db
        .selectFrom('mlflow_model_version_tags')
        .selectAll()
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', 'in', names)
        .orderBy('key')
        .execute(),
      this.db
        .selectFrom('mlflow_registered_model_aliases')
        .selectAll()
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', 'in', names)
        .orderBy('alias')
        .execute(),
    ]);
    return rows.map((r) => {
      const mv: ModelVersionJson = {
        name: r.name,
        version: String(r.version),
        creation_timestamp: r.creation_time,
        last_updated_timestamp: r.last_updated_time,
        current_stage: r.current_stage,
        source: r.source,
        status: r.status,
        tags: tags
          .filter((t) => t.name === r.name && t.version === r.version)
          .map((t) => ({ key: t.key, value: t.value ?? '' })),
        aliases: aliases.filter((a) => a.name === r.name && a.version === r.version).map((a) => a.alias),
      };
      if (r.user_id) mv.user_id = r.user_id;
      // MLflow's REST-created versions always carry a description (the request's, or "").
      mv.description = r.description ?? '';
      if (r.run_id) mv.run_id = r.run_id;
      if (r.status_message) mv.status_message = r.status_message;
      if (r.run_link) mv.run_link = r.run_link;
      if (r.model_id) mv.model_id = r.model_id;
      return mv;
    });
  }

  /** The highest version of each stage of each model (MLflow's `latest_versions`). */
  private async latestVersionRows(ws: WorkspaceRef, names: string[]): Promise<ModelVersionRow[]> {
    if (names.length === 0) return [];
    return this.db
      .selectFrom('mlflow_model_versions as v')
      .selectAll('v')
      .where('v.workspace_id', '=', ws.workspaceId)
      .where('v.name', 'in', names)
      .where('v.current_stage', '<>', STAGE_DELETED)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('mlflow_model_versions as w')
              .select(sql.lit(1).as('one'))
              .whereRef('w.workspace_id', '=', 'v.workspace_id')
              .whereRef('w.name', '=', 'v.name')
              .whereRef('w.current_stage', '=', 'v.current_stage')
              .whereRef('w.version', '>', 'v.version'),
          ),
        ),
      )
      .orderBy('v.name')
      .orderBy('v.version')
      .execute();
  }

  private async modelsJson(ws: WorkspaceRef, rows: RegisteredModelRow[]): Promise<RegisteredModelJson[]> {
    if (rows.length === 0) return [];
    const names = rows.map((r) => r.name);
    const [tags, aliases, latest] = await Promise.all([
      this.db
        .selectFrom('mlflow_registered_model_tags')
        .selectAll()
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', 'in', names)
        .orderBy('key')
        .execute(),
      this.db
        .selectFrom('mlflow_registered_model_aliases')
        .selectAll()
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', 'in', names)
        .orderBy('alias')
        .execute(),
      this.latestVersionRows(ws, names).then((r) => this.versionsJson(ws, r)),
    ]);
    return rows.map((r) => {
      const rm: RegisteredModelJson = {
        name: r.name,
        creation_timestamp: r.creation_time,
        last_updated_timestamp: r.last_updated_time,
        latest_versions: latest.filter((v) => v.name === r.name),
        tags: tags.filter((t) => t.name === r.name).map((t) => ({ key: t.key, value: t.value ?? '' })),
        aliases: aliases.filter((a) => a.name === r.name).map((a) => ({ alias: a.alias, version: String(a.version) })),
      };
      if (r.user_id) rm.user_id = r.user_id;
      if (r.description) rm.description = r.description;
      return rm;
    });
  }

  // ---- registered models ------------------------------------------------------------------

  async createRegisteredModel(
    ws: WorkspaceRef,
    input: { name?: unknown; tags?: unknown; description?: unknown },
    userId: string | null,
  ): Promise<RegisteredModelJson> {
    const name = checkModelName(input.name);
    const tags = checkTags(input.tags);
    const description = checkDescription(input.description);
    const now = Date.now();
    const row: RegisteredModelRow = {
      workspace_id: ws.workspaceId,
      name,
      creation_time: now,
      last_updated_time: now,
      description,
      user_id: userId,
    };
    try {
      await this.ctx.database.write(async ({ db: trx }) => {
        const existing = await trx
          .selectFrom('mlflow_registered_models')
          .select('name')
          .where('workspace_id', '=', ws.workspaceId)
          .where('name', '=', name)
          .executeTakeFirst();
        if (existing) throw exists(name);
        await trx.insertInto('mlflow_registered_models').values(row).execute();
        if (tags.length)
          await trx
            .insertInto('mlflow_registered_model_tags')
            .values(tags.map((t) => ({ workspace_id: ws.workspaceId, name, key: t.key, value: t.value })))
            .execute();
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw exists(name);
      throw e;
    }
    return (await this.modelsJson(ws, [row]))[0]!;
  }

  async getRegisteredModel(ws: WorkspaceRef, name: unknown): Promise<RegisteredModelJson> {
    const n = checkModelName(name);
    return (await this.modelsJson(ws, [await this.modelRow(this.db, ws, n)]))[0]!;
  }

  async updateRegisteredModel(ws: WorkspaceRef, name: unknown, description: unknown): Promise<RegisteredModelJson> {
    const n = checkModelName(name);
    const d = checkDescription(description);
    const row = await this.modelRow(this.db, ws, n);
    const now = Date.now();
    await this.db
      .updateTable('mlflow_registered_models')
      .set({ description: d, last_updated_time: now })
      .where('workspace_id', '=', ws.workspaceId)
      .where('name', '=', n)
      .execute();
    return (await this.modelsJson(ws, [{ ...row, description: d, last_updated_time: now }]))[0]!;
  }

  async renameRegisteredModel(ws: WorkspaceRef, name: unknown, newName: unknown): Promise<RegisteredModelJson> {
    const n = checkModelName(name);
    const nn = checkModelName(newName, 'new_name');
    const now = Date.now();
    try {
      await this.ctx.database.write(async ({ db: trx }) => {
        await this.modelRow(trx, ws, n);
        if (nn !== n) {
          const clash = await trx
            .selectFrom('mlflow_registered_models')
            .select('name')
            .where('workspace_id', '=', ws.workspaceId)
            .where('name', '=', nn)
            .executeTakeFirst();
          if (clash) throw exists(nn);
        }
        await trx
          .updateTable('mlflow_registered_models')
          .set({ name: nn, last_updated_time: now })
          .where('workspace_id', '=', ws.workspaceId)
          .where('name', '=', n)
          .execute();
        await trx
          .updateTable('mlflow_model_versions')
          .set({ name: nn, last_updated_time: now })
          .where('workspace_id', '=', ws.workspaceId)
          .where('name', '=', n)
          .execute();
        for (const t of [
          'mlflow_registered_model_tags',
          'mlflow_registered_model_aliases',
          'mlflow_model_version_tags',
        ] as const) {
          await trx
            .updateTable(t)
            .set({ name: nn })
            .where('workspace_id', '=', ws.workspaceId)
            .where('name', '=', n)
            .execute();
        }
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw exists(nn);
      throw e;
    }
    return this.getRegisteredModel(ws, nn);
  }

  async deleteRegisteredModel(ws: WorkspaceRef, name: unknown): Promise<void> {
    const n = checkModelName(name);
    await this.ctx.database.write(async (tx) => {
      const trx = tx.db;
      await this.modelRow(trx, ws, n);
      await this.refuseInUse(tx, ws, n);
      for (const t of [
        'mlflow_model_version_tags',
        'mlflow_model_versions',
        'mlflow_registered_model_aliases',
        'mlflow_registered_model_tags',
        'mlflow_registered_models',
      ] as const) {
        await trx.deleteFrom(t).where('workspace_id', '=', ws.workspaceId).where('name', '=', n).execute();
      }
    });
  }

  async searchRegisteredModels(
    ws: WorkspaceRef,
    input: { filter?: unknown; max_results?: unknown; order_by?: unknown; page_token?: unknown },
  ): Promise<{ registered_models: RegisteredModelJson[]; next_page_token?: string }> {
    const maxResults = parseMaxResults(input.max_results, RM_SEARCH_DEFAULT, RM_SEARCH_MAX);
    const { clauses, prompts } = splitPromptFilter(parseFilter(checkString(input.filter, 'filter')));
    const offset = parsePageToken(checkString(input.page_token, 'page_token'));
    const dialect = this.ctx.database.dialect;
    let q = this.db
      .selectFrom('mlflow_registered_models as m')
      .selectAll('m')
      .where('m.workspace_id', '=', ws.workspaceId);
    for (const c of clauses) {
      if (c.type === 'attribute') {
        if (c.key.toLowerCase() !== 'name')
          throw bad(`Invalid attribute name: ${c.key}; registered models can be filtered by name and tags.<key>`);
        if (!['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'].includes(c.comparator))
          throw bad(`Invalid comparator for attribute: ${c.comparator}`);
        const cond = stringComparison(sql.ref('m.name'), c.comparator, c.value, dialect);
        q = q.where(() => cond);
      } else {
        q = q.where(this.tagCondition('mlflow_registered_model_tags', c, dialect, 'm'));
      }
    }
    if (!prompts) {
      q = q.where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('mlflow_registered_model_tags as p')
              .select(sql.lit(1).as('one'))
              .whereRef('p.workspace_id', '=', 'm.workspace_id')
              .whereRef('p.name', '=', 'm.name')
              .where('p.key', '=', PROMPT_TAG)
              .where('p.value', '=', 'true'),
          ),
        ),
      );
    }
    const orderBy = this.orderByList(input.order_by);
    const seen = new Set<string>();
    for (const clause of orderBy) {
      const { key, ascending } = parseOrderBy(clause, [
        'name',
        'timestamp',
        'creation_timestamp',
        'last_updated_timestamp',
      ]);
      const col = key === 'name' ? 'm.name' : key === 'creation_timestamp' ? 'm.creation_time' : 'm.last_updated_time';
      if (seen.has(col)) throw bad(`\`order_by\` contains duplicate fields: ${JSON.stringify(orderBy)}`);
      seen.add(col);
      q = q.orderBy(col, ascending ? 'asc' : 'desc');
    }
    if (!seen.has('m.name')) q = q.orderBy('m.name', 'asc');
    const rows = await q
      .limit(maxResults + 1)
      .offset(offset)
      .execute();
    const result: { registered_models: RegisteredModelJson[]; next_page_token?: string } = {
      registered_models: await this.modelsJson(ws, rows.slice(0, maxResults)),
    };
    if (rows.length > maxResults) result.next_page_token = pageToken(offset + maxResults);
    return result;
  }

  private orderByList(value: unknown): string[] {
    if (value === undefined || value === null) return [];
    const list = Array.isArray(value) ? value : [value];
    return list.map((v, i) => checkString(v, `order_by[${i}]`, { required: true })!);
  }

  private tagCondition(
    table: 'mlflow_registered_model_tags' | 'mlflow_model_version_tags',
    c: FilterClause,
    dialect: 'sqlite' | 'postgres',
    alias: 'm' | 'v',
  ) {
    if (!['=', '!=', 'LIKE', 'ILIKE'].includes(c.comparator)) throw bad(`Invalid comparator for tag: ${c.comparator}`);
    const cond = stringComparison(sql.ref('t.value'), c.comparator, c.value, dialect);
    const versionJoin =
      table === 'mlflow_model_version_tags' ? sql`and t.version = ${sql.ref(`${alias}.version`)}` : sql``;
    return sql<boolean>`exists (select 1 from ${sql.table(table)} as t where t.workspace_id = ${sql.ref(`${alias}.workspace_id`)} and t.name = ${sql.ref(`${alias}.name`)} ${versionJoin} and t.key = ${c.key} and ${cond})`;
  }

  async getLatestVersions(ws: WorkspaceRef, name: unknown, stages: unknown): Promise<ModelVersionJson[]> {
    const n = checkModelName(name);
    await this.modelRow(this.db, ws, n);
    let wanted: string[] = [...STAGES];
    if (stages !== undefined && stages !== null) {
      const list = Array.isArray(stages) ? stages : [stages];
      if (list.length > 0) wanted = list.map((s) => canonicalStage(s));
    }
    const rows = (await this.latestVersionRows(ws, [n])).filter((r) => wanted.includes(r.current_stage));
    return this.versionsJson(ws, rows);
  }

  async setRegisteredModelTag(ws: WorkspaceRef, name: unknown, key: unknown, value: unknown): Promise<void> {
    const n = checkModelName(name);
    const k = checkTagKey(key);
    const v = checkTagValue(value);
    await this.ctx.database.write(async ({ db: trx }) => {
      await this.modelRow(trx, ws, n);
      await trx
        .deleteFrom('mlflow_registered_model_tags')
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', '=', n)
        .where('key', '=', k)
        .execute();
      await trx
        .insertInto('mlflow_registered_model_tags')
        .values({ workspace_id: ws.workspaceId, name: n, key: k, value: v })
        .execute();
    });
  }

  async deleteRegisteredModelTag(ws: WorkspaceRef, name: unknown, key: unknown): Promise<void> {
    const n = checkModelName(name);
    const k = checkTagKey(key);
    await this.modelRow(this.db, ws, n);
    await this.db
      .deleteFrom('mlflow_registered_model_tags')
      .where('workspace_id', '=', ws.workspaceId)
      .where('name', '=', n)
      .where('key', '=', k)
      .execute();
  }

  // ---- aliases ---------------------------------------------------------------------------

  async setAlias(ws: WorkspaceRef, name: unknown, alias: unknown, version: unknown): Promise<void> {
    const n = checkModelName(name);
    const a = checkAlias(alias, { reserved: true });
    const v = checkVersion(version);
    await this.ctx.database.write(async ({ db: trx }) => {
      await this.versionRow(trx, ws, n, v);
      await trx
        .deleteFrom('mlflow_registered_model_aliases')
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', '=', n)
        .where('alias', '=', a)
        .execute();
      await trx
        .insertInto('mlflow_registered_model_aliases')
        .values({ workspace_id: ws.workspaceId, name: n, alias: a, version: v })
        .execute();
    });
  }

  async deleteAlias(ws: WorkspaceRef, name: unknown, alias: unknown): Promise<void> {
    const n = checkModelName(name);
    const a = checkAlias(alias);
    await this.modelRow(this.db, ws, n);
    await this.db
      .deleteFrom('mlflow_registered_model_aliases')
      .where('workspace_id', '=', ws.workspaceId)
      .where('name', '=', n)
      .where('alias', '=', a)
      .execute();
  }

  async getVersionByAlias(ws: WorkspaceRef, name: unknown, alias: unknown): Promise<ModelVersionJson> {
    const n = checkModelName(name);
    const a = checkAlias(alias);
    await this.modelRow(this.db, ws, n);
    if (a.toLowerCase() === 'latest') {
      const row = await this.db
        .selectFrom('mlflow_model_versions')
        .selectAll()
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', '=', n)
        .where('current_stage', '<>', STAGE_DELETED)
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (!row) throw new NotFound(`Latest version not found for model ${n}.`, { code: 'MODEL_VERSION_NOT_FOUND' });
      return (await this.versionsJson(ws, [row]))[0]!;
    }
    const hit = await this.db
      .selectFrom('mlflow_registered_model_aliases')
      .selectAll()
      .where('workspace_id', '=', ws.workspaceId)
      .where('name', '=', n)
      .where('alias', '=', a)
      .executeTakeFirst();
    if (!hit) throw bad(`Registered model alias ${a} not found.`);
    return (await this.versionsJson(ws, [await this.versionRow(this.db, ws, n, hit.version)]))[0]!;
  }

  // ---- model versions --------------------------------------------------------------------

  /** Where the bytes of a `models:/…` source are (MLflow's `storage_location`). */
  private async resolveModelsUri(ws: WorkspaceRef, source: string): Promise<{ storage: string; runId?: string }> {
    const rest = source.replace(/^models:\/*/i, '');
    const fail = (why: string) =>
      bad(`Unable to fetch model from model URI source artifact location '${source}'. Error: ${why}`);
    if (/^m-[0-9a-f]{32}$/i.test(rest.replace(/\/.*$/, '')) && !rest.includes('@')) {
      const [modelId, ...sub] = rest.split('/');
      const model = await this.loggedModels.getRow(ws, modelId!).catch(() => {
        throw fail(`Logged model with ID '${modelId}' not found.`);
      });
      const storage = sub.length ? `${model.artifact_location}/${sub.join('/')}` : model.artifact_location;
      return { storage, runId: model.source_run_id ?? undefined };
    }
    const at = /^([^/@]+)@([^/]+)(\/.*)?$/.exec(rest);
    const ver = /^([^/@]+)\/([^/]+)(\/.*)?$/.exec(rest);
    let mv: ModelVersionRow;
    if (at) {
      const a = await this.db
        .selectFrom('mlflow_registered_model_aliases')
        .selectAll()
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', '=', at[1]!)
        .where('alias', '=', at[2]!)
        .executeTakeFirst();
      if (!a) throw fail(`Registered model alias ${at[2]} not found.`);
      mv = await this.versionRow(this.db, ws, at[1]!, a.version).catch(() => {
        throw fail(`Model Version (name=${at[1]}, version=${a.version}) not found`);
      });
      return { storage: `${mv.storage_location ?? mv.source}${at[3] ?? ''}` };
    }
    if (ver) {
      const version = /^\d+$/.test(ver[2]!) ? Number(ver[2]) : NaN;
      if (!Number.isInteger(version)) throw fail(`'${ver[2]}' is not a version number`);
      mv = await this.versionRow(this.db, ws, ver[1]!, version).catch(() => {
        throw fail(`Model Version (name=${ver[1]}, version=${version}) not found`);
      });
      return { storage: `${mv.storage_location ?? mv.source}${ver[3] ?? ''}` };
    }
    throw fail('use models:/<model_id>, models:/<name>/<version> or models:/<name>@<alias>');
  }

  async createModelVersion(
    ws: WorkspaceRef,
    input: {
      name?: unknown;
      source?: unknown;
      run_id?: unknown;
      tags?: unknown;
      run_link?: unknown;
      description?: unknown;
      model_id?: unknown;
    },
    userId: string | null,
    /** A chosen version number (Azure's clients name versions); taken or not positive → 409/400. Default: the next. */
    chosen?: number,
  ): Promise<ModelVersionJson> {
    const name = checkModelName(input.name);
    const source = checkSource(input.source);
    let runId = checkString(input.run_id, 'run_id') || undefined;
    if (runId && runId.length > 64) throw bad("'run_id' exceeds the maximum length of 64 characters");
    const runLink = checkString(input.run_link, 'run_link') || null;
    const description = checkDescription(input.description);
    const modelId = checkString(input.model_id, 'model_id') || undefined;
    const tags = checkTags(input.tags);
    let storage = source;
    if (/^models:/i.test(source)) {
      const r = await this.resolveModelsUri(ws, source);
      storage = r.storage;
      runId ??= r.runId;
    }
    if (modelId) {
      const model = await this.loggedModels.getRow(ws, modelId);
      runId ??= model.source_run_id ?? undefined;
    }
    await this.modelRow(this.db, ws, name);
    let created: ModelVersionRow | undefined;
    for (let attempt = 0; attempt < 5 && !created; attempt++) {
      try {
        created = await this.ctx.database.write(async ({ db: trx }) => {
          const now = Date.now();
          // Version numbers are taken one writer at a time per model: the model's row is locked
          // (SQLite has one writer anyway); a unique-key clash is retried all the same.
          const lock = trx
            .selectFrom('mlflow_registered_models')
            .select('name')
            .where('workspace_id', '=', ws.workspaceId)
            .where('name', '=', name);
          if (!(await trackingSql(this.ctx.database.dialect).forUpdate(lock).executeTakeFirst()))
            throw notFoundModel(name);
          const max = await trx
            .selectFrom('mlflow_model_versions')
            .select((eb) => eb.fn.max('version').as('v'))
            .where('workspace_id', '=', ws.workspaceId)
            .where('name', '=', name)
            .executeTakeFirst();
          if (chosen !== undefined) {
            const taken = await trx
              .selectFrom('mlflow_model_versions')
              .select('version')
              .where('workspace_id', '=', ws.workspaceId)
              .where('name', '=', name)
              .where('version', '=', chosen)
              .executeTakeFirst();
            if (taken)
              throw new Conflict(`Model Version (name=${name}, version=${chosen}) already exists.`, {
                code: 'MODEL_VERSION_EXISTS',
              });
          }
          const row: ModelVersionRow = {
            workspace_id: ws.workspaceId,
            name,
            version: chosen ?? Number(max?.v ?? 0) + 1,
            creation_time: now,
            last_updated_time: now,
            description,
            user_id: userId,
            current_stage: 'None',
            source,
            storage_location: storage,
            run_id: runId ?? null,
            run_link: runLink,
            model_id: modelId ?? null,
            status: 'READY',
            status_message: null,
          };
          await trx.insertInto('mlflow_model_versions').values(row).execute();
          if (tags.length)
            await trx
              .insertInto('mlflow_model_version_tags')
              .values(
                tags.map((t) => ({
                  workspace_id: ws.workspaceId,
                  name,
                  version: row.version,
                  key: t.key,
                  value: t.value,
                })),
              )
              .execute();
          await trx
            .updateTable('mlflow_registered_models')
            .set({ last_updated_time: now })
            .where('workspace_id', '=', ws.workspaceId)
            .where('name', '=', name)
            .execute();
          return row;
        });
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
      }
    }
    if (!created)
      throw new Conflict(`Model Version creation error (name=${name}): too many concurrent creations; try again.`, {
        code: 'MODEL_VERSION_BUSY',
      });
    if (modelId) await this.loggedModels.addRegistration(ws, modelId, name, created.version);
    return (await this.versionsJson(ws, [created]))[0]!;
  }

  /**
   * Every visible version of the workspace's models (of `name` only, when given), newest first: the
   * Azure views of the registry (W/models, azureml-core's model management) list from here.
   */
  async listVersions(ws: WorkspaceRef, name?: string): Promise<ModelVersionJson[]> {
    let q = this.db
      .selectFrom('mlflow_model_versions')
      .selectAll()
      .where('workspace_id', '=', ws.workspaceId)
      .where('current_stage', '<>', STAGE_DELETED);
    if (name !== undefined) q = q.where('name', '=', checkModelName(name));
    const rows = await q.orderBy('creation_time', 'desc').orderBy('name').orderBy('version', 'desc').execute();
    return this.versionsJson(ws, rows);
  }

  /** The workspace's registered models (all, or those named), by name. */
  async listRegisteredModels(ws: WorkspaceRef): Promise<RegisteredModelJson[]> {
    const rows = await this.db
      .selectFrom('mlflow_registered_models')
      .selectAll()
      .where('workspace_id', '=', ws.workspaceId)
      .orderBy('name')
      .execute();
    return this.modelsJson(ws, rows);
  }

  async getModelVersion(ws: WorkspaceRef, name: unknown, version: unknown): Promise<ModelVersionJson> {
    const n = checkModelName(name);
    const v = checkVersion(version);
    return (await this.versionsJson(ws, [await this.versionRow(this.db, ws, n, v)]))[0]!;
  }

  async updateModelVersion(
    ws: WorkspaceRef,
    name: unknown,
    version: unknown,
    description: unknown,
  ): Promise<ModelVersionJson> {
    const n = checkModelName(name);
    const v = checkVersion(version);
    const d = checkDescription(description);
    const row = await this.versionRow(this.db, ws, n, v);
    const now = Date.now();
    await this.db
      .updateTable('mlflow_model_versions')
      .set({ description: d, last_updated_time: now })
      .where('workspace_id', '=', ws.workspaceId)
      .where('name', '=', n)
      .where('version', '=', v)
      .execute();
    return (await this.versionsJson(ws, [{ ...row, description: d, last_updated_time: now }]))[0]!;
  }

  async transitionStage(
    ws: WorkspaceRef,
    name: unknown,
    version: unknown,
    stage: unknown,
    archiveExisting: unknown,
  ): Promise<ModelVersionJson> {
    const n = checkModelName(name);
    const v = checkVersion(version);
    const s = canonicalStage(stage);
    if (archiveExisting !== undefined && typeof archiveExisting !== 'boolean')
      throw bad("Invalid value for parameter 'archive_existing_versions': it must be true or false.");
    if (archiveExisting && !ACTIVE_STAGES.includes(s)) {
      throw bad(
        `Model version transition cannot archive existing model versions because '${String(stage)}' is not an Active stage. Valid stages are ${ACTIVE_STAGES.join(', ')}`,
      );
    }
    const now = Date.now();
    await this.ctx.database.write(async ({ db: trx }) => {
      await this.versionRow(trx, ws, n, v);
      if (archiveExisting) {
        await trx
          .updateTable('mlflow_model_versions')
          .set({ current_stage: 'Archived', last_updated_time: now })
          .where('workspace_id', '=', ws.workspaceId)
          .where('name', '=', n)
          .where('version', '<>', v)
          .where('current_stage', '=', s)
          .execute();
      }
      await trx
        .updateTable('mlflow_model_versions')
        .set({ current_stage: s, last_updated_time: now })
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', '=', n)
        .where('version', '=', v)
        .execute();
      await trx
        .updateTable('mlflow_registered_models')
        .set({ last_updated_time: now })
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', '=', n)
        .execute();
    });
    return this.getModelVersion(ws, n, v);
  }

  /** Deletes a version: the row stays (redacted) so its number is never reused; aliases to it go. */
  async deleteModelVersion(ws: WorkspaceRef, name: unknown, version: unknown): Promise<void> {
    const n = checkModelName(name);
    const v = checkVersion(version);
    const now = Date.now();
    await this.ctx.database.write(async (tx) => {
      const trx = tx.db;
      await this.versionRow(trx, ws, n, v);
      await this.refuseInUse(tx, ws, n, v);
      await trx
        .deleteFrom('mlflow_registered_model_aliases')
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', '=', n)
        .where('version', '=', v)
        .execute();
      await trx
        .deleteFrom('mlflow_model_version_tags')
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', '=', n)
        .where('version', '=', v)
        .execute();
      await trx
        .updateTable('mlflow_model_versions')
        .set({
          current_stage: STAGE_DELETED,
          last_updated_time: now,
          description: null,
          user_id: null,
          source: 'REDACTED-SOURCE-PATH',
          storage_location: null,
          run_id: 'REDACTED-RUN-ID',
          run_link: 'REDACTED-RUN-LINK',
          status_message: null,
        })
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', '=', n)
        .where('version', '=', v)
        .execute();
      await trx
        .updateTable('mlflow_registered_models')
        .set({ last_updated_time: now })
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', '=', n)
        .execute();
    });
  }

  async getDownloadUri(ws: WorkspaceRef, name: unknown, version: unknown): Promise<string> {
    const n = checkModelName(name);
    const v = checkVersion(version);
    const row = await this.versionRow(this.db, ws, n, v);
    return row.storage_location ?? row.source;
  }

  async searchModelVersions(
    ws: WorkspaceRef,
    input: { filter?: unknown; max_results?: unknown; order_by?: unknown; page_token?: unknown },
  ): Promise<{ model_versions: ModelVersionJson[]; next_page_token?: string }> {
    const maxResults = parseMaxResults(input.max_results, MV_SEARCH_DEFAULT, MV_SEARCH_MAX);
    const { clauses, prompts } = splitPromptFilter(parseFilter(checkString(input.filter, 'filter')));
    const offset = parsePageToken(checkString(input.page_token, 'page_token'));
    const dialect = this.ctx.database.dialect;
    let q = this.db
      .selectFrom('mlflow_model_versions as v')
      .selectAll('v')
      .where('v.workspace_id', '=', ws.workspaceId)
      .where('v.current_stage', '<>', STAGE_DELETED);
    for (const c of clauses) {
      if (c.type === 'tag') {
        q = q.where(this.tagCondition('mlflow_model_version_tags', c, dialect, 'v'));
        continue;
      }
      const key = c.key.toLowerCase();
      if (key === 'version_number' || key === 'creation_timestamp' || key === 'last_updated_timestamp') {
        const n = typeof c.value === 'number' ? c.value : /^-?\d+$/.test(String(c.value)) ? Number(c.value) : NaN;
        if (!Number.isInteger(n))
          throw bad(`Invalid value for numeric attribute '${c.key}': ${JSON.stringify(c.value)}`);
        const col =
          key === 'version_number'
            ? 'v.version'
            : key === 'creation_timestamp'
              ? 'v.creation_time'
              : 'v.last_updated_time';
        const cond = numericComparison(sql.ref(col), c.comparator, n);
        q = q.where(() => cond);
      } else if (key === 'name' || key === 'run_id' || key === 'source_path') {
        if (
          !['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'].includes(c.comparator) ||
          ((c.comparator === 'IN' || c.comparator === 'NOT IN') && key === 'source_path')
        ) {
          throw bad(`Invalid comparator for attribute: ${c.comparator}`);
        }
        const col = key === 'source_path' ? 'v.source' : `v.${key}`;
        const cond = stringComparison(sql.ref(col), c.comparator, c.value, dialect);
        q = q.where(() => cond);
      } else {
        throw bad(
          `Invalid attribute name: ${c.key}; model versions can be filtered by name, version_number, run_id, source_path and tags.<key>`,
        );
      }
    }
    if (!prompts) {
      // Versions of prompts are left out: the prompt tag is on the registered model or on any
      // version of the name (MLflow checks the version tags).
      q = q.where(({ not, exists, selectFrom, or }) =>
        not(
          or([
            exists(
              selectFrom('mlflow_model_version_tags as p')
                .select(sql.lit(1).as('one'))
                .whereRef('p.workspace_id', '=', 'v.workspace_id')
                .whereRef('p.name', '=', 'v.name')
                .where('p.key', '=', PROMPT_TAG)
                .where('p.value', '=', 'true'),
            ),
            exists(
              selectFrom('mlflow_registered_model_tags as r')
                .select(sql.lit(1).as('one'))
                .whereRef('r.workspace_id', '=', 'v.workspace_id')
                .whereRef('r.name', '=', 'v.name')
                .where('r.key', '=', PROMPT_TAG)
                .where('r.value', '=', 'true'),
            ),
          ]),
        ),
      );
    }
    const given = this.orderByList(input.order_by);
    const orderBy = given.length ? given : ['last_updated_timestamp DESC', 'name ASC', 'version_number DESC'];
    const seen = new Set<string>();
    for (const clause of orderBy) {
      const { key, ascending } = parseOrderBy(clause, [
        'name',
        'version_number',
        'creation_timestamp',
        'last_updated_timestamp',
      ]);
      const col =
        key === 'name'
          ? 'v.name'
          : key === 'version_number'
            ? 'v.version'
            : key === 'creation_timestamp'
              ? 'v.creation_time'
              : 'v.last_updated_time';
      if (seen.has(col)) throw bad(`\`order_by\` contains duplicate fields: ${JSON.stringify(orderBy)}`);
      seen.add(col);
      q = q.orderBy(col, ascending ? 'asc' : 'desc');
    }
    if (!seen.has('v.name')) q = q.orderBy('v.name', 'asc');
    if (!seen.has('v.version')) q = q.orderBy('v.version', 'desc');
    const rows = await q
      .limit(maxResults + 1)
      .offset(offset)
      .execute();
    const result: { model_versions: ModelVersionJson[]; next_page_token?: string } = {
      model_versions: await this.versionsJson(ws, rows.slice(0, maxResults)),
    };
    if (rows.length > maxResults) result.next_page_token = pageToken(offset + maxResults);
    return result;
  }

  async setModelVersionTag(
    ws: WorkspaceRef,
    name: unknown,
    version: unknown,
    key: unknown,
    value: unknown,
  ): Promise<void> {
    const n = checkModelName(name);
    const v = checkVersion(version);
    const k = checkTagKey(key);
    const val = checkTagValue(value);
    await this.ctx.database.write(async ({ db: trx }) => {
      await this.versionRow(trx, ws, n, v);
      await trx
        .deleteFrom('mlflow_model_version_tags')
        .where('workspace_id', '=', ws.workspaceId)
        .where('name', '=', n)
        .where('version', '=', v)
        .where('key', '=', k)
        .execute();
      await trx
        .insertInto('mlflow_model_version_tags')
        .values({ workspace_id: ws.workspaceId, name: n, version: v, key: k, value: val })
        .execute();
    });
  }

  /** Forgets every registry row of a workspace (when the workspace is deleted). */
  async deleteWorkspace(workspaceId: string): Promise<void> {
    await this.ctx.database.write(async ({ db: trx }) => {
      for (const t of [
        'mlflow_model_version_tags',
        'mlflow_model_versions',
        'mlflow_registered_model_aliases',
        'mlflow_registered_model_tags',
        'mlflow_registered_models',
      ] as const) {
        await trx.deleteFrom(t).where('workspace_id', '=', workspaceId).execute();
      }
    });
  }

  async deleteModelVersionTag(ws: WorkspaceRef, name: unknown, version: unknown, key: unknown): Promise<void> {
    const n = checkModelName(name);
    const v = checkVersion(version);
    const k = checkTagKey(key);
    await this.versionRow(this.db, ws, n, v);
    await this.db
      .deleteFrom('mlflow_model_version_tags')
      .where('workspace_id', '=', ws.workspaceId)
      .where('name', '=', n)
      .where('version', '=', v)
      .where('key', '=', k)
      .execute();
  }
}
