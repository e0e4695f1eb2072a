import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { rankLogFile, type ExecutionResult, type ExecutionSpec, type Executor } from '../executor.js';
import { RAY_TERMINAL, RayJobsClient, type RayJobDetails, type RaySubmitRequest } from './ray-jobs-client.js';
import { packageWorkingDir } from './working-dir-package.js';

/**
 * The Ray executor: each rank of a job is one Ray job submitted to a cluster through its Jobs API.
 * - The job's working folder goes up once as a content-addressed package (`gcs://_ray_pkg_<hash>.zip`,
 *   the `working_dir` of its runtime_env); its environment's pip requirements are the runtime_env's
 *   `pip` (Ray builds and caches that virtualenv on its nodes); its variables are `env_vars`, with the
 *   rank variables of the executor contract.
 * - Ray's statuses map onto the executor's outcomes: SUCCEEDED → Completed, FAILED → Failed (the
 *   driver's exit code, or why Ray could not start it), STOPPED → Canceled (or Failed when the
 *   executor stopped it at the job's time limit).
 * - Logs: each rank's driver log is polled (`GET …/logs`) and the part not copied yet is appended to
 *   its file in `spec.logDir`, Ray's own preamble (runtime env set-up, the echoed entrypoint) left out,
 *   so the jobs module streams and keeps them as for the local executor. The copied length is the local
 *   file's size, so a restarted server goes on where the last one stopped.
 * - Cancel is Ray's stop: SIGTERM to the entrypoint and its children, `RAY_JOB_STOP_WAIT_TIME_S`
 *   (set at submit from `stopGraceMs`), SIGKILL.
 * - Ranks on Ray get RANK, WORLD_SIZE, … but no MASTER_ADDR/MASTER_PORT: Ray places them, the executor
 *   cannot know a rendezvous address up front (distributed training on Ray uses Ray Train).
 * One executor serves every cluster: a job's cluster is `spec.cluster.dashboardUrl` (the compute's
 * `rayAddress`), and the handle names it with the Ray submission ids, so wait/cancel/alive after a
 * restart reach the same cluster.
 */

export interface RayExecutorOptions {
  /** How often a running job's status and logs are read (default 250 ms). */
  pollMs?: number;
  /** Grace between SIGTERM and SIGKILL when a job is stopped (Ray's RAY_JOB_STOP_WAIT_TIME_S; default 5 s). */
  stopGraceMs?: number;
  /** How long the cluster may be unreachable before a waited-on job is given up as Failed (default 5 minutes). */
  unreachableMs?: number;
}

interface RayHandle {
  v: 1;
  engine: 'ray';
  dashboard: string;
  /** Ray submission ids, one per rank. */
  ids: string[];
  logDir: string;
  stateDir: string;
  /** Length of the command (characters), to find where the user's output starts in Ray's log. */
  cmdLen: number;
  /** Epoch ms past which the job is stopped and Failed (limits.timeout), and that limit. */
  deadline?: number;
  timeoutMs?: number;
}

/** A line of Ray's own logging at the start of a job's log (`2026-01-02 10:11:12,345\tINFO job_manager.py:581 -- …`). */
const RAY_LOG_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\t[A-Z]+ [\w.]+:\d+ -- [^\n]*\n/;

const CANCELED = 'canceled';
const TIMED_OUT = 'timed-out';
const RESULT = 'result.json';

export class RayExecutor implements Executor {
  readonly kind = 'ray' as const;
  private readonly clients = new Map<string, RayJobsClient>();
  private readonly pollMs: number;
  private readonly stopGraceMs: number;
  private readonly unreachableMs: number;

  constructor(opts: RayExecutorOptions = {}) {
    this.pollMs = opts.pollMs ?? 250;
    this.stopGraceMs = opts.stopGraceMs ?? 5_000;
    this.unreachableMs = opts.unreachableMs ?? 5 * 60_000;
  }

