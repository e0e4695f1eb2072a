import crypto from 'node:crypto';
import { LineCounter, parseDocument, isMap, type Document, type Node } from 'yaml';
import { UsageError } from '../output.js';

/**
 * Azure ML v2 job YAML → the `properties` of `PUT W/jobs/{name}`. Every error names its line.
 * - `type: command`: `command`, `environment`, `compute`, `experiment_name`, `display_name`,
 *   `description`, `tags`, `environment_variables`, `inputs` (literals, or `{type, path, mode}`),
 *   `outputs` (`{type, path, mode, name, version}`), `resources.instance_count`, `limits.timeout`.
 * - `type: sweep`: `trial` (a command's `command`, `environment`, `environment_variables`,
 *   `resources`), `search_space` (`{type: choice, values}`, `{type: uniform|loguniform, min_value,
 *   max_value}`, `quniform`/`qloguniform` with `q`, `{type: randint, upper}`, `{type: normal|lognormal,
 *   mu, sigma}`, `qnormal`/`qlognormal` with `q`), `sampling_algorithm` (`grid`, `random` or
 *   `{type, seed}`), `objective {goal, primary_metric}`, `limits {max_total_trials,
 *   max_concurrent_trials, timeout, trial_timeout}`, `early_termination {type: bandit|median_stopping|
 *   truncation_selection, evaluation_interval, delay_evaluation, slack_factor|slack_amount,
 *   truncation_percentage}`, and `inputs`/`outputs`/`compute` as a command's.
 * - `type: pipeline`: `jobs` (command steps as above, with `compute`; an input may be
 *   `${{parent.inputs.x}}` or `${{parent.jobs.<step>.outputs.<o>}}`, an output `${{parent.outputs.y}}`),
 *   `inputs`, `outputs`, `settings {default_compute, default_datastore, continue_on_step_failure,
 *   force_rerun}`.
 */
export interface ParsedJob {
  name: string;
  properties: Record<string, unknown>;
}

const MODES: Record<string, string> = {
  ro_mount: 'ReadOnlyMount',
  rw_mount: 'ReadWriteMount',
  download: 'Download',
  direct: 'Direct',
  upload: 'Upload',
  eval_mount: 'EvalMount',
  eval_download: 'EvalDownload',
};

type Fail = (message: string, node?: Node | null) => never;
type At = (path: (string | number)[]) => Node | undefined;

const COMMON = ['$schema', 'type', 'name', 'experiment_name', 'display_name', 'description', 'tags', 'properties'];
const COMMAND_KEYS = [
  'command',
  'code',
  'environment',
  'compute',
  'environment_variables',
  'inputs',
  'outputs',
  'resources',
  'limits',
  'distribution',
];
const KNOWN: Record<string, string[]> = {
  command: [...COMMON, ...COMMAND_KEYS],
  sweep: [
    ...COMMON,
    'trial',
    'compute',
    'inputs',
    'outputs',
    'search_space',
    'sampling_algorithm',
    'objective',
    'limits',
    'early_termination',
  ],
  pipeline: [...COMMON, 'jobs', 'compute', 'inputs', 'outputs', 'settings'],
};

const ref = (v: unknown) => (typeof v === 'string' ? v.replace(/^azureml:/i, '') : v);
const isMapping = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

