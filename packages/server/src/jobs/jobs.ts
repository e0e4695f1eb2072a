import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import type { Tx } from '../store/database.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { Page, PageRequest } from '../resources/registry.js';
import type { StoredResource } from '../resources/engine.js';
import { actorOf, toArmBody } from '../resources/engine.js';
import { parseResourceId } from '../resources/resource-ids.js';
import type { ExperimentService } from '../tracking/experiments/experiments.js';
import type { RunService } from '../tracking/runs/runs.js';
import { RUN_ID } from '../tracking/shared/validation.js';
import { parseAssetRef, versionsNamed, type VersionedAssetService } from '../assets/versioned-assets.js';

export { parseAssetRef };
import type { DatastoreService } from '../assets/datastores.js';
import { parseDatastoreUri } from '../assets/data-assets.js';
import { AtelierError, Conflict, InvalidInput, NotFound } from '../errors.js';
import type { JobRow } from './tables.js';
import './tables.js';
import {
  ACTIVE,
  JOB_NAME,
  TERMINAL,
  bad,
  obj,
  parseCommandJob,
  parseJobType,
  type BaseSpec,
  type CommandSpec,
  type JobInput,
  type JobStatus,
} from './spec.js';
import { LOCAL_COMPUTE, type CodePort, type ComputePort, type EnvironmentPort } from './ports.js';

export const JOB_TYPE = 'Microsoft.MachineLearningServices/workspaces/jobs';

/** What MLflow calls each job status (the job's run follows its job). */
export const MLFLOW_STATUS: Record<string, string> = {
  NotStarted: 'SCHEDULED',
  Queued: 'SCHEDULED',
  Preparing: 'SCHEDULED',
  Running: 'RUNNING',
  Finalizing: 'RUNNING',
  CancelRequested: 'RUNNING',
  Completed: 'FINISHED',
  Failed: 'FAILED',
  Canceled: 'KILLED',
};

export type AnySpec = CommandSpec | BaseSpec;

export interface JobDeps {
  ctx: AppContext;
  runs: RunService;
  experiments: ExperimentService;
  datastores: DatastoreService;
  data: VersionedAssetService;
  environments: VersionedAssetService;
  computes: () => ComputePort;
  environmentBuilds: () => EnvironmentPort;
  codes: () => CodePort;
  /** Parsers of the other job kinds (sweep, pipeline), registered by their modules. */
  kinds: Partial<Record<BaseSpec['jobType'], JobKind>>;
}

/** A job kind beyond Command (sweep, pipeline): parses and checks its spec at submission. */
export interface JobKind {
  parse(p: Record<string, unknown>): AnySpec;
  check?(ws: WorkspaceInfo, spec: AnySpec, by: Principal): Promise<void>;
}

export const jobKey = (workspaceId: string, name: string): string => `${workspaceId}/${name.toLowerCase()}`;

/** The compute a job names (`computeId`: an ARM id, `azureml:name` or a name), lower-cased; '' for none. */
export function computeName(ws: WorkspaceInfo, computeId: string | undefined): string {
  if (!computeId || /^(local|localhost)$/i.test(computeId)) return LOCAL_COMPUTE;
  if (computeId.startsWith('/')) {
    const p = parseResourceId(computeId, 'properties.computeId');
    if (!/workspaces\/computes$/i.test(p.type))
      throw bad('properties.computeId', `must name a compute (…/workspaces/{ws}/computes/{name}); got a ${p.type}`);
    const wsOf = /\/workspaces\/([^/]+)\/computes\//i.exec(computeId)?.[1];
    if (wsOf && wsOf.toLowerCase() !== ws.name.toLowerCase())
      throw bad(
        'properties.computeId',
        `names a compute of workspace '${wsOf}'; a job runs on its own workspace's computes`,
      );
    return p.name.toLowerCase();
  }
  return computeId.replace(/^azureml:/i, '').toLowerCase();
}

/**
 * Jobs of a workspace (`W/jobs/{name}`): submission (checked, immutable once submitted), reads,
 * lists, cancel and delete. Each job is a row of the durable queue (store/migrations/0500-jobs.ts)
 * and an MLflow run of its experiment; the scheduler (scheduler.ts) runs the queued ones.
 */
