import type { Kysely } from 'kysely';
import type { Tables } from '../../store/schema.js';
import type { Database } from '../../store/database.js';
import { InvalidInput, NotFound } from '../../errors.js';
import './tables.js';
import '../runs/tables.js';
import { LIMITS, checkMetricKey, checkRunId, int64 } from '../shared/validation.js';
import { jsonDouble, type MetricView } from '../runs/types.js';
import { toStringList } from '../experiments/experiments.js';
import {
  blockFloats,
  blockSteps,
  decodeBlocks,
  logBlock,
  pointsAtSteps,
  type BlockStats,
  type Points,
} from './metric-blocks.js';
import { Bucketer, toColumns, type MetricBucket, type MetricBucketColumns } from './metric-buckets.js';
import { mergeSegments, stepSegments } from './metric-write.js';
import type { Tx } from '../../store/tx.js';

/** A block of a series; `data` is there for the points of the run's log (seq 0). */
interface BlockMeta {
  seq: number;
  min_step: number;
  max_step: number;
  n: number;
  data?: Float64Array;
}

/** Most runs and buckets of one metric-bucket request. */
export const BUCKET_LIMITS = { runs: 100, buckets: 10_000, defaultBuckets: 1000 } as const;

export interface MetricBucketsAnswer {
  metric_key: string;
  x_axis: 'step' | 'relative_time';
  /** The x range bucketed (inclusive; steps, or ms since each series' first point) and each bucket's width. */
  start: number;
  end: number;
  bucket_width: number;
  bucket_count: number;
  /** The one-run form (`run_id`): that run and its buckets (layout=columns: `columns`). */
  run_id?: string;
  first_timestamp?: number;
  buckets?: MetricBucket[];
  columns?: MetricBucketColumns;
  /** The several-runs form (`run_ids`, repeated): each run's buckets, in the order asked. */
  series?: { run_id: string; first_timestamp?: number; buckets?: MetricBucket[]; columns?: MetricBucketColumns }[];
}

/** Largest page of get-history-bulk-interval per run (MLflow's MAX_RESULTS_GET_METRIC_HISTORY). */
const MAX_POINTS_PER_RUN = 25000;

/** Sorted, disjoint, inclusive step ranges: the distinct steps of one or more series. */
type Segments = [number, number][];

/** The sorted distinct steps as segments, with bisect and indexing like a Python list. */
class StepList {
  private readonly starts: number[] = [];
  constructor(private readonly segs: Segments) {
    let n = 0;
    for (const [a, b] of segs) {
      this.starts.push(n);
      n += b - a + 1;
    }
    this.length = n;
  }
  readonly length: number;
  /** Number of steps < x (bisect_left). */
  bisectLeft(x: number): number {
    let n = 0;
    for (const [a, b] of this.segs) {
      if (x <= a) return n;
      if (x <= b) return n + (x - a);
      n += b - a + 1;
    }
    return n;
  }
  /** Number of steps <= x (bisect_right). */
  bisectRight(x: number): number {
    return this.bisectLeft(x + 1);
  }
  at(i: number): number {
    let lo = 0;
    let hi = this.segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return this.segs[lo]![0] + (i - this.starts[lo]!);
  }
}

/**
 * MLflow's sampling of steps for get-history-bulk-interval (handlers._get_sampled_steps_from_steps),
 * over the distinct steps of all the runs: at most `max` evenly spaced steps in [start, end], plus
 * the last one.
 */
export function sampledSteps(start: number, end: number, max: number, all: StepList): Set<number> {
  const startIdx = all.bisectLeft(start);
  const endIdx = all.bisectRight(end);
  const out = new Set<number>();
  if (endIdx - startIdx <= max) {
    for (let i = startIdx; i < endIdx; i++) out.add(all.at(i));
    return out;
  }
  const num = endIdx - startIdx;
  const interval = num / max;
  for (let i = 0; i < max; i++) {
    const idx = startIdx + Math.trunc(i * interval);
    // Same bound as MLflow's (idx < num_steps), which only matters when start_idx > 0.
    if (idx < num) out.add(all.at(idx));
  }
  out.add(all.at(endIdx - 1));
  return out;
}

