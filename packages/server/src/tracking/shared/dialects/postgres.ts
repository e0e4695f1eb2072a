import { sql, type SqlBool } from 'kysely';
import { tuples, type Tx } from '../../../store/tx.js';
import type { TrackingSql } from './types.js';
import type { SeriesState } from '../../metrics/tables.js';
import type { RunRow } from '../../runs/tables.js';
import { insertRunSteps } from './portable.js';

/**
 * Tracking's PostgreSQL SQL. Every statement is a round trip, so rows go in one multi-row
 * statement (in chunks: at most 65,535 parameters each) and reads that decide a write ride along
 * with it where a CTE can say so.
 */
export const postgresTracking: TrackingSql = {
  like: (column, pattern) => sql<SqlBool>`${column} like ${pattern}`,
  ilike: (column, pattern) => sql<SqlBool>`${column} ilike ${pattern}`,
  unindexed: (column) => column,
  orderedJoin: 'join',
  leadJoinOrder: false,
  // The planner plans searches from table statistics, which a fast-growing table outruns
  // (autovacuum analyzes only every minute or so).
  refreshStatistics: 'analyze tracking_runs, tracking_latest_metrics, tracking_params, tracking_tags',
  // Writers of one run take turns (held until the transaction ends).
  async lockRun(tx, runId) {
    await tx.all('select pg_advisory_xact_lock(hashtext(?))', [runId]);
  },
  forUpdate: (query) => query.forUpdate(),
  async insertRows(tx, head, width, rows, tail = '') {
    const per = Math.max(1, Math.floor(500 / Math.max(1, width / 5)));
    // Every chunk sent at once (pipelined: one round trip).
    const sent: Promise<number>[] = [];
    for (let i = 0; i < rows.length; i += per) {
      const chunk = rows.slice(i, i + per);
      sent.push(tx.run(`${head} values ${tuples(chunk.length, width)} ${tail}`, chunk.flat()));
    }
    await Promise.all(sent);
  },
  // One update of them all, its values as arrays: the statement's text is the same however many
  // series it updates, so it is prepared once per connection (a VALUES list of 13 parameters a row
  // would be parsed and planned anew for each row count).
  async updateLatestMetrics(tx, rows) {
    if (rows.length === 0) return;
    const col = (i: number) => rows.map((r) => r[i]);
    await tx.run(UPDATE_LATEST, [col(0), col(3), col(4), col(5), col(6), col(9), col(10), col(11), col(12)]);
  },
  async appendMetricLog(tx, runUuid, n, data, full, fold) {
    // One round trip: append the row, learning what the log held before it (its last row says).
    const [log] = await tx.rows<[number, number]>(
      'with g as (select seq, points_through from tracking_metric_log where run_uuid = ? order by seq desc limit 1), s as (select coalesce((select seq from g), 0) as c, coalesce((select points_through from g), 0) as p) insert into tracking_metric_log (run_uuid, seq, n, data, points_through) select cast(? as varchar(32)), s.c + 1, cast(? as bigint), cast(? as bytea), s.p + cast(? as bigint) from s returning (select c from s), (select p from s)',
      [runUuid, runUuid, n, data, n],
    );
    if (full(Number(log?.[0] ?? 0), Number(log?.[1] ?? 0))) await fold(true);
  },
  blockAppend:
    'on conflict (series_id, seq) do update set n = b.n + excluded.n, min_step = least(b.min_step, excluded.min_step), max_step = greatest(b.max_step, excluded.max_step), data = b.data || excluded.data',
  // One statement (one round trip): CTEs read the experiment, insert the run if it is active, then
  // the tags if the run went in. A request with very many tags takes the three statements instead.
  async insertRun(tx, r) {
    if (r.tags.length > MAX_TAGS) return insertRunSteps(tx, r);
    const [hit] = await tx.all<{ lifecycle_stage: string; artifact_uri: string | null }>(insertRunText(r.tags.length), [
      r.workspaceId,
      r.experimentId,
      r.runId,
      r.name,
      r.user,
      r.start,
      ...r.tags.flatMap((t) => [t.key, t.value]),
    ]);
    if (!hit) return { missing: true };
    if (hit.artifact_uri === null) return { stage: hit.lifecycle_stage };
    return { uri: hit.artifact_uri };
  },
  // The whole batch in one statement: every value an array parameter, so its text is the same
  // however many runs and tags it carries (prepared once per connection).
  async insertRuns(tx, rs) {
    const tagRuns: string[] = [];
    const tagKeys: string[] = [];
    const tagValues: string[] = [];
    for (const r of rs)
      for (const t of r.tags) {
        tagRuns.push(r.runId);
        tagKeys.push(t.key);
        tagValues.push(t.value);
      }
    const rows = await tx.rows<[string | null, string | null]>(INSERT_RUNS, [
      rs.map((r) => r.workspaceId),
      rs.map((r) => r.experimentId),
      rs.map((r) => r.runId),
      rs.map((r) => r.name),
      rs.map((r) => r.user),
      rs.map((r) => r.start),
      tagRuns,
      tagKeys,
      tagValues,
    ]);
    return rows.map(([stage, uri]) => (stage === null ? { missing: true } : uri === null ? { stage } : { uri }));
  },
  // Array parameters throughout: one prepared text however many runs a batch holds.
  metricsMany: {
    lockRuns,
    async lockAndRead(tx, runIds, keys) {
      // Sent together (one round trip); the locks are taken in the ids' order, and the rows are
      // read by a statement of their own after them (a statement reads what committed before it
      // began: one taking the locks too would miss the write of the batch it waited for). The
      // runs and their series come in one statement: a run's row with each of its series (or
      // with none), its columns first, then the series' (LATEST_OF_RUNS).
      const [, rows] = await Promise.all([
        lockRuns(tx, runIds),
        tx.all<Record<string, unknown>>(LATEST_OF_RUNS, [keys, runIds]),
      ]);
      const runs = new Map<string, RunRow>();
      const latest: [string, SeriesState][] = [];
      const logs = new Map<string, { rows: number; points: number }>();
      for (const r of rows) {
        const id = r.run_uuid as string;
        if (r.m_series_id !== null) {
          const series: Record<string, unknown> = {};
          for (const k in r) if (k.startsWith('m_')) series[k.slice(2)] = r[k];
          latest.push([id, series as unknown as SeriesState]);
        }
        if (runs.has(id)) continue;
        if (r.g_rows !== null) logs.set(id, { rows: Number(r.g_rows), points: Number(r.g_points) });
        const run: Record<string, unknown> = {};
        for (const k in r) if (!k.startsWith('m_') && !k.startsWith('g_')) run[k] = r[k];
        runs.set(id, run as unknown as RunRow);
      }
      return { runs: [...runs.values()], latest, logs };
    },
    // The series' update rides in the log's statement (one statement and one protocol round for
    // both instead of two): a data-modifying CTE of another table.
    appendLogs(tx, logs, updates) {
      return tx.run(APPEND_LOGS, appendParams(logs, updates));
    },
    async appendLogsIf(tx, logs, updates, expected) {
      const was = (f: (c: SeriesState) => unknown) => expected.series.map(f);
      const [row] = await tx.rows<[boolean]>(APPEND_LOGS_IF, [
        ...appendParams(logs, updates),
        was((c) => c.step),
        was((c) => c.timestamp),
        was((c) => c.value),
        was((c) => c.is_nan),
        was((c) => c.min_step),
        was((c) => c.max_step),
        was((c) => c.steps),
        was((c) => c.step_segments),
        expected.workspaces,
        expected.logs.map((l) => l.rows),
        expected.logs.map((l) => l.points),
      ]);
      return row?.[0] === true;
    },
  },
};

