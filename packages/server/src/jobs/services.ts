import type { AppContext } from '../context.js';
import type { ControlPlaneServices } from '../resources/control-plane.js';
import type { TrackingServices } from '../tracking/services.js';
import type { AssetServices } from '../assets/services.js';
import type { Executor } from './executors/executor.js';
import { LocalExecutor } from './executors/local/local-executor.js';
import { RayExecutor } from './executors/ray/ray-executor.js';
import { JobService } from './jobs.js';
import { JobRunner } from './runner.js';
import { JobScheduler } from './scheduler.js';
import { registerJobTypes } from './types.js';
import { JobLogs } from './logs.js';
import { SweepDriver } from './sweep/driver.js';
import { parseSweepJob, type SweepSpec } from './sweep/spec.js';
import type { JobDeps } from './jobs.js';
import { PipelineDriver } from './pipeline/driver.js';
import { parsePipelineJob, type PipelineSpec } from './pipeline/spec.js';
import {
  noCodes,
  noComputes,
  noEnvironmentBuilds,
  type CodePort,
  type ComputePort,
  type EnvironmentPort,
} from './ports.js';

/** The jobs module: the job service (W/jobs), the runner, the scheduler and the executors. */
export interface JobServices {
  jobs: JobService;
  runner: JobRunner;
  scheduler: JobScheduler;
  /** A job's log files, live and kept. */
  logs: JobLogs;
  /** The executors by kind; `local` always, others (Ray) are registered by their modules. */
  executors: Partial<Record<'local' | 'ray', Executor>>;
  /** The modules jobs run on; the composition root plugs in the real ones (defaults say what is missing). */
  ports: { computes: ComputePort; environmentBuilds: EnvironmentPort; codes: CodePort };
}

/**
 * Builds the jobs module and plugs it in: the `W/jobs` type in the registry, a workspace's jobs
 * canceled and forgotten when it is deleted. The scheduler starts with the HTTP feature
 * (http/jobs/jobs-feature.ts), so a process that only builds services runs no jobs.
 */
export function createJobServices(
  ctx: AppContext,
  cp: ControlPlaneServices,
  tracking: TrackingServices,
  assets: AssetServices,
): JobServices {
  const local = new LocalExecutor();
  // Ray: jobs on a compute of type Ray go to that cluster's Jobs API (its address from the compute).
  const executors: JobServices['executors'] = { local, ray: new RayExecutor() };
  const ports: JobServices['ports'] = { computes: noComputes, environmentBuilds: noEnvironmentBuilds, codes: noCodes };
  const kinds: JobDeps['kinds'] = {};
  const jobs = new JobService({
    ctx,
    runs: tracking.runs,
    experiments: tracking.experiments,
    datastores: assets.datastores,
    data: assets.data,
    environments: assets.environments,
    computes: () => ports.computes,
    environmentBuilds: () => ports.environmentBuilds,
    codes: () => ports.codes,
    kinds,
  });
  const runner = new JobRunner({
    ctx,
    jobs,
    artifacts: tracking.artifacts,
    datastores: assets.datastores,
    data: assets.data,
    computes: () => ports.computes,
    environmentBuilds: () => ports.environmentBuilds,
    codes: () => ports.codes,
    executors,
  });
  const scheduler = new JobScheduler(ctx, jobs, runner, () => ports.computes);
  registerJobTypes(cp.types, jobs, cp.operations);
  // Sweep jobs: trials as child command jobs, driven by the scheduler (jobs/sweep/).
  const sweeps = new SweepDriver({ ctx, jobs, runs: tracking.runs, metrics: tracking.metrics });
  kinds.Sweep = {
    parse: parseSweepJob,
    check: async (ws, spec, by) => {
      const s = spec as unknown as SweepSpec;
      await jobs.checkTrial(ws, s.trial, 'properties.trial');
      for (const [name, input] of Object.entries(s.inputs))
        await jobs.checkInput(ws, input, `properties.inputs.${name}`, by);
    },
  };
  scheduler.drivers.Sweep = (r, signal) => sweeps.drive(r, signal);
  // Pipeline jobs: steps as child command jobs in dependency order (jobs/pipeline/).
  const pipelines = new PipelineDriver({ ctx, jobs, datastores: assets.datastores, data: assets.data });
  kinds.Pipeline = {
    parse: parsePipelineJob,
    check: async (ws, spec, by) => {
      const p = spec as unknown as PipelineSpec;
      for (const [name, input] of Object.entries(p.inputs))
        await jobs.checkInput(ws, input, `properties.inputs.${name}`, by);
      for (const [step, s] of Object.entries(p.jobs)) {
        const t = `properties.jobs.${step}`;
        await jobs.checkTrial(ws, s, t);
        for (const [name, input] of Object.entries(s.inputs))
          if (input.jobInputType !== 'literal' && 'uri' in input)
            await jobs.checkInput(ws, input, `${t}.inputs.${name}`, by);
        const compute = s.computeId ?? p.settings.defaultCompute;
        if (compute)
          await jobs.checkCompute(ws, compute, s.computeId ? `${t}.computeId` : 'properties.settings.default_compute');
      }
    },
  };
  scheduler.drivers.Pipeline = (r, signal) => pipelines.drive(r, signal);
  jobs.onDeleted.push(async (r) => {
    if (r.job_type === 'Sweep') await sweeps.forget(r);
  });
  ctx.onClose.push(async () => {
    await scheduler.stop();
    local.detach();
  });
  cp.workspaces.onWorkspaceDeleting.push(async (w) => {
    if (!w.workspaceId) return;
    const rows = await ctx.db.selectFrom('jobs').select('name').where('workspace_id', '=', w.workspaceId).execute();
    for (const r of rows) await jobs.delete(w, r.name);
  });
  return { jobs, runner, scheduler, logs: new JobLogs(jobs, tracking.artifacts), executors, ports };
}
