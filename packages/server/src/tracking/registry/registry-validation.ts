import { hasControlCharacters, preview } from '../../text.js';
import path from 'node:path';
import { InvalidInput } from '../../errors.js';
import { decodeFully } from '../shared/validation.js';

/**
 * Input rules of MLflow's model registry and logged models (names, tag keys, aliases, versions,
 * stages, sources), with MLflow's error code INVALID_PARAMETER_VALUE and messages that say what to
 * change.
 */
export const bad = (message: string): InvalidInput =>
  new InvalidInput(message, { code: 'INVALID_MODEL_REGISTRY_INPUT' });

export const missing = (field: string): InvalidInput => bad(`Missing value for required parameter '${field}'.`);

export const MAX_MODEL_NAME_LENGTH = 256;
export const MAX_TAG_KEY_LENGTH = 250;
export const MAX_TAG_VALUE_LENGTH = 100_000;
export const MAX_ALIAS_LENGTH = 255;
export const MAX_DESCRIPTION_LENGTH = 100_000;

/** Would the name resolve to a different name when treated as a path (MLflow's `path_not_unique`)? */
function pathNotUnique(name: string): boolean {
  let norm = path.posix.normalize(name);
  if (norm.length > 1 && norm.endsWith('/')) norm = norm.slice(0, -1);
  return norm !== name || norm === '.' || norm.startsWith('..') || norm.startsWith('/');
}

export function checkString(value: unknown, field: string, { required = false } = {}): string | undefined {
  if (value === undefined || value === null) {
    if (required) throw missing(field);
    return undefined;
  }
  if (typeof value !== 'string')
    throw bad(`Invalid value ${preview(value)} for parameter '${field}' supplied: it must be a string.`);
  if (required && value === '') throw missing(field);
  return value;
}

export function checkModelName(value: unknown, field = 'name'): string {
  const name = checkString(value, field, { required: true })!;
  if (name.trim() === '') throw missing(field);
  if (name.includes('/') || name.includes(':'))
    throw bad(`Invalid model name '${name}'. Names cannot contain '/' or ':'.`);
  if (pathNotUnique(name))
    throw bad(`Invalid value '${name}' for parameter '${field}': names must not start with '..' or be '.'.`);
  if (name.length > MAX_MODEL_NAME_LENGTH)
    throw bad(`'${field}' exceeds the maximum length of ${MAX_MODEL_NAME_LENGTH} characters`);
  if (hasControlCharacters(name))
    throw bad(`Invalid model name ${JSON.stringify(name)}: names must not contain control characters.`);
  return name;
}

export function checkTagKey(value: unknown, field = 'key'): string {
  const key = checkString(value, field, { required: true })!;
  // Python's \w (which MLflow uses) takes Unicode letters and digits, not only ASCII.
  if (!/^[/\p{L}\p{N}_.\- :]*$/u.test(key)) {
    throw bad(
      `Invalid value '${key}' for parameter '${field}': names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/).`,
    );
  }
  if (pathNotUnique(key))
    throw bad(
      `Invalid value '${key}' for parameter '${field}': it would resolve to '${path.posix.normalize(key)}' when treated as a path; remove repeated, leading or trailing slashes and '.'/'..' parts.`,
    );
  if (key.length > MAX_TAG_KEY_LENGTH)
    throw bad(`'${field}' exceeds the maximum length of ${MAX_TAG_KEY_LENGTH} characters`);
  return key;
}

export function checkTagValue(value: unknown, field = 'value'): string | null {
  const v = checkString(value, field);
  if (v === undefined) return null;
  if (v.length > MAX_TAG_VALUE_LENGTH)
    throw bad(`'${field}' exceeds the maximum length of ${MAX_TAG_VALUE_LENGTH} characters`);
  return v;
}

