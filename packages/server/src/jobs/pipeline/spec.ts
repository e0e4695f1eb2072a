import { parseDuration } from '../command.js';
import {
  bad,
  checkCommandReferences,
  obj,
  parseBase,
  parseInputs,
  parseOutputs,
  parseTrial,
  str,
  type BaseSpec,
  type JobInput,
  type JobOutput,
  type Obj,
  type TrialSpec,
} from '../spec.js';

/**
 * A pipeline job's `properties` (ARM's PipelineJob): `jobs` (a map of command steps), `inputs`,
 * `outputs` and `settings` (`continue_on_step_failure`, `default_compute`, `default_datastore`,
 * `force_rerun`; camelCase is taken too). A step's input is bound with the value (or uri)
 * `${{parent.inputs.<x>}}` or `${{parent.jobs.<step>.outputs.<o>}}`; a step's output feeds a
 * pipeline output with `${{parent.outputs.<y>}}`. References are checked at submission: an unknown
 * step, input or output, or a cycle, is a 400 naming it.
 */

/** A binding: where a step's input comes from, or which pipeline output a step's output feeds. */
export type Binding =
  | { kind: 'parentInput'; name: string }
  | { kind: 'stepOutput'; step: string; output: string }
  | { kind: 'parentOutput'; name: string };

const BINDING = /^\$\{\{\s*parent\.([A-Za-z0-9_.-]+)\s*\}\}$/;

/** The binding a value stands for, or undefined for a plain value. */
export function parseBinding(v: unknown): Binding | undefined {
  if (typeof v !== 'string') return undefined;
  const m = BINDING.exec(v.trim());
  if (!m) return undefined;
  const parts = m[1]!.split('.');
  if (parts.length === 2 && parts[0] === 'inputs') return { kind: 'parentInput', name: parts[1]! };
  if (parts.length === 2 && parts[0] === 'outputs') return { kind: 'parentOutput', name: parts[1]! };
  if (parts.length === 4 && parts[0] === 'jobs' && parts[2] === 'outputs')
    return { kind: 'stepOutput', step: parts[1]!, output: parts[3]! };
  return { kind: 'parentInput', name: `\0${m[1]}` };
}

/** A step's input: a value or data (as a command job's), or a binding with the type it wants. */
export type StepInput = JobInput | { jobInputType: string; value: string; mode?: string; description?: string };

export interface StepSpec extends TrialSpec {
  jobType: 'Command';
  displayName?: string;
  computeId?: string;
  inputs: Record<string, StepInput>;
  outputs: Record<string, JobOutput | (Omit<JobOutput, 'uri'> & { uri: string })>;
  limits?: { jobLimitsType: 'Command'; timeout: string };
}

export interface PipelineSettings {
  continueOnStepFailure: boolean;
  forceRerun: boolean;
  defaultCompute?: string;
  defaultDatastore?: string;
}

export interface PipelineSpec extends BaseSpec {
  jobType: 'Pipeline';
  jobs: Record<string, StepSpec>;
  inputs: Record<string, JobInput>;
  outputs: Record<string, JobOutput>;
  settings: PipelineSettings;
}

export const STEP_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,99}$/;

/** The binding of a step input (undefined: a plain value or data). */
export function inputBinding(i: StepInput): Binding | undefined {
  const v = 'value' in i ? i.value : 'uri' in i ? i.uri : undefined;
  return parseBinding(v);
}

export function outputBinding(o: { uri?: string }): Binding | undefined {
  return parseBinding(o.uri);
}

function bool(v: unknown, target: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw bad(target, 'must be true or false');
}

