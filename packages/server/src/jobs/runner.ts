import fs from 'node:fs';
import path from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import { resolveWorkspaceByGuid } from '../resources/workspaces.js';
import type { ArtifactService } from '../tracking/artifacts/artifacts.js';
import type { DatastoreService } from '../assets/datastores.js';
import type { VersionedAssetService } from '../assets/versioned-assets.js';
import { parseDatastoreUri } from '../assets/data-assets.js';
import { AtelierError, Conflict, NotFound } from '../errors.js';
import { WORKSPACE_SCOPE_CLAIM } from '../identity/token-scopes.js';
import type { ExecutionResult, ExecutionSpec, Executor } from './executors/executor.js';
import type { JobRow } from './tables.js';
import type { CommandSpec } from './spec.js';
import { parseDuration, renderCommand } from './command.js';
import { defaultOutputUri, parseAssetRef, type JobService } from './jobs.js';
import { defaultPython, LOCAL_COMPUTE, type CodePort, type ComputePort, type EnvironmentPort } from './ports.js';

export interface RunnerDeps {
  ctx: AppContext;
  jobs: JobService;
  artifacts: ArtifactService;
  datastores: DatastoreService;
  data: VersionedAssetService;
  computes: () => ComputePort;
  environmentBuilds: () => EnvironmentPort;
  codes: () => CodePort;
  executors: Partial<Record<'local' | 'ray', Executor>>;
}

/** A job's folder: what the job sees (cwd, inputs, outputs, temp) and what the server keeps (logs, executor state). */
export interface JobFolder {
  root: string;
  wd: string;
  inputs: string;
  outputs: string;
  tmp: string;
  logs: string;
  state: string;
}

export function jobFolder(root: string): JobFolder {
  return {
    root,
    wd: path.join(root, 'wd'),
    inputs: path.join(root, 'inputs'),
    outputs: path.join(root, 'outputs'),
    tmp: path.join(root, 'tmp'),
    logs: path.join(root, 'logs'),
    state: path.join(root, 'state'),
  };
}

/** A failure of the job (not of the server): the job ends Failed with this message. */
export class JobFailure extends Error {
  constructor(
    message: string,
    readonly code = 'JobFailed',
  ) {
    super(message);
  }
}

/** Lets the owner of read-only inputs remove them again. */
export async function removeFolder(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    try {
      await fs.promises.chmod(d, 0o700);
      for (const e of await fs.promises.readdir(d, { withFileTypes: true }))
        if (e.isDirectory()) stack.push(path.join(d, e.name));
    } catch {
      // Gone already.
    }
  }
  await fs.promises.rm(dir, { recursive: true, force: true });
}

/**
 * What azureml-core's `Run.get_context()` reads to reach the job's run instead of an offline run
 * (`Run._load_scope` and `AzureMLTokenAuthentication`): the service and discovery addresses (this
 * server), the experiment's name, the workspace GUID and the job's token with its expiry (ISO UTC:
 * azureml-core reads an epoch number as local time). With `AZUREML_ARM_*`, `AZUREML_RUN_ID` and
 * `AZUREML_EXPERIMENT_ID` (set beside MLflow's variables) `run.log`, `run.upload_file`, … land in
 * the job's MLflow run.
 */
