/**
 * azureml-core's v1 way of running a script: `new ScriptRunConfig({sourceDirectory, script,
 * arguments, computeTarget, environment})`, `experiment.submit(config)` → a `ScriptRun`, and
 * `run.waitForCompletion({showOutput: true})`. Under it is a command job (`W/jobs/{name}`) whose
 * code is the source folder as a content-hashed code asset; the job's MLflow run is the run.
 * `Run.getContext()` is the run a script runs in: the job's, or an offline one outside a job.
 */
import { ArmClient } from '../http/client.js';
import { TokenAuthentication } from '../auth/authentication.js';
import { NotFoundError, OperationFailedError, ValidationError } from '../errors.js';
import { host, type Env } from '../host.js';
import { Workspace } from '../workspace/workspace.js';
import { Experiment, Run } from '../tracking/experiment.js';
import { Environment } from '../assets/environment.js';
import { ComputeTarget } from '../compute/compute-target.js';
import { uploadCode } from './code-upload.js';
import type * as C from '@atelier/contracts';

type JobResource = C.Job;

export interface ScriptRunConfigOptions {
  /** The folder uploaded as the job's code (default: the current folder). */
  sourceDirectory?: string;
  /** The Python script to run, relative to `sourceDirectory`. */
  script?: string;
  /** Its command-line arguments (each quoted for the shell). */
  arguments?: (string | number | boolean)[];
  /** A shell command instead of `script` (azureml-core's `command`), as a string or a list of words. */
  command?: string | string[];
  /** A `ComputeTarget`, a compute name, or `local` (default: this server's machine). */
  computeTarget?: ComputeTarget | string;
  /** An `Environment` (registered when it has no version yet), or `name:version`. Default: the server's Python. */
  environment?: Environment | string;
  environmentVariables?: Record<string, string>;
  /** Ends the job (Failed) after this long (azureml-core's `max_run_duration_seconds`). */
  maxRunDurationSeconds?: number;
  /** Nodes for a distributed job (`resources.instanceCount`, default 1). */
  nodeCount?: number;
  displayName?: string;
  description?: string;
}

/** POSIX shell quoting: a word in single quotes, each `'` written as `'\''` (no shell expands inside). */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** What `experiment.submit` runs (azureml-core `ScriptRunConfig`). Checked when made. */
export class ScriptRunConfig {
  readonly sourceDirectory: string;
  readonly script?: string;
  readonly arguments: string[];
  readonly command?: string;
  readonly computeTarget?: ComputeTarget | string;
  readonly environment?: Environment | string;
  readonly environmentVariables: Record<string, string>;
  readonly maxRunDurationSeconds?: number;
  readonly nodeCount: number;
  readonly displayName?: string;
  readonly description?: string;

