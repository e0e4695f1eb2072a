import type { RunRow } from '../runs/tables.js';
import type { MetricIn } from '../runs/types.js';
import { tuples, type Tx } from '../../store/tx.js';
import { STATS_COLUMNS, blockFloats, encodeLog, sortSeriesPoints, statsOf, statsRow } from './metric-blocks.js';
import { trackingSql } from '../shared/dialects/index.js';
import type { CachedRun, MetricWriteCache } from './metric-cache.js';
import type { SeriesState } from './tables.js';
import type { MetricsManySql } from '../shared/dialects/types.js';

/**
 * How points are written (see metric-blocks.ts for the layout): each request appends ONE row to
 * its run's log (tracking_metric_log), so a request touches a few neighbouring pages however many
 * keys it logs; once the log holds LOG_MAX_ROWS rows or LOG_MAX_POINTS points, the next request
 * folds it into per-series blocks (tracking_metric_blocks) of up to BLOCK_POINTS points, which
 * readers find by series. A series' last block takes more points while it holds fewer than
 * APPEND_BELOW, so one-at-a-time logging still makes full-size blocks.
 */
export const LOG_MAX_ROWS = 32;
export const LOG_MAX_POINTS = 16384;
/** 128 points are 3 KB: a block fits in one SQLite page, so reading a sampled step reads one page. */
export const BLOCK_POINTS = 128;
export const APPEND_BELOW = 64;

/** Whether a run's log holding `rows` rows and `points` points would pass its limits with `n` more points: then it is folded instead. */
function logFull(rows: number, points: number, n: number): boolean {
  return rows + 1 > LOG_MAX_ROWS || points + n > LOG_MAX_POINTS;
}

/** A series' row of tracking_latest_metrics, as a write reads it. */
export type Current = SeriesState;

/** Most step ranges a series' summary lists (more: its steps are read when needed). */
export const MAX_STEP_SEGMENTS = 32;

/**
 * A series' distinct steps as its summary knows them: sorted disjoint ranges, or undefined when
 * they are not kept (too many gaps).
 */
export function stepSegments(r: {
  min_step: number;
  max_step: number;
  steps: number;
  step_segments: string | null;
}): [number, number][] | undefined {
  const a = Number(r.min_step);
  const b = Number(r.max_step);
  if (Number(r.steps) === b - a + 1) return [[a, b]];
  if (r.step_segments) return JSON.parse(r.step_segments) as [number, number][];
  return undefined;
}

/**
 * A series already listing several step ranges (step_segments) gets ranges that all lie beyond its
 * last one with a gap (each worker of a run logging every few steps): the stored list stays as
 * written and the new ranges are added at its end, without parsing and writing it again (a
 * 1,000-point log-batch has 100 such series). Undefined for any other case (`stepSegments` and
 * `mergeSegments` then decide). `segs`: the request's sorted, disjoint ranges.
 */
function appendedAfterGap(
  cur: Current,
  segs: [number, number][],
): { steps: number; segments: string | null } | undefined {
  const text = cur.step_segments;
  const min = Number(cur.min_step);
  const max = Number(cur.max_step);
  const steps = Number(cur.steps);
  if (!text || steps === 0 || steps === max - min + 1 || segs[0]![0] <= max + 1) return undefined;
  // `[[a,b],[c,d]]`: one '[' per range and one around them.
  let count = segs.length - 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 91) count++;
  if (count > MAX_STEP_SEGMENTS) return { steps: 0, segments: null };
  let added = 0;
  let more = '';
  for (const [a, b] of segs) {
    added += b - a + 1;
    more += `,[${a},${b}]`;
  }
  return { steps: steps + added, segments: `${text.slice(0, -1)}${more}]` };
}

/** The order MLflow's latest_metrics keeps: step, then timestamp, then value (NaN lowest). */
function later(s1: number, t1: number, v1: number, s2: number, t2: number, v2: number): boolean {
  if (s1 !== s2) return s1 > s2;
  if (t1 !== t2) return t1 > t2;
  return (Number.isNaN(v1) ? -Infinity : v1) > (Number.isNaN(v2) ? -Infinity : v2);
}

