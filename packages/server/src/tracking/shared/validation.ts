import { refuseControlCharacters, preview } from '../../text.js';
import { InvalidInput, NotFound } from '../../errors.js';

/**
 * MLflow's input rules (mlflow/utils/validation.py): names, lengths, batch limits. Every message
 * says what was wrong and what is allowed.
 */
export const LIMITS = {
  paramsTagsPerBatch: 100,
  metricsPerBatch: 1000,
  entitiesPerBatch: 1000,
  datasetsPerBatch: 1000,
  paramValue: 6000,
  tagValue: 5000,
  experimentName: 500,
  experimentTagKey: 250,
  experimentTagValue: 5000,
  entityKey: 250,
  runName: 250,
  datasetName: 500,
  datasetDigest: 36,
  datasetSchema: 1048575,
  datasetSource: 65535,
  datasetProfile: 16777215,
  inputTagKey: 255,
  inputTagValue: 500,
  searchRunsMaxResults: 50000,
  searchExperimentsMaxResults: 50000,
  historyMaxResults: 25000,
  bulkIntervalMaxResults: 2500,
  bulkIntervalRuns: 100,
} as const;

const NAME = /^[/\w.\- ]*$/;
const BAD_CHARS =
  'Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).';

/** posixpath.normpath, enough to tell whether a name would resolve to another as a file path. */
function normpath(p: string): string {
  if (p === '') return '.';
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && out.length && out[out.length - 1] !== '..') out.pop();
    else if (part === '..' && abs) continue;
    else out.push(part);
  }
  const s = (abs ? (p.startsWith('//') && !p.startsWith('///') ? '//' : '/') : '') + out.join('/');
  return s || '.';
}

function checkKeyName(kind: 'metric' | 'parameter' | 'tag', name: unknown): string {
  if (name === undefined || name === null)
    throw new InvalidInput(
      `${kind[0]!.toUpperCase()}${kind.slice(1)} name cannot be None. A key name must be provided.`,
    );
  if (typeof name !== 'string')
    throw new InvalidInput(`Invalid ${kind} name: ${JSON.stringify(name)}; it must be a string.`);
  if (!NAME.test(name)) throw new InvalidInput(`Invalid ${kind} name: '${name}'. ${BAD_CHARS}`);
  const norm = normpath(name);
  if (norm !== name || norm === '.' || norm.startsWith('..') || norm.startsWith('/')) {
    throw new InvalidInput(
      `Invalid ${kind} name: '${name}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${norm}'`,
    );
  }
  return name;
}

export function checkLength(what: string, limit: number, value: string): string {
  if (value.length > limit)
    throw new InvalidInput(
      `${what} '${value.slice(0, 250)}' had length ${value.length}, which exceeded length limit of ${limit}`,
    );
  return value;
}

export function checkMetricKey(key: unknown): string {
  return checkLength('Metric name', LIMITS.entityKey, checkKeyName('metric', key));
}
export function checkParamKey(key: unknown): string {
  return checkLength('Param key', LIMITS.entityKey, checkKeyName('parameter', key));
}
export function checkTagKey(key: unknown, limit: number = LIMITS.entityKey): string {
  return checkLength('Tag key', limit, checkKeyName('tag', key));
}

/** A string field of a request; `undefined` passes when optional. */
export function str(value: unknown, what: string): string {
  if (typeof value !== 'string')
    throw new InvalidInput(
      `Missing value for required parameter '${what}'. See the API docs for more information about request parameters.`,
    );
  return value;
}

/** An int64 from JSON: a number or a numeric string (proto3 JSON allows both). */
export function int64(value: unknown, what: string, opts: { min?: number } = {}): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) n = Number(value.trim());
  else
    throw new InvalidInput(
      `Invalid value ${preview(value)} for parameter '${what}': it must be a whole number (64-bit integer).`,
    );
  if (!Number.isSafeInteger(n))
    throw new InvalidInput(
      `Invalid value ${preview(value)} for parameter '${what}': it must be a whole number within ±${Number.MAX_SAFE_INTEGER}.`,
    );
  if (opts.min !== undefined && n < opts.min)
    throw new InvalidInput(`Invalid value ${n} for parameter '${what}': it must be at least ${opts.min}.`);
  return n;
}