export class JobService {
  /** Called after a submission or cancel, so the scheduler looks at once (set by the scheduler). */
  onChange: (key: string, what: 'submitted' | 'cancel') => void = () => {};
  /** Test-only: called inside a submit's transaction once it holds the job's compute, before the insert. */
  testHooks: { computeHeld?: () => Promise<void>; versionsHeld?: () => Promise<void> } = {};
  /**
   * The versioned assets a job may name with a version (`environments`; `codes` is added at the
   * composition root): a submit holds each version it names while the job is written, so a delete
   * of the version waits for it and then sees the job (see `usingVersion`).
   */
  readonly versions: Record<string, Pick<VersionedAssetService, 'hold'>>;

  constructor(private readonly d: JobDeps) {
    this.versions = { environments: d.environments };
  }

  /** The queued or running jobs of `ws` that name a version (`{segment}/{name}/{version}`), read in `tx` (the version delete's). */
  async usingVersion(tx: Pick<Tx, 'db'>, ws: WorkspaceInfo, key: string): Promise<string[]> {
    const rows = await tx.db
      .selectFrom('jobs')
      .select(['name', 'spec', 'status'])
      .where('workspace_id', '=', ws.workspaceId)
      .where('status', 'not in', [...TERMINAL])
      .execute();
    return rows
      .filter((r) => versionsNamed(JSON.parse(r.spec)).has(key))
      .map((r) => `job '${r.name}' (${r.status.toLowerCase()})`);
  }

  private get db() {
    return this.d.ctx.db;
  }

  /** The folder of a job's files (code copy, inputs, outputs, logs, temp) below the data root. */
  folder(workspaceId: string, name: string): string {
    return path.join(this.d.ctx.config.home, 'jobs', workspaceId, name.toLowerCase());
  }

  checkName(name: string): void {
    if (!JOB_NAME.test(name))
      throw new InvalidInput(
        `job name '${name.slice(0, 300)}' is not valid: 1-255 letters, digits, _ and -, starting with a letter or digit`,
        { code: 'INVALID_RESOURCE_NAME', target: 'name' },
      );
  }

  async row(ws: WorkspaceInfo, name: string): Promise<JobRow | undefined> {
    return this.db
      .selectFrom('jobs')
      .selectAll()
      .where('job_key', '=', jobKey(ws.workspaceId, name))
      .executeTakeFirst();
  }

  async byKey(key: string): Promise<JobRow | undefined> {
    return this.db.selectFrom('jobs').selectAll().where('job_key', '=', key).executeTakeFirst();
  }

  /** A job by its run id (or its name, which Azure ML clients use as the run id). */
  async byRunId(ws: WorkspaceInfo, runId: string): Promise<JobRow | undefined> {
    return (
      (await this.db
        .selectFrom('jobs')
        .selectAll()
        .where('workspace_id', '=', ws.workspaceId)
        .where('run_id', '=', runId)
        .executeTakeFirst()) ?? (await this.row(ws, runId))
    );
  }

  async require(ws: WorkspaceInfo, name: string): Promise<JobRow> {
    const r = await this.row(ws, name);
    if (!r)
      throw new NotFound(`job '${name}' could not be found in workspace '${ws.name}'`, {
        code: 'NOT_FOUND',
      });
    return r;
  }

  /** Parses a submitted body into its spec (400 naming the field). */
  parse(body: Record<string, unknown>): AnySpec {
    const p = obj(body.properties, 'properties', true)!;
    const type = parseJobType(p);
    if (type === 'Command') return parseCommandJob(p);
    const kind = this.d.kinds[type];
    if (!kind)
      throw bad('properties.jobType', `${type} jobs are not supported by this server yet; submit Command jobs`);
    return kind.parse(p);
  }