const LATEST_COLS =
  'run_uuid, key, step, timestamp, value, is_nan, workspace_id, experiment_id, min_step, max_step, steps, step_segments';

/** Marks a statement sent ahead of its use as handled (its caller awaits it later, or never on an earlier failure). */
function ahead<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/**
 * The latest value and step summary of each of `metrics`' keys in a run: sent at once (it needs no
 * answer of an earlier statement), so on PostgreSQL it rides in the same round trip as the run's lock
 * and row (the statements of one transaction run in the order sent, so it reads after the lock).
 */
export function readLatestMetrics(tx: Tx, runUuid: string, metrics: MetricIn[]): Promise<Map<string, Current>> {
  const keys = [...new Set(metrics.map((m) => m.key))];
  const reads: Promise<[number, string, number, number, number, number, number, number, number, string | null][]>[] =
    [];
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    reads.push(
      tx.rows(
        `select series_id, key, step, timestamp, value, is_nan, min_step, max_step, steps, step_segments from tracking_latest_metrics where run_uuid = ? and key in (${chunk.map(() => '?').join(',')})`,
        [runUuid, ...chunk],
      ),
    );
  }
  return ahead(
    Promise.all(reads).then((all) => {
      const current = new Map<string, Current>();
      for (const rows of all)
        for (const r of rows)
          current.set(r[1], {
            series_id: r[0],
            key: r[1],
            step: r[2],
            timestamp: r[3],
            value: r[4],
            is_nan: r[5],
            min_step: r[6],
            max_step: r[7],
            steps: r[8],
            step_segments: r[9],
          });
      return current;
    }),
  );
}

/** A run's latest-metric rows after `metrics`: new series to insert, existing ones to update (series_id first). */
export function planLatest(
  run: RunRow,
  metrics: MetricIn[],
  current: Map<string, Current>,
): { fresh: { key: string; row: unknown[] }[]; updates: unknown[][] } {
  const byKey = new Map<string, MetricIn[]>();
  for (const m of metrics) {
    const l = byKey.get(m.key);
    if (l) l.push(m);
    else byKey.set(m.key, [m]);
  }
  const fresh: { key: string; row: unknown[] }[] = [];
  const updates: unknown[][] = [];
  for (const [key, list] of byKey) {
    const cur = current.get(key);
    // The request's distinct steps as sorted ranges (steps usually come in order).
    const steps = new Array<number>(list.length);
    let inOrder = true;
    for (let i = 0; i < list.length; i++) {
      steps[i] = list[i]!.step;
      if (i > 0 && steps[i]! < steps[i - 1]!) inOrder = false;
    }
    if (!inOrder) steps.sort((a, b) => a - b);
    const segs: [number, number][] = [];
    for (const st of steps) {
      const last = segs[segs.length - 1];
      if (last && st <= last[1] + 1) last[1] = st;
      else segs.push([st, st]);
    }
    // MLflow's latest value: the greatest by (step, timestamp, value), NaN lowest.
    let best = list[0]!;
    for (const m of list) if (later(m.step, m.timestamp, m.value, best.step, best.timestamp, best.value)) best = m;
    let latest = { step: best.step, timestamp: best.timestamp, value: best.value };
    let minStep = steps[0]!;
    let maxStep = steps[steps.length - 1]!;
    let known: [number, number][] | undefined = segs;
    /** Set when the stored ranges are kept as written and the request's follow them (no parse). */
    let appended: { steps: number; segments: string | null } | undefined;
    if (cur) {
      const cs = Number(cur.step);
      const ct = Number(cur.timestamp);
      const cv = Number(cur.is_nan) ? NaN : Number(cur.value);
      if (!later(best.step, best.timestamp, best.value, cs, ct, cv)) latest = { step: cs, timestamp: ct, value: cv };
      minStep = Math.min(minStep, Number(cur.min_step));
      maxStep = Math.max(maxStep, Number(cur.max_step));
      appended = appendedAfterGap(cur, segs);
      if (!appended) {
        const had = stepSegments(cur);
        // (The usual case: one range, extended or overlapped by one range.)
        if (
          had &&
          had.length === 1 &&
          segs.length === 1 &&
          segs[0]![0] <= had[0]![1] + 1 &&
          segs[0]![1] >= had[0]![0] - 1
        )
          known = [[minStep, maxStep]];
        else known = had && mergeSorted(had, segs);
      }
    }
    if (known && known.length > MAX_STEP_SEGMENTS) known = undefined;
    let stepCount = 0;
    for (const [a, b] of known ?? []) stepCount += b - a + 1;
    let segments = known && known.length > 1 ? JSON.stringify(known) : null;
    if (appended) ({ steps: stepCount, segments } = appended);
    const isNan = Number.isNaN(latest.value) ? 1 : 0;
    const row = [
      run.run_uuid,
      key,
      latest.step,
      latest.timestamp,
      isNan ? 0 : latest.value,
      isNan,
      run.workspace_id,
      run.experiment_id,
      minStep,
      maxStep,
      stepCount,
      segments,
    ];
    if (cur) updates.push([Number(cur.series_id), ...row]);
    else fresh.push({ key, row });
  }

  return { fresh, updates };
}

