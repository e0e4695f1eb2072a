import type { Principal } from '../identity/principals.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { JobService } from '../jobs/jobs.js';
import type { V1EnvironmentService } from '../v1-environments/environments.js';
import { specOf } from '../environment-builds/spec.js';
import { shellQuote } from '../jobs/command.js';
import { AtelierError, Conflict, InvalidInput } from '../errors.js';
import { type Obj, bad, empty, field, isObj, stringVars, unsupported } from './run-config-fields.js';
import type { V1Snapshots } from './snapshots.js';
import { SCRIPT_RUN_TYPE, type RunHistoryService } from '../run-history/run-history.js';

/** azureml-core's default `max_run_duration_seconds` (30 days): no limit of its own. */
const DEFAULT_MAX_RUN_SECONDS = 2_592_000;
/**
 * How the script runs, as Azure ML's own run wrapper does: in-process (runpy, its folder first on
 * sys.path, its arguments in sys.argv), then the metrics its `Run.get_context()` queued are flushed —
 * azureml-core sends `run.log` values in the background and has no exit hook of its own.
 */
const LAUNCHER = [
  'import os, runpy, sys',
  'sys.argv = sys.argv[1:]',
  'sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))',
  'try:',
  '    runpy.run_path(sys.argv[0], run_name="__main__")',
  'finally:',
  '    m = sys.modules.get("azureml.core.run")',
  '    if m is not None:',
  '        m.Run.get_context().flush()',
].join('\n');

/** A run definition turned into a command job body, and the environment to register first (if any). */
interface Plan {
  body: { properties: Obj };
  environment?: { name: string; version?: string; definition: Obj };
}

/**
 * azureml-core's execution service (`/execution/v1.0/…/experiments/{name}/snapshotrun?runId=`), what
 * `Experiment.submit(ScriptRunConfig)` posts for a compute target (azureml/_execution/_commands.py,
 * `_start_internal`): the run configuration becomes a command job of that experiment whose name (and
 * MLflow run id) is the run id the client chose — its code the uploaded snapshot (a code asset), its
 * command the script and arguments, its compute the target, its environment the run configuration's
 * (registered through the v1 environment service, or the compute's own Python when
 * `python.user_managed_dependencies` is set). Everything is checked before anything is made.
 */
export class V1Submissions {
  constructor(
    private readonly jobs: JobService,
    private readonly snapshots: V1Snapshots,
    private readonly environments: V1EnvironmentService,
    private readonly runHistory: RunHistoryService,
  ) {}

  /** The command of a run configuration: its script with its arguments (through LAUNCHER), or its `command`. */
  private command(c: Obj): string {
    const script = field(c, 'script');
    const args = field(c, 'arguments') ?? [];
    const command = field(c, 'command');
    if (!Array.isArray(args)) throw bad('Configuration.arguments', 'must be a list');
    const words = args.map((a, i) => {
      if (a === null || typeof a === 'object')
        throw unsupported(
          `Configuration.arguments[${i}]`,
          'is a data reference or an object; this server runs scripts with plain arguments only (pass a datastore path as a string, or use a job input through azure-ai-ml)',
        );
      return shellQuote(String(a));
    });
    if (typeof script === 'string' && script) {
      if (!empty(command))
        throw bad('Configuration', 'gives both script and command; give one (ScriptRunConfig takes one)');
      return ['python', '-c', shellQuote(LAUNCHER), shellQuote(script), ...words].join(' ');
    }
    if (Array.isArray(command) && command.length)
      return [...command.map((w) => shellQuote(String(w))), ...words].join(' ');
    if (typeof command === 'string' && command.trim()) return [command, ...words].join(' ');
    throw bad('Configuration.script', 'is required: the script of the source directory to run (or a command)');
  }

