import crypto from 'node:crypto';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../identity/principals.js';
import type { WorkspaceInfo } from '../../resources/workspace-info.js';
import { resolveWorkspaceByGuid } from '../../resources/workspaces.js';
import type { DatastoreService } from '../../assets/datastores.js';
import type { VersionedAssetService } from '../../assets/versioned-assets.js';
import { parseDatastoreUri } from '../../assets/data-assets.js';
import type { ExecutionResult } from '../executors/executor.js';
import { defaultOutputUri, parseAssetRef, type JobService } from '../jobs.js';
import type { JobRow } from '../tables.js';
import { DATA_INPUT_TYPES, type CommandSpec, type JobInput, type JobOutput } from '../spec.js';
import { ended, stopChildren, waitForChildren } from '../children.js';
import {
  dependencies,
  inputBinding,
  outputBinding,
  topologicalOrder,
  type PipelineSpec,
  type StepSpec,
} from './spec.js';

export interface PipelineDeps {
  ctx: AppContext;
  jobs: JobService;
  datastores: DatastoreService;
  data: VersionedAssetService;
}

const errorOf = (r: JobRow) => (r.error ? (JSON.parse(r.error) as { message?: string }).message : undefined);

/** The child job of a step. */
export const stepJobName = (pipeline: string, step: string): string => `${pipeline}_${step}`;

/**
 * Drives a pipeline job (the scheduler's driver for `Pipeline`): each step becomes a child command
 * job (`<pipeline>_<step>`) once the steps it depends on completed — independent steps run at the
 * same time, as the queue has room. A step's bound inputs are its producers' outputs (their
 * datastore folders, copied in read-only like any data input) or the pipeline's inputs. A step
 * whose code, environment, command, variables, resources and inputs' contents hash to the same key
 * as an earlier Completed step is not run: it is recorded Completed at once, pointing at that
 * step's outputs (`properties["azureml.isreused"] = "true"`), unless `settings.force_rerun`. A failed
 * step cancels the running ones and fails the pipeline, unless `continue_on_step_failure`: then the
 * steps that do not depend on it go on and the pipeline fails at the end. Its state is its steps'
 * jobs, so an adopted pipeline goes on.
 */
export class PipelineDriver {
  constructor(private readonly d: PipelineDeps) {}

  async drive(r: JobRow, signal: AbortSignal): Promise<ExecutionResult> {
    const ws = await resolveWorkspaceByGuid(this.d.ctx, r.workspace_id);
    const spec = JSON.parse(r.spec) as PipelineSpec;
    const by = await this.d.ctx.principals.get(r.created_by);
    if (!by)
      return { outcome: 'Failed', reason: 'the user who submitted this pipeline no longer exists or is disabled' };
    const order = topologicalOrder(spec.jobs);
    const skipped = new Set<string>();

    for (;;) {
      if (signal.aborted) throw signal.reason;
      const me = await this.d.jobs.byKey(r.job_key);
      if (!me) return { outcome: 'Canceled', reason: 'the pipeline was deleted' };
      const kids = new Map<string, JobRow>();
      for (const c of await this.d.jobs.children(r.workspace_id, r.name)) kids.set(c.name.slice(r.name.length + 1), c);
      if (me.status === 'CancelRequested')
        return stopChildren(this.d.jobs, ws, r, kids.values(), 'Canceled', 'the pipeline was canceled', signal);

      const failed = order.filter((s) => kids.has(s) && ['Failed', 'Canceled'].includes(kids.get(s)!.status));
      if (failed.length && !spec.settings.continueOnStepFailure)
        return stopChildren(this.d.jobs, ws, r, kids.values(), 'Failed', failedReason(failed, kids), signal);

      let submitted = false;
      for (const step of order) {
        if (kids.has(step) || skipped.has(step)) continue;
        const deps = dependencies(spec.jobs[step]!);
        if (deps.some((dep) => skipped.has(dep) || failed.includes(dep))) {
          skipped.add(step);
          continue;
        }
        if (!deps.every((dep) => kids.get(dep)?.status === 'Completed')) continue;
        const failure = await this.submitStep(ws, r, spec, by, step, kids);
        if (failure) {
          // The step could not even be submitted (its compute went away, a data input vanished).
          if (!spec.settings.continueOnStepFailure)
            return stopChildren(
              this.d.jobs,
              ws,
              r,
              kids.values(),
              'Failed',
              `step '${step}' could not start: ${failure}`,
              signal,
            );
          skipped.add(step);
          failed.push(step);
        }
        submitted = true;
      }
      if (submitted) continue;

      const active = [...kids.values()].filter((c) => !ended(c));
      const waiting = order.filter((s) => !kids.has(s) && !skipped.has(s));
      if (!active.length && !waiting.length) {
        if (order.every((s) => kids.get(s)?.status === 'Completed')) {
          await this.bindOutputs(r, spec, kids);
          return { outcome: 'Completed' };
        }
        const notRun = order.filter((s) => skipped.has(s) && !failed.includes(s));
        return {
          outcome: 'Failed',
          reason: `${failedReason(failed, kids)}${notRun.length ? `; not run: ${notRun.join(', ')}` : ''}`,
        };
      }
      await waitForChildren(this.d.jobs, active, 500, signal);
    }
  }

