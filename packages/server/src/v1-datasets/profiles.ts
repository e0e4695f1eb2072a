import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import YAML from 'yaml';
import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { DatastoreService } from '../assets/datastores.js';
import type { RunHistoryService } from '../run-history/run-history.js';
import type { V1ArtifactService } from '../v1-artifacts/artifacts.js';
import type { V1DatasetService } from './datasets.js';
import { RUN_ORIGIN } from '../v1-artifacts/artifacts.js';
import { InvalidInput, NotFound, NotImplemented } from '../errors.js';
import { ProfileBuilder } from './profile-stats.js';
import './tables.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** azureml-core's dataset id of actions that name a saved dataset instead (`_LEGACY_DATASET_ID`). */
export const LEGACY_DATASET_ID = '00000000-0000-0000-0000-000000000000';
/** Where a profile run keeps its result: a file of the run. */
const RESULT_PATH = 'dataset_profile/profile.json';
/** Largest number of data files one profile reads. */
const MAX_FILES = 10_000;
const DATASTORE_URI =
  /^azureml:\/\/(?:subscriptions\/[^/]+\/resourcegroups\/[^/]+\/workspaces\/[^/]+\/)?datastores\/([^/]+)\/paths\/(.*)$/i;

/**
 * An MLTable glob (`*`, `**`, `?`) as a regular expression over '/'-separated paths. Hand-written:
 * three rules, where a glob library would bring options MLTable patterns do not have.
 */
export function globRegex(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Dataset profiles (`TabularDataset.submit_profile_run(compute_target, experiment)`, `get_profile()`,
 * `get_profile_runs()`): the server reads the saved dataset's data through its datastores (a
 * delimited-files MLTable definition, what `Dataset.Tabular.from_delimited_files` makes), computes
 * the profile (profile-stats.ts) and keeps it as the file `dataset_profile/profile.json` of a
 * completed run in the named experiment — a run every client sees. An action row
 * (`dataset_profile_actions`) names the latest profile of a saved dataset. The compute target must
 * be one of the workspace's and is recorded on the run and the action; reading the data is the
 * server's own work (no user code runs), so no node of it is taken.
 */
export class DatasetProfiles {
  constructor(
    private readonly ctx: AppContext,
    private readonly datasets: V1DatasetService,
    private readonly datastores: DatastoreService,
    private readonly history: RunHistoryService,
    private readonly artifacts: V1ArtifactService,
    /** Throws NotFound unless the workspace has the compute. */
    private readonly computeExists: (ws: WorkspaceInfo, name: string) => Promise<unknown>,
  ) {}