export function parseJobYaml(text: string, file: string): ParsedJob {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const lineOf = (node: Node | null | undefined) => (node?.range ? lines.linePos(node.range[0]).line : undefined);
  const fail: Fail = (message, node) => {
    const line = lineOf(node);
    throw new UsageError(`${file}${line ? `, line ${line}` : ''}: ${message}`);
  };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new UsageError(`${file}, line ${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`);
  }
  if (!isMap(doc.contents)) fail('a job file is a mapping (type: command, command: …)', doc.contents);
  const at: At = (path) => (doc as Document).getIn(path, true) as Node | undefined;
  const y = doc.toJS() as Record<string, unknown>;
  const type = String(y.type ?? 'command').toLowerCase();
  const known = KNOWN[type];
  if (!known) fail(`type '${type}' is not a job type this server runs; use command, sweep or pipeline`, at(['type']));
  for (const k of Object.keys(y))
    if (!known!.includes(k)) fail(`unknown key '${k}' (known for type ${type}: ${known!.join(', ')})`, at([k]));
  const p: Record<string, unknown> = {};
  if (type === 'command') {
    p.jobType = 'Command';
    Object.assign(p, commandPart(y, [], fail, at, 'command'));
  } else if (type === 'sweep') {
    p.jobType = 'Sweep';
    Object.assign(p, sweepPart(y, fail, at));
  } else {
    p.jobType = 'Pipeline';
    Object.assign(p, pipelinePart(y, fail, at));
  }
  for (const [k, to] of [
    ['experiment_name', 'experimentName'],
    ['display_name', 'displayName'],
    ['description', 'description'],
  ] as const) {
    if (y[k] === undefined) continue;
    if (typeof y[k] !== 'string') fail(`${k} must be text`, at([k]));
    p[to] = y[k];
  }
  for (const [k, to] of [
    ['tags', 'tags'],
    ['properties', 'properties'],
  ] as const) {
    if (y[k] === undefined) continue;
    if (!isMapping(y[k])) fail(`${k} must be a mapping`, at([k]));
    p[to] = Object.fromEntries(Object.entries(y[k] as object).map(([a, b]) => [a, String(b)]));
  }
  let name = typeof y.name === 'string' ? y.name : undefined;
  if (y.name !== undefined && !name) fail('name must be text', at(['name']));
  name ??= `job_${crypto.randomBytes(6).toString('hex')}`;
  return { name, properties: p };
}

/**
 * The runnable part of a command job, a sweep's trial or a pipeline step (`base` is its path in
 * the file); `keys` says which of the command keys this place takes.
 */
function commandPart(
  y: Record<string, unknown>,
  base: (string | number)[],
  fail: Fail,
  at: At,
  what: 'command' | 'trial' | 'step',
): Record<string, unknown> {
  const where = base.length ? `${base.join('.')}.` : '';
  const node = (path: (string | number)[]) => at([...base, ...path]);
  if (typeof y.command !== 'string' || !y.command.trim())
    fail(`${where}command is required (the shell command to run)`, node(['command']) ?? at(base));
  if (y.code !== undefined)
    fail(
      `${where}code: uploading a local folder is not supported by this command yet; register a code asset and use its id`,
      node(['code']),
    );
  const p: Record<string, unknown> = { command: y.command };
  if (y.environment !== undefined) {
    if (typeof y.environment !== 'string')
      fail(`${where}environment must be azureml:<name>:<version> (or an environment id)`, node(['environment']));
    p.environmentId = String(y.environment).startsWith('/') ? y.environment : `azureml:${ref(y.environment)}`;
  }
  if (y.compute !== undefined && what !== 'trial') p.computeId = ref(y.compute);
  if (y.environment_variables !== undefined) {
    if (!isMapping(y.environment_variables))
      fail(`${where}environment_variables must be a mapping`, node(['environment_variables']));
    p.environmentVariables = Object.fromEntries(
      Object.entries(y.environment_variables as object).map(([a, b]) => [a, String(b)]),
    );
  }
  if (what !== 'trial') {
    if (y.inputs !== undefined) p.inputs = inputsPart(y.inputs, [...base, 'inputs'], fail, at);
    if (y.outputs !== undefined) p.outputs = outputsPart(y.outputs, [...base, 'outputs'], fail, at);
  }
  const resources = y.resources as Record<string, unknown> | undefined;
  if (resources?.instance_count !== undefined) {
    if (!Number.isInteger(resources.instance_count))
      fail(`${where}resources.instance_count must be a whole number`, node(['resources', 'instance_count']));
    p.resources = { instanceCount: resources.instance_count };
  }
  if (what !== 'trial') {
    const limits = y.limits as Record<string, unknown> | undefined;
    if (limits?.timeout !== undefined) {
      const t = limits.timeout;
      if (typeof t !== 'number' && typeof t !== 'string')
        fail(`${where}limits.timeout must be seconds or an ISO 8601 duration`, node(['limits', 'timeout']));
      p.limits = { jobLimitsType: 'Command', timeout: typeof t === 'number' ? `PT${t}S` : t };
    }
  }
  if (y.distribution !== undefined) p.distribution = y.distribution;
  return p;
}

