import { InvalidInput } from '../errors.js';

/**
 * Small checks for the `properties` of asset bodies, whose shape depends on a discriminator
 * (datastoreType, dataType, authType) and is therefore checked here rather than by one schema.
 * Every message names the field and says what to send instead.
 */
export type Obj = Record<string, unknown>;

const bad = (target: string, message: string): InvalidInput =>
  new InvalidInput(`${target}: ${message}`, { code: 'INVALID_INPUT', target });

export function obj(v: unknown, target: string, required = true): Obj | undefined {
  if (v === undefined || v === null) {
    if (required) throw bad(target, 'is required; send an object');
    return undefined;
  }
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(target, 'must be an object');
  return v as Obj;
}

export function onlyKeys(o: Obj, allowed: readonly string[], target: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k))
      throw bad(`${target}.${k}`, `unknown property; remove it (allowed: ${allowed.join(', ')})`);
  }
}

export function str(
  o: Obj,
  key: string,
  target: string,
  opts: {
    required?: boolean;
    max?: number;
    min?: number;
    pattern?: RegExp;
    rule?: string;
    oneOf?: readonly string[];
  } = {},
): string | undefined {
  const v = o[key];
  const t = `${target}.${key}`;
  if (v === undefined || v === null) {
    if (opts.required) throw bad(t, opts.oneOf ? `is required; one of ${opts.oneOf.join(', ')}` : 'is required');
    return undefined;
  }
  if (typeof v !== 'string') throw bad(t, 'must be a string');
  if (opts.oneOf) {
    const hit = opts.oneOf.find((x) => x.toLowerCase() === v.toLowerCase());
    if (!hit) throw bad(t, `must be one of ${opts.oneOf.join(', ')}; got '${v}'`);
    return hit;
  }
  if (v.length < (opts.min ?? (opts.required ? 1 : 0))) throw bad(t, 'must not be empty');
  if (opts.max !== undefined && v.length > opts.max) throw bad(t, `must be at most ${opts.max} characters`);
  if (opts.pattern && !opts.pattern.test(v)) throw bad(t, opts.rule ?? `must match ${opts.pattern}`);
  return v;
}

export function bool(o: Obj, key: string, target: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw bad(`${target}.${key}`, 'must be true or false');
  return v;
}

export function stringMap(
  o: Obj,
  key: string,
  target: string,
  opts: { maxEntries?: number; keyPattern?: RegExp; rule?: string } = {},
): Record<string, string> | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  const t = `${target}.${key}`;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(t, 'must be an object of string values');
  const out: Record<string, string> = {};
  const entries = Object.entries(v as Obj);
  if (entries.length > (opts.maxEntries ?? 100)) throw bad(t, `must have at most ${opts.maxEntries ?? 100} entries`);
  for (const [k, x] of entries) {
    if (typeof x !== 'string') throw bad(`${t}.${k}`, 'must be a string');
    if (k.length === 0 || k.length > 512) throw bad(t, `key '${k}' must be 1–512 characters`);
    if (opts.keyPattern && !opts.keyPattern.test(k)) throw bad(t, `key '${k}' ${opts.rule ?? 'is not allowed'}`);
    if (x.length > 4096) throw bad(`${t}.${k}`, 'must be at most 4096 characters');
    out[k] = x;
  }
  return out;
}

export function invalid(target: string, message: string): InvalidInput {
  return bad(target, message);
}
