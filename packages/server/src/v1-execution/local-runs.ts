import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import { SCRIPT_RUN_TYPE, type RunHistoryService } from '../run-history/run-history.js';
import type { V1EnvironmentService } from '../v1-environments/environments.js';
import { WORKSPACE_SCOPE_CLAIM } from '../identity/token-scopes.js';
import { specHash, specOf } from '../environment-builds/spec.js';
import { recipeFiles, zipFiles, BUILD_SCRIPT, CHECK_SCRIPT } from '../v1-environments/recipe.js';
import { azuremlRunContext } from '../jobs/runner.js';
import { shellQuote } from '../jobs/command.js';
import { Conflict, InvalidInput } from '../errors.js';
import { type Obj, bad, empty, field, isObj, stringVars, unsupported } from './run-config-fields.js';
import { LOCAL_RUN_LAUNCHER } from './local-run-launcher.js';

/** How long a local run's token lasts: the run reports with it until its end (azureml-core's default limit is 30 days; a day here, as jobs' tokens). */
const TOKEN_TTL_S = 86_400;
/** Where the invocation zip's files go in the run's project copy (azureml-core runs `azureml-setup/Invocation.sh`). */
const SETUP = 'azureml-setup';
const LAUNCHER = `${SETUP}/atelier_local_run.py`;
const ENV_FOLDER = `${SETUP}/environment`;

/** What the invocation script runs: the launcher in an interpreter the caller has, or in an environment the script builds. */
interface Plan {
  script: string;
  args: string[];
  vars: Record<string, string>;
  /** `python.user_managed_dependencies`: the caller's interpreter (`python.interpreter_path`). */
  interpreter?: string;
  /** Otherwise the environment's files (env.build_local's recipe) and the folder it is made in. */
  environment?: { files: Record<string, string>; dir: string };
}

/**
 * azureml-core's local runs (`Experiment.submit(ScriptRunConfig(…, compute_target='local'))`,
 * azureml/_execution/_commands.py `_start_internal_local_cloud`): the client copies the project to
 * `{tmp}/azureml_runs/{run id}`, posts the run definition and its `aml_config.zip` to `…/localrun`,
 * unzips the answer there and starts `azureml-setup/Invocation.sh` in the background, then waits on
 * the run through run history. So the answer is that zip: an invocation script carrying the run's
 * context (the variables `Run.get_context()` reads and a token for this workspace only, with the
 * caller's rights), the environment's build scripts when the run configuration asks for one, and a
 * launcher that runs the script and reports the run (local-run-launcher.ts). The run is made here,
 * `NotStarted`, in the experiment; it is a run-history (MLflow) run like `start_logging`'s, not a job:
 * no server process runs it. Everything is checked before anything is made.
 */
export class V1LocalRuns {
  constructor(
    private readonly ctx: AppContext,
    private readonly history: RunHistoryService,
    private readonly environments: V1EnvironmentService,
  ) {}