function parseStep(name: string, raw: unknown): StepSpec {
  const t = `properties.jobs.${name}`;
  if (!STEP_NAME.test(name))
    throw bad(t, 'a step name must be letters, digits and _ (not first a digit), at most 100 characters');
  const s = obj(raw, t, true)!;
  const type = s.jobType ?? s.type ?? 'Command';
  if (typeof type !== 'string' || type.toLowerCase() !== 'command')
    throw bad(`${t}.jobType`, `only command steps are supported; got ${JSON.stringify(type)}`);
  if (s.componentId !== undefined)
    throw bad(
      `${t}.componentId`,
      'components are not supported by this server; give the step its command, codeId and environmentId',
    );
  const trial = parseTrial(s, t);
  // Bindings are taken out before the usual checks (a binding is no datastore URI), then put back.
  const rawInputs = obj(s.inputs, `${t}.inputs`) ?? {};
  const plainInputs: Obj = {};
  const inputs: Record<string, StepInput> = {};
  for (const [k, v] of Object.entries(rawInputs)) {
    const i = obj(v, `${t}.inputs.${k}`);
    if (!i) continue;
    const value = i.value ?? i.uri;
    if (parseBinding(value)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
        throw bad(`${t}.inputs.${k}`, 'an input name must be letters, digits and _ (not first a digit)');
      const jobInputType = str(i.jobInputType, `${t}.inputs.${k}.jobInputType`, { max: 50 }) ?? 'literal';
      inputs[k] = {
        jobInputType,
        value: String(value).trim(),
        ...(typeof i.mode === 'string' ? { mode: i.mode } : {}),
      };
    } else plainInputs[k] = v;
  }
  Object.assign(inputs, parseInputs(plainInputs, `${t}.inputs`));
  const rawOutputs = obj(s.outputs, `${t}.outputs`) ?? {};
  const plainOutputs: Obj = {};
  const bound: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawOutputs)) {
    const o = obj(v, `${t}.outputs.${k}`);
    if (!o) continue;
    const value = o.uri ?? (o.jobOutputType === 'literal' ? o.value : undefined);
    if (parseBinding(value)) {
      bound[k] = String(value).trim();
      const { uri: _u, value: _v, ...rest } = o;
      plainOutputs[k] = { ...rest, ...(rest.jobOutputType === 'literal' ? { jobOutputType: undefined } : {}) };
    } else plainOutputs[k] = v;
  }
  const outputs: StepSpec['outputs'] = parseOutputs(plainOutputs, `${t}.outputs`);
  for (const [k, uri] of Object.entries(bound)) outputs[k] = { ...outputs[k]!, uri };
  checkCommandReferences(trial.command, { inputs, outputs }, `${t}.command`);
  const limits = obj(s.limits, `${t}.limits`);
  let timeout: string | undefined;
  if (limits?.timeout !== undefined && limits.timeout !== null) {
    parseDuration(limits.timeout, `${t}.limits.timeout`);
    timeout = typeof limits.timeout === 'number' ? `PT${limits.timeout}S` : String(limits.timeout);
  }
  const displayName = str(s.displayName, `${t}.displayName`, { max: 250 });
  const computeId = str(s.computeId, `${t}.computeId`, { max: 1000 });
  return {
    jobType: 'Command',
    ...trial,
    ...(displayName ? { displayName } : {}),
    ...(computeId ? { computeId } : {}),
    inputs,
    outputs,
    ...(timeout ? { limits: { jobLimitsType: 'Command' as const, timeout } } : {}),
  };
}

export function parsePipelineJob(p: Obj): PipelineSpec {
  const rawJobs = obj(p.jobs, 'properties.jobs', true)!;
  if (!Object.keys(rawJobs).length) throw bad('properties.jobs', 'needs at least one step');
  if (Object.keys(rawJobs).length > 100) throw bad('properties.jobs', 'may have at most 100 steps');
  const jobs: Record<string, StepSpec> = {};
  for (const [name, raw] of Object.entries(rawJobs)) jobs[name] = parseStep(name, raw);
  const inputs = parseInputs(p.inputs, 'properties.inputs');
  const outputs = parseOutputs(p.outputs, 'properties.outputs');
  const s = obj(p.settings, 'properties.settings') ?? {};
  const pickKey = (snake: string, camel: string) => (s[snake] !== undefined ? snake : camel);
  const cos = pickKey('continue_on_step_failure', 'continueOnStepFailure');
  const fr = pickKey('force_rerun', 'forceRerun');
  const dc = pickKey('default_compute', 'defaultCompute');
  const dd = pickKey('default_datastore', 'defaultDatastore');
  const defaultCompute = str(s[dc], `properties.settings.${dc}`, { max: 1000 });
  const defaultDatastore = str(s[dd], `properties.settings.${dd}`, { max: 255 });
  const settings: PipelineSettings = {
    continueOnStepFailure: bool(s[cos], `properties.settings.${cos}`),
    forceRerun: bool(s[fr], `properties.settings.${fr}`),
    ...(defaultCompute ? { defaultCompute: defaultCompute.replace(/^azureml:/i, '') } : {}),
    ...(defaultDatastore ? { defaultDatastore: defaultDatastore.replace(/^azureml:/i, '') } : {}),
  };
  checkGraph(jobs, inputs, outputs);
  return { ...parseBase(p, 'Pipeline'), jobType: 'Pipeline', jobs, inputs, outputs, settings };
}