  async start(spec: ExecutionSpec): Promise<{ handle: string }> {
    const n = spec.instanceCount;
    if (!Number.isInteger(n) || n < 1) throw new Error(`instanceCount must be a positive integer, got ${n}`);
    await fs.promises.mkdir(path.join(spec.logDir, 'user_logs'), { recursive: true });
    await fs.promises.mkdir(spec.stateDir, { recursive: true });
    for (let rank = 0; rank < n; rank++) await fs.promises.appendFile(path.join(spec.logDir, rankLogFile(rank, n)), '');

    if (!spec.cluster?.dashboardUrl)
      throw new Error("the Ray executor needs the cluster's Jobs API address (spec.cluster.dashboardUrl)");
    const client = this.client(spec.cluster.dashboardUrl);
    const pkg = await packageWorkingDir(spec.workDir);
    if (!(await client.packageExists(pkg.uri))) await client.uploadPackage(pkg.uri, pkg.zip);

    // Ray keeps a submission id forever (until deleted), on a cluster that other servers may share:
    // the job's name plus a random part, so a rerun of the same name never collides.
    const tag = crypto.randomBytes(4).toString('hex');
    const ids = Array.from(
      { length: n },
      (_, rank) => `atelier-${safeId(spec.jobId)}-${tag}${n > 1 ? `-${rank}` : ''}`,
    );
    const deadline = spec.timeoutMs ? Date.now() + spec.timeoutMs : undefined;
    const handle: RayHandle = {
      v: 1,
      engine: 'ray',
      dashboard: client.base,
      ids,
      logDir: spec.logDir,
      stateDir: spec.stateDir,
      cmdLen: spec.command.length,
      ...(deadline ? { deadline, timeoutMs: spec.timeoutMs } : {}),
    };
    const submitted: string[] = [];
    try {
      for (let rank = 0; rank < n; rank++) {
        const req: RaySubmitRequest = {
          entrypoint: spec.command,
          submission_id: ids[rank]!,
          runtime_env: {
            working_dir: pkg.uri,
            env_vars: {
              ...spec.env,
              RANK: String(rank),
              WORLD_SIZE: String(n),
              LOCAL_RANK: '0',
              LOCAL_WORLD_SIZE: '1',
              NODE_RANK: String(rank),
              AZUREML_PROCESS_RANK: String(rank),
              OMPI_COMM_WORLD_RANK: String(rank),
              OMPI_COMM_WORLD_SIZE: String(n),
              RAY_JOB_STOP_WAIT_TIME_S: String(Math.max(1, Math.ceil(this.stopGraceMs / 1000))),
            },
            ...(spec.python.pipRequirements.length ? { pip: spec.python.pipRequirements } : {}),
          },
          metadata: { atelier_job: spec.jobId, rank: String(rank), world_size: String(n) },
        };
        await client.submit(req);
        submitted.push(ids[rank]!);
      }
    } catch (err) {
      // No half-started job: the ranks already submitted are stopped.
      await Promise.all(submitted.map((id) => client.stop(id).catch(() => false)));
      throw err;
    }
    return { handle: JSON.stringify(handle) };
  }

  async wait(handle: string, signal?: AbortSignal): Promise<ExecutionResult> {
    const h = this.parse(handle);
    const kept = readResult(h);
    if (kept) return kept;
    const ended = new Map<string, RayJobDetails | null>();
    let lastContact = Date.now();
    let stoppingSiblings = false;
    for (;;) {
      signal?.throwIfAborted();
      let reached = true;
      for (const [rank, id] of h.ids.entries()) {
        if (ended.has(id)) continue;
        let d: RayJobDetails | null;
        try {
          d = await this.client(h.dashboard).get(id);
        } catch {
          reached = false;
          continue;
        }
        // A PENDING job has no output of its own yet (Ray is setting up its runtime_env, a slow step
        // while the cluster is busy): its log is read once it runs, and at its end.
        if (d?.status !== 'PENDING') await this.copyLogs(h, rank, d).catch(() => undefined);
        if (!d || RAY_TERMINAL.has(d.status)) ended.set(id, d);
      }
      if (reached) lastContact = Date.now();
      else if (Date.now() - lastContact > this.unreachableMs) {
        return {
          outcome: 'Failed',
          reason: `the Ray cluster at ${h.dashboard} could not be reached for ${Math.round(this.unreachableMs / 1000)} s; the job's state there is unknown`,
        };
      }
      if (ended.size === h.ids.length) break;
      // A failed rank fails the job: its siblings are stopped. Past the deadline, all are.
      const failed = [...ended.values()].some((d) => !d || d.status !== 'SUCCEEDED');
      if (h.deadline && Date.now() >= h.deadline && !fs.existsSync(path.join(h.stateDir, TIMED_OUT))) {
        await fs.promises.writeFile(path.join(h.stateDir, TIMED_OUT), '');
        await this.stopAll(h);
      } else if (failed && !stoppingSiblings) {
        stoppingSiblings = true;
        await this.stopAll(h);
      }
      await sleep(this.pollMs, signal);
    }
    const result = this.outcome(
      h,
      h.ids.map((id) => ended.get(id) ?? null),
    );
    await fs.promises.writeFile(path.join(h.stateDir, RESULT), JSON.stringify(result));
    // The logs are copied and the outcome kept: the cluster may forget the jobs.
    await Promise.all(
      h.ids.map((id) =>
        this.client(h.dashboard)
          .delete(id)
          .catch(() => false),
      ),
    );
    return result;
  }

  async cancel(handle: string, graceMs: number): Promise<void> {
    const h = this.parse(handle);
    if (readResult(h)) return;
    await fs.promises.writeFile(path.join(h.stateDir, CANCELED), '').catch(() => undefined);
    await this.stopAll(h);
    // Ray sends SIGKILL after its own grace (set at submit); wait for that, and a little more.
    const until = Date.now() + Math.max(graceMs, this.stopGraceMs) + 15_000;
    while (Date.now() < until && (await this.alive(handle))) await sleep(this.pollMs);
  }

