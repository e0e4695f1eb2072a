import { InvalidInput } from './errors.js';

/** Whether `s` holds a C0 or C1 control character or DEL: never part of a name. */
export function hasControlCharacters(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

/** Throws InvalidInput naming `what` when `name` holds a control character (NUL, ESC, CR, LF, …). */
export function refuseControlCharacters(name: string, what: string, target?: string): string {
  if (hasControlCharacters(name))
    throw new InvalidInput(
      `${what} must not contain control characters (such as NUL, tab, line breaks or ESC)`,
      target ? { target } : {},
    );
  return name;
}

/**
 * Where a request's parsed input holds a NUL character (in a string or an object key), as a path
 * like `body.tags.k`; undefined when none. NUL is never text (PostgreSQL cannot even store it), so
 * it is refused wherever it appears. Walks without recursion: deeply nested input cannot overflow
 * the stack here.
 */
export function findNul(input: Record<string, unknown>): string | undefined {
  return inputProblem(input)?.at;
}

/** How deep request input may nest: far beyond any real message, well before code that recurses would fail. */
export const MAX_INPUT_DEPTH = 64;

/**
 * The first problem of a request's parsed input: a NUL character (see `findNul`), or nesting deeper
 * than MAX_INPUT_DEPTH. Walks without recursion, so deep input cannot overflow the stack here.
 */
export function inputProblem(input: Record<string, unknown>): { at: string; problem: 'nul' | 'depth' } | undefined {
  // Every request's input is walked (a 1,000-point log-batch holds ~5,000 values): first without
  // naming where each value is; only input with a problem is walked again, in the same order, to say where.
  return hasInputProblem(input) ? locateInputProblem(input) : undefined;
}

/**
 * False when `locateInputProblem` finds nothing. It may say true where that walk (within its budget)
 * finds nothing: the second walk decides. Containers only are stacked; strings and other scalars are
 * looked at in place. Linear in the input, which the body limit bounds.
 */
function hasInputProblem(input: Record<string, unknown>): boolean {
  const values: object[] = [];
  const depths: number[] = [];
  for (const k of Object.keys(input)) if (scalarProblem(input[k], 0, values, depths)) return true;
  while (values.length) {
    const v = values.pop()!;
    const depth = depths.pop()! + 1;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (scalarProblem(v[i], depth, values, depths)) return true;
    } else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o))
        if (k.includes('\u0000') || scalarProblem(o[k], depth, values, depths)) return true;
    }
  }
  return false;
}

/** `x` at `depth` is (or may be) a problem; a container is stacked to look into. */
function scalarProblem(x: unknown, depth: number, values: object[], depths: number[]): boolean {
  if (depth > MAX_INPUT_DEPTH) return true;
  if (typeof x === 'string') return x.includes('\u0000');
  if (typeof x === 'object' && x !== null) {
    values.push(x);
    depths.push(depth);
  }
  return false;
}

function locateInputProblem(input: Record<string, unknown>): { at: string; problem: 'nul' | 'depth' } | undefined {
  const stack: [unknown, string, number][] = Object.entries(input).map(([k, v]) => [v, k, 0]);
  let budget = 1_000_000;
  while (stack.length && budget-- > 0) {
    const [v, at, depth] = stack.pop()!;
    if (depth > MAX_INPUT_DEPTH) return { at, problem: 'depth' };
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return { at, problem: 'nul' };
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push([v[i], `${at}[${i}]`, depth + 1]);
    } else if (
      v &&
      typeof v === 'object' &&
      (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)
    ) {
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('\u0000')) return { at: `${at}.${k.split('\u0000').join('\\0')}`, problem: 'nul' };
        stack.push([x, `${at}.${k}`, depth + 1]);
      }
    }
  }
  return undefined;
}

/**
 * A value as error messages show it: its JSON, cut to `max` characters; never throws (a value too
 * deep or too large for JSON.stringify is described instead).
 */
export function preview(v: unknown, max = 100): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    s = undefined;
  }
  if (s === undefined)
    return Array.isArray(v)
      ? 'a (deeply nested) list'
      : typeof v === 'object' && v !== null
        ? 'a (deeply nested) object'
        : String(v);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