  /** Submits one step as a child job (or records it reused). Returns why it could not, or undefined. */
  private async submitStep(
    ws: WorkspaceInfo,
    r: JobRow,
    spec: PipelineSpec,
    by: Principal,
    step: string,
    kids: Map<string, JobRow>,
  ): Promise<string | undefined> {
    const s = spec.jobs[step]!;
    const name = stepJobName(r.name, step);
    const existing = await this.d.jobs.row(ws, name);
    if (existing)
      return existing.parent_name === r.name
        ? undefined
        : `a job named '${name}' exists already in the workspace (not a step of this pipeline)`;
    try {
      const inputs: Record<string, JobInput> = {};
      for (const [k, i] of Object.entries(s.inputs)) inputs[k] = this.resolveInput(spec, i, kids);
      const outputs: Record<string, JobOutput> = {};
      for (const [k, o] of Object.entries(s.outputs)) {
        const b = outputBinding(o);
        const { uri: _uri, ...rest } = o as JobOutput;
        if (b?.kind === 'parentOutput') {
          const target = spec.outputs[b.name]!;
          outputs[k] = { ...rest, ...(target.uri ? { uri: target.uri } : {}) };
        } else outputs[k] = o as JobOutput;
      }
      const computeId = s.computeId ?? spec.settings.defaultCompute ?? spec.computeId;
      const child: CommandSpec = {
        jobType: 'Command',
        experimentName: spec.experimentName,
        displayName: s.displayName ?? step,
        ...(computeId ? { computeId } : {}),
        properties: { 'azureml.pipelineStep': step },
        tags: {},
        command: s.command,
        ...(s.codeId ? { codeId: s.codeId } : {}),
        ...(s.environmentId ? { environmentId: s.environmentId } : {}),
        environmentVariables: s.environmentVariables,
        ...(s.distribution ? { distribution: s.distribution } : {}),
        resources: s.resources,
        inputs,
        outputs,
        ...(s.limits ? { limits: s.limits } : {}),
      };
      const reuseKey = await this.reuseKey(ws, by, child);
      const previous = spec.settings.forceRerun ? undefined : await this.reusable(ws, reuseKey, name);
      if (previous) {
        const prev = JSON.parse(previous.spec) as CommandSpec;
        for (const k of Object.keys(child.outputs))
          child.outputs[k] = {
            ...child.outputs[k]!,
            uri: prev.outputs?.[k]?.uri ?? defaultOutputUri(previous.name, k),
          };
        child.properties['azureml.isreused'] = 'true';
        child.properties['azureml.reusedJobName'] = previous.name;
      } else if (spec.settings.defaultDatastore) {
        for (const [k, o] of Object.entries(child.outputs))
          if (!o.uri)
            child.outputs[k] = {
              ...o,
              uri: `azureml://datastores/${spec.settings.defaultDatastore}/paths/azureml/${name}/${k}/`,
            };
      }
      await this.d.jobs.submit(ws, name, child, by, {
        parentName: r.name,
        ...(r.run_id ? { parentRunId: r.run_id } : {}),
        reuseKey,
        ...(previous ? { reused: true } : {}),
      });
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }

  private resolveInput(spec: PipelineSpec, i: StepSpec['inputs'][string], kids: Map<string, JobRow>): JobInput {
    const b = inputBinding(i);
    const declared = i.jobInputType;
    const mode = 'mode' in i ? i.mode : undefined;
    if (b?.kind === 'parentInput') {
      const from = spec.inputs[b.name]!;
      if (from.jobInputType === 'literal') return from;
      return { ...from, ...(mode ? { mode } : {}) };
    }
    if (b?.kind === 'stepOutput') {
      const producer = kids.get(b.step)!;
      const out = (JSON.parse(producer.spec) as CommandSpec).outputs[b.output]!;
      const type = (DATA_INPUT_TYPES as readonly string[]).includes(declared)
        ? declared
        : out.jobOutputType === 'uri_file' || out.jobOutputType === 'mltable'
          ? out.jobOutputType
          : 'uri_folder';
      return {
        jobInputType: type as (typeof DATA_INPUT_TYPES)[number],
        uri: out.uri ?? defaultOutputUri(producer.name, b.output),
        mode: mode ?? 'ReadOnlyMount',
      };
    }
    return i as JobInput;
  }

  /**
   * What makes a step's result: its code (an immutable, content-addressed code asset version),
   * environment, command, variables, resources and distribution, its outputs' explicit places, and
   * the contents of its inputs (literal values; data by the SHA-256 of every file in it).
   */
  private async reuseKey(ws: WorkspaceInfo, by: Principal, c: CommandSpec): Promise<string> {
    const inputs: Record<string, string> = {};
    for (const [k, i] of Object.entries(c.inputs))
      inputs[k] =
        i.jobInputType === 'literal'
          ? `literal:${i.value}`
          : `${i.jobInputType}:${await this.contentHash(ws, by, i.uri)}`;
    const key = {
      codeId: c.codeId ?? null,
      environmentId: c.environmentId ?? null,
      command: c.command,
      environmentVariables: Object.entries(c.environmentVariables).sort(),
      resources: c.resources,
      distribution: c.distribution ?? null,
      inputs: Object.entries(inputs).sort(),
      outputs: Object.entries(c.outputs)
        .map(([k, o]) => [k, o.jobOutputType, o.uri ?? null, o.assetName ?? null])
        .sort(),
    };
    return crypto.createHash('sha256').update(JSON.stringify(key)).digest('hex');
  }

  /** SHA-256 over the paths and contents of the files a data input names. */
  private async contentHash(ws: WorkspaceInfo, by: Principal, uri: string): Promise<string> {
    let where = uri;
    if (!parseDatastoreUri(where)) {
      const ref = parseAssetRef(where, 'data');
      if (!ref?.version) return `uri:${uri}`;
      where = String((await this.d.data.getVersion(ws, ref.name, ref.version)).properties.dataUri);
    }
    const ref = parseDatastoreUri(where);
    if (!ref) return `uri:${where}`;
    const backend = await this.d.datastores.backend(ws, ref.datastore, by, 'read');
    const key = ref.path.replace(/\/+$/, '');
    const st = await backend.stat(key);
    const h = crypto.createHash('sha256');
    if (!st) return 'missing';
    const files = st.isDir ? (await backend.list(key, { recursive: true })).filter((f) => !f.isDir) : [st];
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const f of files) {
      const inner = crypto.createHash('sha256');
      const { stream } = await backend.get(f.path);
      for await (const chunk of stream) inner.update(chunk as Buffer);
      h.update(`${f.path.slice(key.length)}\0${inner.digest('hex')}\n`);
    }
    return h.digest('hex');
  }