/** A double from JSON: a number, or "NaN"/"Infinity"/"-Infinity" strings (proto3 JSON). */
export function double(value: unknown, what: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    if (value === 'NaN') return NaN;
    if (value === 'Infinity' || value === 'inf') return Infinity;
    if (value === '-Infinity' || value === '-inf') return -Infinity;
    if (value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  }
  throw new InvalidInput(
    `Got invalid value ${preview(value)} for ${what}. Please specify value as a valid double (64-bit floating point)`,
    { code: 'INVALID_METRIC_VALUE' },
  );
}

/** Run ids we issue are 32 hex characters; MLflow accepts this pattern for ids it is given. */
export const RUN_ID = /^[a-zA-Z0-9][\w-]{0,255}$/;
export function checkRunId(id: unknown, what = 'run_id'): string {
  if (typeof id !== 'string' || id === '')
    throw new InvalidInput(
      `Missing value for required parameter '${what}'. See the API docs for more information about request parameters.`,
    );
  if (!RUN_ID.test(id)) throw new InvalidInput(`Invalid run ID: '${id}'`);
  return id;
}

/** Experiment ids are decimal numbers here ("0" is each workspace's Default experiment). */
export function checkExperimentId(id: unknown, what = 'experiment_id'): number {
  if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) return id;
  if (typeof id !== 'string' || id === '')
    throw new InvalidInput(
      `Missing value for required parameter '${what}'. See the API docs for more information about request parameters.`,
    );
  if (!/^\d{1,15}$/.test(id)) {
    if (/^[a-zA-Z0-9][\w-]{0,63}$/.test(id))
      throw new NotFound(`No Experiment with id=${id} exists`, { code: 'EXPERIMENT_NOT_FOUND' });
    throw new InvalidInput(`Invalid experiment ID: '${id}'`);
  }
  return Number(id);
}

export function checkExperimentName(name: unknown): string {
  if (name === undefined || name === null || name === '')
    throw new InvalidInput(`Invalid experiment name: '${name ?? ''}'`);
  if (typeof name !== 'string')
    throw new InvalidInput(`Invalid experiment name: ${JSON.stringify(name)}. Expects a string.`);
  if (name.length > LIMITS.experimentName)
    throw new InvalidInput(`Experiment name exceeds the maximum length of ${LIMITS.experimentName} characters`);
  return refuseControlCharacters(name, 'Experiment name');
}

export function batchLimit(entity: string, limit: number, length: number): void {
  if (length > limit) {
    throw new InvalidInput(
      `A batch logging request can contain at most ${limit} ${entity}. Got ${length} ${entity}. Please split up ${entity} across multiple requests and try again.`,
    );
  }
}

export const RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export function checkRunStatus(s: unknown): RunStatus {
  if (typeof s === 'number' && s >= 1 && s <= 5) return RUN_STATUSES[s - 1]!;
  if (typeof s !== 'string' || !(RUN_STATUSES as readonly string[]).includes(s)) {
    throw new InvalidInput(`Invalid run status ${JSON.stringify(s)}; use one of ${RUN_STATUSES.join(', ')}`);
  }
  return s as RunStatus;
}

/** run_view_type: ACTIVE_ONLY (default), DELETED_ONLY, ALL. */
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';
export function checkViewType(v: unknown): ViewType {
  if (v === undefined || v === null || v === '') return 'ACTIVE_ONLY';
  if (v === 1 || v === '1') return 'ACTIVE_ONLY';
  if (v === 2 || v === '2') return 'DELETED_ONLY';
  if (v === 3 || v === '3') return 'ALL';
  if (v === 'ACTIVE_ONLY' || v === 'DELETED_ONLY' || v === 'ALL') return v;
  throw new InvalidInput(`Invalid view type ${preview(v)}; use ACTIVE_ONLY, DELETED_ONLY or ALL`);
}
export function stagesOf(v: ViewType): string[] {
  return v === 'ACTIVE_ONLY' ? ['active'] : v === 'DELETED_ONLY' ? ['deleted'] : ['active', 'deleted'];
}

/**
 * Percent-decodes until the text stops changing (at most 5 rounds; a malformed escape ends it), so
 * that '..' or NUL hidden under layers of encoding ('%252e%252e') is seen. `plusAsSpace` also reads
 * '+' as a space, as Python's unquote_plus does.
 */
export function decodeFully(text: string, opts: { plusAsSpace?: boolean } = {}): string {
  let decoded = text;
  for (let i = 0; i < 5; i++) {
    let next: string;
    try {
      next = decodeURIComponent(opts.plusAsSpace ? decoded.replace(/\+/g, ' ') : decoded);
    } catch {
      break;
    }
    if (next === decoded) break;
    decoded = next;
  }
  return decoded;
}
