import { InvalidInput } from '../errors.js';
import { parseDuration, references } from './command.js';

/**
 * The `properties` of a job as submitted (`PUT W/jobs/{name}`), checked and normalised. Every
 * message names the field and what to send instead. The stored spec is what GET answers (with the
 * status and services added), so what a client sent comes back as it sent it.
 */
export type Obj = Record<string, unknown>;

export const JOB_STATUSES = [
  'NotStarted',
  'Starting',
  'Provisioning',
  'Preparing',
  'Queued',
  'Running',
  'Finalizing',
  'CancelRequested',
  'Completed',
  'Failed',
  'Canceled',
  'NotResponding',
  'Paused',
  'Unknown',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL: readonly JobStatus[] = ['Completed', 'Failed', 'Canceled', 'NotResponding', 'Paused'];
/** Statuses of a job that holds compute (claimed by a scheduler). */
export const ACTIVE: readonly JobStatus[] = ['Preparing', 'Running', 'Finalizing', 'CancelRequested'];

export const JOB_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const DATA_INPUT_TYPES = ['uri_file', 'uri_folder', 'mltable'] as const;
export const OUTPUT_TYPES = ['uri_folder', 'uri_file', 'mlflow_model', 'custom_model', 'mltable'] as const;
const INPUT_MODES = ['ReadOnlyMount', 'ReadWriteMount', 'Download', 'Direct', 'EvalMount', 'EvalDownload'];
const OUTPUT_MODES = ['ReadWriteMount', 'Upload', 'Direct'];
/** Most ranks one job may ask for (resources.instanceCount). */
export const MAX_INSTANCES = 64;

export type JobInput =
  | { jobInputType: 'literal'; value: string; description?: string }
  | { jobInputType: (typeof DATA_INPUT_TYPES)[number]; uri: string; mode: string; description?: string };

export interface JobOutput {
  jobOutputType: (typeof OUTPUT_TYPES)[number];
  mode: string;
  uri?: string;
  assetName?: string;
  assetVersion?: string;
  description?: string;
}

/** What every job kind shares. */
export interface BaseSpec {
  jobType: 'Command' | 'Sweep' | 'Pipeline';
  experimentName: string;
  displayName?: string;
  description?: string;
  computeId?: string;
  properties: Record<string, string>;
  tags: Record<string, string>;
}

/** What runs: a command job, a sweep's trial, a pipeline's step. */
export interface TrialSpec {
  command: string;
  codeId?: string;
  environmentId?: string;
  environmentVariables: Record<string, string>;
  distribution?: Obj;
  resources: { instanceCount: number; instanceType?: string };
}

export interface CommandSpec extends BaseSpec, TrialSpec {
  jobType: 'Command';
  inputs: Record<string, JobInput>;
  outputs: Record<string, JobOutput>;
  limits?: { jobLimitsType: 'Command'; timeout: string };
  /** A sweep trial's parameter values (`${{search_space.x}}`, AZUREML_SWEEP_x); absent otherwise. */
  searchSpaceValues?: Record<string, string>;
}

export const bad = (target: string, message: string): InvalidInput =>
  new InvalidInput(`${target}: ${message}`, { code: 'INVALID_INPUT', target });

export function obj(v: unknown, target: string, required = false): Obj | undefined {
  if (v === undefined || v === null) {
    if (required) throw bad(target, 'is required; send an object');
    return undefined;
  }
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(target, 'must be an object');
  return v as Obj;
}

export function str(v: unknown, target: string, opts: { required?: boolean; max?: number } = {}): string | undefined {
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw bad(target, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') throw bad(target, 'must be a string');
  if (v.length > (opts.max ?? 1000)) throw bad(target, `must be at most ${opts.max ?? 1000} characters`);
  return v;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], target: string, dflt?: T): T {
  if ((v === undefined || v === null || v === '') && dflt) return dflt;
  const hit = allowed.find((a) => a.toLowerCase() === String(v).toLowerCase());
  if (!hit) throw bad(target, `must be one of ${allowed.join(', ')}; got ${JSON.stringify(v ?? null)}`);
  return hit;
}

export function stringMap(v: unknown, target: string, keyRule?: RegExp): Record<string, string> {
  const o = obj(v, target);
  if (!o) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(o)) {
    if (keyRule && !keyRule.test(k))
      throw bad(`${target}.${k}`, `is not a valid name (letters, digits, _; not first a digit)`);
    if (x === null || x === undefined) continue;
    if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean')
      throw bad(`${target}.${k}`, 'must be a string');
    out[k] = String(x);
  }
  return out;
}

