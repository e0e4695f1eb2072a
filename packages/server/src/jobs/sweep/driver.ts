import crypto from 'node:crypto';
import type { AppContext } from '../../context.js';
import type { WorkspaceInfo } from '../../resources/workspace-info.js';
import { resolveWorkspaceByGuid } from '../../resources/workspaces.js';
import type { RunService } from '../../tracking/runs/runs.js';
import type { MetricService } from '../../tracking/metrics/metrics.js';
import type { ExecutionResult } from '../executors/executor.js';
import type { JobService } from '../jobs.js';
import type { JobRow } from '../tables.js';
import type { CommandSpec } from '../spec.js';
import { ended, stopChildren, waitForChildren } from '../children.js';
import { parseDuration } from '../command.js';
import { distributions, type SweepSpec } from './spec.js';
import { formatValue, gridSampler, randomSampler, type Params } from './sampling.js';
import { toTerminate } from './early-termination.js';
import './tables.js';

export interface SweepDeps {
  ctx: AppContext;
  jobs: JobService;
  runs: RunService;
  metrics: MetricService;
}

/**
 * Drives a sweep job (the scheduler's driver for `Sweep`): samples trials, submits each as a child
 * command job (`<sweep>_<n>`, an MLflow child run of the sweep's run with its parameters logged),
 * at most maxConcurrentTrials at once and maxTotalTrials in all; reads each trial's primary metric
 * from the tracking store to apply early termination and to record the best trial (the sweep's
 * properties `best_child_run_id`/`score`, its run's tags and metric). Its state is in the database
 * (job_sweeps, job_sweep_trials, the trials' jobs), so after a restart the next server goes on.
 */
export class SweepDriver {
  constructor(private readonly d: SweepDeps) {}

  private get db() {
    return this.d.ctx.db;
  }

  /** Forgets a deleted sweep's state. */
  async forget(r: JobRow): Promise<void> {
    await this.db.deleteFrom('job_sweep_trials').where('job_key', '=', r.job_key).execute();
    await this.db.deleteFrom('job_sweeps').where('job_key', '=', r.job_key).execute();
  }

  private async state(r: JobRow, spec: SweepSpec) {
    const have = await this.db.selectFrom('job_sweeps').selectAll().where('job_key', '=', r.job_key).executeTakeFirst();
    if (have) return have;
    const seed = String(spec.samplingAlgorithm.seed ?? crypto.randomInt(0, 2 ** 31));
    await this.db
      .insertInto('job_sweeps')
      .values({ job_key: r.job_key, seed, best_trial: null, best_value: null, updated_at: Date.now() })
      .onConflict((oc) => oc.column('job_key').doNothing())
      .execute();
    return (await this.db.selectFrom('job_sweeps').selectAll().where('job_key', '=', r.job_key).executeTakeFirst())!;
  }