/**
 * Appends metric points and keeps each key's latest value and step summary, without reading
 * points: the distinct steps are kept as ranges (steps = their number; steps = max - min + 1
 * means one range, else step_segments lists them) while there are at most MAX_STEP_SEGMENTS,
 * else steps = 0 and readers read the series' steps. The caller holds the run (TrackingSql.lockRun);
 * `latest` is readLatestMetrics' answer for these metrics, when the caller sent it ahead.
 *
 * Statements that do not wait for each other's answers are sent together (PostgreSQL pipelines
 * them: one round trip): the new series' rows, the existing series' update and, when no series is
 * new, the log row.
 */
export async function writeMetrics(
  tx: Tx,
  run: RunRow,
  metrics: MetricIn[],
  latest?: Promise<Map<string, Current>>,
): Promise<void> {
  const current = await (latest ?? readLatestMetrics(tx, run.run_uuid, metrics));
  const { fresh, updates } = planLatest(run, metrics, current);

  const seriesOf = new Map<string, number>();
  for (const [key, c] of current) seriesOf.set(key, Number(c.series_id));
  const made: Promise<{ series_id: number; key: string }[]>[] = [];
  for (let i = 0; i < fresh.length; i += 500) {
    const chunk = fresh.slice(i, i + 500);
    made.push(
      ahead(
        tx.all<{ series_id: number; key: string }>(
          `insert into tracking_latest_metrics (${LATEST_COLS}) values ${tuples(chunk.length, 12)} returning series_id, key`,
          chunk.flatMap((f) => f.row),
        ),
      ),
    );
  }
  // Existing series (SQLite: one prepared update each; PostgreSQL: one upsert on their ids).
  const queries = trackingSql(tx.dialect);
  const updated = ahead(queries.updateLatestMetrics(tx, updates, LATEST_COLS));
  for (const rows of await Promise.all(made)) for (const m of rows) seriesOf.set(m.key, Number(m.series_id));

  const data = encodeLog(metrics, (m) => seriesOf.get(m.key)!);
  const full = (rows: number, points: number) => logFull(rows, points, metrics.length);
  const appended = ahead(
    queries.appendMetricLog(tx, run.run_uuid, metrics.length, data, full, (hasLog, extra) =>
      foldLog(tx, run.run_uuid, hasLog, extra),
    ),
  );
  await Promise.all([updated, appended]);
}

/** One request's points into one run (log-metric, a small log-batch). */
export interface MetricWrite {
  ws: string;
  runId: string;
  metrics: MetricIn[];
}

/**
 * Many requests' points at once, where statements are costly (TrackingSql.metricsMany): the runs
 * are locked and read, their series' latest values read, the new series inserted, the others
 * updated and one log row appended per run, each a statement for the whole batch instead of one
 * per request. A run's requests go together in arrival order (as one request of all their points:
 * the same latest values and step ranges as one after the other). `refuse` says why a request may
 * not write into its run (not found, not active); such a request writes nothing and gets that
 * error (in its place in the answer), the others go on.
 */
