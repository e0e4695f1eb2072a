import crypto from 'node:crypto';
import { InvalidInput } from '../../errors.js';

/**
 * ARM template expressions: a string `[...]` is an expression (`[[` escapes a literal `[`).
 * Grammar: literal strings in single quotes ('' escapes a quote), integers, function calls
 * `name(arg, …)`, then any number of `.property` or `[index]` accessors. Functions are looked up
 * without case. `if`, `and`, `or` evaluate their arguments lazily (as ARM does), so a branch that
 * is not taken may refer to what does not exist.
 */
export type Value = unknown;

type Node =
  | { k: 'str'; v: string }
  | { k: 'num'; v: number }
  | { k: 'call'; name: string; args: Node[] }
  | { k: 'prop'; of: Node; name: string }
  | { k: 'index'; of: Node; index: Node };

export class TemplateError extends InvalidInput {
  constructor(message: string, target?: string) {
    super(message, { code: 'INVALID_TEMPLATE', target });
  }
}

/** Whether `s` is an expression (`[...]`, not `[[...`). */
export function isExpression(s: unknown): s is string {
  return typeof s === 'string' && s.startsWith('[') && !s.startsWith('[[') && s.endsWith(']');
}

export function parseExpression(text: string): Node {
  const src = text.slice(1, -1);
  let i = 0;
  const fail = (msg: string): never => {
    throw new TemplateError(`the template expression '${text}' is invalid at character ${i + 1}: ${msg}`);
  };
  const ws = () => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  const primary = (): Node => {
    ws();
    const c = src[i];
    if (c === "'") {
      let out = '';
      i++;
      for (;;) {
        if (i >= src.length) fail('unterminated string');
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            out += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        out += src[i++];
      }
      return { k: 'str', v: out };
    }
    const num = /^-?\d+/.exec(src.slice(i));
    if (num) {
      i += num[0].length;
      return { k: 'num', v: Number(num[0]) };
    }
    const id = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(src.slice(i));
    if (!id) return fail(`expected a string, a number or a function, found '${src.slice(i, i + 10)}'`);
    const name = id[0];
    i += name.length;
    ws();
    if (src[i] !== '(') fail(`'${name}' must be followed by '(' (functions are called as name(arguments))`);
    i++;
    const args: Node[] = [];
    ws();
    if (src[i] === ')') i++;
    else {
      for (;;) {
        args.push(expr());
        ws();
        if (src[i] === ',') {
          i++;
          continue;
        }
        if (src[i] === ')') {
          i++;
          break;
        }
        fail("expected ',' or ')'");
      }
    }
    return { k: 'call', name, args };
  };
  const expr = (): Node => {
    let node = primary();
    for (;;) {
      ws();
      if (src[i] === '.') {
        i++;
        const m = /^[A-Za-z_$][A-Za-z0-9_$-]*/.exec(src.slice(i));
        if (!m) fail("expected a property name after '.'");
        i += m![0].length;
        node = { k: 'prop', of: node, name: m![0] };
      } else if (src[i] === '[') {
        i++;
        const index = expr();
        ws();
        if (src[i] !== ']') fail("expected ']'");
        i++;
        node = { k: 'index', of: node, index };
      } else return node;
    }
  };
  const node = expr();
  ws();
  if (i !== src.length) fail('unexpected text after the expression');
  return node;
}

/** What expression functions can reach of the deployment (parameters, variables, scope, resources). */
export interface EvalScope {
  parameter(name: string): Value;
  variable(name: string): Value;
  subscription(): Record<string, unknown>;
  resourceGroup(): Record<string, unknown>;
  deployment(): Record<string, unknown>;
  /** `reference(idOrName, apiVersion?, 'Full'?)`: the properties (or full body) of a deployed resource. */
  reference(idOrName: string, full: boolean): Value;
  copyIndex?(loop?: string): number;
}

const typeName = (v: Value): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const isObject = (v: Value): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(v: Value, fn: string): string {
  if (typeof v !== 'string')
    throw new TemplateError(`${fn}() expects a string, got ${typeName(v)} ${JSON.stringify(v)}`);
  return v;
}
function bool(v: Value, fn: string): boolean {
  if (typeof v !== 'boolean')
    throw new TemplateError(`${fn}() expects a bool, got ${typeName(v)} ${JSON.stringify(v)}`);
  return v;
}
function toStringValue(v: Value): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  return JSON.stringify(v);
}

/**
 * uniqueString(...): a deterministic 13-character base-32 hash of its arguments (letters a–z and
 * digits 2–7, so it fits storage-account and vault names). The same arguments always give the same
 * value on any Atelier server; it is not bit-identical to Azure's value (Azure's algorithm is not published).
 */