export { StepList };

/** A long series' blocks as kept between reads; `stats` by block number, with the point count each counted. */
interface SeriesCache {
  version: string;
  blocks: readonly BlockMeta[];
  stats?: Map<number, BlockStats>;
}

/** Most blocks whose data blockData keeps (3 KB each: some 24 MB). */
const BLOCK_DATA_LIMIT = 8192;

/** Most blocks the block cache holds (with stats about 150 bytes each: some 45 MB). */
const BLOCK_CACHE_LIMIT = 300_000;

export class MetricService {
  private readonly db: Kysely<Tables>;
  /**
   * Block lists of long series (and, once read, every stats row of theirs), most recently used
   * last (see seriesBlocks); at most BLOCK_CACHE_LIMIT blocks in all.
   */
  private readonly blockCache = new Map<number, SeriesCache>();
  private cachedBlocks = 0;
  /** Data of recently read blocks by `series/number/size` (see blockData). */
  private readonly dataCache = new Map<string, Uint8Array>();
  constructor(private readonly database: Database) {
    this.db = database.db;
  }

  private async requireRun(ws: string, runId: unknown): Promise<string> {
    const id = checkRunId(runId);
    const row = await this.db
      .selectFrom('tracking_runs')
      .select('run_uuid')
      .where('run_uuid', '=', id)
      .where('workspace_id', '=', ws)
      .executeTakeFirst();
    if (!row) throw new NotFound(`Run with id=${id} not found`, { code: 'RUN_NOT_FOUND' });
    return id;
  }