function inputsPart(v: unknown, base: (string | number)[], fail: Fail, at: At): Record<string, unknown> {
  const where = base.join('.');
  if (!isMapping(v)) fail(`${where} must be a mapping of names to values`, at(base));
  const inputs: Record<string, unknown> = {};
  for (const [name, x] of Object.entries(v as Record<string, unknown>)) {
    if (isMapping(x)) {
      if (x.path === undefined && x.value !== undefined) {
        inputs[name] = { jobInputType: 'literal', value: String(x.value) };
        continue;
      }
      if (typeof x.path !== 'string')
        fail(
          `${where}.${name}.path is required (azureml://datastores/… or azureml:<data>:<version>)`,
          at([...base, name]),
        );
      const mode = x.mode === undefined ? undefined : MODES[String(x.mode)];
      if (x.mode !== undefined && !mode)
        fail(`${where}.${name}.mode must be one of ${Object.keys(MODES).join(', ')}`, at([...base, name, 'mode']));
      inputs[name] = { jobInputType: String(x.type ?? 'uri_folder'), uri: x.path, ...(mode ? { mode } : {}) };
    } else if (x === null || Array.isArray(x)) {
      fail(`${where}.${name} must be a value or a mapping with type and path`, at([...base, name]));
    } else inputs[name] = { jobInputType: 'literal', value: String(x) };
  }
  return inputs;
}

function outputsPart(v: unknown, base: (string | number)[], fail: Fail, at: At): Record<string, unknown> {
  const where = base.join('.');
  if (!isMapping(v)) fail(`${where} must be a mapping`, at(base));
  const outputs: Record<string, unknown> = {};
  for (const [name, x] of Object.entries(v as Record<string, unknown>)) {
    // A pipeline step's output may be just the binding: `out: ${{parent.outputs.result}}`.
    if (typeof x === 'string') {
      outputs[name] = { jobOutputType: 'uri_folder', uri: x };
      continue;
    }
    const o = (x ?? {}) as Record<string, unknown>;
    if (!isMapping(o)) fail(`${where}.${name} must be a mapping`, at([...base, name]));
    const mode = o.mode === undefined ? undefined : MODES[String(o.mode)];
    if (o.mode !== undefined && !mode)
      fail(`${where}.${name}.mode must be one of rw_mount, upload, direct`, at([...base, name, 'mode']));
    outputs[name] = {
      jobOutputType: String(o.type ?? 'uri_folder'),
      ...(mode ? { mode } : {}),
      ...(o.path ? { uri: String(o.path) } : {}),
      ...(o.name ? { assetName: String(o.name) } : {}),
      ...(o.version !== undefined ? { assetVersion: String(o.version) } : {}),
    };
  }
  return outputs;
}

const DISTRIBUTION_ARGS: Record<string, string[]> = {
  uniform: ['min_value', 'max_value'],
  loguniform: ['min_value', 'max_value'],
  quniform: ['min_value', 'max_value', 'q'],
  qloguniform: ['min_value', 'max_value', 'q'],
  randint: ['upper'],
  normal: ['mu', 'sigma'],
  lognormal: ['mu', 'sigma'],
  qnormal: ['mu', 'sigma', 'q'],
  qlognormal: ['mu', 'sigma', 'q'],
};

const POLICIES: Record<string, string> = {
  bandit: 'Bandit',
  median_stopping: 'MedianStopping',
  truncation_selection: 'TruncationSelection',
};

/** Seconds or an ISO 8601 duration, as the server takes it. */
const durationOf = (v: unknown) => (typeof v === 'number' ? `PT${v}S` : v);

