/**
 * Metric points are stored packed (migration 0180), as little-endian doubles: steps and
 * timestamps are safe integers (shared/validation.ts int64), so a double holds them exactly; values
 * keep NaN and ±Infinity as they are.
 * - tracking_metric_log: per run, one row per request, 32-byte records [series_id, step,
 *   timestamp, value] in the order logged (metric-write.ts folds it into blocks now and then).
 * - tracking_metric_blocks: per series, numbered blocks of 24-byte records [step, timestamp,
 *   value] with their step range. A block's records are sorted when written, but appends to a
 *   small block may interleave.
 * Readers sort when needed and drop identical points (MLflow keys a point by all its fields, so
 * an identical point is stored once).
 */

export const RECORD_BYTES = 24;
export const LOG_RECORD_BYTES = 32;

/** Points as parallel arrays (step, timestamp, value). */
export interface Points {
  step: Float64Array;
  timestamp: Float64Array;
  value: Float64Array;
  length: number;
}

/** The value part of MLflow's order (value, is_nan): NaN is stored as value 0 with is_nan 1. */
const vkey = (v: number): number => (Number.isNaN(v) ? 0 : v);
const nkey = (v: number): number => (Number.isNaN(v) ? 1 : 0);

/** Order of two points (step, timestamp, value, is_nan); 0 when identical. */
export function compare(s1: number, t1: number, v1: number, s2: number, t2: number, v2: number): number {
  if (s1 !== s2) return s1 < s2 ? -1 : 1;
  if (t1 !== t2) return t1 < t2 ? -1 : 1;
  const a = vkey(v1);
  const b = vkey(v2);
  if (a !== b) return a < b ? -1 : 1;
  return nkey(v1) - nkey(v2);
}

/** A request's points as one log row. */
export function encodeLog<M extends { step: number; timestamp: number; value: number }>(
  points: M[],
  seriesOf: (m: M) => number,
): Buffer {
  const f = new Float64Array(points.length * 4);
  for (let i = 0; i < points.length; i++) {
    const m = points[i]!;
    f[i * 4] = seriesOf(m);
    f[i * 4 + 1] = m.step;
    f[i * 4 + 2] = m.timestamp;
    f[i * 4 + 3] = m.value;
  }
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
}

/** One series' points from log rows, sorted, identical points once; slices of them as blocks. */
export class SeriesPoints {
  constructor(private readonly p: Points) {}
  get length(): number {
    return this.p.length;
  }
  /** The step of the i-th point. */
  step(i: number): number {
    return this.p.step[i]!;
  }
  block(from: number, to: number): Buffer {
    const f = new Float64Array((to - from) * 3);
    for (let i = from; i < to; i++) {
      const j = (i - from) * 3;
      f[j] = this.p.step[i]!;
      f[j + 1] = this.p.timestamp[i]!;
      f[j + 2] = this.p.value[i]!;
    }
    return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
  }
}

/** Log rows grouped by series: each series' points sorted. */
export function sortSeriesPoints(parts: Uint8Array[]): Map<number, SeriesPoints> {
  const bySeries = new Map<number, number[]>();
  for (const b of parts) {
    const f = asFloats(b, LOG_RECORD_BYTES);
    for (let i = 0; i < f.length; i += 4) {
      const l = bySeries.get(f[i]!);
      if (l) l.push(f[i + 1]!, f[i + 2]!, f[i + 3]!);
      else bySeries.set(f[i]!, [f[i + 1]!, f[i + 2]!, f[i + 3]!]);
    }
  }
  const out = new Map<number, SeriesPoints>();
  for (const [series, l] of bySeries) out.set(series, new SeriesPoints(decodeBlocks([new Float64Array(l)])));
  return out;
}