  async alive(handle: string): Promise<boolean> {
    const h = this.parse(handle);
    if (readResult(h)) return false;
    for (const id of h.ids) {
      const d = await this.client(h.dashboard).get(id);
      if (d && !RAY_TERMINAL.has(d.status)) return true;
    }
    return false;
  }

  private async stopAll(h: RayHandle): Promise<void> {
    await Promise.all(
      h.ids.map((id) =>
        this.client(h.dashboard)
          .stop(id)
          .catch(() => false),
      ),
    );
  }

  private outcome(h: RayHandle, details: (RayJobDetails | null)[]): ExecutionResult {
    if (fs.existsSync(path.join(h.stateDir, CANCELED))) return { outcome: 'Canceled', reason: 'the job was canceled' };
    if (fs.existsSync(path.join(h.stateDir, TIMED_OUT)))
      return {
        outcome: 'Failed',
        reason: `the job ran past its time limit (limits.timeout${h.timeoutMs ? ` = ${h.timeoutMs / 1000} s` : ''}) and was stopped`,
      };
    const n = details.length;
    const bad = details.findIndex((d) => !d || d.status !== 'SUCCEEDED');
    if (bad < 0) return { outcome: 'Completed', exitCode: 0 };
    const d = details[bad];
    const who = n > 1 ? `rank ${bad} ` : '';
    if (!d)
      return {
        outcome: 'Failed',
        reason: `the ${who}Ray job ${h.ids[bad]} is gone from the cluster at ${h.dashboard}`,
      };
    if (d.status === 'STOPPED') return { outcome: 'Canceled', reason: `the ${who}Ray job was stopped on the cluster` };
    const code = d.driver_exit_code;
    if (typeof code === 'number') {
      if (code < 0)
        return { outcome: 'Failed', exitCode: 128 - code, reason: `the ${who}process was killed by signal ${-code}` };
      return { outcome: 'Failed', exitCode: code, reason: `the ${who}process exited with code ${code}` };
    }
    const why =
      d.error_type === 'RUNTIME_ENV_SETUP_FAILURE'
        ? `Ray could not set up the job's environment (runtime_env)`
        : `Ray could not run the ${who}job${d.error_type ? ` (${d.error_type})` : ''}`;
    return { outcome: 'Failed', reason: `${why}: ${lastLines(d.message ?? 'no message', 20)}` };
  }

  /**
   * Appends what the rank's Ray log has beyond what its local file holds (the user's output only).
   * Ray's log holds its own lines too: "Runtime env is setting up." first, and the echoed
   * entrypoint, which the job supervisor writes through a buffered file, so it lands wherever the
   * buffer is flushed — after the first output of the command, or before. Both are cut out; since
   * the file only grows at its end, what remains only grows too, and the local file's size is the
   * offset of the next copy.
   */
  private async copyLogs(h: RayHandle, rank: number, d: RayJobDetails | null): Promise<void> {
    if (!d) return;
    const id = h.ids[rank]!;
    const file = path.join(h.logDir, rankLogFile(rank, h.ids.length));
    let body = await this.client(h.dashboard).logs(id);
    const marker = `Running entrypoint for job ${id}: `;
    const at = body.indexOf(marker);
    if (at >= 0) body = body.slice(0, at) + body.slice(at + marker.length + h.cmdLen + 1);
    for (let m = RAY_LOG_LINE.exec(body); m; m = RAY_LOG_LINE.exec(body)) body = body.slice(m[0].length);
    const bytes = Buffer.from(body, 'utf8');
    const have = await fs.promises.stat(file).then(
      (s) => s.size,
      () => 0,
    );
    if (bytes.length > have) await fs.promises.appendFile(file, bytes.subarray(have));
  }

  private parse(handle: string): RayHandle {
    let h: RayHandle;
    try {
      h = JSON.parse(handle) as RayHandle;
    } catch {
      throw new Error('not a handle of the Ray executor');
    }
    if (h?.v !== 1 || h.engine !== 'ray' || !Array.isArray(h.ids) || typeof h.stateDir !== 'string')
      throw new Error('not a handle of the Ray executor');
    if (typeof h.dashboard !== 'string') throw new Error('not a handle of the Ray executor');
    return h;
  }

  /** The Jobs API client of a cluster (one per address, kept). */
  private client(dashboardUrl: string): RayJobsClient {
    let c = this.clients.get(dashboardUrl);
    if (!c) {
      c = new RayJobsClient(dashboardUrl);
      this.clients.set(dashboardUrl, c);
      this.clients.set(c.base, c);
    }
    return c;
  }
}

/** Ray submission ids become file names on the cluster: letters, digits, `-` and `_` only. */
function safeId(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
}

function readResult(h: RayHandle): ExecutionResult | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(h.stateDir, RESULT), 'utf8')) as ExecutionResult;
  } catch {
    return null;
  }
}

function lastLines(s: string, n: number): string {
  return s.trim().split('\n').slice(-n).join('\n');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