export function uniqueString(parts: string[]): string {
  const h = crypto.createHash('sha256').update(parts.join('-')).digest();
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const byte of h) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 13) {
      out += alphabet[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 13) break;
    acc &= 0xff;
  }
  return out;
}

/** guid(...): a deterministic RFC 4122 name-based (SHA-1, version 5) GUID of its arguments. */
export function deterministicGuid(parts: string[]): string {
  const h = crypto.createHash('sha1').update(parts.join('-')).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

function equalValues(a: Value, b: Value): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}
function sortKeys(v: Value): Value {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isObject(v))
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys(v[k])]),
    );
  return v;
}

/** resourceId([subscriptionId], [resourceGroupName], type, name1, name2, …) */
function resourceIdOf(args: string[], scope: EvalScope, level: 'group' | 'subscription'): string {
  const at = args.findIndex((a) => a.includes('/'));
  if (at < 0)
    throw new TemplateError(
      `resourceId() needs a resource type such as 'Microsoft.Storage/storageAccounts'; got (${args.map((a) => `'${a}'`).join(', ')})`,
    );
  const before = args.slice(0, at);
  const type = args[at]!;
  const names = args.slice(at + 1);
  const segments = type.split('/');
  if (names.length !== segments.length - 1) {
    throw new TemplateError(`resourceId(): type '${type}' needs ${segments.length - 1} name(s), got ${names.length}`);
  }
  let sub = String(scope.subscription().subscriptionId);
  let rg: string | undefined;
  if (level === 'group') {
    if (before.length > 2)
      throw new TemplateError(
        `resourceId(): at most a subscription id and a resource group come before the type, got ${before.length} values`,
      );
    if (before.length === 2) [sub, rg] = before as [string, string];
    else if (before.length === 1) rg = before[0];
    else rg = String(scope.resourceGroup().name);
  } else {
    if (before.length > 1)
      throw new TemplateError(`subscriptionResourceId(): only a subscription id comes before the type`);
    if (before.length === 1) sub = before[0]!;
  }
  let id =
    rg === undefined
      ? `/subscriptions/${sub}/providers/${segments[0]}`
      : `/subscriptions/${sub}/resourceGroups/${rg}/providers/${segments[0]}`;
  for (let n = 0; n < names.length; n++) id += `/${segments[n + 1]}/${names[n]}`;
  return id;
}

type Fn = (args: Node[], ev: (n: Node) => Value, scope: EvalScope) => Value;
const eager =
  (f: (a: Value[], scope: EvalScope) => Value, min = 0, max = Infinity): Fn =>
  (args, ev, scope) => {
    if (args.length < min || args.length > max) throw new TemplateError(`wrong number of arguments (${args.length})`);
    return f(args.map(ev), scope);
  };