function base(p: Obj, jobType: BaseSpec['jobType']): BaseSpec {
  return {
    jobType,
    experimentName: str(p.experimentName, 'properties.experimentName', { max: 250 }) ?? 'Default',
    ...opt('displayName', str(p.displayName, 'properties.displayName', { max: 250 })),
    ...opt('description', str(p.description, 'properties.description', { max: 5000 })),
    ...opt('computeId', str(p.computeId, 'properties.computeId', { max: 1000 })),
    properties: stringMap(p.properties, 'properties.properties'),
    tags: stringMap(p.tags, 'properties.tags'),
  };
}

const opt = <K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } =>
  (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };

/** The runnable part of a command job, a sweep's `trial` or a pipeline step. */
export function parseTrial(p: Obj, target: string): TrialSpec {
  const command = str(p.command, `${target}.command`, { required: true, max: 50_000 })!;
  const resources = obj(p.resources, `${target}.resources`) ?? {};
  const n = resources.instanceCount ?? 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_INSTANCES)
    throw bad(`${target}.resources.instanceCount`, `must be a whole number from 1 to ${MAX_INSTANCES}`);
  const distribution = obj(p.distribution, `${target}.distribution`);
  return {
    command,
    ...opt('codeId', str(p.codeId, `${target}.codeId`, { max: 2000 })),
    ...opt('environmentId', str(p.environmentId, `${target}.environmentId`, { max: 2000 })),
    environmentVariables: stringMap(p.environmentVariables, `${target}.environmentVariables`, IDENT),
    ...opt('distribution', distribution),
    resources: {
      instanceCount: n,
      ...opt('instanceType', str(resources.instanceType, `${target}.resources.instanceType`, { max: 200 })),
    },
  };
}

export function parseInputs(v: unknown, target: string): Record<string, JobInput> {
  const o = obj(v, target) ?? {};
  const out: Record<string, JobInput> = {};
  for (const [name, raw] of Object.entries(o)) {
    const t = `${target}.${name}`;
    if (!IDENT.test(name)) throw bad(t, 'an input name must be letters, digits and _ (not first a digit)');
    if (raw === null || raw === undefined) continue;
    const i = obj(raw, t, true)!;
    const type = oneOf(i.jobInputType, ['literal', ...DATA_INPUT_TYPES] as const, `${t}.jobInputType`);
    const description = str(i.description, `${t}.description`, { max: 5000 });
    if (type === 'literal') {
      const value = i.value;
      if (value === undefined || value === null) throw bad(`${t}.value`, 'is required for a literal input');
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
        throw bad(`${t}.value`, 'must be a string, number or boolean');
      out[name] = { jobInputType: 'literal', value: String(value), ...opt('description', description) };
    } else {
      const uri = str(i.uri, `${t}.uri`, { required: true, max: 2000 })!;
      const mode = oneOf(i.mode, INPUT_MODES, `${t}.mode`, 'ReadOnlyMount');
      out[name] = { jobInputType: type, uri, mode, ...opt('description', description) };
    }
  }
  return out;
}