/** The steps a step waits for (the producers of its bound inputs). */
export function dependencies(step: StepSpec): string[] {
  const out = new Set<string>();
  for (const i of Object.values(step.inputs)) {
    const b = inputBinding(i);
    if (b?.kind === 'stepOutput') out.add(b.step);
  }
  return [...out];
}

/** Every binding names something that exists; the steps form no cycle. */
function checkGraph(
  jobs: Record<string, StepSpec>,
  inputs: Record<string, JobInput>,
  outputs: Record<string, JobOutput>,
): void {
  const fedOutputs = new Map<string, string>();
  for (const [name, step] of Object.entries(jobs)) {
    for (const [k, i] of Object.entries(step.inputs)) {
      const b = inputBinding(i);
      if (!b) continue;
      const t = `properties.jobs.${name}.inputs.${k}`;
      const ref = 'value' in i ? i.value : '';
      if (b.kind === 'parentInput' && b.name.startsWith('\0'))
        throw bad(
          t,
          `'${ref}' is not a binding this server knows; use \${{parent.inputs.<name>}} or \${{parent.jobs.<step>.outputs.<name>}}`,
        );
      if (b.kind === 'parentOutput') throw bad(t, `an input cannot be bound to a pipeline output ('${ref}')`);
      if (b.kind === 'parentInput' && !(b.name in inputs))
        throw bad(
          t,
          `refers to pipeline input '${b.name}', which the pipeline does not define; declared inputs: ${Object.keys(inputs).join(', ') || 'none'}`,
        );
      if (b.kind === 'stepOutput') {
        const producer = jobs[b.step];
        if (!producer)
          throw bad(
            t,
            `refers to step '${b.step}', which the pipeline does not have; its steps: ${Object.keys(jobs).join(', ')}`,
          );
        if (!(b.output in producer.outputs))
          throw bad(
            t,
            `refers to output '${b.output}' of step '${b.step}', which it does not declare; its outputs: ${Object.keys(producer.outputs).join(', ') || 'none'}`,
          );
      }
    }
    for (const [k, o] of Object.entries(step.outputs)) {
      const b = outputBinding(o);
      if (!b) continue;
      const t = `properties.jobs.${name}.outputs.${k}`;
      if (b.kind !== 'parentOutput')
        throw bad(t, `an output can only feed a pipeline output (\${{parent.outputs.<name>}}); got '${o.uri}'`);
      if (!(b.name in outputs))
        throw bad(
          t,
          `feeds pipeline output '${b.name}', which the pipeline does not define; declared outputs: ${Object.keys(outputs).join(', ') || 'none'}`,
        );
      const other = fedOutputs.get(b.name);
      if (other) throw bad(t, `pipeline output '${b.name}' is fed by ${other} already; one step output feeds it`);
      fedOutputs.set(b.name, `${name}.outputs.${k}`);
    }
  }
  // Cycles: a depth-first walk; the first back edge names the loop.
  const state = new Map<string, 'open' | 'done'>();
  const walk = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'open') {
      const loop = [...trail.slice(trail.indexOf(name)), name];
      throw bad('properties.jobs', `the steps form a cycle: ${loop.join(' → ')}; a step cannot depend on itself`);
    }
    state.set(name, 'open');
    for (const dep of dependencies(jobs[name]!)) walk(dep, [...trail, name]);
    state.set(name, 'done');
  };
  for (const name of Object.keys(jobs)) walk(name, []);
}

/** The steps in an order where each comes after the steps it depends on. */
export function topologicalOrder(jobs: Record<string, StepSpec>): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const d of dependencies(jobs[name]!)) visit(d);
    out.push(name);
  };
  for (const name of Object.keys(jobs)) visit(name);
  return out;
}