export async function writeMetricsMany(
  tx: Tx,
  many: MetricsManySql,
  items: MetricWrite[],
  refuse: (run: RunRow | undefined, item: MetricWrite) => Error | undefined,
  cache?: MetricWriteCache,
): Promise<(Error | undefined)[]> {
  if (cache && tx.settleAtCommit && writeKnown(tx, many, items, cache)) return items.map(() => undefined);
  const runIds = [...new Set(items.map((i) => i.runId))].sort();
  const keys = [...new Set(items.flatMap((i) => i.metrics.map((m) => m.key)))];
  const read = await many.lockAndRead(tx, runIds, keys);
  const rows = new Map(read.runs.map((r) => [r.run_uuid, r]));
  const out = items.map((i) => refuse(rows.get(i.runId), i));
  if (cache) items.forEach((it, i) => out[i] && cache.forget(it.runId));
  const perRun = new Map<string, { run: RunRow; metrics: MetricIn[] }>();
  items.forEach((it, i) => {
    if (out[i]) return;
    const w = perRun.get(it.runId);
    if (w) w.metrics.push(...it.metrics);
    else perRun.set(it.runId, { run: rows.get(it.runId)!, metrics: [...it.metrics] });
  });
  const currentOf = new Map<string, Map<string, Current>>();
  for (const [runId, series] of read.latest) {
    let m = currentOf.get(runId);
    if (!m) currentOf.set(runId, (m = new Map()));
    m.set(series.key, series);
  }
  if (perRun.size === 0) return out;

  const fresh: unknown[][] = [];
  const updates: unknown[][] = [];
  const seriesOf = new Map<string, Map<string, number>>();
  const planned = new Map<string, ReturnType<typeof planLatest>>();
  for (const [runId, w] of perRun) {
    // (Pairs of another run's keys that came back are not asked for: only this run's keys are looked up.)
    const current = currentOf.get(runId) ?? new Map<string, Current>();
    const plan = planLatest(w.run, w.metrics, current);
    planned.set(runId, plan);
    for (const f of plan.fresh) fresh.push(f.row);
    updates.push(...plan.updates);
    const ids = new Map<string, number>();
    for (const [key, c] of current) ids.set(key, Number(c.series_id));
    seriesOf.set(runId, ids);
  }
  const made: Promise<{ series_id: number; run_uuid: string; key: string }[]>[] = [];
  for (let i = 0; i < fresh.length; i += 500) {
    const chunk = fresh.slice(i, i + 500);
    made.push(
      ahead(
        tx.all(
          `insert into tracking_latest_metrics (${LATEST_COLS}) values ${tuples(chunk.length, 12)} returning series_id, run_uuid, key`,
          chunk.flat(),
        ),
      ),
    );
  }
  for (const rows of await Promise.all(made))
    for (const m of rows) seriesOf.get(m.run_uuid)!.set(m.key, Number(m.series_id));

  const logs = [...perRun].map(([runId, w]) => {
    const ids = seriesOf.get(runId)!;
    return { runUuid: runId, n: w.metrics.length, data: encodeLog(w.metrics, (m) => ids.get(m.key)!) };
  });
  // A log that this write would fill is folded into blocks with the write's points instead of
  // taking them (as appendMetricLog does); the others take one row each. The existing series'
  // update goes in the logs' statement.
  const folds: (typeof logs)[number][] = [];
  const appends: typeof logs = [];
  for (const l of logs) {
    const b = read.logs.get(l.runUuid) ?? { rows: 0, points: 0 };
    const fold = logFull(b.rows, b.points, l.n);
    (fold ? folds : appends).push(l);
    if (cache)
      remember(cache, perRun.get(l.runUuid)!.run, planned.get(l.runUuid)!, seriesOf.get(l.runUuid)!, {
        rows: fold ? 0 : b.rows + 1,
        points: fold ? 0 : b.points + l.n,
      });
  }
  const sent = many.appendLogs(tx, appends, updates);
  // Nothing else to send: the statement's answer is not needed, so the COMMIT may follow it at
  // once where the transaction allows (one round trip fewer).
  if (folds.length === 0 && tx.settleAtCommit) {
    tx.settleAtCommit(sent);
    return out;
  }
  // Runs' folds touch rows of their own series only, so they go side by side (PostgreSQL
  // pipelines their statements: round trips shared by all).
  await Promise.all([
    ahead(sent),
    ...folds.map((l) => ahead(foldLog(tx, l.runUuid, read.logs.has(l.runUuid), l.data))),
  ]);
  return out;
}