export function parseOutputs(v: unknown, target: string): Record<string, JobOutput> {
  const o = obj(v, target) ?? {};
  const out: Record<string, JobOutput> = {};
  for (const [name, raw] of Object.entries(o)) {
    const t = `${target}.${name}`;
    if (!IDENT.test(name)) throw bad(t, 'an output name must be letters, digits and _ (not first a digit)');
    if (raw === null || raw === undefined) continue;
    const x = obj(raw, t, true)!;
    const jobOutputType = oneOf(x.jobOutputType, OUTPUT_TYPES, `${t}.jobOutputType`, 'uri_folder');
    const mode = oneOf(x.mode, OUTPUT_MODES, `${t}.mode`, 'ReadWriteMount');
    const uri = str(x.uri, `${t}.uri`, { max: 2000 });
    if (uri && !/^azureml:\/\//i.test(uri))
      throw bad(
        `${t}.uri`,
        `must be a datastore URI like azureml://datastores/<datastore>/paths/<folder>; got '${uri.slice(0, 200)}'`,
      );
    const assetName = str(x.assetName, `${t}.assetName`, { max: 255 });
    if (assetName && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$/.test(assetName))
      throw bad(`${t}.assetName`, 'must be letters, digits, _ . - (a data asset name)');
    const assetVersion = str(x.assetVersion, `${t}.assetVersion`, { max: 100 });
    if (assetVersion && !assetName) throw bad(`${t}.assetVersion`, 'needs assetName');
    out[name] = {
      jobOutputType,
      mode,
      ...opt('uri', uri),
      ...opt('assetName', assetName),
      ...opt('assetVersion', assetVersion),
      ...opt('description', str(x.description, `${t}.description`, { max: 5000 })),
    };
  }
  return out;
}

/** Checks that every `${{inputs.x}}`/`${{outputs.y}}` of a command names a declared one. */
export function checkCommandReferences(
  command: string,
  known: { inputs: Record<string, unknown>; outputs: Record<string, unknown>; searchSpace?: Record<string, unknown> },
  target: string,
): void {
  for (const ref of references(command)) {
    const [kind, name, ...rest] = ref.split('.');
    const ok =
      rest.length === 0 &&
      ((kind === 'inputs' && name! in known.inputs) ||
        (kind === 'outputs' && name! in known.outputs) ||
        (kind === 'search_space' && known.searchSpace !== undefined && name! in known.searchSpace));
    if (!ok) {
      const declared =
        kind === 'inputs'
          ? Object.keys(known.inputs)
          : kind === 'outputs'
            ? Object.keys(known.outputs)
            : Object.keys(known.searchSpace ?? {});
      throw bad(
        target,
        `refers to \${{${ref}}}, which the job does not define` +
          (['inputs', 'outputs', 'search_space'].includes(kind!)
            ? `; declared ${kind}: ${declared.length ? declared.join(', ') : 'none'}`
            : '; references are ${{inputs.<name>}}, ${{outputs.<name>}} or ${{search_space.<name>}}'),
      );
    }
  }
}

/** A command job's properties. */
export function parseCommandJob(p: Obj): CommandSpec {
  const trial = parseTrial(p, 'properties');
  const inputs = parseInputs(p.inputs, 'properties.inputs');
  const outputs = parseOutputs(p.outputs, 'properties.outputs');
  checkCommandReferences(trial.command, { inputs, outputs }, 'properties.command');
  const limits = obj(p.limits, 'properties.limits');
  let timeout: string | undefined;
  if (limits?.timeout !== undefined && limits.timeout !== null) {
    parseDuration(limits.timeout, 'properties.limits.timeout');
    timeout = typeof limits.timeout === 'number' ? `PT${limits.timeout}S` : String(limits.timeout);
  }
  return {
    ...base(p, 'Command'),
    jobType: 'Command',
    ...trial,
    inputs,
    outputs,
    ...(timeout ? { limits: { jobLimitsType: 'Command' as const, timeout } } : {}),
  };
}

export function parseJobType(p: Obj): BaseSpec['jobType'] {
  return oneOf(p.jobType, ['Command', 'Sweep', 'Pipeline'] as const, 'properties.jobType');
}

export { base as parseBase };
