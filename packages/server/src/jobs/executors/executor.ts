/**
 * The Executor: how a job's processes run. The jobs module (queue, scheduler, statuses, logs, MLflow
 * run) is the same for every executor; an executor only starts the ranks of one job, waits for them,
 * cancels them and says whether they still live. Two implement it: `local/` (child processes on this
 * machine, the default) and `ray/` (a Ray cluster through the Ray Jobs API).
 *
 * Contract:
 * - `start` returns quickly once the ranks are launched (or submitted); its `handle` is an opaque
 *   string the jobs module persists in the job's row, so a restarted server can `alive`/`wait`/`cancel`
 *   the same job again (reattach). A handle must therefore be self-describing (JSON is fine).
 * - `wait` resolves once every rank has ended (or the job's `timeoutMs` passed: the executor stops
 *   the ranks and answers `Failed` with a reason naming the timeout). An aborted `signal` ends the
 *   wait early (rejects with the abort reason) without touching the job.
 * - `cancel` stops the ranks: SIGTERM to each rank's process group, `graceMs` to finish, then SIGKILL.
 *   A `wait` in progress then resolves `Canceled`.
 * - Logs: the executor writes (or, for remote engines, copies as they grow) each rank's output into
 *   `spec.logDir`: `user_logs/std_log.txt` for a single-instance job, `user_logs/std_log_process_<rank>.txt`
 *   (rank 0, 1, …) for `instanceCount > 1` (as Azure ML names them), append-only, so the jobs
 *   module tails them for the live stream and keeps them as run artifacts the same way for every executor.
 */

export interface ExecutionSpec {
  /** The job's name (unique in its workspace); remote engines may use it as their submission id. */
  jobId: string;
  /** Working directory of every rank: a private copy of the code snapshot. */
  workDir: string;
  /** The final shell command: inputs substituted and shell-quoted already. Run by `/bin/sh -c`. */
  command: string;
  /**
   * Environment variables of the job (MLflow, inputs, outputs, the user's own, TMPDIR…). Executors do
   * not pass the server's own environment through (it may hold secrets): only these, plus `PATH`,
   * `HOME`, `LANG`/`LC_ALL` and the rank variables below.
   */
  env: Record<string, string>;
  /**
   * The Python environment: `pythonPath` is the interpreter that `python`/`python3` must mean for the
   * command; `envDir` its environment's folder (a venv, or '' for an interpreter outside one);
   * `pipRequirements` what it was built from (remote engines rebuild it, e.g. Ray's runtime_env.pip).
   */
  python: { pythonPath: string; envDir: string; pipRequirements: string[] };
  /**
   * Number of ranks (processes; on a cluster, nodes). Each gets `RANK`, `WORLD_SIZE`, `LOCAL_RANK`,
   * `NODE_RANK`, `AZUREML_PROCESS_RANK`, `OMPI_COMM_WORLD_RANK`/`OMPI_COMM_WORLD_SIZE`,
   * `MASTER_ADDR`/`MASTER_PORT` (127.0.0.1 and a free port, locally).
   */
  instanceCount: number;
  /** Limit of the whole job (limits.timeout); past it the ranks are stopped and the job Failed. */
  timeoutMs?: number;
  /** Folder of the per-rank logs (see the contract above). */
  logDir: string;
  /** A private folder of the executor for this job (exit codes, shims); survives a server restart. */
  stateDir: string;
  /**
   * Where a remote executor sends the job: for `ray`, the cluster's Jobs API (its dashboard,
   * `http://host:8265`, the compute's `rayAddress`). The local executor ignores it.
   */
  cluster?: { dashboardUrl: string };
}

export type ExecutionOutcome = 'Completed' | 'Failed' | 'Canceled';

export interface ExecutionResult {
  outcome: ExecutionOutcome;
  /** The failing (or, when all succeed, 0) exit code, when known. */
  exitCode?: number;
  /** Why it failed or was canceled, for the job's error message. */
  reason?: string;
}

export interface Executor {
  readonly kind: 'local' | 'ray';
  start(spec: ExecutionSpec): Promise<{ handle: string }>;
  wait(handle: string, signal?: AbortSignal): Promise<ExecutionResult>;
  /** SIGTERM the process groups → `graceMs` → SIGKILL. Resolves once the ranks are gone (or killed). */
  cancel(handle: string, graceMs: number): Promise<void>;
  /** Whether any rank of the job still runs (reattach after a restart). */
  alive(handle: string): Promise<boolean>;
}

/** Log file of one rank (relative to `logDir`). */
export function rankLogFile(rank: number, instanceCount: number): string {
  return instanceCount > 1 ? `user_logs/std_log_process_${rank}.txt` : 'user_logs/std_log.txt';
}