  private plan(c: Obj): Plan {
    const target = field(c, 'target');
    if (typeof target !== 'string' || !/^local$/i.test(target))
      throw bad('Configuration.target', `is '${String(target)}': localrun runs compute_target='local' only`);
    const script = field(c, 'script');
    if (!empty(field(c, 'command')))
      throw unsupported(
        'Configuration.command',
        'is set: local runs run a script (ScriptRunConfig(script=…)); a command runs on a compute of the workspace',
      );
    if (typeof script !== 'string' || !script || script.startsWith('/') || script.split(/[\\/]/).includes('..'))
      throw bad('Configuration.script', 'is required: a script inside the source directory');
    const rawArgs = field(c, 'arguments') ?? [];
    if (!Array.isArray(rawArgs)) throw bad('Configuration.arguments', 'must be a list');
    const args = rawArgs.map((a, i) => {
      if (a === null || typeof a === 'object')
        throw unsupported(
          `Configuration.arguments[${i}]`,
          'is a data reference or an object; local runs pass plain arguments only (pass a path as a string)',
        );
      return String(a);
    });
    const communicator = String(field(c, 'communicator') ?? 'None');
    if (!/^none$/i.test(communicator))
      throw unsupported(
        'Configuration.communicator',
        `is '${communicator}': a local run is one process on your machine; distributed training runs on a compute of the workspace`,
      );
    const framework = String(field(c, 'framework') ?? 'Python');
    if (!/^python$/i.test(framework))
      throw unsupported('Configuration.framework', `is '${framework}'; only Python scripts are run`);
    for (const f of ['dataReferences', 'data', 'outputData', 'datacaches'])
      if (!empty(field(c, f)))
        throw unsupported(
          `Configuration.${f}`,
          'is not served for local runs: datasets and data references are not mounted on your machine; read the data in the script (Dataset.get_by_name, Datastore paths)',
        );
    const env = (field(c, 'environment') ?? {}) as Obj;
    if (!isObj(env)) throw bad('Configuration.environment', 'must be an environment definition');
    const python = (field(env, 'python') ?? {}) as Obj;
    const docker = (field(env, 'docker') ?? {}) as Obj;
    const runDocker = field(c, 'docker');
    if (!isObj(python) || !isObj(docker))
      throw bad('Configuration.environment', 'has a malformed python or docker part');
    if ((isObj(runDocker) && field(runDocker, 'useDocker') === true) || field(docker, 'enabled') === true)
      throw unsupported(
        'Configuration.docker.useDocker',
        'is true: a local run in Docker builds and runs a container with the Docker of your machine, which this server does not drive; run without Docker (the default) or on a compute of the workspace',
      );
    const plan: Plan = {
      script,
      args,
      vars: {
        ...stringVars(field(env, 'environmentVariables'), 'Configuration.environment.environmentVariables'),
        ...stringVars(field(c, 'environmentVariables'), 'Configuration.environmentVariables'),
      },
    };
    if (field(python, 'userManagedDependencies') === true) {
      const interpreter = field(python, 'interpreterPath');
      plan.interpreter = typeof interpreter === 'string' && interpreter ? interpreter : 'python';
      return plan;
    }
    const name = field(env, 'name');
    if (typeof name !== 'string' || !name) throw bad('Configuration.environment.name', 'is required');
    // The environment's pip list as env.build_local makes it (a virtual environment on the caller's
    // machine). The launcher reports through azureml-core, which Azure adds to a run's environment too
    // (azureml-defaults): added when the list does not name it.
    const spec = specOf(this.environments.toArm(name, env) as Parameters<typeof specOf>[0], `'${name}'`);
    if (!spec.requirements.some((r) => /^azureml-(core|defaults)\b/i.test(r.trim())))
      spec.requirements = [...spec.requirements, 'azureml-core'];
    const hash = specHash(spec);
    plan.environment = {
      files: recipeFiles(spec, hash, `environment ${name}`),
      dir: `azureml_${hash.slice(0, 32)}`,
    };
    return plan;
  }

  /** The invocation script: the run's context, the environment (made when missing), the launcher with its log. */
  private invocation(p: Plan, context: Record<string, string>): string {
    const exports = Object.entries({ ...p.vars, ...context, PYTHONUNBUFFERED: '1' })
      .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
      .join('\n');
    const python = p.environment
      ? [
          `ENV_DIR="\${AZUREML_ENVIRONMENTS_DIR:-$HOME/.azureml/envs}/${p.environment.dir}"`,
          `( cd ${ENV_FOLDER} && { /bin/bash ./${CHECK_SCRIPT} || /bin/bash ./${BUILD_SCRIPT}; } ) >> "$LOG" 2>&1 || fail "the run's environment could not be built on this machine (see ${'$'}LOG)"`,
          'PY="$ENV_DIR/bin/python"',
        ].join('\n')
      : `PY=${shellQuote(p.interpreter!)}`;
    return `#!/bin/bash
# Atelier: an azureml-core local run (compute_target='local'), started by azureml-core in the run's
# project copy. It runs ${LAUNCHER}, which runs the script and reports the run to the server.
cd "$(dirname "$0")/.." || exit 1
${exports}
mkdir -p azureml-logs
LOG=azureml-logs/70_driver_log.txt
: > "$LOG"
# Reports the run Failed when the launcher could not (no interpreter, no environment): the run must end.
fail() {
  echo "$1" >> "$LOG"
  for p in python3 python; do
    command -v "$p" > /dev/null && { "$p" ${LAUNCHER} --failed "$1" >> "$LOG" 2>&1; exit 1; }
  done
  exit 1
}
${python}
"$PY" ${LAUNCHER} ${[p.script, ...p.args].map(shellQuote).join(' ')} >> "$LOG" 2>&1
code=$?
[ -f ${SETUP}/.reported ] || fail "the run's process ended (exit code $code) before reporting the run; is azureml-core installed in $PY?"
exit $code
`;
  }

