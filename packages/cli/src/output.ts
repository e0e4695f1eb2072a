import Table from 'cli-table3';

export type OutputFormat = 'json' | 'table';

export function parseFormat(v: string): OutputFormat {
  const f = v.toLowerCase();
  if (f !== 'json' && f !== 'table') throw new UsageError(`--output must be json or table, got '${v}'`);
  return f;
}

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') {
    if (!Array.isArray(v) && Object.values(v as object).every((x) => typeof x !== 'object')) {
      return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${String(x)}`).join(', ');
    }
    return JSON.stringify(v);
  }
  return String(v);
}

/**
 * Prints a result: JSON (2-space, the default, for scripts) or a table. Lists print one row per
 * item with `columns`; a single object prints as key/value rows.
 */
export function print(data: unknown, format: OutputFormat, columns?: string[]): void {
  if (data === undefined) return;
  if (format === 'json') {
    process.stdout.write(JSON.stringify(data, null, 2) + '\n');
    return;
  }
  if (Array.isArray(data)) {
    const cols = columns ?? [...new Set(data.flatMap((r) => (r && typeof r === 'object' ? Object.keys(r) : [])))];
    const t = new Table({ head: cols, style: { head: [], border: [] } });
    for (const row of data) t.push(cols.map((c) => cell((row as Record<string, unknown>)[c])));
    process.stdout.write((data.length ? t.toString() : '(none)') + '\n');
    return;
  }
  if (data && typeof data === 'object') {
    const t = new Table({ style: { head: [], border: [] } });
    for (const [k, v] of Object.entries(data as Record<string, unknown>)) t.push({ [k]: cell(v) });
    process.stdout.write(t.toString() + '\n');
    return;
  }
  process.stdout.write(String(data) + '\n');
}
