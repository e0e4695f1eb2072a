import { sql, type SqlBool } from 'kysely';
import { tuples } from '../../../store/tx.js';
import type { TrackingSql } from './types.js';
import { insertRunSteps } from './portable.js';

/**
 * Tracking's SQLite SQL. Statements are prepared once and cached, and a statement costs no round
 * trip, so one small statement per row is cheaper than one large statement for many rows.
 */
export const sqliteTracking: TrackingSql = {
  // SQLite's LIKE ignores ASCII case; GLOB does not, so LIKE patterns become GLOB patterns.
  like: (column, pattern) => sql<SqlBool>`${column} glob ${likeToGlob(pattern)}`,
  ilike: (column, pattern) => sql<SqlBool>`lower(${column}) like lower(${pattern})`,
  // The unary + keeps the planner off the column's index.
  unindexed: (column) => `+${column}`,
  // SQLite's CROSS JOIN keeps the left table the outer loop.
  orderedJoin: 'cross join',
  leadJoinOrder: true,
  // SQLite has one writer: a write transaction holds every run already.
  lockRun: async () => {},
  forUpdate: (query) => query,
  async insertRows(tx, head, width, rows, tail = '') {
    const text = `${head} values ${tuples(1, width)} ${tail}`;
    for (const r of rows) await tx.run(text, r);
  },
  async updateLatestMetrics(tx, rows) {
    for (const u of rows) {
      await tx.run(
        'update tracking_latest_metrics set step = ?, timestamp = ?, value = ?, is_nan = ?, min_step = ?, max_step = ?, steps = ?, step_segments = ? where series_id = ?',
        [u[3], u[4], u[5], u[6], u[9], u[10], u[11], u[12], u[0]],
      );
    }
  },
  async appendMetricLog(tx, runUuid, n, data, full, fold) {
    const [log] = await tx.rows<[number, number, number]>(
      'select count(*), coalesce(sum(n), 0), coalesce(max(seq), 0) from tracking_metric_log where run_uuid = ?',
      [runUuid],
    );
    const rows = Number(log?.[0] ?? 0);
    if (full(rows, Number(log?.[1] ?? 0))) await fold(rows > 0, data);
    else
      await tx.run('insert into tracking_metric_log (run_uuid, seq, n, data, points_through) values (?, ?, ?, ?, ?)', [
        runUuid,
        Number(log?.[2] ?? 0) + 1,
        n,
        data,
        Number(log?.[1] ?? 0) + n,
      ]);
  },
  // || makes text of blobs, byte for byte: cast back.
  blockAppend:
    'on conflict (series_id, seq) do update set n = b.n + excluded.n, min_step = min(b.min_step, excluded.min_step), max_step = max(b.max_step, excluded.max_step), data = cast(b.data || excluded.data as blob)',
  async insertRun(tx, r) {
    return insertRunSteps(tx, r);
  },
};

/** MLflow LIKE pattern → GLOB pattern (`%` → `*`, `_` → `?`, GLOB's own wildcards escaped). */
export function likeToGlob(pattern: string): string {
  let out = '';
  for (const ch of pattern) {
    if (ch === '%') out += '*';
    else if (ch === '_') out += '?';
    else if (ch === '*' || ch === '?' || ch === '[' || ch === ']') out += `[${ch}]`;
    else out += ch;
  }
  return out;
}