/** A row of planLatest (without its series id) as the series' summary it stores. */
export function summaryOf(seriesId: number, row: unknown[]): Current {
  return {
    series_id: seriesId,
    key: row[1] as string,
    step: row[2] as number,
    timestamp: row[3] as number,
    value: row[4] as number,
    is_nan: row[5] as number,
    min_step: row[8] as number,
    max_step: row[9] as number,
    steps: row[10] as number,
    step_segments: row[11] as string | null,
  };
}

/** Keeps what a write leaves in a run (its series after `plan`, its log) for the run's next batch. */
function remember(
  cache: MetricWriteCache,
  run: Pick<RunRow, 'run_uuid' | 'workspace_id' | 'experiment_id'>,
  plan: ReturnType<typeof planLatest>,
  ids: Map<string, number>,
  log: { rows: number; points: number },
): void {
  const series = new Map(cache.get(run.run_uuid)?.series);
  for (const f of plan.fresh) series.set(f.key, summaryOf(ids.get(f.key)!, f.row));
  for (const u of plan.updates) series.set(u[2] as string, summaryOf(u[0] as number, u.slice(1)));
  cache.set(run.run_uuid, { workspaceId: run.workspace_id, experimentId: run.experiment_id, series, log });
}

/**
 * A batch whose runs and keys the cache knows (metric-cache.ts), none of whose logs it fills:
 * written without reading first, its append handed to the COMMIT (Tx.settleAtCommit), so the
 * batch is one round trip. The statement writes only if the rows are as the cache says; if not,
 * the write fails with a serialization failure (40001), which the store runs again (store/group-
 * commit.ts `retryable`), and this time the runs, no longer cached, are read. False (nothing
 * sent) when the cache cannot serve the batch.
 */
function writeKnown(tx: Tx, many: MetricsManySql, items: MetricWrite[], cache: MetricWriteCache): boolean {
  const perRun = new Map<string, { entry: CachedRun; metrics: MetricIn[] }>();
  for (const it of items) {
    const w = perRun.get(it.runId);
    if (w) {
      if (w.entry.workspaceId !== it.ws) return false;
      w.metrics.push(...it.metrics);
      continue;
    }
    const entry = cache.get(it.runId);
    if (!entry || entry.workspaceId !== it.ws) return false;
    perRun.set(it.runId, { entry, metrics: [...it.metrics] });
  }
  for (const { entry, metrics } of perRun.values()) {
    if (logFull(entry.log.rows, entry.log.points, metrics.length)) return false;
    for (const m of metrics) if (!entry.series.has(m.key)) return false;
  }
  const logs: { runUuid: string; n: number; data: Buffer }[] = [];
  const updates: unknown[][] = [];
  const expected = {
    series: [] as Current[],
    workspaces: [] as string[],
    logs: [] as { rows: number; points: number }[],
  };
  const runIds = [...perRun.keys()].sort();
  for (const runUuid of runIds) {
    const { entry, metrics } = perRun.get(runUuid)!;
    const run = { run_uuid: runUuid, workspace_id: entry.workspaceId, experiment_id: entry.experimentId };
    const plan = planLatest(run as RunRow, metrics, entry.series);
    for (const u of plan.updates) {
      updates.push(u);
      expected.series.push(entry.series.get(u[2] as string)!);
    }
    logs.push({ runUuid, n: metrics.length, data: encodeLog(metrics, (m) => entry.series.get(m.key)!.series_id) });
    expected.workspaces.push(entry.workspaceId);
    expected.logs.push(entry.log);
    remember(cache, run, plan, new Map(), { rows: entry.log.rows + 1, points: entry.log.points + metrics.length });
  }
  // The runs' turns first (as lockAndRead): the statement after them reads what committed before.
  tx.settleAtCommit!(many.lockRuns(tx, runIds));
  const forget = () => {
    for (const id of runIds) cache.forget(id);
  };
  tx.settleAtCommit!(
    many.appendLogsIf(tx, logs, updates, expected).then(
      (wrote) => {
        if (wrote) return;
        forget();
        cache.counts.stale++;
        throw Object.assign(
          new Error('metric write: the runs changed since this server last wrote them (run again on what they hold)'),
          { code: '40001' },
        );
      },
      (e: unknown) => {
        forget();
        throw e;
      },
    ),
  );
  cache.counts.direct++;
  return true;
}