export function azuremlRunContext(
  publicUrl: string,
  ws: WorkspaceInfo,
  experimentName: string,
  token: string,
  expiresOn: number,
): Record<string, string> {
  return {
    AZUREML_ARM_PROJECT_NAME: experimentName,
    AZUREML_WORKSPACE_ID: ws.workspaceId,
    AZUREML_SERVICE_ENDPOINT: publicUrl,
    AZUREML_RUN_HISTORY_SERVICE_ENDPOINT: publicUrl,
    AZUREML_DISCOVERY_SERVICE_ENDPOINT: `${publicUrl}/discovery`,
    AZUREML_RUN_TOKEN: token,
    AZUREML_RUN_TOKEN_EXPIRY: new Date(expiresOn * 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs one claimed command job (or sweep trial, or pipeline step) from Preparing to its end: its
 * folder, code copy, environment, inputs (read-only local copies), the MLflow variables and a token
 * that reaches only its workspace, the executor; then its outputs go to the datastore (and become
 * data assets when named) and its logs become artifacts of its run.
 */
export class JobRunner {
  constructor(private readonly d: RunnerDeps) {}

  private log(r: JobRow) {
    return this.d.ctx.log.child({ job: r.name, workspaceId: r.workspace_id });
  }

  private async setStatus(r: JobRow, status: string, extra: Partial<JobRow> = {}): Promise<void> {
    const now = Date.now();
    await this.d.ctx.db
      .updateTable('jobs')
      .set({ status, updated_at: now, heartbeat_at: now, ...extra })
      .where('job_key', '=', r.job_key)
      .where('status', '<>', 'CancelRequested')
      .execute();
  }

  private async cancelRequested(r: JobRow): Promise<boolean> {
    const row = await this.d.ctx.db
      .selectFrom('jobs')
      .select('status')
      .where('job_key', '=', r.job_key)
      .executeTakeFirst();
    return !row || row.status === 'CancelRequested';
  }

  /** Prepares and starts the job; resolves once its ranks run (or it failed to start). Returns the executor's handle. */
  async start(r: JobRow, signal: AbortSignal): Promise<{ executor: Executor; handle: string } | ExecutionResult> {
    const ws = await resolveWorkspaceByGuid(this.d.ctx, r.workspace_id);
    const spec = JSON.parse(r.spec) as CommandSpec;
    const f = jobFolder(this.d.jobs.folder(r.workspace_id, r.name));
    try {
      const principal = await this.d.ctx.principals.get(r.created_by);
      if (!principal) throw new JobFailure('the user who submitted this job no longer exists or is disabled');
      await removeFolder(f.root);
      for (const dir of [f.wd, f.inputs, f.outputs, f.tmp, path.join(f.logs, 'user_logs'), f.state])
        await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
      const sys = fs.createWriteStream(path.join(f.logs, 'system_logs.txt'), { flags: 'a' });
      // The folder may go (job deleted, server stopping) while this is written: never an uncaught error.
      sys.on('error', () => undefined);
      const note = (line: string) => sys.write(`${new Date().toISOString()} ${line}\n`);
      try {
        if (spec.codeId) {
          const snap = await this.d.codes().snapshot(ws, spec.codeId);
          await fs.promises.cp(snap.dir, f.wd, { recursive: true, verbatimSymlinks: true });
          await makeWritable(f.wd);
          note(`code ${spec.codeId} (${snap.hash}) copied`);
        }
        const env = spec.environmentId
          ? await this.d.environmentBuilds().ensure(ws, spec.environmentId, { signal, onLog: (l) => note(l) })
          : defaultPython();
        note(`python ${env.pythonPath}`);
        if (signal.aborted || (await this.cancelRequested(r)))
          return { outcome: 'Canceled', reason: 'the job was canceled' };
        const values = new Map<string, string>();
        const vars: Record<string, string> = {};
        for (const [name, input] of Object.entries(spec.inputs ?? {})) {
          const v =
            input.jobInputType === 'literal' ? input.value : await this.materialise(ws, principal, name, input, f);
          values.set(`inputs.${name}`, v);
          vars[`AZURE_ML_INPUT_${name}`] = v;
        }
        for (const name of Object.keys(spec.outputs ?? {})) {
          const dir = path.join(f.outputs, name);
          await fs.promises.mkdir(dir, { recursive: true });
          values.set(`outputs.${name}`, dir);
          vars[`AZURE_ML_OUTPUT_${name}`] = dir;
        }
        for (const [name, v] of Object.entries(spec.searchSpaceValues ?? {})) {
          values.set(`search_space.${name}`, v);
          vars[`AZUREML_SWEEP_${name}`] = v;
        }
        const command = renderCommand(spec.command, (ref) => values.get(ref));
        const timeoutMs = spec.limits?.timeout ? parseDuration(spec.limits.timeout, 'limits.timeout') : undefined;
        // The job's token: the submitter's rights, on this workspace only, for the job's time limit (at most a day).
        const ttl = Math.min(86_400, Math.ceil((timeoutMs ?? 86_400_000) / 1000) + 600);
        const { token, expiresOn } = await this.d.ctx.tokens.issue(
          {
            oid: principal.id,
            name: principal.name,
            idtyp: principal.kind === 'user' ? 'user' : 'app',
            [WORKSPACE_SCOPE_CLAIM]: ws.id,
          },
          { ttlSeconds: ttl },
        );
        const cert = this.d.ctx.config.tlsCert ? path.resolve(this.d.ctx.config.tlsCert) : undefined;
        const jobEnv: Record<string, string> = {
          ...spec.environmentVariables,
          ...vars,
          PYTHONUNBUFFERED: '1',
          TMPDIR: f.tmp,
          TMP: f.tmp,
          TEMP: f.tmp,
          ATELIER_JOB_NAME: r.name,
          AZUREML_RUN_ID: r.run_id ?? r.name,
          AZUREML_ARM_SUBSCRIPTION: ws.subscriptionId,
          AZUREML_ARM_RESOURCEGROUP: ws.resourceGroup,
          AZUREML_ARM_WORKSPACE_NAME: ws.name,
          AZUREML_EXPERIMENT_ID: String(r.experiment_id ?? 0),
          AZUREML_EXPERIMENT_NAME: spec.experimentName,
          MLFLOW_TRACKING_URI: ws.mlFlowTrackingUri,
          MLFLOW_RUN_ID: r.run_id ?? '',
          MLFLOW_EXPERIMENT_ID: String(r.experiment_id ?? 0),
          MLFLOW_TRACKING_TOKEN: token,
          ...azuremlRunContext(this.d.ctx.config.publicUrl, ws, spec.experimentName, token, expiresOn),
          ...(cert ? { MLFLOW_TRACKING_SERVER_CERT_PATH: cert, REQUESTS_CA_BUNDLE: cert, SSL_CERT_FILE: cert } : {}),
        };
        const { executor, cluster } = await this.executorFor(ws, r);
        const exec: ExecutionSpec = {
          jobId: r.name,
          workDir: f.wd,
          command,
          env: jobEnv,
          python: { pythonPath: env.pythonPath, envDir: env.envDir, pipRequirements: env.pipRequirements },
          instanceCount: r.ranks,
          ...(timeoutMs ? { timeoutMs } : {}),
          logDir: f.logs,
          stateDir: f.state,
          ...(cluster ? { cluster } : {}),
        };
        if (signal.aborted || (await this.cancelRequested(r)))
          return { outcome: 'Canceled', reason: 'the job was canceled' };
        const { handle } = await executor.start(exec);
        note(`started on the ${executor.kind} executor`);
        return { executor, handle };
      } finally {
        // Written out before the job goes on: the copy kept with the run's logs has every line.
        sys.end();
        await finished(sys).catch(() => undefined);
      }
    } catch (e) {
      if (signal.aborted) return { outcome: 'Canceled', reason: 'the job was canceled' };
      const message =
        e instanceof JobFailure || e instanceof AtelierError
          ? e.message
          : `preparing the job failed: ${(e as Error).message}`;
      if (!(e instanceof JobFailure || e instanceof AtelierError))
        this.log(r).error({ err: e }, 'preparing a job failed');
      return { outcome: 'Failed', reason: message };
    }
  }

  async executorFor(ws: WorkspaceInfo, r: JobRow): Promise<{ executor: Executor; cluster?: { dashboardUrl: string } }> {
    let kind: 'local' | 'ray' = 'local';
    let cluster: { dashboardUrl: string } | undefined;
    if (r.compute !== LOCAL_COMPUTE) {
      const cap = await this.d.computes().capacity(ws, r.compute);
      if (/^ray$/i.test(cap.computeType)) {
        kind = 'ray';
        if (!cap.rayAddress) throw new JobFailure(`compute '${r.compute}' is a Ray cluster without an address`);
        cluster = { dashboardUrl: cap.rayAddress };
      }
    }
    const executor = this.d.executors[kind];
    if (!executor)
      throw new JobFailure(`compute '${r.compute}' needs the ${kind} executor, which this server does not have`);
    return { executor, ...(cluster ? { cluster } : {}) };
  }

  executorByKind(kind: string | null): Executor | undefined {
    return this.d.executors[(kind ?? 'local') as 'local' | 'ray'];
  }

  /** A data input as a read-only local file or folder below the job's inputs/ (or its URI, for mode Direct). */
  private async materialise(
    ws: WorkspaceInfo,
    principal: Principal,
    name: string,
    input: { jobInputType: string; uri: string; mode: string },
    f: JobFolder,
  ): Promise<string> {
    let uri = input.uri;
    let type = input.jobInputType;
    if (!parseDatastoreUri(uri)) {
      const ref = parseAssetRef(uri, 'data');
      if (!ref?.version) throw new JobFailure(`input ${name}: '${uri}' is not a datastore URI or a data asset version`);
      const v = await this.d.data.getVersion(ws, ref.name, ref.version);
      uri = String(v.properties.dataUri);
      type = String(v.properties.dataType ?? type);
      if (!parseDatastoreUri(uri))
        throw new JobFailure(
          `input ${name}: data asset ${ref.name}:${ref.version} is at '${uri}', which is not on a datastore of this workspace`,
        );
    }
    if (input.mode === 'Direct') return uri;
    const ref = parseDatastoreUri(uri)!;
    const backend = await this.d.datastores.backend(ws, ref.datastore, principal, 'read');
    const target = path.join(f.inputs, name);
    const key = ref.path.replace(/\/+$/, '');
    const st = await backend.stat(key);
    if (!st) throw new JobFailure(`input ${name}: '${uri}' does not exist in datastore '${ref.datastore}'`);
    let local: string;
    if (!st.isDir) {
      if (type === 'uri_folder')
        throw new JobFailure(`input ${name}: '${uri}' is a file, but the input is a uri_folder`);
      await fs.promises.mkdir(target, { recursive: true });
      local = path.join(target, path.posix.basename(key));
      await download(backend, key, local);
    } else {
      if (type === 'uri_file') throw new JobFailure(`input ${name}: '${uri}' is a folder, but the input is a uri_file`);
      local = target;
      await fs.promises.mkdir(target, { recursive: true });
      for (const file of await backend.list(key, { recursive: true })) {
        if (file.isDir) continue;
        const rel = key ? file.path.slice(key.length + 1) : file.path;
        const dest = path.join(target, rel);
        if (!dest.startsWith(target + path.sep))
          throw new JobFailure(`input ${name}: the path '${rel}' leaves the input's folder`);
        await fs.promises.mkdir(path.dirname(dest), { recursive: true });
        await download(backend, file.path, dest);
      }
    }
    await readOnly(target);
    return local;
  }

  /**
   * After the ranks ended: outputs to the datastore (named ones registered as data assets), logs to
   * the run's artifacts. A failure here fails the job with what went wrong.
   */
  async finalize(r: JobRow, result: ExecutionResult): Promise<ExecutionResult> {
    const spec = JSON.parse(r.spec) as CommandSpec;
    const f = jobFolder(this.d.jobs.folder(r.workspace_id, r.name));
    let out = result;
    try {
      const ws = await resolveWorkspaceByGuid(this.d.ctx, r.workspace_id);
      if (result.outcome === 'Completed' && spec.outputs && Object.keys(spec.outputs).length) {
        const principal = await this.d.ctx.principals.get(r.created_by);
        if (!principal) throw new JobFailure('the user who submitted this job no longer exists or is disabled');
        for (const [name, o] of Object.entries(spec.outputs)) {
          const uri = o.uri ?? defaultOutputUri(r.name, name);
          const ref = parseDatastoreUri(uri)!;
          const backend = await this.d.datastores.backend(ws, ref.datastore, principal, 'write');
          const dir = path.join(f.outputs, name);
          const prefix = ref.path.replace(/\/+$/, '');
          for (const file of await walk(dir)) {
            const rel = path.relative(dir, file).split(path.sep).join('/');
            await backend.put(prefix ? `${prefix}/${rel}` : rel, fs.createReadStream(file), { overwrite: true });
          }
          if (o.assetName) {
            const version = o.assetVersion ?? (await this.nextVersion(ws, o.assetName));
            await this.d.data.putVersion(
              ws,
              o.assetName,
              version,
              {
                properties: {
                  dataType: o.jobOutputType === 'uri_file' ? 'uri_file' : 'uri_folder',
                  dataUri: uri,
                  description: `output ${name} of job ${r.name}`,
                },
              },
              principal,
            );
          }
        }
      }
    } catch (e) {
      const reason = `uploading the outputs failed: ${(e as Error).message}`;
      if (!(e instanceof JobFailure || e instanceof AtelierError))
        this.log(r).error({ err: e }, 'finalizing a job failed');
      out = { outcome: 'Failed', reason };
    }
    await this.keepRunFiles(r, f);
    await this.keepLogs(r, f);
    return out;
  }

  /**
   * As in Azure ML: what the job's process wrote to `./outputs` and `./logs` of its working folder
   * becomes files of its run (`outputs/…`, `logs/…`: azureml-core's `run.get_file_names()` and
   * `download_file`, MLflow's artifacts), whatever the outcome. A real folder only (no symlink).
   */
  private async keepRunFiles(r: JobRow, f: JobFolder): Promise<void> {
    if (!r.run_id || r.experiment_id === null) return;
    try {
      const ws = await resolveWorkspaceByGuid(this.d.ctx, r.workspace_id);
      for (const folder of ['outputs', 'logs']) {
        const dir = path.join(f.wd, folder);
        const st = await fs.promises.lstat(dir).catch(() => undefined);
        if (!st?.isDirectory()) continue;
        for (const file of await walk(dir)) {
          const rel = path.relative(dir, file).split(path.sep).join('/');
          await this.d.artifacts.upload(
            { workspaceId: ws.workspaceId, storageAccountId: ws.storageAccountId ?? null },
            `${r.experiment_id}/${r.run_id}/artifacts/${folder}/${rel}`,
            fs.createReadStream(file),
          );
        }
      }
    } catch (e) {
      this.log(r).warn({ err: (e as Error).message }, 'could not keep the outputs folder of a job as run files');
    }
  }

  private async nextVersion(ws: WorkspaceInfo, name: string): Promise<string> {
    for (let v = 1; v < 10_000; v++) {
      try {
        await this.d.data.getVersion(ws, name, String(v));
      } catch (e) {
        if (e instanceof NotFound) return String(v);
        throw e;
      }
    }
    throw new Conflict(`data asset '${name}' has too many versions`);
  }

  /**
   * The logs become artifacts of the job's run (user_logs/…, system_logs.txt), and — as in Azure ML,
   * where azure-ai-ml's `jobs.download` looks for them — files of the `workspaceartifactstore`
   * datastore below `ExperimentRun/dcid.{job}/`.
   */
  async keepLogs(r: JobRow, f = jobFolder(this.d.jobs.folder(r.workspace_id, r.name))): Promise<void> {
    if (!r.run_id || r.experiment_id === null) return;
    let ws: WorkspaceInfo | undefined;
    const files = await walk(f.logs);
    try {
      ws = await resolveWorkspaceByGuid(this.d.ctx, r.workspace_id);
      for (const file of files) {
        const rel = path.relative(f.logs, file).split(path.sep).join('/');
        await this.d.artifacts.upload(
          { workspaceId: ws.workspaceId, storageAccountId: ws.storageAccountId ?? null },
          `${r.experiment_id}/${r.run_id}/artifacts/${rel}`,
          fs.createReadStream(file),
        );
      }
    } catch (e) {
      this.log(r).warn({ err: (e as Error).message }, 'could not keep the logs of a job as run artifacts');
    }
    if (!ws || !files.length) return;
    try {
      const principal = await this.d.ctx.principals.get(r.created_by);
      if (!principal) return;
      const backend = await this.d.datastores.backend(ws, ARTIFACT_DATASTORE, principal, 'write');
      for (const file of files) {
        const rel = path.relative(f.logs, file).split(path.sep).join('/');
        await backend.put(`${jobArtifactPrefix(r.name)}${rel}`, fs.createReadStream(file), { overwrite: true });
      }
    } catch (e) {
      this.log(r).warn({ err: (e as Error).message }, `could not keep the logs of a job in ${ARTIFACT_DATASTORE}`);
    }
  }
}

/** The datastore of run files in Azure ML (container `azureml`), and a job's folder in it. */
export const ARTIFACT_DATASTORE = 'workspaceartifactstore';
export const jobArtifactPrefix = (job: string): string => `ExperimentRun/dcid.${job}/`;

async function download(
  backend: { get(key: string): Promise<{ stream: NodeJS.ReadableStream }> },
  key: string,
  dest: string,
): Promise<void> {
  const { stream } = await backend.get(key);
  await pipeline(stream, fs.createWriteStream(dest, { mode: 0o600 }));
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  if (!fs.existsSync(dir)) return out;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of await fs.promises.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      // Symlinks are not followed: an output cannot smuggle in files from outside the job's folder.
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) out.push(p);
    }
  }
  return out.sort();
}

async function readOnly(dir: string): Promise<void> {
  const st = await fs.promises.lstat(dir);
  if (st.isDirectory()) {
    for (const e of await fs.promises.readdir(dir)) await readOnly(path.join(dir, e));
    await fs.promises.chmod(dir, 0o500);
  } else if (st.isFile()) await fs.promises.chmod(dir, 0o400);
}

async function makeWritable(dir: string): Promise<void> {
  const st = await fs.promises.lstat(dir);
  if (st.isDirectory()) {
    await fs.promises.chmod(dir, 0o700);
    for (const e of await fs.promises.readdir(dir)) await makeWritable(path.join(dir, e));
  } else if (st.isFile()) await fs.promises.chmod(dir, 0o600);
}

export { sleep };