function sweepPart(y: Record<string, unknown>, fail: Fail, at: At): Record<string, unknown> {
  if (!isMapping(y.trial))
    fail('trial is required: the command each trial runs (command, environment, …)', at(['trial']) ?? at([]));
  const trial = y.trial as Record<string, unknown>;
  for (const k of Object.keys(trial))
    if (!['command', 'code', 'environment', 'environment_variables', 'resources', 'distribution', 'type'].includes(k))
      fail(
        `trial.${k} is not a trial key (command, code, environment, environment_variables, resources, distribution)`,
        at(['trial', k]),
      );
  const p: Record<string, unknown> = { trial: commandPart(trial, ['trial'], fail, at, 'trial') };
  if (y.compute !== undefined) p.computeId = ref(y.compute);
  if (y.inputs !== undefined) p.inputs = inputsPart(y.inputs, ['inputs'], fail, at);
  if (y.outputs !== undefined) p.outputs = outputsPart(y.outputs, ['outputs'], fail, at);

  if (!isMapping(y.search_space))
    fail('search_space is required: a mapping of parameter names to distributions', at(['search_space']) ?? at([]));
  const space: Record<string, unknown> = {};
  for (const [name, d] of Object.entries(y.search_space as Record<string, unknown>)) {
    const node = at(['search_space', name]);
    if (!isMapping(d) || typeof d.type !== 'string')
      fail(`search_space.${name} must be a mapping with a type (choice, uniform, loguniform, randint, …)`, node);
    const dist = d as Record<string, unknown>;
    const t = String(dist.type).toLowerCase();
    if (t === 'choice') {
      if (!Array.isArray(dist.values) || !dist.values.length)
        fail(`search_space.${name}.values must be a non-empty list`, at(['search_space', name, 'values']) ?? node);
      space[name] = ['choice', [dist.values]];
      continue;
    }
    const args = DISTRIBUTION_ARGS[t];
    if (!args)
      fail(
        `search_space.${name}.type '${dist.type}' is not a distribution (choice, ${Object.keys(DISTRIBUTION_ARGS).join(', ')})`,
        at(['search_space', name, 'type']),
      );
    for (const a of args!)
      if (typeof dist[a] !== 'number')
        fail(
          `search_space.${name}.${a} must be a number (${t} takes ${args!.join(', ')})`,
          at(['search_space', name, a]) ?? node,
        );
    space[name] = [t, args!.map((a) => dist[a])];
  }
  p.searchSpace = space;

  const sa = y.sampling_algorithm ?? 'random';
  if (typeof sa === 'string') p.samplingAlgorithm = { samplingAlgorithmType: capital(sa) };
  else if (isMapping(sa) && typeof sa.type === 'string')
    p.samplingAlgorithm = {
      samplingAlgorithmType: capital(sa.type),
      ...(sa.seed !== undefined ? { seed: sa.seed } : {}),
      ...(sa.rule !== undefined ? { rule: sa.rule } : {}),
    };
  else fail('sampling_algorithm must be grid, random, or a mapping {type, seed}', at(['sampling_algorithm']));

  if (!isMapping(y.objective))
    fail('objective is required: {goal: maximize|minimize, primary_metric: <metric>}', at(['objective']) ?? at([]));
  const objective = y.objective as Record<string, unknown>;
  if (typeof objective.primary_metric !== 'string')
    fail(
      'objective.primary_metric must name the metric the trials log',
      at(['objective', 'primary_metric']) ?? at(['objective']),
    );
  p.objective = { goal: capital(String(objective.goal ?? '')), primaryMetric: objective.primary_metric };

  if (y.limits !== undefined) {
    if (!isMapping(y.limits)) fail('limits must be a mapping', at(['limits']));
    const l = y.limits as Record<string, unknown>;
    const limits: Record<string, unknown> = { jobLimitsType: 'Sweep' };
    for (const [k, to] of [
      ['max_total_trials', 'maxTotalTrials'],
      ['max_concurrent_trials', 'maxConcurrentTrials'],
    ] as const)
      if (l[k] !== undefined) {
        if (!Number.isInteger(l[k])) fail(`limits.${k} must be a whole number`, at(['limits', k]));
        limits[to] = l[k];
      }
    if (l.timeout !== undefined) limits.timeout = durationOf(l.timeout);
    if (l.trial_timeout !== undefined) limits.trialTimeout = durationOf(l.trial_timeout);
    for (const k of Object.keys(l))
      if (!['max_total_trials', 'max_concurrent_trials', 'timeout', 'trial_timeout'].includes(k))
        fail(
          `limits.${k} is not a sweep limit (max_total_trials, max_concurrent_trials, timeout, trial_timeout)`,
          at(['limits', k]),
        );
    p.limits = limits;
  }

  if (y.early_termination !== undefined) {
    const e = y.early_termination as Record<string, unknown>;
    if (!isMapping(e) || typeof e.type !== 'string' || !POLICIES[e.type.toLowerCase()])
      fail(
        `early_termination.type must be one of ${Object.keys(POLICIES).join(', ')}`,
        at(['early_termination', 'type']) ?? at(['early_termination']),
      );
    const et: Record<string, unknown> = { policyType: POLICIES[String(e.type).toLowerCase()] };
    for (const [k, to] of [
      ['evaluation_interval', 'evaluationInterval'],
      ['delay_evaluation', 'delayEvaluation'],
      ['slack_factor', 'slackFactor'],
      ['slack_amount', 'slackAmount'],
      ['truncation_percentage', 'truncationPercentage'],
    ] as const)
      if (e[k] !== undefined) {
        if (typeof e[k] !== 'number') fail(`early_termination.${k} must be a number`, at(['early_termination', k]));
        et[to] = e[k];
      }
    p.earlyTermination = et;
  }
  return p;
}

