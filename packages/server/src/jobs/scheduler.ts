import type { AppContext } from '../context.js';
import type { Tx } from '../store/database.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import { resolveWorkspaceByGuid } from '../resources/workspaces.js';
import { ACTIVE } from './spec.js';
import type { JobRow } from './tables.js';
import type { ExecutionResult, Executor } from './executors/executor.js';
import type { JobService } from './jobs.js';
import type { JobRunner } from './runner.js';
import { LOCAL_COMPUTE, localCapacity, type Capacity, type ComputePort } from './ports.js';

/** Heartbeat of the jobs a server drives; a job without one for STALE_MS is adopted by another (or the next) server. */
export const HEARTBEAT_MS = 5_000;
export const STALE_MS = 20_000;
/** Grace between SIGTERM and SIGKILL when a job is canceled. */
export const CANCEL_GRACE_MS = 10_000;
/** Longest a stopping server waits for the jobs it drives to let go (they were aborted). */
const STOP_WAIT_MS = 10_000;

/** A job in this status is still being prepared, run or ended by a server. */
const isActive = (status: string) => (ACTIVE as readonly string[]).includes(status);

/** How a job kind without processes of its own (sweep, pipeline) is driven: it submits and watches child jobs. */
export type JobDriver = (row: JobRow, signal: AbortSignal) => Promise<ExecutionResult>;

interface Driving {
  abort: AbortController;
  executor?: Executor;
  handle?: string;
  canceling?: boolean;
  /** A sweep or pipeline: its driver sees CancelRequested and cancels its children itself. */
  parent?: boolean;
}

/**
 * The scheduler: takes queued jobs in submission order while their compute has room (a compute runs
 * at most maxNodeCount × coresPerNode ranks at once; jobs without a compute share this machine, one
 * rank per CPU core), claims each with a conditional update (so several replicas never run one job
 * twice), drives it (runner), keeps a heartbeat, passes cancels on, and adopts the jobs of a server
 * that stopped: reattached through the executor when their processes live, finished from their
 * recorded exit codes when they ended, queued again when they had not started.
 */
export class JobScheduler {
  private readonly driving = new Map<string, Driving>();
  private ticking = false;
  private again = false;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private readonly caps = new Map<string, { at: number; cap: Capacity }>();
  /** Drives and adoptions under way: stop() waits for them, so none writes after the server closed. */
  private readonly inFlight = new Set<Promise<void>>();
  readonly drivers: Partial<Record<string, JobDriver>> = {};

  constructor(
    private readonly ctx: AppContext,
    private readonly jobs: JobService,
    private readonly runner: JobRunner,
    private readonly computes: () => ComputePort,
  ) {
    jobs.onChange = (key, what) => {
      if (what === 'cancel') void this.cancelLocal(key);
      this.wake();
    };
  }

  /** Starts scheduling: adopts what a stopped server left, then ticks on every change and every second. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.recover(true);
    this.wake();
    const beat = setInterval(
      () => void this.heartbeat().catch((e) => this.ctx.log.warn({ err: e }, 'job heartbeat failed')),
      HEARTBEAT_MS,
    );
    const poll = setInterval(() => this.wake(), 1_000);
    const recover = setInterval(
      () => void this.recover(false).catch((e) => this.ctx.log.warn({ err: e }, 'job recovery failed')),
      STALE_MS / 2,
    );
    for (const t of [beat, poll, recover]) t.unref();
    this.timers.push(beat, poll, recover);
  }

  /** Stops scheduling; jobs that run keep running (the next server reattaches to them). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const d of this.driving.values()) d.abort.abort(new Error('server stopping'));
    this.driving.clear();
    // Aborted, each ends at its next step (a copy or an environment build under way ends first);
    // bounded, so a step that hangs cannot hold the server's close.
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      Promise.allSettled([...this.inFlight]).then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), STOP_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!ended)
      this.ctx.log.warn(
        { jobs: this.inFlight.size },
        `stopping without waiting longer than ${STOP_WAIT_MS} ms for jobs still being prepared or watched`,
      );
  }

  /** Keeps `p` in inFlight until it settles (its errors are its own to log). */
  private track(p: Promise<void>): void {
    const t = p
      .catch((e) => this.ctx.log.error({ err: e }, 'driving a job failed'))
      .finally(() => this.inFlight.delete(t));
    this.inFlight.add(t);
  }