const FUNCTIONS: Record<string, Fn> = {
  parameters: eager((a, s) => s.parameter(str(a[0], 'parameters')), 1, 1),
  variables: eager((a, s) => s.variable(str(a[0], 'variables')), 1, 1),
  subscription: eager((_a, s) => s.subscription(), 0, 0),
  resourcegroup: eager((_a, s) => s.resourceGroup(), 0, 0),
  deployment: eager((_a, s) => s.deployment(), 0, 0),
  resourceid: eager(
    (a, s) =>
      resourceIdOf(
        a.map((x) => str(x, 'resourceId')),
        s,
        'group',
      ),
    2,
  ),
  subscriptionresourceid: eager(
    (a, s) =>
      resourceIdOf(
        a.map((x) => str(x, 'subscriptionResourceId')),
        s,
        'subscription',
      ),
    2,
  ),
  reference: eager(
    (a, s) => s.reference(str(a[0], 'reference'), typeof a[2] === 'string' && a[2].toLowerCase() === 'full'),
    1,
    3,
  ),
  copyindex: eager(
    (a, s) => {
      if (!s.copyIndex) throw new TemplateError('copyIndex() can only be used inside a copy loop');
      const loop = typeof a[0] === 'string' ? a[0] : typeof a[1] === 'string' ? a[1] : undefined;
      const offset = typeof a[0] === 'number' ? a[0] : typeof a[1] === 'number' ? a[1] : 0;
      return s.copyIndex(loop) + offset;
    },
    0,
    2,
  ),
  concat: eager((a) => {
    if (a.length > 0 && a.every((x) => Array.isArray(x) || x === null)) return a.flatMap((x) => (x ?? []) as unknown[]);
    return a.map(toStringValue).join('');
  }),
  format: eager((a) => {
    const f = str(a[0], 'format');
    return f.replace(/\{(\d+)(?::[^}]*)?\}/g, (_m, n) => {
      const k = Number(n) + 1;
      if (k >= a.length) throw new TemplateError(`format(): '{${n}}' has no argument`);
      return toStringValue(a[k]);
    });
  }, 1),
  equals: eager((a) => equalValues(a[0], a[1]), 2, 2),
  not: eager((a) => !bool(a[0], 'not'), 1, 1),
  and: (args, ev) => {
    if (args.length < 2) throw new TemplateError('and() needs at least two arguments');
    for (const n of args) if (!bool(ev(n), 'and')) return false;
    return true;
  },
  or: (args, ev) => {
    if (args.length < 2) throw new TemplateError('or() needs at least two arguments');
    for (const n of args) if (bool(ev(n), 'or')) return true;
    return false;
  },
  if: (args, ev) => {
    if (args.length !== 3)
      throw new TemplateError('if() needs three arguments: condition, value if true, value if false');
    return bool(ev(args[0]!), 'if') ? ev(args[1]!) : ev(args[2]!);
  },
  true: eager(() => true, 0, 0),
  false: eager(() => false, 0, 0),
  null: eager(() => null, 0, 0),
  empty: eager(
    (a) => {
      const v = a[0];
      if (v === null || v === undefined) return true;
      if (typeof v === 'string' || Array.isArray(v)) return v.length === 0;
      if (isObject(v)) return Object.keys(v).length === 0;
      throw new TemplateError(`empty() expects a string, array or object, got ${typeName(v)}`);
    },
    1,
    1,
  ),
  length: eager(
    (a) => {
      const v = a[0];
      if (typeof v === 'string' || Array.isArray(v)) return v.length;
      if (isObject(v)) return Object.keys(v).length;
      throw new TemplateError(`length() expects a string, array or object, got ${typeName(v)}`);
    },
    1,
    1,
  ),
  tolower: eager((a) => str(a[0], 'toLower').toLowerCase(), 1, 1),
  toupper: eager((a) => str(a[0], 'toUpper').toUpperCase(), 1, 1),
  trim: eager((a) => str(a[0], 'trim').trim(), 1, 1),
  string: eager((a) => toStringValue(a[0]), 1, 1),
  int: eager(
    (a) => {
      const n = typeof a[0] === 'number' ? a[0] : Number.parseInt(str(a[0], 'int'), 10);
      if (!Number.isInteger(n)) throw new TemplateError(`int(): '${String(a[0])}' is not an integer`);
      return n;
    },
    1,
    1,
  ),
  bool: eager(
    (a) => {
      const v = a[0];
      if (typeof v === 'boolean') return v;
      if (typeof v === 'number') return v !== 0;
      if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
      throw new TemplateError(`bool() expects true/false (or 'true'/'false', 1/0), got ${JSON.stringify(v)}`);
    },
    1,
    1,
  ),
  json: eager(
    (a) => {
      try {
        return JSON.parse(str(a[0], 'json'));
      } catch (e) {
        if (e instanceof TemplateError) throw e;
        throw new TemplateError(`json(): '${String(a[0])}' is not valid JSON`);
      }
    },
    1,
    1,
  ),
  array: eager((a) => (Array.isArray(a[0]) ? a[0] : [a[0]]), 1, 1),
  createarray: eager((a) => a),
  createobject: eager((a) => {
    if (a.length % 2) throw new TemplateError('createObject() takes key, value pairs');
    const out: Record<string, unknown> = {};
    for (let k = 0; k < a.length; k += 2) out[str(a[k], 'createObject')] = a[k + 1];
    return out;
  }),
  union: eager((a) => {
    if (a.every(isObject)) return Object.assign({}, ...a);
    if (a.every(Array.isArray)) {
      const out: unknown[] = [];
      for (const arr of a as unknown[][]) for (const x of arr) if (!out.some((y) => equalValues(x, y))) out.push(x);
      return out;
    }
    throw new TemplateError('union() takes only objects or only arrays');
  }, 1),
  contains: eager(
    (a) => {
      const [c, x] = a;
      if (typeof c === 'string') return c.includes(toStringValue(x));
      if (Array.isArray(c)) return c.some((y) => equalValues(x, y));
      if (isObject(c)) return Object.keys(c).some((k) => k.toLowerCase() === String(x).toLowerCase());
      throw new TemplateError(`contains() expects a string, array or object, got ${typeName(c)}`);
    },
    2,
    2,
  ),
  split: eager(
    (a) => {
      const s = str(a[0], 'split');
      const seps = Array.isArray(a[1]) ? (a[1] as unknown[]).map((x) => str(x, 'split')) : [str(a[1], 'split')];
      let parts = [s];
      for (const sep of seps) parts = parts.flatMap((p) => p.split(sep));
      return parts;
    },
    2,
    2,
  ),
  first: eager(
    (a) => (typeof a[0] === 'string' ? a[0].slice(0, 1) : Array.isArray(a[0]) ? (a[0][0] ?? null) : str(a[0], 'first')),
    1,
    1,
  ),
  last: eager(
    (a) =>
      typeof a[0] === 'string'
        ? a[0].slice(-1)
        : Array.isArray(a[0])
          ? (a[0][a[0].length - 1] ?? null)
          : str(a[0], 'last'),
    1,
    1,
  ),
  substring: eager(
    (a) => {
      const s = str(a[0], 'substring');
      const start = Number(a[1] ?? 0);
      const len = a[2] === undefined ? s.length - start : Number(a[2]);
      if (start < 0 || len < 0 || start + len > s.length)
        throw new TemplateError(`substring(): start ${start} and length ${len} are outside '${s}'`);
      return s.substring(start, start + len);
    },
    1,
    3,
  ),
  replace: eager((a) => str(a[0], 'replace').split(str(a[1], 'replace')).join(str(a[2], 'replace')), 3, 3),
  startswith: eager(
    (a) => str(a[0], 'startsWith').toLowerCase().startsWith(str(a[1], 'startsWith').toLowerCase()),
    2,
    2,
  ),
  endswith: eager((a) => str(a[0], 'endsWith').toLowerCase().endsWith(str(a[1], 'endsWith').toLowerCase()), 2, 2),
  coalesce: eager((a) => a.find((x) => x !== null && x !== undefined) ?? null, 1),
  uniquestring: eager((a) => uniqueString(a.map((x) => str(x, 'uniqueString'))), 1),
  guid: eager((a) => deterministicGuid(a.map((x) => str(x, 'guid'))), 1),
  newguid: eager(() => crypto.randomUUID(), 0, 0),
  utcnow: eager(() => new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, ''), 0, 1),
};