  /**
   * Every point of one metric of a run, in (step, timestamp, value) order; paged when
   * `max_results` is given (the token is a position in that order, so deep pages read only the
   * blocks from its step on, and only as many as the page needs).
   */
  async history(
    ws: string,
    q: { run_id?: unknown; metric_key?: unknown; max_results?: unknown; page_token?: unknown },
  ): Promise<{ metrics: MetricView[]; next_page_token?: string }> {
    const runId = await this.requireRun(ws, q.run_id);
    if (typeof q.metric_key !== 'string' || q.metric_key === '')
      throw new InvalidInput(
        "Missing value for required parameter 'metric_key'. See the API docs for more information about request parameters.",
      );
    const key = q.metric_key;
    let max: number | undefined;
    if (q.max_results !== undefined && q.max_results !== null && q.max_results !== '') {
      max = int64(q.max_results, 'max_results');
      if (max < 1 || max > LIMITS.historyMaxResults)
        throw new InvalidInput(
          `Invalid value for request parameter max_results. It must be between 1 and ${LIMITS.historyMaxResults}, but got ${max}`,
        );
    }
    const after = decodeHistoryToken(q.page_token);
    const series = await this.db
      .selectFrom('tracking_latest_metrics')
      .select('series_id')
      .where('run_uuid', '=', runId)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!series) return { metrics: [] };
    const id = Number(series.series_id);
    const points = await this.database.read(async (tx) => {
      // Blocks in step order; those before the token's step hold nothing of this page.
      const meta = await this.blockMeta(tx, runId, id, after?.[0]);
      const need = max === undefined ? Infinity : max + 1;
      const taken: (Uint8Array | Float64Array)[] = [];
      let points: Points;
      let have = 0;
      let hi = -Infinity;
      for (let i = 0; ;) {
        // Enough points, and the next block starts after all of them: what is read is a prefix
        // of the whole order (identical points or the token's own step may leave too few: read on).
        const pick: BlockMeta[] = [];
        for (; i < meta.length && (have < need || meta[i]!.min_step <= hi); i++) {
          pick.push(meta[i]!);
          have += meta[i]!.n;
          hi = Math.max(hi, meta[i]!.max_step);
        }
        taken.push(...(await this.blockData(tx, id, pick)));
        points = decodeBlocks(taken, after ? { after } : {});
        if (points.length >= need || i >= meta.length) break;
        have = points.length;
      }
      return points;
    });
    const count = max === undefined ? points.length : Math.min(max, points.length);
    const out: { metrics: MetricView[]; next_page_token?: string } = { metrics: new Array<MetricView>(count) };
    for (let j = 0; j < count; j++)
      out.metrics[j] = {
        key,
        value: jsonDouble(points.value[j]!),
        timestamp: points.timestamp[j]!,
        step: points.step[j]!,
      };
    if (max !== undefined && points.length > max) {
      const v = points.value[max - 1]!;
      const nan = Number.isNaN(v);
      out.next_page_token = Buffer.from(
        JSON.stringify({
          after: [points.step[max - 1]!, points.timestamp[max - 1]!, String(nan ? 0 : v), nan ? 1 : 0],
        }),
      ).toString('base64');
    }
    return out;
  }

  /**
   * A series' blocks (without their data) in step order, with its points in the run's log as one
   * more block (with its data); only those with steps in [fromStep, toStep].
   */
  private async blockMeta(
    tx: Tx,
    runId: string,
    series: number,
    fromStep = -(2 ** 53),
    toStep = 2 ** 53,
  ): Promise<BlockMeta[]> {
    const all = await this.seriesBlocks(tx, series);
    const out: BlockMeta[] = [];
    for (const b of all) if (b.max_step >= fromStep && b.min_step <= toStep) out.push(b);
    let ordered = true;
    const log = await tx.rows<[Uint8Array]>('select data from tracking_metric_log where run_uuid = ? order by seq', [
      runId,
    ]);
    const data = logBlock(
      log.map((r) => r[0]),
      series,
    );
    if (data) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < data.length; i += 3) {
        if (data[i]! < lo) lo = data[i]!;
        if (data[i]! > hi) hi = data[i]!;
      }
      if (hi >= fromStep && lo <= toStep) {
        out.push({ seq: 0, min_step: lo, max_step: hi, n: data.length / 3, data });
        ordered = false;
      }
    }
    return ordered ? out : out.sort((a, b) => a.min_step - b.min_step || a.seq - b.seq);
  }

  /**
   * All blocks of a series (without data) in step order. Kept in memory between reads (a long
   * series has thousands), checked against the blocks' count, last number and the last block's
   * size, which any change to them (a fold, here or in another process) moves: a fold adds blocks
   * or appends to the last one only (metric-write.ts), and blocks go only with their series. Those
   * three are read from the primary key's index and one row, not from every block.
   */
  private async seriesBlocks(tx: Tx, series: number): Promise<readonly BlockMeta[]> {
    const [v] = await tx.rows<[number, number, number]>(
      'select count(*), coalesce(max(seq), 0), coalesce((select n from tracking_metric_blocks where series_id = ? order by seq desc limit 1), 0) from tracking_metric_blocks where series_id = ?',
      [series, series],
    );
    const version = `${v?.[0]}/${v?.[1]}/${v?.[2]}`;
    const hit = this.blockCache.get(series);
    if (hit && hit.version === version) {
      this.blockCache.delete(series);
      this.blockCache.set(series, hit);
      return hit.blocks;
    }
    const rows = await tx.rows<[number, number, number, number]>(
      'select seq, min_step, max_step, n from tracking_metric_blocks where series_id = ?',
      [series],
    );
    const blocks: BlockMeta[] = rows.map((r) => ({
      seq: Number(r[0]),
      min_step: Number(r[1]),
      max_step: Number(r[2]),
      n: Number(r[3]),
    }));
    blocks.sort((a, b) => a.min_step - b.min_step || a.seq - b.seq);
    this.uncache(series);
    if (blocks.length >= 64 && blocks.length <= BLOCK_CACHE_LIMIT) {
      this.blockCache.set(series, { version, blocks });
      this.cachedBlocks += blocks.length;
      while (this.cachedBlocks > BLOCK_CACHE_LIMIT || this.blockCache.size > 256)
        this.uncache(this.blockCache.keys().next().value!);
    }
    return blocks;
  }

  private uncache(series: number): void {
    const had = this.blockCache.get(series);
    if (!had) return;
    this.cachedBlocks -= had.blocks.length;
    this.blockCache.delete(series);
  }

  /**
   * The data of some blocks of a series, in the order given. The last BLOCK_DATA_LIMIT blocks read
   * are kept by (series, number, size): a block changes only by taking appended points, which
   * changes its size, so a kept one is current (a chart redrawn over the same range reads nothing).
   */
  private async blockData(tx: Tx, series: number, blocks: BlockMeta[]): Promise<(Uint8Array | Float64Array)[]> {
    const bySeq = new Map<number, Uint8Array>();
    const want: number[] = [];
    for (const b of blocks) {
      if (b.data) continue;
      const hit = this.dataCache.get(`${series}/${b.seq}/${b.n}`);
      if (hit) bySeq.set(b.seq, hit);
      else want.push(b.seq);
    }
    const n = new Map(blocks.map((b) => [b.seq, b.n]));
    for (let i = 0; i < want.length; i += 500) {
      const chunk = want.slice(i, i + 500);
      const rows = await tx.rows<[number, Uint8Array, number]>(
        `select seq, data, n from tracking_metric_blocks where series_id = ? and seq in (${chunk.map(() => '?').join(',')})`,
        [series, ...chunk],
      );
      for (const r of rows) {
        const seq = Number(r[0]);
        bySeq.set(seq, r[1]);
        // Kept only when it is the block the list describes (same size).
        if (Number(r[2]) === n.get(seq)) {
          this.dataCache.set(`${series}/${seq}/${Number(r[2])}`, r[1]);
          if (this.dataCache.size > BLOCK_DATA_LIMIT) this.dataCache.delete(this.dataCache.keys().next().value!);
        }
      }
    }
    const out: (Uint8Array | Float64Array)[] = [];
    for (const b of blocks) {
      const d = b.data ?? bySeq.get(b.seq);
      if (d) out.push(d);
    }
    return out;
  }

  /**
   * Stats of a series' blocks by number, for the blocks given (only those whose stats count all
   * their points). `blocks` come from seriesBlocks in the same transaction, so a cached series'
   * entry is current: its stats are read once and kept with it (a block's stats row never changes).
   */
  private async blockStats(tx: Tx, series: number, blocks: readonly BlockMeta[]): Promise<Map<number, BlockStats>> {
    const cached = this.blockCache.get(series);
    const out = new Map<number, BlockStats>();
    if (cached) {
      cached.stats ??= await this.readStats(tx, series);
      for (const b of blocks) {
        const st = b.data ? undefined : cached.stats.get(b.seq);
        // A block that took appended points has more than its stats counted: it is read instead.
        if (st && st.n === b.n) out.set(b.seq, st);
      }
      return out;
    }
    const seqs = blocks.filter((b) => !b.data).map((b) => b.seq);
    const all = seqs.length > 400 ? await this.readStats(tx, series) : await this.readStats(tx, series, seqs);
    const n = new Map(blocks.map((b) => [b.seq, b.n]));
    for (const [seq, st] of all) if (n.get(seq) === st.n) out.set(seq, st);
    return out;
  }

  /** The stats rows of a series (of the given blocks only, when given), by block number. */
  private async readStats(tx: Tx, series: number, seqs?: number[]): Promise<Map<number, BlockStats>> {
    const cols =
      'select seq, n, min_value, max_value, last_step, last_timestamp, last_value, last_is_nan, min_timestamp, max_timestamp from tracking_metric_block_stats where series_id = ?';
    const out = new Map<number, BlockStats>();
    if (seqs && seqs.length === 0) return out;
    const rows = seqs
      ? await tx.rows<unknown[]>(`${cols} and seq in (${seqs.map(() => '?').join(',')})`, [series, ...seqs])
      : await tx.rows<unknown[]>(cols, [series]);
    for (const r of rows) {
      const seq = Number(r[0]);
      const count = Number(r[1]);
      out.set(seq, {
        n: count,
        minValue: r[2] === null ? null : Number(r[2]),
        maxValue: r[3] === null ? null : Number(r[3]),
        lastStep: Number(r[4]),
        lastTimestamp: Number(r[5]),
        lastValue: Number(r[7]) ? NaN : Number(r[6]),
        minTimestamp: Number(r[8]),
        maxTimestamp: Number(r[9]),
      });
    }
    return out;
  }

  /**
   * Min, max and last value per x-bucket of one metric of some runs, for charts that stay true at
   * every zoom: `buckets` even buckets over the step range (or the time since each series' first
   * point), the same edges for every run. Answered from per-block stats; only blocks that straddle
   * a bucket's edge (or lack stats: the last, still growing block, points not yet folded) are read.
   */
  async buckets(
    ws: string,
    q: {
      run_id?: unknown;
      run_ids?: unknown;
      metric_key?: unknown;
      buckets?: unknown;
      x_axis?: unknown;
      min_step?: unknown;
      max_step?: unknown;
      min_relative_time?: unknown;
      max_relative_time?: unknown;
      layout?: unknown;
    },
  ): Promise<MetricBucketsAnswer> {
    const single = toStringList(q.run_id, 'run_id');
    const several = toStringList(q.run_ids, 'run_ids');
    if (single.length > 0 && several.length > 0)
      throw new InvalidInput("name the runs with 'run_id' (one) or 'run_ids' (repeated, up to 100), not both");
    if (single.length > 1)
      throw new InvalidInput("'run_id' names one run; name several with 'run_ids' (repeated, up to 100)");
    const runIds = [...new Set([...single, ...several])];
    if (runIds.length === 0)
      throw new InvalidInput("Missing value for required parameter 'run_id' (or 'run_ids', repeated).");
    if (runIds.length > BUCKET_LIMITS.runs)
      throw new InvalidInput(`at most ${BUCKET_LIMITS.runs} runs per request; ${runIds.length} were given`);
    for (const r of runIds) checkRunId(r, 'run_ids');
    if (typeof q.metric_key !== 'string' || q.metric_key === '')
      throw new InvalidInput("Missing value for required parameter 'metric_key'.");
    const key = checkMetricKey(q.metric_key);
    const given = (v: unknown) => v !== undefined && v !== null && v !== '';
    const n = given(q.buckets) ? int64(q.buckets, 'buckets') : BUCKET_LIMITS.defaultBuckets;
    if (n < 1 || n > BUCKET_LIMITS.buckets)
      throw new InvalidInput(`buckets must be between 1 and ${BUCKET_LIMITS.buckets}, but got ${n}`);
    const layout = given(q.layout) ? q.layout : 'objects';
    if (layout !== 'objects' && layout !== 'columns')
      throw new InvalidInput(`layout must be 'objects' or 'columns', but got '${String(layout).slice(0, 50)}'`);
    const axis = given(q.x_axis) ? q.x_axis : 'step';
    if (axis !== 'step' && axis !== 'relative_time')
      throw new InvalidInput(`x_axis must be 'step' or 'relative_time', but got '${String(axis).slice(0, 50)}'`);
    const [minName, maxName, otherMin, otherMax] =
      axis === 'step'
        ? (['min_step', 'max_step', 'min_relative_time', 'max_relative_time'] as const)
        : (['min_relative_time', 'max_relative_time', 'min_step', 'max_step'] as const);
    if (given(q[otherMin]) || given(q[otherMax]))
      throw new InvalidInput(
        `with x_axis=${axis} the range is given by ${minName} and ${maxName}, not ${otherMin}/${otherMax}`,
      );
    const askedLo = given(q[minName]) ? int64(q[minName], minName) : undefined;
    const askedHi = given(q[maxName]) ? int64(q[maxName], maxName) : undefined;
    if (askedLo !== undefined && askedHi !== undefined && askedLo > askedHi)
      throw new InvalidInput(`${minName} (${askedLo}) must not be greater than ${maxName} (${askedHi})`);

    return this.database.read(async (tx) => {
      const summaries = await tx.rows<[number, string, number, number]>(
        `select series_id, run_uuid, min_step, max_step from tracking_latest_metrics where workspace_id = ? and key = ? and run_uuid in (${runIds.map(() => '?').join(',')})`,
        [ws, key, ...runIds],
      );
      const seriesOf = new Map(
        summaries.map((r) => [r[1], { id: Number(r[0]), min: Number(r[2]), max: Number(r[3]) }]),
      );
      const found = runIds.filter((r) => seriesOf.has(r));

      // Each series' blocks with their stats; for the time axis also its first timestamp.
      type Part = {
        meta: BlockMeta[];
        stats: Map<number, BlockStats>;
        data: Map<number, Float64Array>;
        t0: number;
        t1: number;
      };
      const parts = new Map<string, Part>();
      let lo = askedLo;
      let hi = askedHi;
      if (axis === 'step') {
        lo ??= Math.min(...found.map((r) => seriesOf.get(r)!.min));
        hi ??= Math.max(...found.map((r) => seriesOf.get(r)!.max));
      }
      for (const runId of found) {
        const s = seriesOf.get(runId)!;
        const meta =
          axis === 'step' ? await this.blockMeta(tx, runId, s.id, lo, hi) : await this.blockMeta(tx, runId, s.id);
        const stats = await this.blockStats(tx, s.id, meta);
        const part: Part = { meta, stats, data: new Map(), t0: Infinity, t1: -Infinity };
        if (axis === 'relative_time') {
          // Blocks without stats are read now (they will be bucketed from their points anyway).
          const unread = meta.filter((b) => !stats.has(b.seq));
          const datas = await this.blockData(tx, s.id, unread);
          unread.forEach((b, i) => part.data.set(b.seq, blockFloats(datas[i]!)));
          for (const b of meta) {
            const st = stats.get(b.seq);
            if (st) {
              part.t0 = Math.min(part.t0, st.minTimestamp);
              part.t1 = Math.max(part.t1, st.maxTimestamp);
            } else {
              const f = part.data.get(b.seq)!;
              for (let i = 1; i < f.length; i += 3) {
                if (f[i]! < part.t0) part.t0 = f[i]!;
                if (f[i]! > part.t1) part.t1 = f[i]!;
              }
            }
          }
        }
        parts.set(runId, part);
      }
      if (axis === 'relative_time') {
        lo ??= 0;
        hi ??= Math.max(0, ...[...parts.values()].filter((p) => p.t1 >= p.t0).map((p) => p.t1 - p.t0));
      }
      lo ??= 0;
      hi ??= lo;
      if (lo > hi) hi = lo;

      const series: NonNullable<MetricBucketsAnswer['series']> = [];
      for (const runId of runIds) {
        const part = parts.get(runId);
        if (!part) {
          series.push({
            run_id: runId,
            ...(layout === 'columns' ? { columns: toColumns([], 'step') } : { buckets: [] }),
          });
          continue;
        }
        const b = new Bucketer(lo, hi, n);
        const toRead: BlockMeta[] = [];
        const time = axis === 'relative_time';
        for (const m of part.meta) {
          const st = part.stats.get(m.seq);
          const x0 = time ? (st ? st.minTimestamp - part.t0 : 0) : m.min_step;
          const x1 = time ? (st ? st.maxTimestamp - part.t0 : 0) : m.max_step;
          if (st && b.within(x0, x1)) b.addStats(st, x0, x1, m.min_step, m.max_step);
          else if (!time || st) {
            // Wholly outside the range: nothing to add (the step axis' blocks are already filtered).
            if (time && (x1 < lo || x0 > hi)) continue;
            toRead.push(m);
          }
        }
        const datas = await this.blockData(tx, seriesOf.get(runId)!.id, toRead);
        for (const d of datas) b.addRecords(blockFloats(d), time ? 'time' : 'step', part.t0);
        // Time axis: blocks without stats were read above.
        if (time) for (const f of part.data.values()) b.addRecords(f, 'time', part.t0);
        const result = b.result(time ? 'time' : 'step');
        series.push({
          run_id: runId,
          ...(time ? { first_timestamp: part.t0 } : {}),
          ...(layout === 'columns' ? { columns: toColumns(result, time ? 'time' : 'step') } : { buckets: result }),
        });
      }
      const head = {
        metric_key: key,
        x_axis: axis as MetricBucketsAnswer['x_axis'],
        start: lo,
        end: hi,
        bucket_width: (hi - lo + 1) / n,
        bucket_count: n,
      };
      return single.length ? { ...head, ...series[0]! } : { ...head, series };
    });
  }

  /**
   * get-history-bulk-interval: a sample of at most `max_results` steps of one metric across runs
   * (plus each run's first and last step), as MLflow samples them. Series whose steps form few
   * ranges (the usual case) are sampled from their step summary without reading them; then only
   * the blocks holding a sampled step are read.
   */
  async bulkInterval(
    ws: string,
    q: { run_ids?: unknown; metric_key?: unknown; start_step?: unknown; end_step?: unknown; max_results?: unknown },
  ): Promise<{ metrics: (MetricView & { run_id: string })[] }> {
    const runIds = toStringList(q.run_ids, 'run_ids');
    if (runIds.length === 0)
      throw new InvalidInput(
        "Missing value for required parameter 'run_ids'. See the API docs for more information about request parameters.",
      );
    if (runIds.length > LIMITS.bulkIntervalRuns)
      throw new InvalidInput(
        `GetMetricHistoryBulkInterval request must specify at most ${LIMITS.bulkIntervalRuns} run_ids. Received ${runIds.length} run_ids.`,
      );
    for (const r of runIds) checkRunId(r, 'run_ids');
    if (typeof q.metric_key !== 'string' || q.metric_key === '')
      throw new InvalidInput(
        "Missing value for required parameter 'metric_key'. See the API docs for more information about request parameters.",
      );
    const key = checkMetricKey(q.metric_key);
    const max =
      q.max_results === undefined || q.max_results === null || q.max_results === ''
        ? LIMITS.bulkIntervalMaxResults
        : int64(q.max_results, 'max_results');
    if (max < 1 || max > LIMITS.bulkIntervalMaxResults)
      throw new InvalidInput(`max_results must be between 1 and ${LIMITS.bulkIntervalMaxResults}.`);
    const given = (v: unknown) => v !== undefined && v !== null && v !== '';
    let start: number | undefined;
    let end: number | undefined;
    if (given(q.start_step) && given(q.end_step)) {
      start = int64(q.start_step, 'start_step');
      end = int64(q.end_step, 'end_step');
      if (start > end)
        throw new InvalidInput(
          `end_step must be greater than start_step. Found start_step=${start} and end_step=${end}.`,
        );
    } else if (given(q.start_step) || given(q.end_step)) {
      throw new InvalidInput('If either start step or end step are specified, both must be specified.');
    }

    return this.database.read(async (tx) => {
      // Runs of other workspaces (or none) have no points here, as an unknown run has none in MLflow.
      const ids = [...new Set(runIds)];
      const summaries = (
        await tx.rows<[number, string, number, number, number, string | null]>(
          `select series_id, run_uuid, min_step, max_step, steps, step_segments from tracking_latest_metrics where workspace_id = ? and key = ? and run_uuid in (${ids.map(() => '?').join(',')})`,
          [ws, key, ...ids],
        )
      ).map((r) => ({
        series_id: r[0],
        run_uuid: r[1],
        min_step: r[2],
        max_step: r[3],
        steps: r[4],
        step_segments: r[5],
      }));
      const segs: Segments = [];
      const minsAndMaxes = new Set<number>();
      for (const s of summaries) {
        const a = Number(s.min_step);
        const b = Number(s.max_step);
        minsAndMaxes.add(a).add(b);
        const known = stepSegments(s);
        if (known) segs.push(...known);
        else {
          // Steps with many gaps: read this series' distinct steps.
          const id = Number(s.series_id);
          let cur: [number, number] | undefined;
          for (const st of blockSteps(await this.blockData(tx, id, await this.blockMeta(tx, s.run_uuid, id)))) {
            if (cur && st === cur[1] + 1) cur[1] = st;
            else segs.push((cur = [st, st]));
          }
        }
      }
      const all = new StepList(mergeSegments(segs));
      if (start === undefined || end === undefined) {
        start = 0;
        end = all.length ? all.at(all.length - 1) : 0;
      }
      const steps = sampledSteps(start, end, max, all);
      for (const m of minsAndMaxes) if (m >= start && m <= end) steps.add(m);
      const wanted = [...steps].sort((a, b) => a - b);
      const seriesOf = new Map(summaries.map((s) => [s.run_uuid, Number(s.series_id)]));
      const out: (MetricView & { run_id: string })[] = [];
      for (const runId of runIds) {
        const series = seriesOf.get(runId);
        if (series === undefined) continue;
        // The blocks holding a wanted step (wanted is sorted: find the first one >= each block's start).
        const pick: BlockMeta[] = [];
        for (const b of await this.blockMeta(tx, runId, series, wanted[0], wanted[wanted.length - 1])) {
          let lo = 0;
          let hi = wanted.length;
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (wanted[mid]! < b.min_step) lo = mid + 1;
            else hi = mid;
          }
          if (lo < wanted.length && wanted[lo]! <= b.max_step) pick.push(b);
        }
        const p = pointsAtSteps(await this.blockData(tx, series, pick), wanted);
        for (let j = 0; j < p.length && j < MAX_POINTS_PER_RUN; j++)
          out.push({
            key,
            value: jsonDouble(p.value[j]!),
            timestamp: p.timestamp[j]!,
            step: p.step[j]!,
            run_id: runId,
          });
      }
      return { metrics: out };
    });
  }
}

function decodeHistoryToken(token: unknown): [number, number, number, number] | undefined {
  if (token === undefined || token === null || token === '') return undefined;
  if (typeof token !== 'string')
    throw new InvalidInput('Invalid page token: it must be a string', { code: 'INVALID_PAGE_TOKEN' });
  try {
    const v = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { after?: unknown };
    const a = v.after;
    if (Array.isArray(a) && a.length === 4 && typeof a[2] === 'string') {
      const t = [a[0], a[1], Number(a[2]), a[3]];
      if (
        t.every((x) => typeof x === 'number' && !Number.isNaN(x)) &&
        Number.isSafeInteger(t[0]) &&
        Number.isSafeInteger(t[1]) &&
        (t[3] === 0 || t[3] === 1)
      )
        return t as [number, number, number, number];
    }
  } catch {
    /* fall through */
  }
  throw new InvalidInput(
    `Invalid page token: '${token.slice(0, 100)}'; pass the next_page_token of the previous answer`,
    { code: 'INVALID_PAGE_TOKEN' },
  );
}
