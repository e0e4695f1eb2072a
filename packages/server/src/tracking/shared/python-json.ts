/**
 * Python's json.dumps: `separators` (`', '`/`': '` is its default, `','`/`':'` compact), non-ASCII
 * written as \uXXXX (ensure_ascii), keys optionally sorted. Used where MLflow stores or shows JSON.
 */
export function pythonJson(v: unknown, itemSep = ', ', keySep = ': ', sortKeys = false): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number')
    return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (typeof v === 'string')
    return JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (Array.isArray(v)) return `[${v.map((x) => pythonJson(x, itemSep, keySep, sortKeys)).join(itemSep)}]`;
  const keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
  if (sortKeys) keys.sort();
  return `{${keys.map((k) => `${pythonJson(k)}${keySep}${pythonJson((v as Record<string, unknown>)[k], itemSep, keySep, sortKeys)}`).join(itemSep)}}`;
}