  /** Checks what a spec names (compute, environment, code, data) exists, before anything is written. */
  async check(ws: WorkspaceInfo, spec: AnySpec, by: Principal): Promise<{ compute: string; ranks: number }> {
    const compute = computeName(ws, spec.computeId);
    let ranks = 1;
    if (spec.jobType === 'Command') {
      const c = spec as CommandSpec;
      ranks = c.resources.instanceCount;
      await this.checkTrial(ws, c, 'properties');
      for (const [name, input] of Object.entries(c.inputs))
        await this.checkInput(ws, input, `properties.inputs.${name}`, by);
      for (const [name, o] of Object.entries(c.outputs)) {
        const ref = o.uri ? parseDatastoreUri(o.uri) : undefined;
        if (o.uri && !ref)
          throw bad(`properties.outputs.${name}.uri`, 'must look like azureml://datastores/<datastore>/paths/<folder>');
        if (ref) await this.requireDatastore(ws, ref.datastore, `properties.outputs.${name}.uri`);
      }
    } else {
      await this.d.kinds[spec.jobType]?.check?.(ws, spec, by);
    }
    if (compute !== LOCAL_COMPUTE) {
      const cap = await this.d.computes().capacity(ws, compute);
      const most = cap.maxNodeCount * Math.max(1, cap.coresPerNode);
      if (ranks > most)
        throw bad(
          'properties.resources.instanceCount',
          `asks for ${ranks} instances, but compute '${compute}' runs at most ${most} at once; lower it or enlarge the compute`,
        );
    }
    return { compute, ranks };
  }

  /** A compute a step names must exist (the scheduler checks its room when the step is queued). */
  async checkCompute(ws: WorkspaceInfo, computeId: string, target: string): Promise<void> {
    const compute = computeName(ws, computeId);
    if (compute === LOCAL_COMPUTE) return;
    try {
      await this.d.computes().capacity(ws, compute);
    } catch (e) {
      if (e instanceof NotFound)
        throw new NotFound(`${target}: compute '${compute}' does not exist in workspace '${ws.name}'`, { target });
      throw e;
    }
  }

  /** Environment and code of something runnable: they must exist (and this server must be able to use them). */
  async checkTrial(ws: WorkspaceInfo, t: { environmentId?: string; codeId?: string }, target: string): Promise<void> {
    if (t.environmentId) {
      const ref = parseAssetRef(t.environmentId, 'environments');
      if (!ref)
        throw bad(
          `${target}.environmentId`,
          `must be an environment's ARM id, or azureml:<name>:<version> / azureml:<name>@latest; got '${t.environmentId}'`,
        );
      if (ref.version) await this.d.environments.getVersion(ws, ref.name, ref.version);
      else await this.d.environments.getContainer(ws, ref.name);
    }
    if (t.codeId) {
      const ref = parseAssetRef(t.codeId, 'codes');
      if (!ref)
        throw bad(
          `${target}.codeId`,
          `must be a code asset's ARM id (…/codes/{name}/versions/{version}); got '${t.codeId}'`,
        );
    }
  }

  private async requireDatastore(ws: WorkspaceInfo, name: string, target: string): Promise<void> {
    try {
      await this.d.datastores.get(ws, name);
    } catch (e) {
      if (e instanceof NotFound)
        throw new NotFound(`${target}: datastore '${name}' does not exist in workspace '${ws.name}'`, { target });
      throw e;
    }
  }

  /** A data input must name an existing datastore path or data asset version. */
  async checkInput(ws: WorkspaceInfo, input: JobInput, target: string, _by: Principal): Promise<void> {
    if (input.jobInputType === 'literal') return;
    const ds = parseDatastoreUri(input.uri);
    if (ds) return this.requireDatastore(ws, ds.datastore, `${target}.uri`);
    const ref = parseAssetRef(input.uri, 'data');
    if (!ref)
      throw bad(
        `${target}.uri`,
        `must be azureml://datastores/<datastore>/paths/<path>, azureml:<data asset>:<version> or a data asset's ARM id; got '${input.uri.slice(0, 200)}'`,
      );
    if (!ref.version) throw bad(`${target}.uri`, `name the data asset's version (azureml:${ref.name}:<version>)`);
    try {
      await this.d.data.getVersion(ws, ref.name, ref.version);
    } catch (e) {
      if (e instanceof NotFound)
        throw new NotFound(
          `${target}.uri: data asset '${ref.name}' version '${ref.version}' does not exist in workspace '${ws.name}'`,
          {
            target: `${target}.uri`,
          },
        );
      throw e;
    }
  }