  /**
   * Jobs (ranks) this compute runs or prepares now — for the computes' node counts — and the jobs
   * queued for it (a compute's delete is refused while any are). In `tx` when given (that delete's).
   */
  async usage(
    workspaceId: string,
    computeName: string,
    tx: Pick<Tx, 'db'> = this.ctx,
  ): Promise<{ running: number; preparing: number; queued: number }> {
    const rows = await tx.db
      .selectFrom('jobs')
      .select(['status', 'ranks'])
      .where('workspace_id', '=', workspaceId)
      .where('compute', '=', computeName.toLowerCase())
      .where('status', 'in', [...ACTIVE, 'Queued'])
      .execute();
    let running = 0;
    let preparing = 0;
    let queued = 0;
    for (const r of rows) {
      if (r.status === 'Queued') queued++;
      else if (r.status === 'Preparing') preparing += r.ranks;
      else running += r.ranks;
    }
    return { running, preparing, queued };
  }

  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    setImmediate(() => {
      void this.tick()
        .catch((e) => this.ctx.log.error({ err: e }, 'job scheduling failed'))
        .finally(() => {
          this.ticking = false;
          if (this.again) {
            this.again = false;
            this.wake();
          }
        });
    });
  }

  private async capacity(workspaceId: string, compute: string): Promise<Capacity> {
    if (compute === LOCAL_COMPUTE) return localCapacity();
    const key = `${workspaceId}/${compute}`;
    const hit = this.caps.get(key);
    if (hit && Date.now() - hit.at < 2_000) return hit.cap;
    const ws: WorkspaceInfo = await resolveWorkspaceByGuid(this.ctx, workspaceId);
    const cap = await this.computes().capacity(ws, compute);
    this.caps.set(key, { at: Date.now(), cap });
    return cap;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const queued = await this.ctx.db
      .selectFrom('jobs')
      .selectAll()
      .where('status', '=', 'Queued')
      .orderBy('created_at', 'asc')
      .orderBy('job_key', 'asc')
      .limit(1000)
      .execute();
    if (!queued.length) return;
    const used = new Map<string, number>();
    const rows = await this.ctx.db
      .selectFrom('jobs')
      .select(['workspace_id', 'compute', 'ranks', 'job_type'])
      .where('status', 'in', [...ACTIVE])
      .execute();
    for (const r of rows) {
      if (r.job_type !== 'Command') continue;
      const k = r.compute === LOCAL_COMPUTE ? '' : `${r.workspace_id}/${r.compute}`;
      used.set(k, (used.get(k) ?? 0) + r.ranks);
    }
    for (const r of queued) {
      if (this.stopped) return;
      const driver = r.job_type === 'Command' ? undefined : this.drivers[r.job_type];
      if (r.job_type !== 'Command') {
        if (driver && (await this.claim(r))) this.track(this.driveParent(r, driver));
        continue;
      }
      const k = r.compute === LOCAL_COMPUTE ? '' : `${r.workspace_id}/${r.compute}`;
      let cap: Capacity;
      try {
        cap = await this.capacity(r.workspace_id, r.compute);
      } catch (e) {
        if (await this.claim(r)) await this.finish(r, { outcome: 'Failed', reason: (e as Error).message });
        continue;
      }
      if (cap.stopped) continue;
      const limit = Math.max(1, cap.maxNodeCount) * Math.max(1, cap.coresPerNode);
      const now = used.get(k) ?? 0;
      if (now + r.ranks > limit) continue;
      if (!(await this.claim(r))) continue;
      used.set(k, now + r.ranks);
      this.track(this.drive(r));
    }
  }

  /**
   * Queued → Preparing, owned by this server: only one claimant wins. The job's compute needs no
   * lock here: a compute's delete is refused while a job is queued for it, and a job is bound to a
   * compute (submitted) in a transaction that holds the compute (ComputePort.hold).
   */
  private async claim(r: JobRow): Promise<boolean> {
    const now = Date.now();
    const res = await this.ctx.db
      .updateTable('jobs')
      .set({ status: 'Preparing', owner: this.ctx.instanceId, heartbeat_at: now, updated_at: now })
      .where('job_key', '=', r.job_key)
      .where('status', '=', 'Queued')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  private async drive(r: JobRow): Promise<void> {
    const d: Driving = { abort: new AbortController() };
    this.driving.set(r.job_key, d);
    try {
      const started = await this.runner.start(r, d.abort.signal);
      if (this.stopped) return;
      if ('outcome' in started) return await this.finish(r, started);
      d.executor = started.executor;
      d.handle = started.handle;
      const now = Date.now();
      await this.ctx.db
        .updateTable('jobs')
        .set({
          executor: started.executor.kind,
          handle: started.handle,
          heartbeat_at: now,
          updated_at: now,
          start_time: now,
        })
        .where('job_key', '=', r.job_key)
        .execute();
      const moved = await this.ctx.db
        .updateTable('jobs')
        .set({ status: 'Running' })
        .where('job_key', '=', r.job_key)
        .where('status', '=', 'Preparing')
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) void this.cancelLocal(r.job_key);
      else if (r.run_id) await this.jobsRunning(r);
      await this.watch(r, started.executor, started.handle, d);
    } catch (e) {
      if (this.stopped) return;
      this.ctx.log.error({ err: e, job: r.name }, 'driving a job failed');
      await this.finish(r, {
        outcome: 'Failed',
        reason: `the server failed while running the job: ${(e as Error).message}`,
      }).catch(() => undefined);
    } finally {
      if (this.driving.get(r.job_key) === d) this.driving.delete(r.job_key);
    }
  }

  private async jobsRunning(r: JobRow): Promise<void> {
    await this.jobs.markRunRunning(r);
  }

  /** Waits for the ranks, then finalises (outputs, logs) and records the end. */
  private async watch(r: JobRow, executor: Executor, handle: string, d: Driving): Promise<void> {
    let result: ExecutionResult;
    try {
      result = await executor.wait(handle, d.abort.signal);
    } catch (e) {
      if (this.stopped || d.abort.signal.aborted) return;
      throw e;
    }
    if (this.stopped) return;
    await this.ctx.db
      .updateTable('jobs')
      .set({ status: 'Finalizing', updated_at: Date.now() })
      .where('job_key', '=', r.job_key)
      .where('status', '=', 'Running')
      .execute();
    const final = await this.runner.finalize(r, result);
    await this.finish(r, final);
  }

  private async driveParent(r: JobRow, driver: JobDriver): Promise<void> {
    const d: Driving = { abort: new AbortController(), parent: true };
    this.driving.set(r.job_key, d);
    try {
      const now = Date.now();
      await this.ctx.db
        .updateTable('jobs')
        .set({ status: 'Running', start_time: now, updated_at: now })
        .where('job_key', '=', r.job_key)
        .where('status', '=', 'Preparing')
        .execute();
      await this.jobs.markRunRunning(r);
      const result = await driver(r, d.abort.signal);
      if (this.stopped) return;
      await this.runner.keepLogs(r);
      await this.finish(r, result);
    } catch (e) {
      if (this.stopped) return;
      this.ctx.log.error({ err: e, job: r.name }, 'driving a job failed');
      await this.finish(r, { outcome: 'Failed', reason: (e as Error).message }).catch(() => undefined);
    } finally {
      if (this.driving.get(r.job_key) === d) this.driving.delete(r.job_key);
    }
  }

  /** Records a job's end (status, error, run) unless something else ended it already. */
  async finish(r: JobRow, result: ExecutionResult): Promise<void> {
    const now = Date.now();
    const error =
      result.outcome === 'Failed'
        ? JSON.stringify({
            code: 'JobFailed',
            message: result.reason ?? 'the job failed',
            ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : {}),
          })
        : null;
    // The run ends before the job does: a client that sees the job ended (jobs.stream,
    // wait_for_completion) reads its run next and must find it ended too, and a server that stops in
    // between leaves an active job, which the next one finishes again, not an ended job's run RUNNING.
    const before = await this.ctx.db
      .selectFrom('jobs')
      .select('status')
      .where('job_key', '=', r.job_key)
      .executeTakeFirst();
    const active = !!before && isActive(before.status);
    if (active && r.run_id) await this.jobs.endRun(r.workspace_id, r.run_id, result.outcome, now);
    const res = await this.ctx.db
      .updateTable('jobs')
      .set({ status: result.outcome, error, end_time: now, updated_at: now, owner: null })
      .where('job_key', '=', r.job_key)
      .where('status', 'in', [...ACTIVE])
      .executeTakeFirst();
    if (active && Number(res.numUpdatedRows) !== 1 && r.run_id) {
      // Another server ended the job meanwhile (it took it for stale and adopted it): the run takes that end.
      const ended = await this.ctx.db
        .selectFrom('jobs')
        .select(['status', 'end_time'])
        .where('job_key', '=', r.job_key)
        .executeTakeFirst();
      if (ended && !isActive(ended.status))
        await this.jobs.endRun(r.workspace_id, r.run_id, ended.status, ended.end_time ?? now);
    }
    this.jobs.emitEnd(r.job_key);
    this.wake();
  }

  /** A cancel for a job this server drives: abort its preparation, or stop its ranks (SIGTERM → grace → SIGKILL). */
  private async cancelLocal(key: string): Promise<void> {
    const d = this.driving.get(key);
    if (!d || d.canceling || d.parent) return;
    d.canceling = true;
    if (d.executor && d.handle) {
      await d.executor
        .cancel(d.handle, CANCEL_GRACE_MS)
        .catch((e) => this.ctx.log.warn({ err: e }, 'canceling a job failed'));
    } else {
      // Still preparing: stop that; drive() records Canceled.
      d.abort.abort(new Error('canceled'));
      const r = await this.ctx.db.selectFrom('jobs').selectAll().where('job_key', '=', key).executeTakeFirst();
      if (r) await this.finish(r, { outcome: 'Canceled', reason: 'the job was canceled' });
    }
  }

  private async heartbeat(): Promise<void> {
    if (!this.driving.size) return;
    const keys = [...this.driving.keys()];
    await this.ctx.db
      .updateTable('jobs')
      .set({ heartbeat_at: Date.now() })
      .where('job_key', 'in', keys)
      .where('owner', '=', this.ctx.instanceId)
      .execute();
    // Cancels that reached another server.
    const canceled = await this.ctx.db
      .selectFrom('jobs')
      .select('job_key')
      .where('job_key', 'in', keys)
      .where('status', '=', 'CancelRequested')
      .execute();
    for (const c of canceled) void this.cancelLocal(c.job_key);
  }

  /**
   * Adopts the jobs of a server that stopped. A database that one server serves at a time (SQLite's
   * data root) makes every unfinished job not driven here this server's to adopt at start; a shared one
   * (PostgreSQL) only those whose heartbeat is older than STALE_MS.
   */
  private async recover(starting: boolean): Promise<void> {
    if (this.stopped) return;
    const single = this.ctx.database.singleServer && starting;
    let q = this.ctx.db
      .selectFrom('jobs')
      .selectAll()
      .where('status', 'in', [...ACTIVE]);
    if (!single) q = q.where('heartbeat_at', '<', Date.now() - STALE_MS);
    for (const r of await q.execute()) {
      if (this.driving.has(r.job_key)) continue;
      const claimed = await this.ctx.db
        .updateTable('jobs')
        .set({ owner: this.ctx.instanceId, heartbeat_at: Date.now() })
        .where('job_key', '=', r.job_key)
        .where('status', '=', r.status)
        .where('heartbeat_at', r.heartbeat_at === null ? 'is' : '=', r.heartbeat_at)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) continue;
      this.track(this.adopt({ ...r, owner: this.ctx.instanceId }));
    }
  }

  private async adopt(r: JobRow): Promise<void> {
    const log = this.ctx.log.child({ job: r.name });
    if (r.job_type !== 'Command') {
      const driver = this.drivers[r.job_type];
      if (driver) return this.driveParent(r, driver);
      return this.finish(r, { outcome: 'Failed', reason: `this server cannot run ${r.job_type} jobs` });
    }
    const executor = r.handle ? this.runner.executorByKind(r.executor) : undefined;
    if (!r.handle) {
      // It had not started: queue it again (its folder is made afresh).
      log.info('a job that was being prepared when its server stopped is queued again');
      await this.ctx.db
        .updateTable('jobs')
        .set({ status: 'Queued', owner: null, updated_at: Date.now() })
        .where('job_key', '=', r.job_key)
        .where('status', 'in', ['Preparing'])
        .execute();
      if (r.status === 'CancelRequested') await this.finish(r, { outcome: 'Canceled', reason: 'the job was canceled' });
      this.wake();
      return;
    }
    if (!executor)
      return this.finish(r, {
        outcome: 'Failed',
        reason: `the job ran on the ${r.executor} executor, which this server does not have`,
      });
    const d: Driving = { abort: new AbortController(), executor, handle: r.handle };
    this.driving.set(r.job_key, d);
    try {
      const alive = await executor.alive(r.handle);
      log.info({ alive }, alive ? 'reattached to a running job' : 'a job ended while no server watched it');
      if (r.status === 'CancelRequested') void this.cancelLocal(r.job_key);
      await this.watch(r, executor, r.handle, d);
    } catch (e) {
      if (!this.stopped)
        await this.finish(r, {
          outcome: 'Failed',
          reason: `the server stopped while the job ran, and it could not be reattached: ${(e as Error).message}`,
        });
    } finally {
      if (this.driving.get(r.job_key) === d) this.driving.delete(r.job_key);
    }
  }
}
