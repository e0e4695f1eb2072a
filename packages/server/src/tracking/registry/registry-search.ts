import { sql, type Expression, type RawBuilder, type SqlBool } from 'kysely';
import { InvalidInput } from '../../errors.js';
import type { DialectName } from '../../store/database.js';
import { MAX_FILTER_CLAUSES } from '../shared/search.js';
import { trackingSql } from '../shared/dialects/index.js';

/**
 * The filter grammar of MLflow's registry searches (`search_registered_models`,
 * `search_model_versions`): conditions `<key> <comparator> <value>` joined by AND, where a key is
 * an attribute (`name`, `attributes.name`, …) or a tag (`tags.<key>`, with the key in backticks or
 * double quotes when it has spaces or dots), values are quoted strings, numbers, or for IN a
 * parenthesised list of strings.
 */
export interface FilterClause {
  type: 'attribute' | 'tag';
  key: string;
  comparator: string;
  value: string | number | string[];
}

const bad = (message: string): InvalidInput => new InvalidInput(message, { code: 'INVALID_SEARCH_FILTER' });

interface Token {
  kind: 'word' | 'string' | 'quoted-ident' | 'op' | 'punct';
  text: string;
}

function tokenize(input: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      let text = '';
      while (j < input.length && input[j] !== c) {
        if (input[j] === '\\' && j + 1 < input.length) {
          text += input[j + 1];
          j += 2;
          continue;
        }
        text += input[j];
        j++;
      }
      if (j >= input.length) throw bad(`Invalid filter '${input}': unterminated quote starting at position ${i + 1}`);
      // Backticks always quote a key; double quotes may quote a key (after 'tags.') or a value.
      out.push({ kind: c === '`' ? 'quoted-ident' : 'string', text });
      i = j + 1;
      continue;
    }
    const two = input.slice(i, i + 2);
    if (two === '!=' || two === '>=' || two === '<=' || two === '<>') {
      out.push({ kind: 'op', text: two === '<>' ? '!=' : two });
      i += 2;
      continue;
    }
    if (c === '=' || c === '<' || c === '>') {
      out.push({ kind: 'op', text: c });
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      out.push({ kind: 'punct', text: c });
      i++;
      continue;
    }
    const m = /^[\w.:\-+/]+/.exec(input.slice(i));
    if (!m) throw bad(`Invalid filter '${input}': unexpected character '${c}' at position ${i + 1}`);
    out.push({ kind: 'word', text: m[0] });
    i += m[0].length;
  }
  return out;
}

const ATTRIBUTE_PREFIXES = ['attribute.', 'attributes.', 'attr.'];
const TAG_PREFIXES = ['tag.', 'tags.'];

/** Parses a filter string; `undefined`/blank = no conditions. */
export function parseFilter(filter: string | undefined): FilterClause[] {
  if (filter === undefined || filter.trim() === '') return [];
  const tokens = tokenize(filter);
  const clauses: FilterClause[] = [];
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const next = (what: string): Token => {
    const t = tokens[i++];
    if (!t) throw bad(`Invalid filter '${filter}': expected ${what} at the end`);
    return t;
  };
  for (;;) {
    // key
    const k = next('a key');
    let type: FilterClause['type'] = 'attribute';
    let key: string;
    if (k.kind === 'word') {
      const lower = k.text.toLowerCase();
      const tagPrefix = TAG_PREFIXES.find((p) => lower.startsWith(p));
      const attrPrefix = ATTRIBUTE_PREFIXES.find((p) => lower.startsWith(p));
      if (tagPrefix) {
        type = 'tag';
        key = k.text.slice(tagPrefix.length);
        if (key === '') {
          const q = next('a tag key');
          if (q.kind !== 'quoted-ident' && q.kind !== 'string')
            throw bad(`Invalid filter '${filter}': expected a tag key after '${k.text}'`);
          key = q.text;
        }
      } else if (attrPrefix) {
        key = k.text.slice(attrPrefix.length);
        if (key === '') {
          const q = next('an attribute name');
          key = q.text;
        }
      } else {
        key = k.text;
      }
    } else if (k.kind === 'quoted-ident') {
      key = k.text;
    } else {
      throw bad(`Invalid filter '${filter}': expected a key such as name or tags.<key>, got '${k.text}'`);
    }
    // comparator
    const c = next('a comparator');
    let comparator: string;
    if (c.kind === 'op') comparator = c.text;
    else if (c.kind === 'word' && /^(like|ilike|in)$/i.test(c.text)) comparator = c.text.toUpperCase();
    else if (c.kind === 'word' && /^not$/i.test(c.text)) {
      const n = next("'IN' after 'NOT'");
      if (!/^in$/i.test(n.text)) throw bad(`Invalid filter '${filter}': 'NOT' must be followed by 'IN'`);
      comparator = 'NOT IN';
    } else
      throw bad(
        `Invalid filter '${filter}': '${c.text}' is not a comparator (use =, !=, <, <=, >, >=, LIKE, ILIKE, IN or NOT IN)`,
      );
    // value
    let value: FilterClause['value'];
    if (comparator === 'IN' || comparator === 'NOT IN') {
      const open = next("'('");
      if (open.text !== '(')
        throw bad(`Invalid filter '${filter}': ${comparator} needs a parenthesised list of quoted strings`);
      const list: string[] = [];
      for (;;) {
        const v = next('a quoted string');
        if (v.kind !== 'string')
          throw bad(`Invalid filter '${filter}': ${comparator} lists quoted strings, got '${v.text}'`);
        list.push(v.text);
        const sep = next("',' or ')'");
        if (sep.text === ')') break;
        if (sep.text !== ',') throw bad(`Invalid filter '${filter}': expected ',' or ')' in the ${comparator} list`);
      }
      value = list;
    } else {
      const v = next('a value');
      if (v.kind === 'string') value = v.text;
      else if (v.kind === 'word' && /^-?\d+(\.\d+)?$/.test(v.text)) value = Number(v.text);
      else throw bad(`Invalid filter '${filter}': the value '${v.text}' must be a quoted string or a number`);
    }
    clauses.push({ type, key, comparator, value });
    if (clauses.length > MAX_FILTER_CLAUSES)
      throw bad(
        `Invalid filter '${filter.slice(0, 100)}…': a filter may join at most ${MAX_FILTER_CLAUSES} conditions with AND`,
      );
    const t = peek();
    if (!t) break;
    if (t.kind === 'word' && /^and$/i.test(t.text)) {
      i++;
      continue;
    }
    throw bad(`Invalid filter '${filter}': expected AND between conditions, got '${t.text}' (OR is not supported)`);
  }
  return clauses;
}