export function checkDescription(value: unknown): string | null {
  const v = checkString(value, 'description');
  if (v === undefined) return null;
  if (v.length > MAX_DESCRIPTION_LENGTH)
    throw bad(`'description' exceeds the maximum length of ${MAX_DESCRIPTION_LENGTH} characters`);
  return v;
}

export function checkTags(value: unknown, field = 'tags'): { key: string; value: string | null }[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw bad(`Invalid value for parameter '${field}': it must be a list of {key, value} objects.`);
  const byKey = new Map<string, string | null>();
  value.forEach((t, i) => {
    if (typeof t !== 'object' || t === null)
      throw bad(`Invalid value for parameter '${field}[${i}]': it must be a {key, value} object.`);
    const o = t as { key?: unknown; value?: unknown };
    byKey.set(checkTagKey(o.key, `${field}[${i}].key`), checkTagValue(o.value, `${field}[${i}].value`));
  });
  return [...byKey].map(([key, v]) => ({ key, value: v }));
}

export function checkVersion(value: unknown, field = 'version'): number {
  const s = typeof value === 'number' ? String(value) : checkString(value, field, { required: true })!;
  if (!/^\s*[-+]?\d+\s*$/.test(s)) throw bad(`Parameter '${field}' must be an integer, got '${s}'.`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw bad(`Parameter '${field}' must be an integer, got '${s}'.`);
  return n;
}

export function checkAlias(value: unknown, { reserved = false } = {}): string {
  const alias = checkString(value, 'alias', { required: true })!;
  if (!/^[\p{L}\p{N}_-]*$/u.test(alias))
    throw bad(`Invalid alias name: '${alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-).`);
  if (alias.length > MAX_ALIAS_LENGTH)
    throw bad(`'Registered model alias name' exceeds the maximum length of ${MAX_ALIAS_LENGTH} characters`);
  if (reserved) {
    if (alias.toLowerCase() === 'latest') throw bad("'latest' alias name (case insensitive) is reserved.");
    if (/^[vV]\d+$/.test(alias)) throw bad(`Version alias name '${alias}' is reserved.`);
  }
  return alias;
}

export const STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;
export const ACTIVE_STAGES = ['Staging', 'Production'];
export const STAGE_DELETED = 'Deleted_Internal';

export function canonicalStage(value: unknown): string {
  const s = checkString(value, 'stage', { required: true })!;
  const hit = STAGES.find((x) => x.toLowerCase() === s.toLowerCase());
  if (!hit) throw bad(`Invalid Model Version stage: ${s}. Value must be one of ${STAGES.join(', ')}.`);
  return hit;
}

/**
 * Checks a model version source as MLflow's server does: local paths are refused (this server
 * keeps no run artifacts on local paths), and URIs must not climb out with '..' (also when
 * percent-encoded) or contain NUL.
 */
export function checkSource(value: unknown): string {
  const source = checkString(value, 'source', { required: true })!;
  const decoded = decodeFully(source, { plusAsSpace: true });
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(decoded)?.[1]?.toLowerCase();
  if (!scheme || scheme === 'file' || scheme.length === 1 /* a Windows drive letter */) {
    throw bad(
      `Invalid model version source: '${source}'. Local paths are not accepted by this server; use a runs:/, models:/ or mlflow-artifacts:/ URI.`,
    );
  }
  // MLflow's wording (mlflow/server/handlers.py, _validate_non_local_source_contains_relative_paths).
  const invalid = (): InvalidInput =>
    bad(
      `Invalid model version source: '${source}'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, ` +
        'an absolute path must be provided without relative path references present. Please provide an absolute path.',
    );
  if (decoded.includes('\0')) throw invalid();
  const rest = decoded.slice(scheme.length + 1).replace(/^\/\/[^/]*/, '');
  // '..' would climb out (also written with a backslash); MLflow refuses '.' segments too (its check
  // compares the path with its resolved form, which drops them).
  if (rest.split(/[/\\]/).some((s) => s === '..' || s === '.')) throw invalid();
  return source;
}