  constructor(opts: ScriptRunConfigOptions) {
    if (!opts || typeof opts !== 'object') throw new ValidationError('ScriptRunConfig needs an options object');
    this.sourceDirectory = opts.sourceDirectory ?? '.';
    if (opts.script !== undefined && opts.command !== undefined)
      throw new ValidationError('give script (with arguments) or command, not both', { target: 'command' });
    if (opts.script === undefined && opts.command === undefined)
      throw new ValidationError('ScriptRunConfig needs script (a Python file in sourceDirectory) or command', {
        target: 'script',
      });
    if (opts.script !== undefined) {
      if (typeof opts.script !== 'string' || !opts.script.trim() || opts.script.startsWith('/'))
        throw new ValidationError(
          `script must be a file path relative to sourceDirectory, got '${String(opts.script)}'`,
          {
            target: 'script',
          },
        );
      if (opts.script.split(/[\\/]/).includes('..'))
        throw new ValidationError(`script '${opts.script}' must stay inside sourceDirectory (no '..')`, {
          target: 'script',
        });
      this.script = opts.script;
    }
    if (opts.arguments !== undefined && !Array.isArray(opts.arguments))
      throw new ValidationError('arguments must be a list', { target: 'arguments' });
    this.arguments = (opts.arguments ?? []).map((a, i) => {
      if (!['string', 'number', 'boolean'].includes(typeof a))
        throw new ValidationError(`arguments[${i}] must be a string, number or boolean`, { target: `arguments[${i}]` });
      return String(a);
    });
    if (opts.command !== undefined) {
      if (this.arguments.length)
        throw new ValidationError('arguments go with script; put them in command instead', { target: 'arguments' });
      this.command = Array.isArray(opts.command)
        ? opts.command.map((w) => shellQuote(String(w))).join(' ')
        : opts.command;
      if (typeof this.command !== 'string' || !this.command.trim())
        throw new ValidationError('command must be a non-empty string or list of words', { target: 'command' });
    }
    this.computeTarget = opts.computeTarget;
    this.environment = opts.environment;
    this.environmentVariables = { ...(opts.environmentVariables ?? {}) };
    for (const [k, v] of Object.entries(this.environmentVariables))
      if (typeof v !== 'string')
        throw new ValidationError(`environmentVariables.${k} must be a string`, {
          target: `environmentVariables.${k}`,
        });
    if (opts.maxRunDurationSeconds !== undefined) {
      if (!Number.isInteger(opts.maxRunDurationSeconds) || opts.maxRunDurationSeconds < 1)
        throw new ValidationError('maxRunDurationSeconds must be a whole number of seconds', {
          target: 'maxRunDurationSeconds',
        });
      this.maxRunDurationSeconds = opts.maxRunDurationSeconds;
    }
    this.nodeCount = opts.nodeCount ?? 1;
    if (!Number.isInteger(this.nodeCount) || this.nodeCount < 1)
      throw new ValidationError('nodeCount must be a whole number of at least 1', { target: 'nodeCount' });
    this.displayName = opts.displayName;
    this.description = opts.description;
  }

  /** The shell command the job runs. */
  get commandLine(): string {
    return this.command ?? ['python', this.script!, ...this.arguments].map(shellQuote).join(' ');
  }
}

/** A run made by `experiment.submit(config)`: the MLflow run of a command job, plus the job. */
export class ScriptRun extends Run {
  /** The job's name (`W/jobs/{name}`). */
  readonly jobName: string;
  constructor(experiment: Experiment, record: Run['mlflowRun'], jobName: string) {
    super(experiment, record);
    this.jobName = jobName;
  }
  private get ws(): Workspace {
    return this.experiment.workspace as Workspace;
  }
  /** The job as the server has it now. */
  getJob(): Promise<JobResource> {
    return Workspace.prototype.getJob.call(this.ws, this.jobName);
  }
  /** The job's status in Azure ML's words (Queued, Preparing, Running, Completed, Failed, Canceled, …). */
  override async getStatus(): Promise<string> {
    return String((await this.getJob()).properties.status);
  }
  /**
   * Waits for the job to end (azureml-core `wait_for_completion`). With `showOutput` its log lines
   * are printed as they come (or given to `onLine`). A job that did not complete throws
   * OperationFailedError with its reason, unless `raiseOnError: false`. Returns the run's details.
   */
  async waitForCompletion(
    opts: { showOutput?: boolean; onLine?: (line: string) => void; raiseOnError?: boolean } = {},
  ): Promise<Record<string, unknown>> {
    const job = await Workspace.prototype.waitForJob.call(this.ws, this.jobName, {
      showOutput: opts.showOutput,
      onLine: opts.onLine,
    });
    await this.refresh();
    const status = String(job.properties.status);
    if (status !== 'Completed' && (opts.raiseOnError ?? true)) {
      const err = (job.properties as { error?: { message?: string } }).error;
      throw new OperationFailedError(
        `run '${this.id}' (job '${this.jobName}') ended ${status}${err?.message ? `: ${err.message}` : ''}`,
        { code: `Run${status}` },
      );
    }
    return { ...(await this.getDetails()), status };
  }
  /** Cancels the job (SIGTERM, a grace period, then SIGKILL). */
  override async cancel(): Promise<void> {
    await Workspace.prototype.cancelJob.call(this.ws, this.jobName);
  }
  /** The job's standard output (its `user_logs/std_log.txt`, or another log file). */
  getLog(file?: string): Promise<string> {
    return Workspace.prototype.jobLog.call(this.ws, this.jobName, file);
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), jobName: this.jobName };
  }
}

