import { InvalidInput, NotImplemented } from '../errors.js';

/**
 * Reading azureml-core's run configurations (the execution service's submissions and local runs):
 * its JSON keys in any case, its empty values, and its environment variables. One module for both
 * routes, which read the same run configuration shape.
 */
export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** 400 naming the field: `${target} ${message}`. */
export const bad = (target: string, message: string) => new InvalidInput(`${target} ${message}`, { target });

/** 501 naming a setting not supported: `${target} ${message}`. */
export const unsupported = (target: string, message: string) =>
  new NotImplemented(`${target} ${message}`, { code: 'NOT_IMPLEMENTED', target });

/** A field of `o` by name in any case (azureml-core sends both `script` and `Script` shapes). */
export function field(o: Obj, name: string): unknown {
  const k = Object.keys(o).find((x) => x.toLowerCase() === name.toLowerCase());
  return k === undefined ? undefined : o[k];
}

/** Unset for a run configuration: undefined, null, '', [] or {}. */
export const empty = (v: unknown) =>
  v === undefined ||
  v === null ||
  v === '' ||
  (Array.isArray(v) && v.length === 0) ||
  (isObj(v) && Object.keys(v).length === 0);

export const ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Environment variables: an object of valid names to strings (null values left out). */
export function stringVars(v: unknown, target: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw bad(target, 'must be an object of names to strings');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!ENV_VAR.test(k)) throw bad(`${target}.${k}`, 'is not a valid environment variable name');
    if (x === null || x === undefined) continue;
    if (typeof x === 'object') throw bad(`${target}.${k}`, 'must be a string');
    out[k] = String(x);
  }
  return out;
}