/** The points of one series in log rows, as one block (unsorted). */
export function logBlock(parts: Uint8Array[], series: number): Float64Array | undefined {
  const fs = parts.map((b) => asFloats(b, LOG_RECORD_BYTES));
  let n = 0;
  for (const f of fs) for (let i = 0; i < f.length; i += 4) if (f[i] === series) n++;
  if (n === 0) return undefined;
  const out = new Float64Array(n * 3);
  let o = 0;
  for (const f of fs) {
    for (let i = 0; i < f.length; i += 4) {
      if (f[i] !== series) continue;
      out[o++] = f[i + 1]!;
      out[o++] = f[i + 2]!;
      out[o++] = f[i + 3]!;
    }
  }
  return out;
}

/**
 * The points of some blocks at the given steps (sorted, distinct), in MLflow's order with
 * identical points once. Walks each block alongside the steps while its steps ascend (as they
 * usually do), so only matching points are copied.
 */
export function pointsAtSteps(blocks: (Uint8Array | Float64Array)[], wanted: number[]): Points {
  const set = new Set(wanted);
  const s: number[] = [];
  const t: number[] = [];
  const v: number[] = [];
  for (const b of blocks) {
    const f = asFloats(b);
    if (f.length === 0) continue;
    // First wanted step >= the block's first step.
    let lo = 0;
    let hi = wanted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (wanted[mid]! < f[0]!) lo = mid + 1;
      else hi = mid;
    }
    let j = lo;
    let prev = -Infinity;
    let ordered = true;
    for (let i = 0; i < f.length; i += 3) {
      const st = f[i]!;
      let hit: boolean;
      if (ordered && st >= prev) {
        while (j < wanted.length && wanted[j]! < st) j++;
        hit = j < wanted.length && wanted[j] === st;
        prev = st;
      } else {
        ordered = false;
        hit = set.has(st);
      }
      if (hit) {
        s.push(st);
        t.push(f[i + 1]!);
        v.push(f[i + 2]!);
      }
    }
  }
  const n = s.length;
  const f = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    f[i * 3] = s[i]!;
    f[i * 3 + 1] = t[i]!;
    f[i * 3 + 2] = v[i]!;
  }
  return decodeBlocks([f]);
}

function asFloats(b: Uint8Array | Float64Array, record = RECORD_BYTES): Float64Array {
  if (b instanceof Float64Array) return b;
  if (b.byteLength % record !== 0)
    throw new Error(`metric data of ${b.byteLength} bytes is not a whole number of points`);
  // Float64Array needs an 8-byte aligned offset; a driver's buffer may be a slice of a pool.
  if (b.byteOffset % 8 === 0) return new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float64Array(copy.buffer);
}

/**
 * The points of some blocks, sorted in MLflow's order with identical points once, keeping only
 * those `keep` accepts (by step) and those after `after` (a position in that order).
 */
export function decodeBlocks(
  blocks: (Uint8Array | Float64Array)[],
  opts: { keep?: (step: number) => boolean; after?: readonly [number, number, number, number] } = {},
): Points {
  let total = 0;
  for (const b of blocks) total += b.byteLength / RECORD_BYTES;
  const step = new Float64Array(total);
  const timestamp = new Float64Array(total);
  const value = new Float64Array(total);
  const { keep, after } = opts;
  let n = 0;
  let sorted = true;
  for (const b of blocks) {
    const f = asFloats(b);
    for (let i = 0; i < f.length; i += 3) {
      const s = f[i]!;
      const t = f[i + 1]!;
      const v = f[i + 2]!;
      if (keep && !keep(s)) continue;
      if (after) {
        if (s < after[0]) continue;
        if (s === after[0]) {
          const c = t !== after[1] ? t - after[1] : vkey(v) !== after[2] ? vkey(v) - after[2] : nkey(v) - after[3];
          if (c <= 0) continue;
        }
      }
      if (sorted && n > 0 && compare(step[n - 1]!, timestamp[n - 1]!, value[n - 1]!, s, t, v) > 0) sorted = false;
      step[n] = s;
      timestamp[n] = t;
      value[n] = v;
      n++;
    }
  }
  let out: Points = { step, timestamp, value, length: n };
  if (!sorted) {
    const idx = new Uint32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    idx.sort((a, b) => compare(step[a]!, timestamp[a]!, value[a]!, step[b]!, timestamp[b]!, value[b]!));
    const s2 = new Float64Array(n);
    const t2 = new Float64Array(n);
    const v2 = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const j = idx[i]!;
      s2[i] = step[j]!;
      t2[i] = timestamp[j]!;
      v2[i] = value[j]!;
    }
    out = { step: s2, timestamp: t2, value: v2, length: n };
  }
  // Identical points (now adjacent) once.
  let w = 0;
  for (let i = 0; i < out.length; i++) {
    if (
      w > 0 &&
      compare(
        out.step[w - 1]!,
        out.timestamp[w - 1]!,
        out.value[w - 1]!,
        out.step[i]!,
        out.timestamp[i]!,
        out.value[i]!,
      ) === 0
    )
      continue;
    if (w !== i) {
      out.step[w] = out.step[i]!;
      out.timestamp[w] = out.timestamp[i]!;
      out.value[w] = out.value[i]!;
    }
    w++;
  }
  out.length = w;
  return out;
}

