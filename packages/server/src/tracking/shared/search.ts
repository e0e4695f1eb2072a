import { sql, type RawBuilder } from 'kysely';
import { InvalidInput } from '../../errors.js';
import type { DialectName } from '../../store/database.js';
import { trackingSql, type TrackingSql } from './dialects/index.js';

/**
 * MLflow's search grammar (mlflow/utils/search_utils.py), compiled to portable SQL with bound
 * parameters: `<entity>.<key> <comparator> <value>` clauses joined by AND, entities metrics,
 * params, tags, attributes, datasets (with their aliases); keys quoted with backticks or double
 * quotes when they hold other characters; LIKE (case-sensitive), ILIKE, IN / NOT IN lists.
 */

export type Entity = 'metric' | 'param' | 'tag' | 'attribute' | 'dataset';
export type Comparator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE' | 'ILIKE' | 'IN' | 'NOT IN';

export interface Clause {
  type: Entity;
  key: string;
  comparator: Comparator;
  value: string | number | string[];
}

const ENTITY_ALIASES: Record<string, Entity> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  parameter: 'param',
  parameters: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
  dataset: 'dataset',
  datasets: 'dataset',
};

type Token =
  | { t: 'ident'; entity?: string; key: string; raw: string }
  | { t: 'string'; v: string }
  | { t: 'number'; v: number; raw: string }
  | { t: 'op'; v: string }
  | { t: 'word'; v: string }
  | { t: 'lparen' }
  | { t: 'rparen' }
  | { t: 'comma' };

const bad = (filter: string, why: string) =>
  new InvalidInput(`Invalid filter '${filter}': ${why}`, { code: 'INVALID_SEARCH_FILTER' });

function readQuoted(s: string, i: number, q: string, filter: string): [string, number] {
  let out = '';
  let j = i + 1;
  while (j < s.length) {
    const c = s[j]!;
    if (c === '\\' && j + 1 < s.length && q !== '`') {
      out += s[j + 1];
      j += 2;
      continue;
    }
    if (c === q) {
      // SQL-style doubled quote inside a string.
      if (s[j + 1] === q && q !== '`') {
        out += q;
        j += 2;
        continue;
      }
      return [out, j + 1];
    }
    out += c;
    j++;
  }
  throw bad(filter, `unterminated ${q} quote`);
}

function tokenize(filter: string): Token[] {
  const s = filter;
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(') {
      out.push({ t: 'lparen' });
      i++;
      continue;
    }
    if (c === ')') {
      out.push({ t: 'rparen' });
      i++;
      continue;
    }
    if (c === ',') {
      out.push({ t: 'comma' });
      i++;
      continue;
    }
    const op = /^(!=|<>|<=|>=|=|<|>)/.exec(s.slice(i, i + 2));
    if (op) {
      out.push({ t: 'op', v: op[1] === '<>' ? '!=' : op[1]! });
      i += op[1]!.length;
      continue;
    }
    if (c === "'" || c === '"') {
      const [v, j] = readQuoted(s, i, c, filter);
      out.push({ t: 'string', v });
      i = j;
      continue;
    }
    if (c === '`') {
      // `entity.key` quoted whole, or a quoted key after `entity.`
      const [v, j] = readQuoted(s, i, '`', filter);
      const dot = v.indexOf('.');
      const prev = out[out.length - 1];
      out.push(
        dot > 0 && ENTITY_ALIASES[v.slice(0, dot).toLowerCase()]
          ? { t: 'ident', entity: v.slice(0, dot), key: v.slice(dot + 1), raw: v }
          : { t: 'ident', key: v, raw: v },
      );
      void prev;
      i = j;
      continue;
    }
    const num = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(?![\w.])/.exec(s.slice(i));
    if (num) {
      out.push({ t: 'number', v: Number(num[0]), raw: num[0] });
      i += num[0].length;
      continue;
    }
    const word = /^[A-Za-z_][\w]*/.exec(s.slice(i));
    if (word) {
      const w = word[0];
      const after = s[i + w.length];
      if (after === '.' && ENTITY_ALIASES[w.toLowerCase()]) {
        // entity.key, key unquoted ([\w./:-]+ up to a space or operator) or quoted
        let j = i + w.length + 1;
        const q = s[j];
        let key: string;
        if (q === '`' || q === '"') {
          [key, j] = readQuoted(s, j, q, filter);
        } else {
          const k = /^[\w./:-]+/.exec(s.slice(j));
          if (!k) throw bad(filter, `expected a key after '${w}.'`);
          key = k[0];
          j += key.length;
        }
        out.push({ t: 'ident', entity: w, key, raw: s.slice(i, j) });
        i = j;
        continue;
      }
      const k = /^[\w.]+/.exec(s.slice(i))![0];
      out.push(
        /^(and|or|like|ilike|in|not|is|null)$/i.test(k)
          ? { t: 'word', v: k.toUpperCase() }
          : { t: 'ident', key: k, raw: k },
      );
      i += k.length;
      continue;
    }
    throw bad(filter, `unexpected character '${c}' at position ${i}`);
  }
  return out;
}