  /**
   * PUT W/jobs/{name}: submits a job (201), or — for an existing one — changes only what Azure ML
   * lets change after submission (display name, description, tags) (200).
   */
  async put(
    ws: WorkspaceInfo,
    name: string,
    body: Record<string, unknown>,
    by: Principal,
    opts: { parentName?: string; parentRunId?: string; reuseKey?: string } = {},
  ): Promise<{ row: JobRow; created: boolean }> {
    this.checkName(name);
    const spec = this.parse(body);
    const existing = await this.row(ws, name);
    if (existing) return { row: await this.update(existing, spec), created: false };
    return { row: await this.submit(ws, name, spec, by, opts), created: true };
  }

  /**
   * Submits a checked spec as a new job (also the children of sweeps and pipelines, whose specs
   * their drivers build). `reused`: a pipeline step that reuses a previous step's outputs is
   * recorded Completed at once, its run finished.
   */
  async submit(
    ws: WorkspaceInfo,
    name: string,
    spec: AnySpec,
    by: Principal,
    opts: { parentName?: string; parentRunId?: string; reuseKey?: string; reused?: boolean } = {},
  ): Promise<JobRow> {
    const { compute, ranks } = await this.check(ws, spec, by);
    const experimentId = await this.experimentId(ws, spec.experimentName);
    const runId = await this.createRun(ws, name, spec, experimentId, by, opts.parentRunId);
    const now = Date.now();
    const row: JobRow = {
      job_key: jobKey(ws.workspaceId, name),
      workspace_id: ws.workspaceId,
      workspace_arm_id: ws.id,
      name,
      job_type: spec.jobType,
      status: opts.reused ? 'Completed' : 'Queued',
      spec: JSON.stringify(spec),
      tags: JSON.stringify(spec.tags ?? {}),
      parent_name: opts.parentName ?? null,
      compute,
      ranks,
      run_id: runId,
      experiment_id: experimentId,
      executor: null,
      handle: null,
      owner: null,
      heartbeat_at: null,
      error: null,
      reuse_key: opts.reuseKey ?? null,
      created_at: now,
      created_by: by.id,
      created_by_actor: actorOf(by),
      start_time: opts.reused ? now : null,
      end_time: opts.reused ? now : null,
      updated_at: now,
    };
    const port = compute !== LOCAL_COMPUTE && !opts.reused ? this.d.computes() : undefined;
    const named = opts.reused ? [] : [...versionsNamed(spec)];
    try {
      if (port?.hold || named.length)
        // The compute and the versions it names held while the job is bound to them: a concurrent
        // delete of one waits for this insert and then sees the job, or this waits for the delete
        // and then fails.
        await this.d.ctx.database.write(async (tx) => {
          if (port?.hold) {
            await port.hold(tx, ws, compute);
            await this.testHooks.computeHeld?.();
          }
          for (const key of named) {
            const [segment, name, version] = key.split('/') as [string, string, string];
            await this.versions[segment]?.hold(tx, ws, name, version);
          }
          if (named.length) await this.testHooks.versionsHeld?.();
          await tx.db.insertInto('jobs').values(row).execute();
        });
      else await this.db.insertInto('jobs').values(row).execute();
    } catch (e) {
      // Nothing half-made: the run goes again (a simultaneous PUT of the same name won).
      await this.d.runs.delete(ws.workspaceId, runId).catch(() => undefined);
      if (e instanceof AtelierError) throw e;
      if (await this.row(ws, name))
        throw new Conflict(`job '${name}' was submitted at the same moment by another request`, { code: 'CONFLICT' });
      throw e;
    }
    if (opts.reused) await this.endRun(ws.workspaceId, runId, 'Completed', now);
    else this.onChange(row.job_key, 'submitted');
    return row;
  }

  /** The child jobs (sweep trials, pipeline steps) of a job, oldest first. */
  async children(workspaceId: string, parentName: string): Promise<JobRow[]> {
    return this.db
      .selectFrom('jobs')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('parent_name', '=', parentName)
      .orderBy('created_at', 'asc')
      .orderBy('job_key', 'asc')
      .execute();
  }

  /** Adds to a job's `properties` (what its drivers learn: a sweep's best trial, a reused step). */
  async addProperties(key: string, props: Record<string, string>): Promise<void> {
    const r = await this.byKey(key);
    if (!r) return;
    const spec = JSON.parse(r.spec) as AnySpec;
    spec.properties = { ...spec.properties, ...props };
    await this.db
      .updateTable('jobs')
      .set({ spec: JSON.stringify(spec), updated_at: Date.now() })
      .where('job_key', '=', key)
      .execute();
  }