  async drive(r: JobRow, signal: AbortSignal): Promise<ExecutionResult> {
    const ws = await resolveWorkspaceByGuid(this.d.ctx, r.workspace_id);
    const spec = JSON.parse(r.spec) as SweepSpec;
    const by = await this.d.ctx.principals.get(r.created_by);
    if (!by) return { outcome: 'Failed', reason: 'the user who submitted this sweep no longer exists or is disabled' };
    const state = await this.state(r, spec);
    const dists = distributions(spec);
    const sampler =
      spec.samplingAlgorithm.samplingAlgorithmType === 'Grid'
        ? gridSampler(dists)
        : randomSampler(dists, Number(state.seed));
    const total = Math.min(spec.limits.maxTotalTrials ?? sampler.size, sampler.size);
    const concurrent = Math.max(1, Math.min(spec.limits.maxConcurrentTrials ?? total, total));
    const timeoutMs = spec.limits.timeout ? parseDuration(spec.limits.timeout, 'properties.limits.timeout') : undefined;
    // The sweep's time limit counts from when it first started (an adopted sweep keeps its clock).
    let startedAt = r.start_time ?? Date.now();
    let best = state.best_trial ? { name: state.best_trial, value: state.best_value! } : undefined;
    const scored = new Set<string>();

    for (;;) {
      if (signal.aborted) throw signal.reason;
      const me = await this.d.jobs.byKey(r.job_key);
      if (!me) return { outcome: 'Canceled', reason: 'the sweep was deleted' };
      if (me.start_time) startedAt = me.start_time;
      const trials = await this.db
        .selectFrom('job_sweep_trials')
        .selectAll()
        .where('job_key', '=', r.job_key)
        .orderBy('trial_index', 'asc')
        .execute();
      let children = new Map((await this.d.jobs.children(r.workspace_id, r.name)).map((c) => [c.name, c]));

      if (me.status === 'CancelRequested')
        return stopChildren(this.d.jobs, ws, r, children.values(), 'Canceled', 'the sweep was canceled', signal);
      if (timeoutMs !== undefined && Date.now() - startedAt > timeoutMs)
        return stopChildren(
          this.d.jobs,
          ws,
          r,
          children.values(),
          'Canceled',
          `the sweep reached its time limit (limits.timeout = ${spec.limits.timeout}); its trials were canceled`,
          signal,
        );

      // A trial recorded but not yet submitted (the server stopped in between) is submitted now.
      for (const t of trials)
        if (!children.has(t.job_name)) await this.submitTrial(ws, r, spec, by, t.job_name, JSON.parse(t.params));

      // Best trial and early termination, from the primary metric in the tracking store.
      const series: { name: string; running: boolean; values: number[] }[] = [];
      for (const c of children.values()) {
        if (!c.run_id) continue;
        const values = await this.metricValues(ws, c.run_id, spec.objective.primaryMetric);
        series.push({ name: c.name, running: !ended(c), values });
        if (c.status === 'Completed' && !scored.has(c.name) && values.length) {
          scored.add(c.name);
          const v = values[values.length - 1]!;
          const isBetter = !best || (spec.objective.goal === 'Maximize' ? v > best.value : v < best.value);
          if (isBetter) {
            best = { name: c.name, value: v };
            await this.recordBest(ws, r, spec, c, v);
          }
        }
      }
      if (spec.earlyTermination) {
        for (const stop of toTerminate(spec.earlyTermination, spec.objective.goal, series)) {
          const t = trials.find((x) => x.job_name === stop.name);
          if (!t || t.terminated) continue;
          await this.db
            .updateTable('job_sweep_trials')
            .set({ terminated: stop.reason })
            .where('job_key', '=', r.job_key)
            .where('trial_index', '=', t.trial_index)
            .execute();
          const c = children.get(stop.name)!;
          await this.d.jobs.addProperties(c.job_key, { 'azureml.earlyTermination': stop.reason });
          await this.d.jobs.cancel(ws, stop.name);
        }
      }

      // More trials while there is room.
      children = new Map((await this.d.jobs.children(r.workspace_id, r.name)).map((c) => [c.name, c]));
      let active = [...children.values()].filter((c) => !ended(c)).length;
      let next = trials.length;
      while (active < concurrent && next < total) {
        const name = `${r.name}_${next}`;
        const params = sampler.sample(next);
        await this.db
          .insertInto('job_sweep_trials')
          .values({
            job_key: r.job_key,
            trial_index: next,
            job_name: name,
            params: JSON.stringify(params),
            terminated: null,
            created_at: Date.now(),
          })
          .execute();
        await this.submitTrial(ws, r, spec, by, name, params);
        active++;
        next++;
      }

      if (next >= total && active === 0) {
        const all = await this.d.jobs.children(r.workspace_id, r.name);
        // Every trial's last report counts: one may have completed since the scan above.
        for (const c of all)
          if (c.status === 'Completed' && !scored.has(c.name) && c.run_id) {
            scored.add(c.name);
            const values = await this.metricValues(ws, c.run_id, spec.objective.primaryMetric);
            const v = values[values.length - 1];
            if (v !== undefined && (!best || (spec.objective.goal === 'Maximize' ? v > best.value : v < best.value))) {
              best = { name: c.name, value: v };
              await this.recordBest(ws, r, spec, c, v);
            }
          }
        const completed = all.filter((c) => c.status === 'Completed').length;
        if (best && r.run_id) await this.logBestMetric(ws, r, spec, best.value);
        if (!completed)
          return {
            outcome: 'Failed',
            reason: `none of the sweep's ${all.length} trials completed (${summary(all)})`,
          };
        return { outcome: 'Completed' };
      }
      await waitForChildren(this.d.jobs, children.values(), 500, signal);
    }
  }