function computeIdOf(ws: Workspace, target: ComputeTarget | string | undefined): string | undefined {
  if (target === undefined || target === null) return undefined;
  if (target instanceof ComputeTarget) return target.id;
  if (typeof target !== 'string' || !target.trim())
    throw new ValidationError('computeTarget must be a ComputeTarget or a compute name', { target: 'computeTarget' });
  if (/^(local|localhost)$/i.test(target)) return undefined;
  return target.startsWith('/') ? target : `${ws.id}/computes/${encodeURIComponent(target.replace(/^azureml:/i, ''))}`;
}

async function environmentIdOf(ws: Workspace, env: Environment | string | undefined): Promise<string | undefined> {
  if (env === undefined || env === null) return undefined;
  if (typeof env === 'string') {
    if (!env.trim())
      throw new ValidationError('environment must be an Environment or name:version', { target: 'environment' });
    return env;
  }
  if (!(env instanceof Environment))
    throw new ValidationError('environment must be an Environment or name:version', { target: 'environment' });
  // azureml-core registers an environment when a run first uses it.
  const registered = env.version ? env : await env.register(ws);
  return `azureml:${registered.name}:${registered.version}`;
}

declare module '../tracking/experiment.js' {
  interface Experiment {
    /**
     * Submits a run (azureml-core `Experiment.submit(config)`): the source folder becomes a code
     * asset (uploaded once per content), then a command job runs the script. Returns its run.
     */
    submit(config: ScriptRunConfig, opts?: { tags?: Record<string, string> }): Promise<ScriptRun>;
  }
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Run {
    /**
     * The run this code runs in (azureml-core `Run.get_context()`): inside a job, the job's run
     * (from `MLFLOW_TRACKING_URI`, `MLFLOW_RUN_ID` and `MLFLOW_TRACKING_TOKEN`); elsewhere an
     * `OfflineRun` whose logging prints to standard output.
     */
    function getContext(opts?: { env?: Env }): Promise<Run | OfflineRun>;
  }
}

Experiment.prototype.submit = async function (this: Experiment, config, opts = {}) {
  if (!(config instanceof ScriptRunConfig))
    throw new ValidationError('submit takes a ScriptRunConfig', { target: 'config' });
  const ws = this.workspace as Workspace;
  if (!(ws instanceof Workspace))
    throw new ValidationError('submit needs an Experiment of a Workspace (new Experiment(ws, name))');
  const computeId = computeIdOf(ws, config.computeTarget);
  const environmentId = await environmentIdOf(ws, config.environment);
  const code = await uploadCode(ws, config.sourceDirectory);
  // A 32-hex name: MLflow's run id form, so the job's run gets the job's name as its id.
  const name = globalThis.crypto.randomUUID().replace(/-/g, '');
  const properties: Record<string, unknown> = {
    jobType: 'Command',
    experimentName: this.name,
    command: config.commandLine,
    codeId: code.id,
    ...(environmentId ? { environmentId } : {}),
    ...(computeId ? { computeId } : {}),
    environmentVariables: config.environmentVariables,
    resources: { instanceCount: config.nodeCount },
    ...(config.maxRunDurationSeconds
      ? { limits: { jobLimitsType: 'Command', timeout: `PT${config.maxRunDurationSeconds}S` } }
      : {}),
    ...(config.displayName ? { displayName: config.displayName } : {}),
    ...(config.description ? { description: config.description } : {}),
    ...(opts.tags ? { tags: opts.tags } : {}),
  };
  await ws.submitJob(name, properties);
  const exp = await Experiment.get(ws, this.name);
  let run: Run;
  try {
    run = await Run.get(ws, name);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    // The name was taken as a run id already: the job's run carries its name as a tag.
    const found = (await exp.getRuns({ tags: { 'atelier.job': name }, maxResults: 1 }))[0];
    if (!found) throw e;
    run = found;
  }
  return new ScriptRun(exp, run.mlflowRun, name);
};