  /** Checks the run configuration and plans the job; 400/501 naming the field it cannot honour. */
  private plan(experimentName: string, snapshotCodeId: string, c: Obj): Plan {
    const target = field(c, 'target');
    if (typeof target !== 'string' || !target)
      throw bad('Configuration.target', 'is required: the name of a compute of the workspace');
    if (/^(local|localhost)$/i.test(target))
      throw bad(
        'Configuration.target',
        "is 'local', which azureml-core runs on the caller's machine (localrun), not through snapshotrun; name a compute of the workspace",
      );
    const communicator = String(field(c, 'communicator') ?? 'None');
    if (!/^none$/i.test(communicator))
      throw unsupported(
        'Configuration.communicator',
        `is '${communicator}': distributed training (MPI, PyTorch, TensorFlow parameter servers) is not served for azureml-core runs; submit one process (node_count ranks each run the script) or a distributed command job through azure-ai-ml`,
      );
    const framework = String(field(c, 'framework') ?? 'Python');
    if (!/^python$/i.test(framework))
      throw unsupported('Configuration.framework', `is '${framework}'; only Python scripts are run`);
    for (const f of ['dataReferences', 'data', 'outputData', 'datacaches'])
      if (!empty(field(c, f)))
        throw unsupported(
          `Configuration.${f}`,
          'is not served: datasets and data references are not mounted into azureml-core runs; read the data in the script (Dataset.get_by_name, Datastore paths) or submit a command job with inputs through azure-ai-ml',
        );
    if (!empty(field(c, 'sourceDirectoryDataStore')))
      throw unsupported(
        'Configuration.sourceDirectoryDataStore',
        'is not served; the source directory is the snapshot',
      );
    const docker = field(c, 'docker');
    if (isObj(docker) && field(docker, 'useDocker') === true)
      throw unsupported(
        'Configuration.docker.useDocker',
        'is true: this server runs jobs in Python environments built with uv, not in Docker containers',
      );
    const nodes = field(c, 'nodeCount') ?? 1;
    if (!Number.isInteger(nodes) || (nodes as number) < 1 || (nodes as number) > 64)
      throw bad('Configuration.nodeCount', 'must be a whole number from 1 to 64');
    const seconds = field(c, 'maxRunDurationSeconds');
    if (seconds !== undefined && seconds !== null && (!Number.isInteger(seconds) || (seconds as number) < 1))
      throw bad('Configuration.maxRunDurationSeconds', 'must be a positive whole number of seconds');
    const env = field(c, 'environment');
    if (env !== undefined && env !== null && !isObj(env))
      throw bad('Configuration.environment', 'must be an environment definition');
    const e = (env ?? {}) as Obj;
    const python = (field(e, 'python') ?? {}) as Obj;
    const envDocker = (field(e, 'docker') ?? {}) as Obj;
    if (!isObj(python) || !isObj(envDocker))
      throw bad('Configuration.environment', 'has a malformed python or docker part');
    if (!empty(field(envDocker, 'baseDockerfile')) || !empty(field(envDocker, 'buildContext')))
      throw unsupported(
        'Configuration.environment.docker.baseDockerfile',
        'is set: this server has no container runtime to build a Dockerfile; give the environment conda dependencies, or set python.user_managed_dependencies to use the compute’s Python',
      );
    const vars = {
      ...stringVars(field(e, 'environmentVariables'), 'Configuration.environment.environmentVariables'),
      ...stringVars(field(c, 'environmentVariables'), 'Configuration.environmentVariables'),
    };
    const properties: Obj = {
      jobType: 'Command',
      experimentName,
      command: this.command(c),
      codeId: snapshotCodeId,
      computeId: target,
      environmentVariables: vars,
      resources: { instanceCount: nodes },
      properties: { 'azureml.runsource': 'experiment', 'azureml.submittedBy': 'azureml-core ScriptRunConfig' },
    };
    if (typeof seconds === 'number' && seconds < DEFAULT_MAX_RUN_SECONDS)
      properties.limits = { jobLimitsType: 'Command', timeout: `PT${seconds}S` };
    const plan: Plan = { body: { properties } };
    if (python.userManagedDependencies !== true) {
      const name = field(e, 'name');
      if (typeof name !== 'string' || !name) throw bad('Configuration.environment.name', 'is required');
      const version = field(e, 'version');
      // The same checks its build will make (conda-only packages, no conda file), before anything is made.
      const arm = this.environments.toArm(name, e);
      specOf(arm as Parameters<typeof specOf>[0], `'${name}'`);
      plan.environment = {
        name,
        ...(typeof version === 'string' && version && !/^autosave/i.test(version) ? { version } : {}),
        definition: e,
      };
    }
    return plan;
  }

  /**
   * `snapshotrun`: the command job `runId` of experiment `experimentName`, queued. `project` (startrun,
   * the source directory as a zip) makes the job's snapshot once everything else is checked, in place
   * of the definition's `SnapshotId`.
   */
  async submit(
    ws: WorkspaceInfo,
    experimentName: string,
    runId: unknown,
    definition: unknown,
    by: Principal,
    project?: () => Promise<string>,
  ) {
    if (typeof runId !== 'string' || !runId) throw bad('runId', 'is required (the query parameter azureml-core sends)');
    this.jobs.checkName(runId);
    if (!isObj(definition)) throw new InvalidInput('the run definition must be a JSON object', { target: 'body' });
    if (!empty(field(definition, 'ParentRunId')))
      throw unsupported('ParentRunId', 'is set: child runs are not submitted through the execution service');
    const c = field(definition, 'Configuration');
    if (!isObj(c)) throw bad('Configuration', 'is required: the run configuration');
    let codeId = '';
    if (!project) {
      const snapshot = field(definition, 'SnapshotId');
      if (typeof snapshot !== 'string' || !snapshot)
        throw bad(
          'SnapshotId',
          'is required: the uploaded source directory (RunConfiguration.history.snapshot_project must stay true)',
        );
      codeId = await this.snapshots.codeIdOf(ws, snapshot, 'SnapshotId');
    }
    const plan = this.plan(experimentName, codeId, c);
    if (await this.jobs.row(ws, runId))
      throw new Conflict(`run '${runId}' exists in workspace '${ws.name}'; submit under a new run id`, {
        code: 'CONFLICT',
      });
    try {
      await this.jobs.checkCompute(ws, String(plan.body.properties.computeId), 'Configuration.target');
    } catch (e) {
      if (e instanceof AtelierError && e.kind === 'not_found')
        throw new InvalidInput(
          `Configuration.target names compute '${String(plan.body.properties.computeId)}', which workspace '${ws.name}' does not have; create it or name another`,
          { target: 'Configuration.target' },
        );
      throw e;
    }
    if (project) plan.body.properties.codeId = await this.snapshots.codeIdOf(ws, await project(), 'projectZipFile');
    if (plan.environment) {
      const { name, version, definition: d } = plan.environment;
      const v = (await this.environments.register(ws, name, version, d, by)) as { version: string };
      plan.body.properties.environmentId = `azureml:${name}:${v.version}`;
    }
    const { row } = await this.jobs.put(ws, runId, plan.body, by);
    // azureml-core reads a submitted run as a ScriptRun (run.type, get_runs(type='azureml.scriptrun')).
    if (row.run_id) await this.runHistory.setRunType(ws.workspaceId, row.run_id, SCRIPT_RUN_TYPE);
    return row;
  }
}