  /**
   * `localrun?runId=`: the run `runId` of experiment `experimentName` (NotStarted) and the invocation
   * zip azureml-core runs on the caller's machine.
   */
  async start(
    ws: WorkspaceInfo,
    experimentName: string,
    runId: unknown,
    definition: unknown,
    by: Principal,
  ): Promise<Buffer> {
    if (typeof runId !== 'string' || !runId) throw bad('runId', 'is required (the query parameter azureml-core sends)');
    if (!isObj(definition))
      throw new InvalidInput('the run definition must be a JSON object', { target: 'definition.json' });
    if (!empty(field(definition, 'ParentRunId')))
      throw unsupported('ParentRunId', 'is set: child runs are not started through the execution service');
    const c = field(definition, 'Configuration');
    if (!isObj(c)) throw bad('Configuration', 'is required: the run configuration');
    const plan = this.plan(c);
    if (await this.history.findRun(ws.workspaceId, runId))
      throw new Conflict(`run '${runId}' exists in workspace '${ws.name}'; submit under a new run id`, {
        code: 'CONFLICT',
      });
    const experiment = await this.history.ensureExperiment(ws.workspaceId, experimentName);
    const run = await this.history.patchRun(
      ws.workspaceId,
      experiment,
      runId,
      {
        status: 'NotStarted',
        // A ScriptRunConfig run wherever it runs (run.type, get_runs(type='azureml.scriptrun')).
        runType: SCRIPT_RUN_TYPE,
        properties: {
          'azureml.runsource': 'experiment',
          'azureml.submittedBy': 'azureml-core ScriptRunConfig (local)',
        },
      },
      by.name,
    );
    // The caller's own rights, on this workspace only: the run reports with it from the caller's machine.
    const { token, expiresOn } = await this.ctx.tokens.issue(
      { oid: by.id, name: by.name, idtyp: by.kind === 'user' ? 'user' : 'app', [WORKSPACE_SCOPE_CLAIM]: ws.id },
      { ttlSeconds: TOKEN_TTL_S },
    );
    const context: Record<string, string> = {
      AZUREML_RUN_ID: run.info.run_id,
      AZUREML_ARM_SUBSCRIPTION: ws.subscriptionId,
      AZUREML_ARM_RESOURCEGROUP: ws.resourceGroup,
      AZUREML_ARM_WORKSPACE_NAME: ws.name,
      AZUREML_EXPERIMENT_ID: experiment.experiment_id,
      AZUREML_EXPERIMENT_NAME: experimentName,
      MLFLOW_TRACKING_URI: ws.mlFlowTrackingUri,
      MLFLOW_RUN_ID: run.info.run_id,
      MLFLOW_EXPERIMENT_ID: experiment.experiment_id,
      MLFLOW_TRACKING_TOKEN: token,
      ...azuremlRunContext(this.ctx.config.publicUrl, ws, experimentName, token, expiresOn),
    };
    const files: Record<string, string> = {
      [`${SETUP}/Invocation.sh`]: this.invocation(plan, context),
      [LAUNCHER]: LOCAL_RUN_LAUNCHER,
    };
    for (const [name, text] of Object.entries(plan.environment?.files ?? {})) files[`${ENV_FOLDER}/${name}`] = text;
    return zipFiles(files);
  }
}