function pipelinePart(y: Record<string, unknown>, fail: Fail, at: At): Record<string, unknown> {
  if (!isMapping(y.jobs) || !Object.keys(y.jobs).length)
    fail('jobs is required: a mapping of step names to command steps', at(['jobs']) ?? at([]));
  const jobs: Record<string, unknown> = {};
  for (const [step, raw] of Object.entries(y.jobs as Record<string, unknown>)) {
    if (!isMapping(raw)) fail(`jobs.${step} must be a mapping (type: command, command: …)`, at(['jobs', step]));
    const s = raw as Record<string, unknown>;
    const t = String(s.type ?? 'command').toLowerCase();
    if (t !== 'command')
      fail(`jobs.${step}.type '${s.type}': only command steps are supported`, at(['jobs', step, 'type']));
    for (const k of Object.keys(s))
      if (!['type', 'display_name', ...COMMAND_KEYS].includes(k))
        fail(
          `jobs.${step}.${k} is not a step key (${['type', 'display_name', ...COMMAND_KEYS].join(', ')})`,
          at(['jobs', step, k]),
        );
    const part = commandPart(s, ['jobs', step], fail, at, 'step');
    if (s.display_name !== undefined) part.displayName = String(s.display_name);
    jobs[step] = { jobType: 'Command', ...part };
  }
  const p: Record<string, unknown> = { jobs };
  if (y.compute !== undefined) p.computeId = ref(y.compute);
  if (y.inputs !== undefined) p.inputs = inputsPart(y.inputs, ['inputs'], fail, at);
  if (y.outputs !== undefined) p.outputs = outputsPart(y.outputs, ['outputs'], fail, at);
  if (y.settings !== undefined) {
    if (!isMapping(y.settings)) fail('settings must be a mapping', at(['settings']));
    const settings = y.settings as Record<string, unknown>;
    const allowed = ['default_compute', 'default_datastore', 'continue_on_step_failure', 'force_rerun'];
    for (const k of Object.keys(settings))
      if (!allowed.includes(k))
        fail(`settings.${k} is not a pipeline setting (${allowed.join(', ')})`, at(['settings', k]));
    p.settings = Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, typeof v === 'string' ? ref(v) : v]));
  }
  return p;
}

const capital = (s: string) => (s ? s[0]!.toUpperCase() + s.slice(1).toLowerCase() : s);