/** More clauses than any real search needs; the database's expression depth limit is not far above. */
export const MAX_FILTER_CLAUSES = 100;

/** Parses a filter string into AND-ed clauses (no OR, as MLflow). */
export function parseFilter(filter: string, entities: Entity[]): Clause[] {
  if (!filter || !filter.trim()) return [];
  const toks = tokenize(filter);
  const clauses: Clause[] = [];
  let i = 0;
  const next = () => toks[i++];
  while (i < toks.length) {
    const id = next()!;
    if (id.t !== 'ident')
      throw bad(
        filter,
        `expected an identifier like metrics.<key>, params.<key>, tags.<key> or attributes.<name>, got ${describe(id)}`,
      );
    const type: Entity = id.entity === undefined ? 'attribute' : ENTITY_ALIASES[id.entity.toLowerCase()]!;
    if (!entities.includes(type))
      throw bad(
        filter,
        `'${id.entity}' is not an entity you can search on here; use ${entities.map((e) => `${e === 'attribute' ? 'attributes' : e + 's'}.<key>`).join(', ')}`,
      );
    if (id.key === '') throw bad(filter, 'an identifier needs a key');
    let comparator: Comparator;
    const c = next();
    if (!c) throw bad(filter, `expected a comparator after '${id.raw}'`);
    if (c.t === 'op') comparator = c.v as Comparator;
    else if (c.t === 'word' && (c.v === 'LIKE' || c.v === 'ILIKE' || c.v === 'IN')) comparator = c.v;
    else if (c.t === 'word' && c.v === 'NOT' && toks[i]?.t === 'word' && (toks[i] as { v: string }).v === 'IN') {
      i++;
      comparator = 'NOT IN';
    } else
      throw bad(
        filter,
        `expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN) after '${id.raw}', got ${describe(c)}`,
      );
    let value: Clause['value'];
    if (comparator === 'IN' || comparator === 'NOT IN') {
      if (next()?.t !== 'lparen')
        throw bad(filter, `${comparator} needs a parenthesised list of quoted strings, e.g. ('a', 'b')`);
      const list: string[] = [];
      for (;;) {
        const v = next();
        if (v?.t !== 'string') throw bad(filter, `${comparator} lists hold quoted strings only`);
        list.push(v.v);
        const sep = next();
        if (sep?.t === 'rparen') break;
        if (sep?.t !== 'comma') throw bad(filter, `expected ',' or ')' in the ${comparator} list`);
      }
      value = list;
    } else {
      const v = next();
      if (v?.t === 'string') value = v.v;
      else if (v?.t === 'number') value = v.v;
      else
        throw bad(
          filter,
          `expected a value after '${id.raw} ${comparator}' (strings in quotes, numbers bare), got ${v ? describe(v) : 'the end'}`,
        );
    }
    clauses.push({ type, key: id.key, comparator, value });
    if (clauses.length > MAX_FILTER_CLAUSES)
      throw bad(filter, `a filter may join at most ${MAX_FILTER_CLAUSES} clauses with AND`);
    if (i < toks.length) {
      const a = next()!;
      if (a.t === 'word' && a.v === 'AND') {
        if (i >= toks.length) throw bad(filter, "nothing after 'AND'");
        continue;
      }
      if (a.t === 'word' && a.v === 'OR') throw bad(filter, "'OR' is not supported; only AND joins clauses");
      throw bad(filter, `expected AND between clauses, got ${describe(a)}`);
    }
  }
  return clauses;
}