/**
 * APPEND_LOGS' parameters 1–14. The logs' data go as ONE bytea parameter (sent as binary) that the
 * statement cuts at offsets: node-postgres sends a bytea[] as text, every byte as two hex digits it
 * writes and PostgreSQL parses back.
 */
function appendParams(logs: { runUuid: string; n: number; data: Buffer }[], updates: unknown[][]): unknown[] {
  const col = (i: number) => updates.map((r) => r[i]);
  const offsets: number[] = [];
  let at = 0;
  for (const l of logs) {
    offsets.push(at);
    at += l.data.length;
  }
  return [
    logs.length === 1 ? logs[0]!.data : Buffer.concat(logs.map((l) => l.data)),
    logs.map((l) => l.runUuid),
    logs.map((l) => l.n),
    offsets,
    logs.map((l) => l.data.length),
    col(0),
    col(3),
    col(4),
    col(5),
    col(6),
    col(9),
    col(10),
    col(11),
    col(12),
  ];
}

/** The latest-metric update of updateLatestMetrics, as a data-modifying CTE whose arrays start at parameter `at`. */
const updateLatestCte = (at: number) =>
  `update tracking_latest_metrics t set step = u.step, timestamp = u.ts, value = u.value, is_nan = u.is_nan, min_step = u.min_step, max_step = u.max_step, steps = u.steps, step_segments = u.segs from unnest(${[
    'bigint',
    'bigint',
    'bigint',
    'float8',
    'int',
    'bigint',
    'bigint',
    'bigint',
    'text',
  ]
    .map((t, i) => `$${at + i}::${t}[]`)
    .join(
      ', ',
    )}) as u(series_id, step, ts, value, is_nan, min_step, max_step, steps, segs) where t.series_id = u.series_id`;