/** Evaluates one parsed expression. */
export function evaluateNode(node: Node, scope: EvalScope, text: string): Value {
  const ev = (n: Node): Value => evaluateNode(n, scope, text);
  switch (node.k) {
    case 'str':
    case 'num':
      return node.v;
    case 'call': {
      const fn = FUNCTIONS[node.name.toLowerCase()];
      if (!fn)
        throw new TemplateError(
          `the template function '${node.name}' is not supported here (in '${text}'); supported: ${Object.keys(FUNCTIONS).sort().join(', ')}`,
        );
      try {
        return fn(node.args, ev, scope);
      } catch (e) {
        if (e instanceof TemplateError && !e.message.includes("(in '"))
          throw new TemplateError(`${e.message} (in '${text}')`, e.target);
        throw e;
      }
    }
    case 'prop': {
      const of = ev(node.of);
      if (!isObject(of))
        throw new TemplateError(`cannot read property '${node.name}' of ${typeName(of)} (in '${text}')`);
      const key = Object.keys(of).find((k) => k.toLowerCase() === node.name.toLowerCase());
      if (key === undefined)
        throw new TemplateError(
          `the object has no property '${node.name}'; it has: ${Object.keys(of).join(', ')} (in '${text}')`,
        );
      return of[key];
    }
    case 'index': {
      const of = ev(node.of);
      const index = ev(node.index);
      if (Array.isArray(of) && typeof index === 'number') {
        if (index < 0 || index >= of.length)
          throw new TemplateError(`index ${index} is outside the array of ${of.length} (in '${text}')`);
        return of[index];
      }
      if (isObject(of) && typeof index === 'string') {
        const key = Object.keys(of).find((k) => k.toLowerCase() === index.toLowerCase());
        if (key === undefined) throw new TemplateError(`the object has no property '${index}' (in '${text}')`);
        return of[key];
      }
      throw new TemplateError(`cannot index ${typeName(of)} with ${typeName(index)} (in '${text}')`);
    }
  }
}

/** A string: evaluated if it is an expression, `[[…` unescaped, else as is. */
export function evaluateString(s: string, scope: EvalScope): Value {
  if (isExpression(s)) return evaluateNode(parseExpression(s), scope, s);
  if ((s as string).startsWith('[[')) return (s as string).slice(1);
  return s;
}

/** Evaluates every expression in a JSON value (objects and arrays deeply). */
export function evaluateDeep(v: Value, scope: EvalScope): Value {
  if (typeof v === 'string') return evaluateString(v, scope);
  if (Array.isArray(v)) return v.map((x) => evaluateDeep(x, scope));
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    // Property names may be expressions too (ARM evaluates them: azure-ai-ml's feature store keys
    // identity.userAssignedIdentities by `[variables('materializationIdentity')]`).
    for (const [k, x] of Object.entries(v))
      out[isExpression(k) ? String(evaluateString(k, scope)) : k] = evaluateDeep(x, scope);
    return out;
  }
  return v;
}

/** Names of the parameters an expression text refers to (for error messages). */
export function parametersNamed(text: unknown): string[] {
  if (typeof text !== 'string') return [];
  return [...new Set([...text.matchAll(/parameters\(\s*'([^']+)'\s*\)/gi)].map((m) => m[1]!))];
}
