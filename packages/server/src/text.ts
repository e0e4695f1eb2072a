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
  if (hasControlCharacters(name)) throw new InvalidInput(`${what} must not contain control characters (such as NUL, tab, line breaks or ESC)`, target ? { target } : {});
  return name;
}

/**
 * Where a request's parsed input holds a NUL character (in a string or an object key), as a path
 * like `body.tags.k`; undefined when none. NUL is never text (PostgreSQL cannot even store it), so
 * it is refused wherever it appears. Walks without recursion: deeply nested input cannot overflow
 * the stack here.
 */
export function findNul(input: Record<string, unknown>): string | undefined {
  const stack: [unknown, string][] = Object.entries(input).map(([k, v]) => [v, k]);
  let budget = 1_000_000;
  while (stack.length && budget-- > 0) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return at;
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push([v[i], `${at}[${i}]`]);
    } else if (v && typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)) {
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('\u0000')) return `${at}.${k.split('\u0000').join('\\0')}`;
        stack.push([x, `${at}.${k}`]);
      }
    }
  }
  return undefined;
}