/** Takes the runs' turns (as lockRun), in the order of `runIds`. */
function lockRuns(tx: Tx, runIds: string[]): Promise<unknown> {
  return tx.rows('select pg_advisory_xact_lock(hashtext(id)) from unnest(?::text[]) as id', [runIds]);
}

/** A log's last row (its number and the log's points so far), of the run `run` names. */
const lastLogRow = (run: string) =>
  `left join lateral (select l.seq, l.points_through from tracking_metric_log l where l.run_uuid = ${run} order by l.seq desc limit 1) g on true`;

/** CTE `s`: each run's new log row (parameters 1–5) after its last one; `where` may hold them all back. */
const logRows = (where = '') => `s as (
    select u.run, u.n, substring($1::bytea from u.off + 1 for u.len) as data, coalesce(g.seq, 0) as c, coalesce(g.points_through, 0) as p
    from unnest($2::text[], $3::bigint[], $4::int[], $5::int[]) as u(run, n, off, len)
    ${lastLogRow('u.run')} ${where}
  )`;
const LOG_INSERT =
  'insert into tracking_metric_log (run_uuid, seq, n, data, points_through) select run, c + 1, n, data, p + n from s';

/**
 * One log row per run (after the run's last), and the update of the runs' existing series
 * (parameters 6–14, updateLatestCte). $1 is every run's data end to end, $4 and $5 each run's
 * offset and length in it. A log's rows are numbered from 1 and its last row carries the points so
 * far (migration 0900), so that row alone (one index descent) says both, however many rows the log
 * holds.
 */
const APPEND_LOGS = `with m as (${updateLatestCte(6)}), ${logRows()} ${LOG_INSERT}`;

/**
 * APPEND_LOGS, written only if the rows are still as the writer last left them (metric-cache.ts):
 * each updated series as it was ($15–$22, in the order of $6), each run still in its workspace
 * ($23) and active, its log still ending at the row and point count it knew ($24, $25). Anything
 * else (another server's write, a deleted run) and nothing is written; the answer says whether it
 * was. Every part reads the statement's one snapshot, taken after the runs' locks.
 */
const APPEND_LOGS_IF = `with changed as (
    (select 1 from unnest($6::bigint[], $15::bigint[], $16::bigint[], $17::float8[], $18::int[], $19::bigint[], $20::bigint[], $21::bigint[], $22::text[])
        as o(series_id, step, ts, value, is_nan, min_step, max_step, steps, segs)
      left join tracking_latest_metrics t on t.series_id = o.series_id
      where t.series_id is null
        or (t.step, t.timestamp, t.value, t.is_nan, t.min_step, t.max_step, t.steps) is distinct from (o.step, o.ts, o.value, o.is_nan, o.min_step, o.max_step, o.steps)
        or t.step_segments is distinct from o.segs
    union all
    select 1 from unnest($2::text[], $23::text[], $24::bigint[], $25::bigint[]) as e(run, ws, c, p)
      left join tracking_runs r on r.run_uuid = e.run
      ${lastLogRow('e.run')}
      where r.run_uuid is null or r.workspace_id <> e.ws or r.lifecycle_stage <> 'active'
        or coalesce(g.seq, 0) <> e.c or coalesce(g.points_through, 0) <> e.p)
    limit 1
  ), m as (${updateLatestCte(6)} and not exists (select 1 from changed)),
  ${logRows('where not exists (select 1 from changed)')},
  a as (${LOG_INSERT})
  select not exists (select 1 from changed)`;