  /** The newest Completed job of this workspace with the same reuse key (not this step itself). */
  private async reusable(ws: WorkspaceInfo, reuseKey: string, name: string): Promise<JobRow | undefined> {
    return this.d.ctx.db
      .selectFrom('jobs')
      .selectAll()
      .where('workspace_id', '=', ws.workspaceId)
      .where('reuse_key', '=', reuseKey)
      .where('status', '=', 'Completed')
      .where('name', '<>', name)
      .orderBy('end_time', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /** A pipeline output without a place of its own shows where its step put it. */
  private async bindOutputs(r: JobRow, spec: PipelineSpec, kids: Map<string, JobRow>): Promise<void> {
    let changed = false;
    const outputs = { ...spec.outputs };
    for (const [step, s] of Object.entries(spec.jobs))
      for (const [k, o] of Object.entries(s.outputs)) {
        const b = outputBinding(o);
        if (b?.kind !== 'parentOutput' || outputs[b.name]?.uri) continue;
        const kid = kids.get(step);
        if (!kid) continue;
        const out = (JSON.parse(kid.spec) as CommandSpec).outputs[k];
        outputs[b.name] = { ...outputs[b.name]!, uri: out?.uri ?? defaultOutputUri(kid.name, k) };
        changed = true;
      }
    if (!changed) return;
    const now = await this.d.jobs.byKey(r.job_key);
    if (!now) return;
    const next: PipelineSpec = { ...(JSON.parse(now.spec) as PipelineSpec), outputs };
    await this.d.jobs.setSpec(r.job_key, next);
  }
}

function failedReason(failed: string[], kids: Map<string, JobRow>): string {
  return failed
    .map((s) => {
      const k = kids.get(s);
      const why = k ? errorOf(k) : undefined;
      return `step '${s}' ${k ? k.status.toLowerCase() : 'could not start'}${why ? ` (${why})` : ''}`;
    })
    .join('; ');
}