/** The distinct steps of some blocks, sorted. */
export function blockSteps(blocks: (Uint8Array | Float64Array)[]): number[] {
  const set = new Set<number>();
  for (const b of blocks) {
    const f = asFloats(b);
    for (let i = 0; i < f.length; i += 3) set.add(f[i]!);
  }
  return [...set].sort((a, b) => a - b);
}

/**
 * What a chart needs of a block without its points (tracking_metric_block_stats): how many
 * points, the least and greatest value (NaN left out; null when every value is NaN), the last
 * point in MLflow's order, and the timestamp range. Kept for blocks as they are written, so a
 * metric's buckets (metric-buckets.ts) read only the blocks that straddle a bucket's edge.
 */
export interface BlockStats {
  n: number;
  minValue: number | null;
  maxValue: number | null;
  lastStep: number;
  lastTimestamp: number;
  /** NaN when the last point's value is NaN. */
  lastValue: number;
  minTimestamp: number;
  maxTimestamp: number;
}

/** The stats of the points [from, to) of records [step, timestamp, value] (`to` > `from`). */
export function statsOf(f: Float64Array, from = 0, to = f.length / 3): BlockStats {
  let min = Infinity;
  let max = -Infinity;
  let values = 0;
  let minTs = Infinity;
  let maxTs = -Infinity;
  let ls = f[from * 3]!;
  let lt = f[from * 3 + 1]!;
  let lv = f[from * 3 + 2]!;
  for (let i = from * 3; i < to * 3; i += 3) {
    const s = f[i]!;
    const t = f[i + 1]!;
    const v = f[i + 2]!;
    if (v === v) {
      values++;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (t < minTs) minTs = t;
    if (t > maxTs) maxTs = t;
    if (compare(s, t, v, ls, lt, lv) > 0) {
      ls = s;
      lt = t;
      lv = v;
    }
  }
  return {
    n: to - from,
    minValue: values ? min : null,
    maxValue: values ? max : null,
    lastStep: ls,
    lastTimestamp: lt,
    lastValue: lv,
    minTimestamp: minTs,
    maxTimestamp: maxTs,
  };
}

/** A block's stats as the row values of tracking_metric_block_stats after (series_id, seq). */
export function statsRow(s: BlockStats): unknown[] {
  const nan = Number.isNaN(s.lastValue);
  return [
    s.n,
    s.minValue,
    s.maxValue,
    s.lastStep,
    s.lastTimestamp,
    nan ? 0 : s.lastValue,
    nan ? 1 : 0,
    s.minTimestamp,
    s.maxTimestamp,
  ];
}

export const STATS_COLUMNS =
  'series_id, seq, n, min_value, max_value, last_step, last_timestamp, last_value, last_is_nan, min_timestamp, max_timestamp';

/** The raw records of a block (for reading them in place). */
export function blockFloats(b: Uint8Array | Float64Array): Float64Array {
  return asFloats(b);
}