function describe(t: Token): string {
  switch (t.t) {
    case 'ident':
      return `'${t.raw}'`;
    case 'string':
      return `'${t.v}'`;
    case 'number':
      return t.raw;
    case 'op':
      return `'${t.v}'`;
    case 'word':
      return `'${t.v}'`;
    case 'lparen':
      return "'('";
    case 'rparen':
      return "')'";
    case 'comma':
      return "','";
  }
}

const NUMERIC_OPS: Comparator[] = ['=', '!=', '<', '<=', '>', '>='];
const STRING_OPS: Comparator[] = ['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'];

/** A SQL comparison of `col` with a bound value, portable (LIKE is case-sensitive on both). */
function compare(
  queries: TrackingSql,
  col: RawBuilder<unknown>,
  op: Comparator,
  value: Clause['value'],
): RawBuilder<unknown> {
  switch (op) {
    case 'IN':
      return sql`${col} in (${sql.join((value as string[]).map((v) => sql`${v}`))})`;
    case 'NOT IN':
      return sql`${col} not in (${sql.join((value as string[]).map((v) => sql`${v}`))})`;
    case 'LIKE':
      return queries.like(col, String(value));
    case 'ILIKE':
      return sql`lower(${col}) like lower(${String(value)})`;
    default:
      return sql`${col} ${sql.raw(op === '!=' ? '<>' : op)} ${value}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Runs

const RUN_STRING_ATTRS: Record<string, string> = {
  run_id: 'run_uuid',
  run_name: 'name',
  status: 'status',
  user_id: 'user_id',
  artifact_uri: 'artifact_uri',
};
const RUN_NUMERIC_ATTRS: Record<string, string> = {
  start_time: 'start_time',
  end_time: 'end_time',
  created: 'start_time',
  Created: 'start_time',
};

export interface OrderBy {
  type: 'metric' | 'param' | 'tag' | 'attribute';
  key: string;
  asc: boolean;
}

export function parseOrderBy(s: string, allowed: Entity[]): OrderBy {
  const m = /^\s*(.+?)(?:\s+(ASC|DESC))?\s*$/i.exec(s);
  if (!m) throw new InvalidInput(`Invalid order_by clause '${s}'`, { code: 'INVALID_SEARCH_FILTER' });
  const toks = tokenize(m[1]!);
  if (toks.length !== 1 || toks[0]!.t !== 'ident')
    throw new InvalidInput(
      `Invalid order_by clause '${s}': use '<entity>.<key> [ASC|DESC]', e.g. 'metrics.accuracy DESC'`,
      { code: 'INVALID_SEARCH_FILTER' },
    );
  const id = toks[0] as { entity?: string; key: string };
  const type = id.entity === undefined ? 'attribute' : ENTITY_ALIASES[id.entity.toLowerCase()];
  if (!type || type === 'dataset' || !allowed.includes(type))
    throw new InvalidInput(
      `Invalid order_by entity in '${s}'; use ${allowed.map((e) => (e === 'attribute' ? 'attributes' : e + 's')).join(', ')}`,
      { code: 'INVALID_SEARCH_FILTER' },
    );
  return { type, key: id.key, asc: (m[2] ?? 'ASC').toUpperCase() === 'ASC' };
}

export interface RunSearch {
  workspaceId: string;
  experimentIds: number[];
  stages: string[];
  filter: string;
  orderBy: string[];
  limit: number;
  offset: number;
}

/**
 * A run search compiled to SQL (bound parameters only). `full(ids?)` is the whole query (optionally limited to candidate run ids);
 * `lead` is set when an index can stream the first sort key (a metric, param or tag by its
 * (workspace, experiment, key, value) index, or the start time): the search can then read just
 * enough rows in that order (`first(n)`), add the rows tied with the last one (`ties(v, n)`), and sort
 * only those candidates fully, instead of sorting every match.
 */
export interface RunSearchPlan {
  full(ids?: string[]): RawBuilder<unknown>;
  lead?: {
    first(n: number): RawBuilder<{ run_uuid: string; lead: unknown }>;
    /** Runs tied with the value: at least the first n of them in the full order (all, when more sort keys follow). */
    ties(value: unknown, n: number): RawBuilder<{ run_uuid: string }>;
    /**
     * The lead covers only the runs that have the first sort key (a metric, param or tag not in the
     * filter; for a metric, a value that is not NaN), which sort before all others in either
     * direction as in MLflow: when `first(n)` returns fewer than n rows the page reaches the runs
     * without it and the search must use `full()`.
     */
    partial: boolean;
  };
}

/** Compiles a run search (filter, order, scope) into its queries. */
export function planRunSearch(dialect: DialectName, q: RunSearch): RunSearchPlan {
  const queries = trackingSql(dialect);
  const clauses = parseFilter(q.filter, ['metric', 'param', 'tag', 'attribute', 'dataset']);
  const joins: { alias: string; table: string; key: string; outer: boolean }[] = [];
  const expIn = (col: string) =>
    q.experimentIds.length === 1
      ? sql`${sql.raw(col)} = ${q.experimentIds[0]}`
      : sql`${sql.raw(col)} in (${sql.join(q.experimentIds.map((e) => sql`${e}`))})`;
  // The runs' own scope; `noIndex` keeps the planner off their index when a list of candidate ids
  // should drive the query instead.
  const runScope = (noIndex: boolean): RawBuilder<unknown>[] => {
    const col = (c: string) => (noIndex ? queries.unindexed(c) : c);
    return [sql`${sql.raw(col('r.workspace_id'))} = ${q.workspaceId}`, expIn(col('r.experiment_id'))];
  };
  const where: RawBuilder<unknown>[] = [
    q.stages.length === 1
      ? sql`r.lifecycle_stage = ${q.stages[0]}`
      : sql`r.lifecycle_stage in (${sql.join(q.stages.map((s) => sql`${s}`))})`,
  ];
  // Inner-joined (filtered) metrics/params/tags by key: an order_by on the same key reuses them.
  const joined = new Map<string, string>();
  let n = 0;
  const kvJoin = (type: 'metric' | 'param' | 'tag', key: string, outer: boolean): string => {
    const id = `${type}:${key}`;
    const have = joined.get(id);
    if (have) return have;
    const alias = `${type[0]}${n++}`;
    const table =
      type === 'metric' ? 'tracking_latest_metrics' : type === 'param' ? 'tracking_params' : 'tracking_tags';
    joins.push({ alias, table, key, outer });
    if (!outer) joined.set(id, alias);
    return alias;
  };
  for (const c of clauses) {
    if (c.type === 'metric') {
      if (!NUMERIC_OPS.includes(c.comparator))
        throw new InvalidInput(
          `Invalid comparator '${c.comparator}' for metrics.${c.key}; use one of ${NUMERIC_OPS.join(', ')}`,
        );
      if (typeof c.value !== 'number')
        throw new InvalidInput(`Expected a numeric value for metrics.${c.key}, got '${String(c.value)}'`);
      const a = kvJoin('metric', c.key, false);
      where.push(sql`${sql.raw(a)}.is_nan = 0`, compare(queries, sql.raw(`${a}.value`), c.comparator, c.value));
    } else if (c.type === 'param' || c.type === 'tag') {
      if (!STRING_OPS.includes(c.comparator))
        throw new InvalidInput(
          `Invalid comparator '${c.comparator}' for ${c.type}s.${c.key}; use one of ${STRING_OPS.join(', ')}`,
        );
      if (typeof c.value === 'number')
        throw new InvalidInput(
          `Parameter value is either not quoted or unidentified quote types used for ${c.type}s.${c.key}. Please use single or double quotes.`,
        );
      const a = kvJoin(c.type, c.key, false);
      where.push(compare(queries, sql.raw(`${a}.value`), c.comparator, c.value));
    } else if (c.type === 'attribute') {
      if (RUN_STRING_ATTRS[c.key]) {
        const ops: Comparator[] = c.key === 'run_id' ? ['=', '!=', 'IN', 'NOT IN'] : STRING_OPS;
        if (!ops.includes(c.comparator))
          throw new InvalidInput(
            `Invalid comparator '${c.comparator}' for attributes.${c.key}; use one of ${ops.join(', ')}`,
          );
        if (typeof c.value === 'number')
          throw new InvalidInput(`Expected a quoted string value for attributes.${c.key}`);
        where.push(compare(queries, sql.raw(`r.${RUN_STRING_ATTRS[c.key]}`), c.comparator, c.value));
      } else if (RUN_NUMERIC_ATTRS[c.key]) {
        if (!NUMERIC_OPS.includes(c.comparator))
          throw new InvalidInput(
            `Invalid comparator '${c.comparator}' for attributes.${c.key}; use one of ${NUMERIC_OPS.join(', ')}`,
          );
        if (typeof c.value !== 'number') throw new InvalidInput(`Expected a numeric value for attributes.${c.key}`);
        where.push(compare(queries, sql.raw(`r.${RUN_NUMERIC_ATTRS[c.key]}`), c.comparator, c.value));
      } else {
        throw new InvalidInput(
          `Invalid attribute key '${c.key}' specified. Valid keys are ${[...Object.keys(RUN_STRING_ATTRS), ...Object.keys(RUN_NUMERIC_ATTRS).filter((k) => k !== 'Created')].join(', ')}`,
        );
      }
    } else {
      const col =
        c.key === 'name' ? 'd.name' : c.key === 'digest' ? 'd.digest' : c.key === 'context' ? 'i.context' : undefined;
      if (!col)
        throw new InvalidInput(
          `Invalid dataset key '${c.key}'; use datasets.name, datasets.digest or datasets.context`,
        );
      if (!STRING_OPS.includes(c.comparator))
        throw new InvalidInput(
          `Invalid comparator '${c.comparator}' for datasets.${c.key}; use one of ${STRING_OPS.join(', ')}`,
        );
      if (typeof c.value === 'number') throw new InvalidInput(`Expected a quoted string value for datasets.${c.key}`);
      where.push(
        sql`exists (select 1 from tracking_inputs i join tracking_datasets d on d.dataset_uuid = i.dataset_uuid where i.run_uuid = r.run_uuid and ${compare(queries, sql.raw(col), c.comparator, c.value)})`,
      );
    }
  }
  const order: RawBuilder<unknown>[] = [];
  let sawStart = false;
  let lead:
    | {
        col: RawBuilder<unknown>;
        dir: RawBuilder<unknown>;
        numeric: boolean;
        /** The join that streams the runs in order (absent: the runs' own start-time index). */
        join?: (typeof joins)[number];
        /** Conditions of the lead queries only (a sort key's own join: its value is not NaN). */
        extra?: RawBuilder<unknown>;
      }
    | undefined;
  let partial = false;
  for (const [i, o] of q.orderBy.entries()) {
    const ob = parseOrderBy(o, ['metric', 'param', 'tag', 'attribute']);
    const dir = sql.raw(ob.asc ? 'asc' : 'desc');
    if (i === 0 && ob.type === 'attribute' && RUN_NUMERIC_ATTRS[ob.key] === 'start_time')
      lead = { col: sql`r.start_time`, dir, numeric: true };
    if (i === 0 && ob.type === 'metric' && joined.has(`metric:${ob.key}`)) {
      const a = joined.get(`metric:${ob.key}`)!;
      lead = { col: sql.raw(`${a}.value`), dir, numeric: true, join: joins.find((j) => j.alias === a) };
    } else if (i === 0 && ob.type !== 'attribute' && !joined.has(`${ob.type}:${ob.key}`)) {
      // A sort key the filter does not name: the runs that have it come first either way (NULLs,
      // and NaN for metrics, last, as MLflow orders them), and its index streams those in order.
      // The lead queries inner-join it under its own alias; the full query keeps its outer join.
      const table =
        ob.type === 'metric' ? 'tracking_latest_metrics' : ob.type === 'param' ? 'tracking_params' : 'tracking_tags';
      const j = { alias: 'lead', table, key: ob.key, outer: false };
      lead = {
        col: sql.raw('lead.value'),
        dir,
        numeric: ob.type === 'metric',
        join: j,
        ...(ob.type === 'metric' ? { extra: sql`lead.is_nan = 0` } : {}),
      };
      partial = true;
    }
    if (ob.type === 'attribute') {
      const col =
        RUN_STRING_ATTRS[ob.key] ??
        RUN_NUMERIC_ATTRS[ob.key] ??
        (ob.key === 'experiment_id' ? 'experiment_id' : undefined);
      if (!col)
        throw new InvalidInput(
          `Invalid order_by attribute '${ob.key}'; use run_name, status, user_id, start_time, end_time, artifact_uri, run_id`,
          { code: 'INVALID_SEARCH_FILTER' },
        );
      if (col === 'start_time') sawStart = true;
      // Runs without an end time sort last either way, as NULLs do in MLflow.
      if (col === 'end_time') order.push(sql`(r.end_time is null)`);
      order.push(sql`r.${sql.raw(col)} ${dir}`);
    } else {
      const existing = joined.get(`${ob.type}:${ob.key}`);
      const a = existing ?? kvJoin(ob.type, ob.key, true);
      if (!existing) order.push(sql`(${sql.raw(a)}.value is null)`);
      if (ob.type === 'metric' && !existing) order.push(sql`coalesce(${sql.raw(a)}.is_nan, 0)`);
      order.push(sql`${sql.raw(a)}.value ${dir}`);
    }
  }
  if (q.orderBy.length === 0) lead = { col: sql`r.start_time`, dir: sql.raw('desc'), numeric: true };
  if (!sawStart) order.push(sql`r.start_time desc`);
  order.push(sql`r.run_uuid asc`);
  // Which side drives the query. Planners without statistics (a fresh PostgreSQL table) guess
  // badly, so the SQL leaves them one sensible path: when the first sort key is a filtered metric,
  // only that join carries the workspace/experiment scope (its (workspace, experiment, key,
  // value) index streams the runs in order) and every other table is reached by primary key.
  // Otherwise the runs keep their scope and the first filter join may drive instead.
  const leadJoin = lead?.join && !partial ? lead.join.alias : undefined;
  const driver = leadJoin ?? joins.find((j) => !j.outer)?.alias;
  const renderJoin = (j: (typeof joins)[number], innerJoin: string, scoped: boolean) => {
    const a = j.alias;
    const scope = scoped
      ? sql` and ${sql.raw(a)}.workspace_id = ${q.workspaceId} and ${expIn(`${a}.experiment_id`)}`
      : sql``;
    return sql`${sql.raw(j.outer ? 'left join' : innerJoin)} ${sql.table(j.table)} ${sql.raw(a)} on ${sql.raw(a)}.run_uuid = r.run_uuid${scope} and ${sql.raw(a)}.key = ${j.key}`;
  };
  const from = sql`from tracking_runs r ${sql.join(
    joins.map((j) => renderJoin(j, 'join', j.alias === driver)),
    sql` `,
  )}`;
  // With candidate ids the runs drive (an ordered join keeps them the outer loop) and every join is
  // a primary-key lookup.
  const fromIds = sql`from tracking_runs r ${sql.join(
    joins.map((j) => renderJoin(j, queries.orderedJoin, false)),
    sql` `,
  )}`;
  const cond = sql.join([...(leadJoin ? [] : runScope(false)), ...where], sql` and `);
  const condIds = sql.join([...runScope(true), ...where], sql` and `);
  const plan: RunSearchPlan = {
    full: (ids) =>
      ids
        ? sql`select r.* ${fromIds} where ${condIds} and r.run_uuid in (${sql.join(ids.map((id) => sql`${id}`))}) order by ${sql.join(order)} limit ${q.limit} offset ${q.offset}`
        : sql`select r.* ${from} where ${cond} order by ${sql.join(order)} limit ${q.limit} offset ${q.offset}`,
  };
  // With one sort key (or none) runs tied on it follow start time (newest first) and run id, so
  // only the first n of a tie are needed, however many runs share the value.
  const tiesInOrder = q.orderBy.length <= 1;
  if (lead) {
    const l = lead;
    // The lead queries read the first sort key's index in order and stop after n rows. Only the
    // lead join carries the workspace/experiment scope; every filter join is a primary-key lookup
    // and the run row is read only for the runs that passed them. Sort-only (outer) joins cannot
    // change which runs match, so they are left out. SQLite joins in the order it guesses (often
    // the run before the filters), so there the order is written out (leadJoinOrder).
    let leadFrom = from;
    let leadCond = cond;
    const lj = l.join;
    if (lj) {
      const la = sql.raw(lj.alias);
      const filters = joins.filter((j) => !j.outer && j !== lj);
      const extra = l.extra ? [l.extra] : [];
      if (queries.leadJoinOrder) {
        const parts: RawBuilder<unknown>[] = [sql`from ${sql.table(lj.table)} ${la}`];
        for (const j of filters)
          parts.push(
            sql`${sql.raw(queries.orderedJoin)} ${sql.table(j.table)} ${sql.raw(j.alias)} on ${sql.raw(j.alias)}.run_uuid = ${la}.run_uuid and ${sql.raw(j.alias)}.key = ${j.key}`,
          );
        parts.push(sql`${sql.raw(queries.orderedJoin)} tracking_runs r on r.run_uuid = ${la}.run_uuid`);
        leadFrom = sql.join(parts, sql` `);
        leadCond = sql.join(
          [
            sql`${la}.workspace_id = ${q.workspaceId}`,
            expIn(`${lj.alias}.experiment_id`),
            sql`${la}.key = ${lj.key}`,
            ...extra,
            ...where,
          ],
          sql` and `,
        );
      } else {
        leadFrom = sql`from tracking_runs r ${sql.join(
          [lj, ...filters].map((j) => renderJoin(j, 'join', j === lj)),
          sql` `,
        )}`;
        leadCond = sql.join([...extra, ...where], sql` and `);
      }
    }
    plan.lead = {
      first: (n) =>
        sql<{
          run_uuid: string;
          lead: unknown;
        }>`select r.run_uuid, ${l.col} as lead ${leadFrom} where ${leadCond} order by ${l.col} ${l.dir} limit ${n}`,
      ties: (v, n) =>
        sql<{
          run_uuid: string;
        }>`select r.run_uuid ${leadFrom} where ${leadCond} and ${l.col} = ${l.numeric ? Number(v) : v}${tiesInOrder ? sql` order by r.start_time desc, r.run_uuid asc limit ${n}` : sql``}`,
      partial,
    };
  }
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Experiments

export interface ExperimentSearch {
  workspaceId: string;
  stages: string[];
  filter: string;
  orderBy: string[];
  limit: number;
  offset: number;
}

const EXP_STRING_ATTRS: Record<string, string> = { name: 'name' };
const EXP_NUMERIC_ATTRS: Record<string, string> = {
  creation_time: 'creation_time',
  last_update_time: 'last_update_time',
};
const EXP_ORDER_ATTRS = ['name', 'experiment_id', 'creation_time', 'last_update_time'];

export function compileExperimentSearch(dialect: DialectName, q: ExperimentSearch): RawBuilder<unknown> {
  const queries = trackingSql(dialect);
  const clauses = parseFilter(q.filter, ['attribute', 'tag']);
  const where: RawBuilder<unknown>[] = [
    sql`e.workspace_id = ${q.workspaceId}`,
    q.stages.length === 1
      ? sql`e.lifecycle_stage = ${q.stages[0]}`
      : sql`e.lifecycle_stage in (${sql.join(q.stages.map((s) => sql`${s}`))})`,
  ];
  for (const c of clauses) {
    if (c.type === 'attribute') {
      if (EXP_STRING_ATTRS[c.key]) {
        const ops: Comparator[] = ['=', '!=', 'LIKE', 'ILIKE'];
        if (!ops.includes(c.comparator))
          throw new InvalidInput(`Invalid comparator for string attribute: ${c.comparator}`);
        if (typeof c.value !== 'string')
          throw new InvalidInput(`Expected a quoted string value for attributes.${c.key}`);
        where.push(compare(queries, sql.raw(`e.${EXP_STRING_ATTRS[c.key]}`), c.comparator, c.value));
      } else if (EXP_NUMERIC_ATTRS[c.key]) {
        if (!NUMERIC_OPS.includes(c.comparator))
          throw new InvalidInput(`Invalid comparator for numeric attribute: ${c.comparator}`);
        if (typeof c.value !== 'number') throw new InvalidInput(`Expected a numeric value for attributes.${c.key}`);
        where.push(compare(queries, sql.raw(`e.${EXP_NUMERIC_ATTRS[c.key]}`), c.comparator, c.value));
      } else {
        throw new InvalidInput(
          `Invalid attribute key '${c.key}' specified. Valid keys are name, creation_time, last_update_time`,
        );
      }
    } else {
      const ops: Comparator[] = ['=', '!=', 'LIKE', 'ILIKE'];
      if (!ops.includes(c.comparator)) throw new InvalidInput(`Invalid comparator for tag: ${c.comparator}`);
      if (typeof c.value !== 'string') throw new InvalidInput(`Expected a quoted string value for tags.${c.key}`);
      where.push(
        sql`exists (select 1 from tracking_experiment_tags t where t.workspace_id = e.workspace_id and t.experiment_id = e.experiment_id and t.key = ${c.key} and ${compare(queries, sql.raw('t.value'), c.comparator, c.value)})`,
      );
    }
  }
  const order: RawBuilder<unknown>[] = [];
  const list = q.orderBy.length ? q.orderBy : ['creation_time DESC', 'experiment_id ASC'];
  let sawId = false;
  for (const o of list) {
    const ob = parseOrderBy(o, ['attribute']);
    if (!EXP_ORDER_ATTRS.includes(ob.key))
      throw new InvalidInput(`Invalid order_by attribute '${ob.key}'; use ${EXP_ORDER_ATTRS.join(', ')}`, {
        code: 'INVALID_SEARCH_FILTER',
      });
    if (ob.key === 'experiment_id') sawId = true;
    order.push(sql`e.${sql.raw(ob.key)} ${sql.raw(ob.asc ? 'asc' : 'desc')}`);
  }
  if (!sawId) order.push(sql`e.experiment_id asc`);
  return sql`select e.* from tracking_experiments e where ${sql.join(where, sql` and `)} order by ${sql.join(order)} limit ${q.limit} offset ${q.offset}`;
}

// ---------------------------------------------------------------------------------------------
// Page tokens: base64 of {"offset": n}, as MLflow's SearchUtils.create_page_token.

export function encodeOffsetToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64');
}

export function decodeOffsetToken(token: unknown): number {
  if (token === undefined || token === null || token === '') return 0;
  if (typeof token !== 'string')
    throw new InvalidInput('Invalid page token: it must be a string', { code: 'INVALID_PAGE_TOKEN' });
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw new InvalidInput(`Invalid page token, could not base64-decode or parse it: '${token.slice(0, 100)}'`, {
      code: 'INVALID_PAGE_TOKEN',
    });
  }
  const off = (parsed as { offset?: unknown })?.offset;
  if (typeof off !== 'number' || !Number.isSafeInteger(off) || off < 0)
    throw new InvalidInput(`Invalid page token, decoded value=${JSON.stringify(parsed)}`, {
      code: 'INVALID_PAGE_TOKEN',
    });
  return off;
}
