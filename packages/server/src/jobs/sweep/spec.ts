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
 * A sweep job's `properties` (ARM 2025-09-01 SweepJob): the `trial` to run, its `searchSpace`,
 * `samplingAlgorithm`, `objective`, `limits` and `earlyTermination`. Search-space expressions are
 * Azure ML's wire form (what azure-ai-ml's `Choice`, `Uniform`… send): `["choice", [[v1, v2]]]`,
 * `["uniform", [min, max]]`, `["loguniform", [min, max]]` (bounds of the natural log),
 * `["quniform", [min, max, q]]`, `["qloguniform", [min, max, q]]`, `["randint", [upper]]`,
 * `["normal", [mu, sigma]]`, `["qnormal", [mu, sigma, q]]`, `["lognormal", [mu, sigma]]`,
 * `["qlognormal", [mu, sigma, q]]`.
 */

export const DISTRIBUTIONS = [
  'choice',
  'uniform',
  'loguniform',
  'quniform',
  'qloguniform',
  'randint',
  'normal',
  'qnormal',
  'lognormal',
  'qlognormal',
] as const;
export type DistributionType = (typeof DISTRIBUTIONS)[number];

/** One parameter's distribution: `choice` has `values`; the others their numeric arguments. */
export type Distribution =
  | { type: 'choice'; values: (string | number | boolean)[] }
  | { type: Exclude<DistributionType, 'choice'>; args: number[] };

export interface EarlyTermination {
  policyType: 'Bandit' | 'MedianStopping' | 'TruncationSelection';
  evaluationInterval: number;
  delayEvaluation: number;
  slackFactor?: number;
  slackAmount?: number;
  truncationPercentage?: number;
}

export interface SweepSpec extends BaseSpec {
  jobType: 'Sweep';
  trial: TrialSpec;
  searchSpace: Record<string, unknown>;
  samplingAlgorithm: { samplingAlgorithmType: 'Grid' | 'Random'; seed?: number; rule?: string };
  objective: { goal: 'Maximize' | 'Minimize'; primaryMetric: string };
  limits: {
    jobLimitsType: 'Sweep';
    maxTotalTrials?: number;
    maxConcurrentTrials?: number;
    timeout?: string;
    trialTimeout?: string;
  };
  earlyTermination?: EarlyTermination;
  inputs: Record<string, JobInput>;
  outputs: Record<string, JobOutput>;
}

/** Most trials one sweep may run (a grid larger than this needs limits.maxTotalTrials). */
export const MAX_TRIALS = 1000;

const ARITY: Record<Exclude<DistributionType, 'choice'>, number> = {
  uniform: 2,
  loguniform: 2,
  quniform: 3,
  qloguniform: 3,
  randint: 1,
  normal: 2,
  qnormal: 3,
  lognormal: 2,
  qlognormal: 3,
};

/** One search-space expression, checked. */
export function parseDistribution(v: unknown, target: string): Distribution {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || !Array.isArray(v[1]))
    throw bad(
      target,
      'must be a search-space expression like ["choice", [[0.01, 0.1]]], ["uniform", [0, 1]] or ["randint", [10]]',
    );
  const type = v[0].toLowerCase() as DistributionType;
  if (!DISTRIBUTIONS.includes(type))
    throw bad(target, `'${v[0]}' is not a distribution; use one of ${DISTRIBUTIONS.join(', ')}`);
  const args = v[1] as unknown[];
  if (type === 'choice') {
    const values = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
    if (!values.length) throw bad(target, 'choice needs at least one value');
    for (const x of values)
      if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean')
        throw bad(
          target,
          'choice values must be numbers, strings or booleans (nested search spaces are not supported)',
        );
    return { type, values: values as (string | number | boolean)[] };
  }
  if (args.length !== ARITY[type] || !args.every((a) => typeof a === 'number' && Number.isFinite(a)))
    throw bad(target, `${type} takes ${ARITY[type]} numbers; got ${JSON.stringify(args).slice(0, 200)}`);
  const n = args as number[];
  if ((type === 'uniform' || type === 'loguniform' || type === 'quniform' || type === 'qloguniform') && n[0]! > n[1]!)
    throw bad(target, `${type}: the lower bound ${n[0]} is above the upper bound ${n[1]}`);
  if (type === 'randint' && (!Number.isInteger(n[0]) || n[0]! < 1))
    throw bad(target, 'randint takes an upper bound that is a whole number of at least 1');
  if (type.startsWith('q') && n[n.length - 1]! <= 0) throw bad(target, `${type}: q must be above 0`);
  if (type.includes('normal') && n[1]! < 0) throw bad(target, `${type}: sigma must not be negative`);
  return { type, args: n };
}

