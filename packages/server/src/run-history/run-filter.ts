import { NotImplemented } from '../errors.js';

/** What a v1 run filter tests: the run as run history shows it (runDto's fields). */
export interface FilterableRun {
  runId: string;
  parentRunId: string | null;
  rootRunId: string;
  status: string;
  runType: string | null;
  tags: Record<string, string>;
  properties: Record<string, string>;
}

/**
 * The OData filter of run history's `runs:query` as azureml-core writes it (azureml/_restclient/_odata:
 * clauses joined by `and`, each in parentheses): `ParentRunId eq null` (Experiment.get_runs without
 * children), `RootRunId eq {id}` and `RunId ne {id}` (Run.get_children(recursive=True)),
 * `Status eq {s}`, `Tags/{k} eq {v}`, `Properties/{k} eq {v}` and their "exists" forms, `RunType eq {t}`
 * (`get_runs(type=…)` writes `(RunType eq t or Properties/azureml.runsource eq t)`: clauses joined
 * by `or` hold when one does). Hand-written:
 * it is this small grammar, not OData; any other clause is a 501 naming it rather than ignored.
 */
export function runFilter(filter: unknown): (r: FilterableRun) => boolean {
  return compile(filter, RUNS);
}

/** What a v1 experiment filter tests (`Experiment.list(ws, experiment_name=…, tags=…)`). */
export interface FilterableExperiment {
  name: string;
  tags: Record<string, string>;
}

/** The experiment query's filter: `name eq …`, `Tags/{k} eq {v}` and its "exists" form, joined by `and`. */
export function experimentFilter(filter: unknown): (e: FilterableExperiment) => boolean {
  return compile(filter, EXPERIMENTS);
}

/** The fields one kind of query tests, and the words its errors use. */
interface Grammar<T> {
  what: string;
  fields: string;
  /** The names of its key-value bags (`Tags`, `Properties`). */
  bags: string[];
  bag(t: T, name: string): Record<string, string>;
  field(name: string): ((t: T) => string | null) | undefined;
}

function compile<T>(filter: unknown, g: Grammar<T>): (t: T) => boolean {
  if (filter === undefined || filter === null || filter === '') return () => true;
  if (typeof filter !== 'string') throw new NotImplemented(`the ${g.what} query filter must be a string`);
  const tests = splitTop(unwrap(filter), ' and ').map((c) => clause(c, g));
  return (t) => tests.every((test) => test(t));
}

/** `(x)` → `x` while the outer parentheses enclose the whole expression. */
function unwrap(s: string): string {
  let t = s.trim();
  while (t.startsWith('(') && t.endsWith(')') && closes(t) === t.length - 1) t = t.slice(1, -1).trim();
  return t;
}

/** The index of the parenthesis that closes the one at 0. */
function closes(s: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') depth--;
    else if (depth === 0 && s.startsWith(sep, i)) {
      out.push(s.slice(start, i));
      start = i + sep.length;
    }
  }
  out.push(s.slice(start));
  return out.map(unwrap);
}

const value = (v: string): string | null => {
  const t = v.trim();
  if (t === 'null') return null;
  // azureml-core quotes values with double quotes (value_to_odata_string); OData itself with single ones.
  if (/^".*"$/.test(t)) return t.slice(1, -1);
  return /^'.*'$/.test(t) ? t.slice(1, -1).replace(/''/g, "'") : t;
};

function clause<T>(c: string, g: Grammar<T>): (t: T) => boolean {
  const either = splitTop(c, ' or ');
  // "(Tags/k ne null or Tags/k eq null)": the run (experiment) has that tag (property).
  const exists = /^(\w+)\/(.+) ne null$/.exec(either[0]!);
  if (either.length === 2 && exists && either[1] === `${exists[1]}/${exists[2]} eq null`) {
    const [, bag, key] = exists;
    if (g.bags.includes(bag!)) return (t) => key! in g.bag(t, bag!);
  }
  if (either.length > 1) {
    const any = either.map((e) => clause(e, g));
    return (t) => any.some((test) => test(t));
  }
  const m = either.length === 1 ? /^(\S+) (eq|ne) (.+)$/.exec(c) : null;
  if (m) {
    const [, field, op, raw] = m;
    const given = value(raw!);
    // Run ids: azureml-core's uuids are MLflow's without dashes (mlflowRunId).
    const want =
      given && /^(Parent|Root)?RunId$/.test(field!) && /^[0-9a-f-]{36}$/i.test(given)
        ? given.replace(/-/g, '').toLowerCase()
        : given;
    const inBag = /^(\w+)\/(.+)$/.exec(field!);
    const read: ((t: T) => string | null) | undefined =
      inBag && g.bags.includes(inBag[1]!) ? (t) => g.bag(t, inBag[1]!)[inBag[2]!] ?? null : g.field(field!);
    if (read) return op === 'eq' ? (t) => read(t) === want : (t) => read(t) !== want;
  }
  throw new NotImplemented(
    `the ${g.what} query filter clause '${c}' is not supported by Atelier's run history (it takes ${g.fields} with eq/ne); filter on the client`,
  );
}

const RUNS: Grammar<FilterableRun> = {
  what: 'runs',
  fields: 'ParentRunId, RootRunId, RunId, Status, RunType, Tags/… and Properties/…',
  bags: ['Tags', 'Properties'],
  bag: (r, name) => (name === 'Tags' ? r.tags : r.properties),
  field(name) {
    switch (name) {
      case 'ParentRunId':
        return (r) => r.parentRunId;
      case 'RootRunId':
        return (r) => r.rootRunId;
      case 'RunId':
        return (r) => r.runId;
      case 'Status':
        return (r) => r.status;
      case 'RunType':
        return (r) => r.runType;
      default:
        return undefined;
    }
  },
};

const EXPERIMENTS: Grammar<FilterableExperiment> = {
  what: 'experiments',
  fields: 'name and Tags/…',
  bags: ['Tags'],
  bag: (e) => e.tags,
  field: (name) => (name === 'name' ? (e) => e.name : undefined),
};