  private async submitTrial(
    ws: WorkspaceInfo,
    r: JobRow,
    spec: SweepSpec,
    by: NonNullable<Awaited<ReturnType<AppContext['principals']['get']>>>,
    name: string,
    params: Params,
  ): Promise<void> {
    const values = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, formatValue(v)]));
    const trial: CommandSpec = {
      jobType: 'Command',
      experimentName: spec.experimentName,
      displayName: `${spec.displayName ?? r.name} trial ${name.slice(r.name.length + 1)}`,
      ...(spec.computeId ? { computeId: spec.computeId } : {}),
      properties: { 'azureml.sweepParent': r.name },
      tags: { ...Object.fromEntries(Object.entries(values).map(([k, v]) => [`hyperparameter.${k}`, v])) },
      ...spec.trial,
      // Each parameter is also a literal input of the trial (`${{inputs.<name>}}`), unless the sweep has one by that name.
      inputs: {
        ...Object.fromEntries(
          Object.entries(values).map(([k, v]) => [k, { jobInputType: 'literal' as const, value: v }]),
        ),
        ...spec.inputs,
      },
      outputs: spec.outputs,
      ...(spec.limits.trialTimeout
        ? { limits: { jobLimitsType: 'Command' as const, timeout: spec.limits.trialTimeout } }
        : {}),
      searchSpaceValues: values,
    };
    const existing = await this.d.jobs.row(ws, name);
    if (existing) return;
    const child = await this.d.jobs.submit(ws, name, trial, by, {
      parentName: r.name,
      ...(r.run_id ? { parentRunId: r.run_id } : {}),
    });
    if (child.run_id)
      await this.d.runs
        .logBatch(ws.workspaceId, child.run_id, {
          params: Object.entries(values).map(([key, value]) => ({ key, value })),
        })
        .catch((e) => this.d.ctx.log.warn({ err: (e as Error).message }, 'could not log a trial parameter'));
  }

  private async metricValues(ws: WorkspaceInfo, runId: string, key: string): Promise<number[]> {
    try {
      const h = await this.d.metrics.history(ws.workspaceId, { run_id: runId, metric_key: key });
      return h.metrics.map((m) => Number(m.value)).filter((v) => Number.isFinite(v));
    } catch {
      return [];
    }
  }

  private async recordBest(ws: WorkspaceInfo, r: JobRow, spec: SweepSpec, c: JobRow, v: number): Promise<void> {
    await this.db
      .updateTable('job_sweeps')
      .set({ best_trial: c.name, best_value: v, updated_at: Date.now() })
      .where('job_key', '=', r.job_key)
      .execute();
    await this.d.jobs.addProperties(r.job_key, {
      best_child_run_id: c.run_id ?? c.name,
      best_trial: c.name,
      score: String(v),
    });
    if (r.run_id)
      await this.d.runs
        .logBatch(ws.workspaceId, r.run_id, {
          tags: [
            { key: 'best_child_run_id', value: c.run_id ?? c.name },
            { key: 'best_trial', value: c.name },
            { key: `best_${spec.objective.primaryMetric}`.slice(0, 250), value: String(v) },
          ],
        })
        .catch((e) => this.d.ctx.log.warn({ err: (e as Error).message }, 'could not tag the sweep run'));
  }

  private async logBestMetric(ws: WorkspaceInfo, r: JobRow, spec: SweepSpec, v: number): Promise<void> {
    await this.d.runs
      .logMetric(ws.workspaceId, r.run_id, {
        key: spec.objective.primaryMetric,
        value: v,
        timestamp: Date.now(),
        step: 0,
      })
      .catch((e) => this.d.ctx.log.warn({ err: (e as Error).message }, 'could not log the best metric'));
  }
}

function summary(rows: JobRow[]): string {
  const n = new Map<string, number>();
  for (const r of rows) n.set(r.status, (n.get(r.status) ?? 0) + 1);
  return [...n].map(([s, k]) => `${k} ${s}`).join(', ') || 'none ran';
}