function positiveInt(v: unknown, target: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw bad(target, 'must be a whole number of at least 1');
  return v;
}

function nonNegativeInt(v: unknown, target: string, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(target, 'must be a whole number, 0 or more');
  return v;
}

function duration(v: unknown, target: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  parseDuration(v, target);
  return typeof v === 'number' ? `PT${v}S` : String(v);
}

function pick<T extends string>(v: unknown, allowed: readonly T[], target: string): T {
  const hit = allowed.find((a) => a.toLowerCase() === String(v ?? '').toLowerCase());
  if (!hit) throw bad(target, `must be one of ${allowed.join(', ')}; got ${JSON.stringify(v ?? null)}`);
  return hit;
}

export function parseSweepJob(p: Obj): SweepSpec {
  const trialRaw = obj(p.trial, 'properties.trial', true)!;
  const trial = parseTrial(trialRaw, 'properties.trial');
  const inputs = parseInputs(p.inputs, 'properties.inputs');
  const outputs = parseOutputs(p.outputs, 'properties.outputs');
  const searchSpace = obj(p.searchSpace, 'properties.searchSpace', true)!;
  if (!Object.keys(searchSpace).length) throw bad('properties.searchSpace', 'needs at least one parameter');
  const dists: Record<string, Distribution> = {};
  for (const [k, v] of Object.entries(searchSpace)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      throw bad(`properties.searchSpace.${k}`, 'a parameter name must be letters, digits and _ (not first a digit)');
    dists[k] = parseDistribution(v, `properties.searchSpace.${k}`);
  }
  // azure-ai-ml's `command(inputs={"lr": Uniform(…)}).sweep(…)` keeps `${{inputs.lr}}` in the
  // trial's command: a search-space parameter is an input of each trial too.
  checkCommandReferences(
    trial.command,
    { inputs: { ...searchSpace, ...inputs }, outputs, searchSpace },
    'properties.trial.command',
  );

  const sa = obj(p.samplingAlgorithm, 'properties.samplingAlgorithm', true)!;
  const rawType = sa.samplingAlgorithmType;
  if (typeof rawType === 'string' && rawType.toLowerCase() === 'bayesian')
    throw bad(
      'properties.samplingAlgorithm.samplingAlgorithmType',
      'Bayesian sampling is not supported by this server; use Grid or Random',
    );
  const samplingAlgorithmType = pick(
    rawType,
    ['Grid', 'Random'] as const,
    'properties.samplingAlgorithm.samplingAlgorithmType',
  );
  let seed: number | undefined;
  if (sa.seed !== undefined && sa.seed !== null) {
    if (typeof sa.seed !== 'number' || !Number.isInteger(sa.seed))
      throw bad('properties.samplingAlgorithm.seed', 'must be a whole number');
    seed = sa.seed;
  }
  const rule = str(sa.rule, 'properties.samplingAlgorithm.rule', { max: 50 });
  if (rule && !/^random$/i.test(rule))
    throw bad('properties.samplingAlgorithm.rule', `'${rule}' is not supported by this server; leave it out (Random)`);
  if (samplingAlgorithmType === 'Grid')
    for (const [k, d] of Object.entries(dists))
      if (d.type !== 'choice')
        throw bad(
          `properties.searchSpace.${k}`,
          `grid sampling takes only choice parameters; '${k}' is ${d.type} (use Random sampling, or a choice)`,
        );

  const objective = obj(p.objective, 'properties.objective', true)!;
  const goal = pick(objective.goal, ['Maximize', 'Minimize'] as const, 'properties.objective.goal');
  const primaryMetric = str(objective.primaryMetric, 'properties.objective.primaryMetric', {
    required: true,
    max: 250,
  })!;

  const l = obj(p.limits, 'properties.limits') ?? {};
  const maxTotalTrials = positiveInt(l.maxTotalTrials, 'properties.limits.maxTotalTrials');
  if (maxTotalTrials !== undefined && maxTotalTrials > MAX_TRIALS)
    throw bad('properties.limits.maxTotalTrials', `must be at most ${MAX_TRIALS}`);
  if (samplingAlgorithmType === 'Random' && maxTotalTrials === undefined)
    throw bad('properties.limits.maxTotalTrials', 'is required for Random sampling (how many trials to run)');
  if (samplingAlgorithmType === 'Grid' && maxTotalTrials === undefined) {
    const size = Object.values(dists).reduce((n, d) => n * (d.type === 'choice' ? d.values.length : 1), 1);
    if (size > MAX_TRIALS)
      throw bad(
        'properties.limits.maxTotalTrials',
        `the grid has ${size} points; set maxTotalTrials (at most ${MAX_TRIALS})`,
      );
  }
  const maxConcurrentTrials = positiveInt(l.maxConcurrentTrials, 'properties.limits.maxConcurrentTrials');
  const limits: SweepSpec['limits'] = { jobLimitsType: 'Sweep' };
  if (maxTotalTrials !== undefined) limits.maxTotalTrials = maxTotalTrials;
  if (maxConcurrentTrials !== undefined) limits.maxConcurrentTrials = maxConcurrentTrials;
  const timeout = duration(l.timeout, 'properties.limits.timeout');
  if (timeout) limits.timeout = timeout;
  const trialTimeout = duration(l.trialTimeout, 'properties.limits.trialTimeout');
  if (trialTimeout) limits.trialTimeout = trialTimeout;

  let earlyTermination: EarlyTermination | undefined;
  const et = obj(p.earlyTermination, 'properties.earlyTermination');
  if (et) {
    const t = 'properties.earlyTermination';
    const policyType = pick(
      et.policyType,
      ['Bandit', 'MedianStopping', 'TruncationSelection'] as const,
      `${t}.policyType`,
    );
    earlyTermination = {
      policyType,
      evaluationInterval: nonNegativeInt(et.evaluationInterval, `${t}.evaluationInterval`, 0) || 1,
      delayEvaluation: nonNegativeInt(et.delayEvaluation, `${t}.delayEvaluation`, 0),
    };
    if (policyType === 'Bandit') {
      const num = (v: unknown, k: string) => {
        if (v === undefined || v === null) return undefined;
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
          throw bad(`${t}.${k}`, 'must be a number, 0 or more');
        return v;
      };
      const slackFactor = num(et.slackFactor, 'slackFactor');
      const slackAmount = num(et.slackAmount, 'slackAmount');
      if ((slackFactor === undefined || slackFactor === 0) === (slackAmount === undefined || slackAmount === 0))
        throw bad(`${t}`, 'a Bandit policy takes one of slackFactor or slackAmount (above 0)');
      if (slackFactor) earlyTermination.slackFactor = slackFactor;
      if (slackAmount) earlyTermination.slackAmount = slackAmount;
    }
    if (policyType === 'TruncationSelection') {
      const pct = et.truncationPercentage;
      if (typeof pct !== 'number' || !Number.isInteger(pct) || pct < 1 || pct > 99)
        throw bad(`${t}.truncationPercentage`, 'must be a whole number from 1 to 99');
      earlyTermination.truncationPercentage = pct;
    }
  }

  return {
    ...parseBase(p, 'Sweep'),
    jobType: 'Sweep',
    trial,
    searchSpace,
    samplingAlgorithm: { samplingAlgorithmType, ...(seed !== undefined ? { seed } : {}), ...(rule ? { rule } : {}) },
    objective: { goal, primaryMetric },
    limits,
    ...(earlyTermination ? { earlyTermination } : {}),
    inputs,
    outputs,
  };
}

/** The parsed distributions of a (checked) sweep spec. */
export function distributions(spec: SweepSpec): Record<string, Distribution> {
  return Object.fromEntries(
    Object.entries(spec.searchSpace).map(([k, v]) => [k, parseDistribution(v, `properties.searchSpace.${k}`)]),
  );
}