/** `column <comparator> value` for strings, case-sensitive LIKE on both dialects. */
export function stringComparison(
  column: Expression<unknown> | RawBuilder<unknown>,
  comparator: string,
  value: string | number | string[],
  dialect: DialectName,
): RawBuilder<SqlBool> {
  switch (comparator) {
    case '=':
      return sql<SqlBool>`${column} = ${String(value)}`;
    case '!=':
      return sql<SqlBool>`${column} <> ${String(value)}`;
    case 'LIKE':
      return trackingSql(dialect).like(column, String(value));
    case 'ILIKE':
      return trackingSql(dialect).ilike(column, String(value));
    case 'IN':
    case 'NOT IN': {
      const list = value as string[];
      const items = sql.join(list.map((v) => sql`${v}`));
      return comparator === 'IN' ? sql<SqlBool>`${column} IN (${items})` : sql<SqlBool>`${column} NOT IN (${items})`;
    }
    default:
      throw bad(`Invalid comparator '${comparator}' for a string`);
  }
}

/** `column <comparator> n` for whole numbers. */
export function numericComparison(
  column: Expression<unknown> | RawBuilder<unknown>,
  comparator: string,
  value: number,
): RawBuilder<SqlBool> {
  const ops: Record<string, string> = { '=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };
  const op = ops[comparator];
  if (!op) throw bad(`Invalid comparator '${comparator}' for a number (use =, !=, <, <=, > or >=)`);
  return sql<SqlBool>`${column} ${sql.raw(op)} ${value}`;
}

/** Parses `"<key> [ASC|DESC]"`. */
export function parseOrderBy(clause: string, valid: readonly string[]): { key: string; ascending: boolean } {
  const m = /^\s*(?:attributes?\.)?([\w.]+)\s*(asc|desc)?\s*$/i.exec(String(clause));
  if (!m || !valid.includes(m[1]!.toLowerCase())) {
    throw bad(
      `Invalid order_by clause '${clause}'. Valid keys are ${valid.map((v) => `'${v}'`).join(', ')}, optionally followed by ASC or DESC`,
    );
  }
  return { key: m[1]!.toLowerCase(), ascending: (m[2] ?? 'asc').toLowerCase() === 'asc' };
}

/** MLflow's page tokens: base64 of `{"offset": n}`. */
export function parsePageToken(token: string | undefined): number {
  if (!token) return 0;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw bad(
      'Invalid page token, could not base64-decode and parse it; pass the next_page_token of the previous answer',
    );
  }
  const offset = (parsed as { offset?: unknown })?.offset;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0)
    throw bad('Invalid page token: it has no valid offset');
  return offset;
}

export const pageToken = (offset: number): string => Buffer.from(JSON.stringify({ offset })).toString('base64');
