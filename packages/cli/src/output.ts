import Table from 'cli-table3';
import { stringify as toYaml } from 'yaml';
import { compile, search, type JSONValue } from '@jmespath-community/jmespath';

export const OUTPUT_FORMATS = ['json', 'yaml', 'table', 'tsv', 'none'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseFormat(v: string): OutputFormat {
  const f = v.toLowerCase();
  if (!(OUTPUT_FORMATS as readonly string[]).includes(f))
    throw new UsageError(`--output must be one of ${OUTPUT_FORMATS.join(', ')}, got '${v}'`);
  return f as OutputFormat;
}

/** Checks a --query expression before anything is sent, so a typo changes nothing. */
export function parseQuery(q: string | undefined): string | undefined {
  if (q === undefined) return undefined;
  try {
    compile(q);
  } catch (e) {
    throw new UsageError(`--query '${q}' is not a JMESPath expression: ${(e as Error).message}`);
  }
  return q;
}

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {}

/** How a command prints: the global --output and --query. */
export interface PrintOptions {
  output: OutputFormat;
  query?: string;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') {
    if (!Array.isArray(v) && Object.values(v as object).every((x) => typeof x !== 'object')) {
      return Object.entries(v as Record<string, unknown>)
        .map(([k, x]) => `${k}=${String(x)}`)
        .join(', ');
    }
    return JSON.stringify(v);
  }
  return String(v);
}

/** One TSV field: scalars as they are, objects as compact JSON; tabs and newlines become spaces. */
function tsvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s.replace(/[\t\r\n]+/g, ' ');
}

function tsvRow(v: unknown): string {
  if (v && typeof v === 'object' && !Array.isArray(v))
    return Object.values(v as Record<string, unknown>)
      .map(tsvField)
      .join('\t');
  if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) return v.map(tsvField).join('\t');
  return tsvField(v);
}

function table(data: unknown, columns: string[] | undefined): string {
  if (Array.isArray(data)) {
    if (!data.length) return '(none)';
    if (data.every((r) => r === null || typeof r !== 'object' || Array.isArray(r))) {
      const t = new Table({ head: ['value'], style: { head: [], border: [] } });
      for (const r of data) t.push([cell(r)]);
      return t.toString();
    }
    const cols = columns ?? [...new Set(data.flatMap((r) => (r && typeof r === 'object' ? Object.keys(r) : [])))];
    const t = new Table({ head: cols, style: { head: [], border: [] } });
    for (const row of data) t.push(cols.map((c) => cell((row as Record<string, unknown>)?.[c])));
    return t.toString();
  }
  if (data && typeof data === 'object') {
    const t = new Table({ style: { head: [], border: [] } });
    for (const [k, v] of Object.entries(data as Record<string, unknown>)) t.push({ [k]: cell(v) });
    return t.toString();
  }
  return cell(data);
}

/**
 * Prints a result as --output says, after --query (JMESPath) picked from it:
 * json (2-space, the default, for scripts), yaml, table (lists one row per item with `columns`;
 * a single object as key/value rows), tsv (one line per item, values only, for `read` and `cut`),
 * or none.
 */
export function print(data: unknown, opts: PrintOptions, columns?: string[]): void {
  if (data === undefined) return;
  let value = data;
  if (opts.query !== undefined) {
    value = search(JSON.parse(JSON.stringify(data)) as JSONValue, opts.query);
    columns = undefined;
  }
  const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  switch (opts.output) {
    case 'none':
      return;
    case 'json':
      return out(JSON.stringify(value, null, 2) ?? 'null');
    case 'yaml':
      return out(toYaml(value ?? null));
    case 'tsv':
      if (value === null || value === undefined) return;
      if (Array.isArray(value)) {
        for (const r of value) out(tsvRow(r));
        return;
      }
      return out(tsvRow(value));
    case 'table':
      return out(table(value, columns));
  }
}