  /** Replaces the stored spec of a job (a pipeline's outputs learn where their step put them). */
  async setSpec(key: string, spec: object): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ spec: JSON.stringify(spec), updated_at: Date.now() })
      .where('job_key', '=', key)
      .execute();
  }

  /** Called when a job is deleted (its kind's own state goes with it). */
  readonly onDeleted: ((r: JobRow) => Promise<void>)[] = [];

  private async update(existing: JobRow, spec: AnySpec): Promise<JobRow> {
    const old = JSON.parse(existing.spec) as AnySpec;
    const mutable = ['displayName', 'description', 'tags', 'properties'];
    const strip = (s: AnySpec) =>
      JSON.stringify(
        Object.fromEntries(
          Object.entries(s)
            .filter(([k]) => !mutable.includes(k))
            .sort(),
        ),
      );
    if (strip(old) !== strip(spec))
      throw new InvalidInput(
        `job '${existing.name}' was submitted already and cannot change (only displayName, description, tags and properties can); submit a new job under another name`,
        { code: 'IMMUTABLE_PROPERTY', target: 'properties' },
      );
    const next = {
      ...old,
      displayName: spec.displayName,
      description: spec.description,
      tags: spec.tags,
      properties: { ...old.properties, ...spec.properties },
    };
    await this.db
      .updateTable('jobs')
      .set({ spec: JSON.stringify(next), tags: JSON.stringify(spec.tags ?? {}), updated_at: Date.now() })
      .where('job_key', '=', existing.job_key)
      .execute();
    return { ...existing, spec: JSON.stringify(next), tags: JSON.stringify(spec.tags ?? {}) };
  }

  /** The experiment of a job: found by name, or made (as Azure ML does). */
  async experimentId(ws: WorkspaceInfo, name: string): Promise<number> {
    try {
      return Number((await this.d.experiments.getByName(ws.workspaceId, name)).experiment_id);
    } catch (e) {
      if (!(e instanceof NotFound)) throw e;
      try {
        return Number(await this.d.experiments.create(ws.workspaceId, name, undefined, undefined));
      } catch (e2) {
        if (e2 instanceof Conflict)
          return Number((await this.d.experiments.getByName(ws.workspaceId, name)).experiment_id);
        throw e2;
      }
    }
  }

  /**
   * The job's MLflow run. Its id is the job's name where MLflow's ids allow (≤ 32 of letters, digits,
   * _ and -, and not taken by another workspace's run: run ids are unique server-wide); otherwise a
   * new 32-hex id, and the run carries the job's name in the tag `atelier.job` either way.
   */
  private async createRun(
    ws: WorkspaceInfo,
    name: string,
    spec: AnySpec,
    experimentId: number,
    by: Principal,
    parentRunId?: string,
  ): Promise<string> {
    const tags = [
      { key: 'atelier.job', value: name },
      { key: 'mlflow.source.type', value: 'JOB' },
      { key: 'mlflow.user', value: by.name },
      ...(parentRunId ? [{ key: 'mlflow.parentRunId', value: parentRunId }] : []),
    ];
    const body = {
      experiment_id: String(experimentId),
      run_name: spec.displayName || name,
      tags,
    };
    const chosen = name.length <= 32 && RUN_ID.test(name) ? name : undefined;
    let run;
    try {
      run = await this.d.runs.create(ws.workspaceId, body, by.name, chosen ? { runId: chosen } : {});
    } catch (e) {
      if (!chosen) throw e;
      run = await this.d.runs.create(ws.workspaceId, body, by.name);
    }
    await this.d.runs.update(ws.workspaceId, run.info.run_id, { status: 'SCHEDULED' });
    return run.info.run_id;
  }

  async list(ws: WorkspaceInfo, page: PageRequest): Promise<Page> {
    let q = this.db.selectFrom('jobs').selectAll().where('workspace_id', '=', ws.workspaceId);
    const jobType = page.query.jobType;
    if (jobType) q = q.where('job_type', '=', parseJobType({ jobType }));
    const parent = page.query.parentJobName;
    if (parent) q = q.where('parent_name', '=', parent);
    else q = q.where('parent_name', 'is', null);
    if (page.after) {
      const m = /^\/(\d+)\/(.+)$/.exec(page.after);
      if (!m)
        throw new InvalidInput('$skipToken is not valid; use the nextLink as it is', {
          code: 'INVALID_QUERY_PARAMETER',
        });
      const at = Number(m[1]);
      q = q.where((eb) =>
        eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('job_key', '>', m[2]!)])]),
      );
    }
    const tag = page.query.tag;
    // Tag filters (`tag=key` or `tag=key=value`) are applied after the read: tags are JSON.
    const wanted = tag ? tag.split(',').map((t) => t.split('=') as [string, string?]) : [];
    const rows: JobRow[] = [];
    let last: JobRow | undefined;
    let hasMore = false;
    let offset = 0;
    for (;;) {
      const batch = await q.orderBy('created_at', 'desc').orderBy('job_key', 'asc').limit(500).offset(offset).execute();
      offset += batch.length;
      for (const r of batch) {
        if (rows.length === page.top) {
          hasMore = true;
          break;
        }
        last = r;
        const tags = JSON.parse(r.tags) as Record<string, string>;
        if (wanted.every(([k, v]) => k in tags && (v === undefined || tags[k] === v))) rows.push(r);
      }
      if (hasMore || batch.length < 500) break;
    }
    const archived = /^(archivedonly)$/i.test(String(page.query.listViewType ?? ''));
    return {
      value: archived ? [] : rows.map((r) => this.stored(r)),
      hasMore,
      lastKey: hasMore && last ? `/${last.created_at}/${last.job_key}` : undefined,
    };
  }

  /**
   * POST W/jobs/{name}/cancel: a queued job is Canceled at once; a running one becomes
   * CancelRequested and its process groups get SIGTERM, a grace period, then SIGKILL (scheduler).
   */
  async cancel(ws: WorkspaceInfo, name: string): Promise<JobRow> {
    const r = await this.require(ws, name);
    if ((TERMINAL as readonly string[]).includes(r.status)) return r;
    const now = Date.now();
    const queued = await this.db
      .updateTable('jobs')
      .set({ status: 'Canceled', end_time: now, updated_at: now })
      .where('job_key', '=', r.job_key)
      .where('status', 'in', ['Queued', 'NotStarted'])
      .executeTakeFirst();
    if (Number(queued.numUpdatedRows) === 1) {
      if (r.run_id) await this.endRun(r.workspace_id, r.run_id, 'Canceled', now);
      this.onChange(r.job_key, 'cancel');
      return { ...r, status: 'Canceled', end_time: now };
    }
    await this.db
      .updateTable('jobs')
      .set({ status: 'CancelRequested', updated_at: now })
      .where('job_key', '=', r.job_key)
      .where('status', 'in', [...ACTIVE])
      .execute();
    this.onChange(r.job_key, 'cancel');
    return (await this.row(ws, name))!;
  }

  /** DELETE W/jobs/{name}: cancels it if it runs, then forgets it and its files (its MLflow run stays). */
  async delete(ws: WorkspaceInfo, name: string): Promise<boolean> {
    const r = await this.row(ws, name);
    if (!r) return false;
    if (!(TERMINAL as readonly string[]).includes(r.status)) {
      await this.cancel(ws, name);
      // The scheduler finishes the cancel; wait for it (a few seconds at most: the grace period).
      for (let i = 0; i < 400; i++) {
        const now = await this.row(ws, name);
        if (!now || (TERMINAL as readonly string[]).includes(now.status)) break;
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    // A sweep's trials and a pipeline's steps go with it.
    for (const c of await this.children(ws.workspaceId, r.name)) await this.delete(ws, c.name);
    await this.db.deleteFrom('jobs').where('job_key', '=', r.job_key).execute();
    for (const f of this.onDeleted) await f(r);
    await fs.promises.rm(this.folder(ws.workspaceId, r.name), { recursive: true, force: true });
    return true;
  }

  /**
   * Resolves with the job once it has ended (undefined once it is gone): at once when this server's
   * scheduler ends it, else seen by a read every second (another replica drives it). Throws a
   * Conflict after `timeoutMs`.
   */
  async waitEnded(key: string, timeoutMs: number): Promise<JobRow | undefined> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.byKey(key);
      if (!r || (TERMINAL as readonly string[]).includes(r.status)) return r;
      if (Date.now() > until)
        throw new Conflict(`job '${r.name}' is still ${r.status} after ${Math.round(timeoutMs / 1000)} s`, {
          code: 'CONFLICT',
        });
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.ended.off(key, done);
          resolve();
        };
        const timer = setTimeout(done, 1_000);
        this.ended.on(key, done);
      });
    }
  }

  /** Listeners of job ends (log streams close when their job ends). */
  readonly ended = new EventEmitter();

  emitEnd(key: string): void {
    this.ended.emit(key);
  }

  /** The job's run is RUNNING once its processes are. */
  async markRunRunning(r: JobRow): Promise<void> {
    if (!r.run_id) return;
    await this.d.runs
      .update(r.workspace_id, r.run_id, { status: 'RUNNING' })
      .catch((e) =>
        this.d.ctx.log.warn({ err: (e as Error).message, runId: r.run_id }, 'could not update the run of a job'),
      );
  }

  /** Ends the job's MLflow run with the job's final status. */
  async endRun(workspaceId: string, runId: string, status: JobStatus | string, at = Date.now()): Promise<void> {
    try {
      await this.d.runs.update(workspaceId, runId, { status: MLFLOW_STATUS[status] ?? 'FAILED', end_time: at });
    } catch (e) {
      // A run deleted by its user is no reason to fail the job.
      this.d.ctx.log.warn({ err: (e as Error).message, runId }, 'could not update the run of a job');
    }
  }

  /** The row as a StoredResource (for the generic ARM router). */
  stored(r: JobRow): StoredResource {
    const [, sub, rg] = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\//i.exec(r.workspace_arm_id) ?? [];
    return {
      id: `${r.workspace_arm_id}/jobs/${r.name}`,
      name: r.name,
      type: JOB_TYPE,
      subscriptionId: sub ?? '',
      resourceGroup: rg ?? '',
      groupKey: `/subscriptions/${sub}/resourcegroups/${rg}`.toLowerCase(),
      parentId: r.workspace_arm_id,
      tags: JSON.parse(r.tags),
      properties: { __row: r },
      etag: `"${r.updated_at.toString(16)}"`,
      createdAt: r.created_at,
      createdBy: r.created_by_actor,
      updatedAt: r.updated_at,
      updatedBy: r.created_by_actor,
    };
  }

  rowOf(s: StoredResource): JobRow {
    return (s.properties as { __row: JobRow }).__row;
  }

  /** The ARM body of a job: its spec as submitted, its status, services (Studio, Tracking) and outputs' places. */
  toBody(ws: WorkspaceInfo, r: JobRow): Record<string, unknown> {
    const spec = JSON.parse(r.spec) as AnySpec & { outputs?: Record<string, { uri?: string }> };
    const props: Record<string, unknown> = {
      ...spec,
      displayName: spec.displayName ?? r.name,
      status: r.status,
      computeId: spec.computeId ?? null,
      isArchived: false,
      services: {
        Studio: {
          jobServiceType: 'Studio',
          // Below the workspace's tracking URI, as MLflow prints its run links: the studio opens the run there.
          endpoint: `${ws.mlFlowTrackingUri}/#/experiments/${r.experiment_id ?? 0}/runs/${r.run_id ?? r.name}`,
          status: r.status,
        },
        Tracking: { jobServiceType: 'Tracking', endpoint: ws.mlFlowTrackingUri },
      },
    };
    if (spec.outputs) {
      const outputs: Record<string, unknown> = {};
      for (const [name, o] of Object.entries(spec.outputs))
        outputs[name] = { ...o, uri: o.uri ?? defaultOutputUri(r.name, name) };
      props.outputs = outputs;
    }
    if (r.parent_name) props.parentJobName = r.parent_name;
    if (r.error) props.error = JSON.parse(r.error);
    const s = this.stored(r);
    return toArmBody({ ...s, properties: {} }, props);
  }
}

/** Where an output without a `uri` goes (as Azure ML): the default datastore, `azureml/{job}/{output}/`. */
export function defaultOutputUri(job: string, output: string): string {
  return `azureml://datastores/workspaceblobstore/paths/azureml/${job}/${output}/`;
}