const UPDATE_LATEST = updateLatestCte(1);

/**
 * lockAndRead's read: each run's row with each of its series of the keys asked (both columns of
 * the (run_uuid, key) index: an index lookup per run), the series' columns prefixed `m_`, and
 * what the run's log holds (its last row says: g_rows, g_points; null without a log).
 */
const LATEST_OF_RUNS = `select r.*, m.series_id as m_series_id, m.key as m_key, m.step as m_step, m.timestamp as m_timestamp,
    m.value as m_value, m.is_nan as m_is_nan, m.min_step as m_min_step, m.max_step as m_max_step, m.steps as m_steps,
    m.step_segments as m_step_segments, g.seq as g_rows, g.points_through as g_points
  from tracking_runs r left join lateral (select * from tracking_latest_metrics l where l.run_uuid = r.run_uuid and l.key = any(?::text[])) m on true
  ${lastLogRow('r.run_uuid')}
  where r.run_uuid = any(?::text[])`;

/** insertRuns' statement: one row per run, in order (its experiment's stage, the run's artifact URI if it went in). */
const INSERT_RUNS = `with i as (
    select * from unnest(?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::bigint[]) with ordinality as i(ws, exp, run, name, usr, st, ord)
  ), e as (
    select i.ord, x.artifact_location, x.lifecycle_stage from i join tracking_experiments x on x.workspace_id = i.ws and x.experiment_id = i.exp
  ), r as (
    insert into tracking_runs (run_uuid, workspace_id, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time)
    select i.run, i.ws, i.exp, i.name, i.usr, 'RUNNING', i.st, null, 'active', rtrim(e.artifact_location, '/') || '/' || i.run || '/artifacts', null
    from i join e on e.ord = i.ord where e.lifecycle_stage = 'active'
    returning run_uuid, artifact_uri
  ), t as (
    insert into tracking_tags (run_uuid, key, value, workspace_id, experiment_id)
    select v.run, v.key, v.value, i.ws, i.exp from unnest(?::text[], ?::text[], ?::text[]) as v(run, key, value) join i on i.run = v.run
    where exists (select 1 from r where r.run_uuid = v.run)
  )
  select e.lifecycle_stage, r.artifact_uri from i left join e on e.ord = i.ord left join r on r.run_uuid = i.run order by i.ord`;

/** Tags one statement takes (2 parameters each, of at most 65,535). */
const MAX_TAGS = 1000;
const insertRunTexts = new Map<number, string>();
/** ? workspace, experiment, run id, name, user, start time, then key/value pairs (numbered $n: repeated). */
function insertRunText(tagCount: number): string {
  let text = insertRunTexts.get(tagCount);
  if (text === undefined) {
    const values = Array.from({ length: tagCount }, (_, i) => `($${7 + 2 * i}::text, $${8 + 2 * i}::text)`).join(', ');
    text = `with e as (
        select artifact_location, lifecycle_stage from tracking_experiments where workspace_id = $1::text and experiment_id = $2::bigint
      ), r as (
        insert into tracking_runs (run_uuid, workspace_id, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time)
        select $3::text, $1::text, $2::bigint, $4::text, $5::text, 'RUNNING', $6::bigint, null, 'active', rtrim(e.artifact_location, '/') || '/' || $3::text || '/artifacts', null
        from e where e.lifecycle_stage = 'active'
        returning artifact_uri
      ), t as (
        insert into tracking_tags (run_uuid, key, value, workspace_id, experiment_id)
        select $3::text, v.key, v.value, $1::text, $2::bigint from (values ${values}) as v(key, value) where exists (select 1 from r)
      )
      select e.lifecycle_stage, r.artifact_uri from e left join r on true`;
    if (insertRunTexts.size < 200) insertRunTexts.set(tagCount, text);
  }
  return text;
}