  /** The files of one MLTable path entry, as [datastore, path] pairs, sorted. */
  private async files(ws: WorkspaceInfo, entry: Obj, by: Principal): Promise<{ store: string; path: string }[]> {
    const kind = (['file', 'folder', 'pattern'] as const).find((k) => typeof entry[k] === 'string');
    if (!kind) throw new InvalidInput('every path of the dataset must be a file, folder or pattern');
    const uri = String(entry[kind]);
    const m = DATASTORE_URI.exec(uri);
    if (!m)
      throw new NotImplemented(
        `the dataset reads '${uri}'; profiles read data in the workspace's datastores (azureml://datastores/{name}/paths/…) only`,
        { code: 'NOT_IMPLEMENTED' },
      );
    const store = m[1]!;
    const path = decodeURIComponent(m[2]!);
    const backend = await this.datastores.backend(ws, store, by, 'read');
    const wild = kind === 'pattern' && /[*?]/.test(path);
    if (kind === 'file' || (kind === 'pattern' && !wild && !path.endsWith('/'))) return [{ store, path }];
    const base = wild ? path.replace(/[^/]*[*?].*$/, '') : path.replace(/\/*$/, '/');
    const all = await backend.list(base.replace(/\/$/, ''), { recursive: true });
    const re = wild ? globRegex(path) : undefined;
    return all
      .filter((f) => !f.isDir)
      .map((f) => ({ store, path: `${base}${f.path.slice(base.replace(/\/$/, '').length).replace(/^\//, '')}` }))
      .filter((f) => !re || re.test(f.path))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Reads the saved dataset's delimited files and computes its profile (nothing is written). */
  async compute(ws: WorkspaceInfo, savedId: string, by: Principal): Promise<Obj[]> {
    const def = await this.datasets.savedDefinition(ws, savedId);
    if (def.type !== 'tabular')
      throw new InvalidInput('profiles are of tabular datasets; this saved dataset is a FileDataset', {
        target: 'id',
      });
    const doc = YAML.parse(def.yaml) as Obj;
    const steps = Array.isArray(doc.transformations) ? (doc.transformations as unknown[]) : [];
    const names = steps.map((s) => (isObj(s) ? Object.keys(s)[0] : typeof s === 'string' ? s : '?'));
    const other = names.filter((n) => n !== 'read_delimited');
    if (names[0] !== 'read_delimited' || other.length)
      throw new NotImplemented(
        `profiles read delimited files (Dataset.Tabular.from_delimited_files) without further transformations; this dataset's definition has ${names.length ? names.join(', ') : 'no read_delimited step'}`,
        { code: 'NOT_IMPLEMENTED' },
      );
    const args = ((steps[0] as Obj).read_delimited ?? {}) as Obj;
    const delimiter = typeof args.delimiter === 'string' && args.delimiter ? args.delimiter : ',';
    const header = String(args.header ?? 'all_files_same_headers');
    if (!['all_files_same_headers', 'from_first_file', 'no_header'].includes(header))
      throw new NotImplemented(`profiles do not read header mode '${header}'; use all_files_same_headers`, {
        code: 'NOT_IMPLEMENTED',
      });
    const encoding = String(args.encoding ?? 'utf8').toLowerCase();
    if (!['utf8', 'ascii', 'latin1', 'iso88591'].includes(encoding))
      throw new NotImplemented(`profiles do not read encoding '${encoding}'; use utf8`, { code: 'NOT_IMPLEMENTED' });
    if (args.include_path_column === true)
      throw new NotImplemented('profiles do not add a path column; leave include_path_column out', {
        code: 'NOT_IMPLEMENTED',
      });
    const emptyAsString = args.empty_as_string === true;
    const entries = Array.isArray(doc.paths) ? (doc.paths as unknown[]).filter(isObj) : [];
    const files: { store: string; path: string }[] = [];
    for (const e of entries) files.push(...(await this.files(ws, e, by)));
    if (!files.length) throw new InvalidInput("the dataset's paths name no files", { target: 'id' });
    if (files.length > MAX_FILES)
      throw new InvalidInput(`the dataset has ${files.length} files; a profile reads at most ${MAX_FILES}`, {
        target: 'id',
      });
    const profile = new ProfileBuilder();
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!;
      const backend = await this.datastores.backend(ws, f.store, by, 'read');
      const { stream } = await backend.get(f.path).catch((e: unknown) => {
        if (e instanceof NotFound)
          throw new InvalidInput(`the dataset's file '${f.path}' is missing from datastore '${f.store}'`, {
            target: 'id',
          });
        throw e;
      });
      const hasHeader = header === 'all_files_same_headers' || (header === 'from_first_file' && i === 0);
      const parser = stream.pipe(
        parseCsv({
          delimiter,
          encoding: encoding === 'utf8' ? 'utf8' : 'latin1',
          relax_column_count: true,
          bom: true,
          skip_empty_lines: true,
        }),
      );
      let first = true;
      for await (const rec of parser as AsyncIterable<string[]>) {
        if (first && hasHeader) {
          if (i === 0) profile.header(rec);
          first = false;
          continue;
        }
        if (first && i === 0 && !hasHeader) profile.header(rec.map((_, k) => `Column${k + 1}`));
        first = false;
        profile.row(emptyAsString ? rec : (rec.map((v) => (v === '' ? undefined : v)) as string[]));
      }
    }
    return profile.result();
  }

  /**
   * `POST saveddatasets/{id}/profilewithpreview` (`submit_profile_run`): computes the profile, then
   * makes the completed run that holds it and the action naming it. A failure while reading leaves nothing.
   */
  async submit(
    ws: WorkspaceInfo,
    savedId: string,
    q: { computeTarget?: string; experimentName?: string; datastoreName?: string },
    by: Principal,
  ): Promise<Obj> {
    const experimentName = q.experimentName;
    if (!experimentName) throw new InvalidInput('experimentName is required', { target: 'experimentName' });
    if (!q.computeTarget) throw new InvalidInput('computeTarget is required', { target: 'computeTarget' });
    if (q.computeTarget.toLowerCase() === 'local')
      throw new NotImplemented(
        "a profile on compute_target='local' is computed by azureml-core's own profile script in a local run (experiment.submit(ScriptRunConfig(…, compute_target='local')), POST …/localrun), which this server does not build; name a compute of the workspace: the server computes the profile",
        { code: 'NOT_IMPLEMENTED' },
      );
    await this.computeExists(ws, q.computeTarget);
    const result = await this.compute(ws, savedId, by);
    const experiment = await this.history.ensureExperiment(ws.workspaceId, experimentName);
    const runId = crypto.randomUUID().replace(/-/g, '');
    const started = new Date().toISOString();
    await this.history.patchRun(
      ws.workspaceId,
      experiment,
      runId,
      {
        status: 'Running',
        startTimeUtc: started,
        displayName: `profile of dataset ${savedId.slice(0, 24)}`,
        properties: { 'azureml.datasetProfile.savedDatasetId': savedId, 'azureml.computeTarget': q.computeTarget },
      },
      by.id,
    );
    await this.artifacts.upload(
      ws,
      RUN_ORIGIN,
      `dcid.${runId}`,
      RESULT_PATH,
      Readable.from([Buffer.from(JSON.stringify(result))]),
    );
    await this.history.patchRun(
      ws.workspaceId,
      experiment,
      runId,
      { status: 'Completed', endTimeUtc: new Date().toISOString() },
      by.id,
    );
    const actionId = crypto.randomUUID();
    const row = {
      workspace_id: ws.workspaceId,
      action_id: actionId,
      saved_dataset_id: savedId,
      experiment_name: experiment.name,
      run_id: runId,
      compute_target: q.computeTarget,
      created_at: Date.now(),
    };
    await this.ctx.db.insertInto('dataset_profile_actions').values(row).execute();
    return this.actionDto(row);
  }

  private actionDto(r: {
    action_id: string;
    saved_dataset_id: string;
    experiment_name: string;
    run_id: string;
    compute_target: string;
    created_at: number;
  }): Obj {
    const at = new Date(r.created_at).toISOString();
    return {
      actionId: r.action_id,
      actionType: 'profile',
      datasetId: LEGACY_DATASET_ID,
      computeTarget: r.compute_target,
      arguments: { generate_preview: 'True', row_count: '1000' },
      resultArtifactIds: [`${RUN_ORIGIN}/dcid.${r.run_id}/${RESULT_PATH}`],
      experimentName: r.experiment_name,
      runId: r.run_id,
      createdTime: at,
      startTimeUtc: at,
      endTimeUtc: at,
      status: 'Completed',
      isUpToDate: true,
    };
  }

  private savedIdOf(body: unknown): string {
    const id = isObj(body) ? body.savedDatasetId : undefined;
    if (!isObj(body) || body.actionType !== 'profile' || typeof id !== 'string' || !id)
      throw new InvalidInput("the request must name actionType 'profile' and a savedDatasetId", {
        target: 'savedDatasetId',
      });
    return id;
  }

  /** `POST datasets/{id}/actions/result` (`get_profile`): the latest profile of the saved dataset. */
  async result(ws: WorkspaceInfo, body: unknown): Promise<Obj> {
    const id = this.savedIdOf(body);
    const r = await this.ctx.db
      .selectFrom('dataset_profile_actions')
      .selectAll()
      .where('workspace_id', '=', ws.workspaceId)
      .where('saved_dataset_id', '=', id)
      .orderBy('created_at', 'desc')
      .orderBy('action_id', 'desc')
      .executeTakeFirst();
    // No profile yet: an empty result, which azureml-core answers with its own 'submit a new profile run'.
    if (!r) return { isUpToDate: false, resultArtifactIds: [], experimentName: null, runId: null, datastoreName: null };
    const dto = this.actionDto(r);
    return {
      isUpToDate: true,
      resultArtifactIds: dto.resultArtifactIds,
      experimentName: r.experiment_name,
      runId: r.run_id,
      datastoreName: null,
    };
  }

  /** `POST datasets/{id}/actions/listactionsfromrequest` (`get_profile_runs`): every profile of the saved dataset, newest first. */
  async list(ws: WorkspaceInfo, body: unknown, count: number, token?: string): Promise<Obj> {
    const id = this.savedIdOf(body);
    const skip = token && /^\d+$/.test(token) ? Number(token) : 0;
    const rows = await this.ctx.db
      .selectFrom('dataset_profile_actions')
      .selectAll()
      .where('workspace_id', '=', ws.workspaceId)
      .where('saved_dataset_id', '=', id)
      .orderBy('created_at', 'desc')
      .orderBy('action_id', 'desc')
      .offset(skip)
      .limit(count + 1)
      .execute();
    const page = rows.slice(0, count);
    return {
      value: page.map((r) => this.actionDto(r)),
      ...(rows.length > count ? { continuationToken: String(skip + count) } : {}),
    };
  }

  async forgetWorkspace(ws: { workspaceId?: string }): Promise<void> {
    if (!ws.workspaceId) return;
    await this.ctx.db.deleteFrom('dataset_profile_actions').where('workspace_id', '=', ws.workspaceId).execute();
  }
}