/**
 * A run outside any job (azureml-core's offline run): what is logged is printed to standard output,
 * so a script runs the same on a laptop as in a job.
 */
export class OfflineRun {
  readonly id = `OfflineRun_${globalThis.crypto.randomUUID()}`;
  readonly status = 'Running';
  private readonly tagsSet: Record<string, string> = {};
  private say(line: string): void {
    host().print(line);
  }
  async log(name: string, value: number | boolean): Promise<void> {
    this.say(`Attempted to log scalar metric ${name}:\n${String(value)}`);
  }
  async logList(name: string, values: (number | boolean)[]): Promise<void> {
    this.say(`Attempted to log list metric ${name}:\n${JSON.stringify(values)}`);
  }
  async logRow(name: string, row: Record<string, number | boolean>): Promise<void> {
    this.say(`Attempted to log row metric ${name}:\n${JSON.stringify(row)}`);
  }
  async logTable(name: string, table: Record<string, (number | boolean)[]>): Promise<void> {
    this.say(`Attempted to log table metric ${name}:\n${JSON.stringify(table)}`);
  }
  async logImage(name: string, image: string | Uint8Array): Promise<string> {
    this.say(`Attempted to log image metric ${name}:\n${typeof image === 'string' ? image : `${image.length} bytes`}`);
    return name;
  }
  async tag(key: string, value = ''): Promise<void> {
    this.tagsSet[key] = value;
    this.say(`Attempted to set tag ${key}:\n${value}`);
  }
  async setTags(tags: Record<string, string>): Promise<void> {
    for (const [k, v] of Object.entries(tags)) await this.tag(k, v);
  }
  async addProperties(properties: Record<string, string>): Promise<void> {
    this.say(`Attempted to add properties:\n${JSON.stringify(properties)}`);
  }
  async uploadFile(name: string, pathOrStream: string): Promise<void> {
    this.say(`Attempted to upload file ${name} from ${pathOrStream}`);
  }
  get tags(): Record<string, string> {
    return { ...this.tagsSet };
  }
  async getStatus(): Promise<string> {
    return this.status;
  }
  async complete(): Promise<void> {}
  async fail(): Promise<void> {}
}

/** The tracking URI of a workspace: `{server}/mlflow/v1.0{W}`. */
function parseTrackingUri(uri: string): { endpoint: string; workspaceId: string; workspaceName: string } {
  const m =
    /^(https?:\/\/[^/]+(?:\/.*?)?)\/mlflow\/v1\.0(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+))\/?$/i.exec(
      uri,
    );
  if (!m)
    throw new ValidationError(
      `MLFLOW_TRACKING_URI '${uri}' is not a workspace's tracking URI ({server}/mlflow/v1.0/subscriptions/…/workspaces/{name})`,
      { target: 'MLFLOW_TRACKING_URI' },
    );
  return { endpoint: m[1]!, workspaceId: m[2]!, workspaceName: decodeURIComponent(m[3]!) };
}

(Run as unknown as { getContext: (opts?: { env?: Env }) => Promise<Run | OfflineRun> }).getContext = async (
  opts = {},
) => {
  const env = opts.env ?? host().env();
  const runId = env.MLFLOW_RUN_ID;
  const uri = env.MLFLOW_TRACKING_URI;
  if (!runId || !uri) return new OfflineRun();
  const token = env.MLFLOW_TRACKING_TOKEN ?? env.MLFLOW_TRACKING_PASSWORD;
  if (!token)
    throw new ValidationError(
      'MLFLOW_RUN_ID is set but neither MLFLOW_TRACKING_TOKEN nor MLFLOW_TRACKING_PASSWORD is: the run cannot be reached',
      { target: 'MLFLOW_TRACKING_TOKEN' },
    );
  const { endpoint, workspaceId, workspaceName } = parseTrackingUri(uri);
  const client = new ArmClient(endpoint, new TokenAuthentication(token));
  return Run.get({ id: workspaceId, name: workspaceName, serviceContext: { client } }, runId);
};