/** Sorted, disjoint, inclusive step ranges, with those that overlap or touch joined. */
export function mergeSegments(list: [number, number][]): [number, number][] {
  const s = [...list].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [a, b] of s) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** `mergeSegments` of two lists that are each sorted and disjoint already: one pass, no sort. */
function mergeSorted(x: [number, number][], y: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    const r = j >= y.length || (i < x.length && x[i]![0] <= y[j]![0]) ? x[i++]! : y[j++]!;
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/** Moves a run's log (and `extra`, log records not yet stored) into per-series blocks. */
async function foldLog(tx: Tx, runUuid: string, hasLog: boolean, extra?: Buffer): Promise<void> {
  const parts: Uint8Array[] = [];
  // The log is read as it is removed (one statement instead of a read and a delete; the order of
  // its rows does not matter: points are sorted by series and step below).
  if (hasLog)
    for (const [data] of await tx.rows<[Uint8Array]>(
      'delete from tracking_metric_log where run_uuid = ? returning data',
      [runUuid],
    ))
      parts.push(data);
  if (extra) parts.push(extra);
  const bySeries = sortSeriesPoints(parts);
  const ids = [...bySeries.keys()];
  // Each series' last block (its number and size).
  const last = new Map<number, { seq: number; n: number }>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows = await tx.all<{ series_id: number; seq: number; n: number }>(
      `select b.series_id, b.seq, b.n from tracking_metric_blocks b where b.series_id in (${chunk.map(() => '?').join(',')}) and b.seq = (select max(c.seq) from tracking_metric_blocks c where c.series_id = b.series_id)`,
      chunk,
    );
    for (const r of rows) last.set(Number(r.series_id), { seq: Number(r.seq), n: Number(r.n) });
  }
  const blocks: unknown[][] = [];
  // Stats of new blocks only: a block that takes appended points keeps its old stats, whose
  // point count then differs from the block's, and readers read that block itself.
  const stats: unknown[][] = [];
  for (const [series, p] of bySeries) {
    const l = last.get(series);
    let seq = l ? l.seq : 0;
    let at = 0;
    if (l && l.n < APPEND_BELOW) {
      // Fill the small last block first (its points and these may interleave: readers sort).
      const take = Math.min(p.length, BLOCK_POINTS - l.n);
      blocks.push([series, seq, p.step(0), p.step(take - 1), take, p.block(0, take)]);
      at = take;
    }
    for (; at < p.length; at += BLOCK_POINTS) {
      const end = Math.min(p.length, at + BLOCK_POINTS);
      const data = p.block(at, end);
      blocks.push([series, ++seq, p.step(at), p.step(end - 1), end - at, data]);
      stats.push([series, seq, ...statsRow(statsOf(blockFloats(data)))]);
    }
  }
  // New blocks are inserted; a small last block gets the points appended. The statements do not
  // wait for each other's answers: sent together (PostgreSQL pipelines them: one round trip).
  const upsert = trackingSql(tx.dialect).blockAppend;
  const sent: Promise<number>[] = [];
  for (let i = 0; i < blocks.length; i += 200) {
    const chunk = blocks.slice(i, i + 200);
    sent.push(
      ahead(
        tx.run(
          `insert into tracking_metric_blocks as b (series_id, seq, min_step, max_step, n, data) values ${tuples(chunk.length, 6)} ${upsert}`,
          chunk.flat(),
        ),
      ),
    );
  }
  for (let i = 0; i < stats.length; i += 100) {
    const chunk = stats.slice(i, i + 100);
    sent.push(
      ahead(
        tx.run(
          `insert into tracking_metric_block_stats (${STATS_COLUMNS}) values ${tuples(chunk.length, 11)}`,
          chunk.flat(),
        ),
      ),
    );
  }
  await Promise.all(sent);
}
