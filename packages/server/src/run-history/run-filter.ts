import { NotImplemented } from '../errors.js';

/** What a v1 run filter tests: the run as run history shows it (runDto's fields). */
export interface FilterableRun {
  runId: string;
  parentRunId: string | null;
  rootRunId: string;
  status: string;
  tags: Record<string, string>;
  properties: Record<string, string>;
}

/**
 * The OData filter of run history's `runs:query` as azureml-core writes it (azureml/_restclient/_odata:
 * clauses joined by `and`, each in parentheses): `ParentRunId eq null` (Experiment.get_runs without
 * children), `RootRunId eq {id}` and `RunId ne {id}` (Run.get_children(recursive=True)),
 * `Status eq {s}`, `Tags/{k} eq {v}`, `Properties/{k} eq {v}` and their "exists" forms. Hand-written:
 * it is this small grammar, not OData; any other clause is a 501 naming it rather than ignored.
 */
export function runFilter(filter: unknown): (r: FilterableRun) => boolean {
  if (filter === undefined || filter === null || filter === '') return () => true;
  if (typeof filter !== 'string') throw new NotImplemented('the runs query filter must be a string');
  const tests = splitTop(unwrap(filter), ' and ').map(clause);
  return (r) => tests.every((t) => t(r));
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

function clause(c: string): (r: FilterableRun) => boolean {
  const either = splitTop(c, ' or ');
  // "(Tags/k ne null or Tags/k eq null)": the run has that tag (property).
  const exists = /^(Tags|Properties)\/(.+) ne null$/.exec(either[0]!);
  if (either.length === 2 && exists && either[1] === `${exists[1]}/${exists[2]} eq null`) {
    const [, bag, key] = exists;
    return (r) => key! in (bag === 'Tags' ? r.tags : r.properties);
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
    const read = reader(field!);
    if (read) return op === 'eq' ? (r) => read(r) === want : (r) => read(r) !== want;
  }
  throw new NotImplemented(
    `the runs query filter clause '${c}' is not supported by Atelier's run history (it takes ParentRunId, RootRunId, RunId, Status, Tags/… and Properties/… with eq/ne); filter on the client`,
  );
}

function reader(field: string): ((r: FilterableRun) => string | null) | undefined {
  const tag = /^(Tags|Properties)\/(.+)$/.exec(field);
  if (tag) return (r) => (tag[1] === 'Tags' ? r.tags : r.properties)[tag[2]!] ?? null;
  switch (field) {
    case 'ParentRunId':
      return (r) => r.parentRunId;
    case 'RootRunId':
      return (r) => r.rootRunId;
    case 'RunId':
      return (r) => r.runId;
    case 'Status':
      return (r) => r.status;
    default:
      return undefined;
  }
}
