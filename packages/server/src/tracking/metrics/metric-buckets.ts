import { compare, type BlockStats } from './metric-blocks.js';
import { jsonDouble, type JsonDouble } from '../runs/types.js';

/** What a chart plots of one x-bucket of a series: its extent on x, least, greatest and last value. */
export interface MetricBucket {
  /** The bucket's number, 0 … buckets-1, from the start of the range. */
  bucket: number;
  /** Least and greatest step of the bucket's points. */
  start_step: number;
  end_step: number;
  /** x_axis=relative_time: least and greatest ms since the series' first point of the bucket's points. */
  start_time?: number;
  end_time?: number;
  /** Least and greatest value, NaN left out (null when every value is NaN). */
  min: JsonDouble | null;
  max: JsonDouble | null;
  /** The bucket's last point in MLflow's order (step, timestamp, value). */
  last: JsonDouble;
  last_step: number;
  last_timestamp: number;
  /** Points in the bucket. */
  count: number;
}

interface Acc {
  start: number;
  end: number;
  s0: number;
  s1: number;
  min: number;
  max: number;
  values: number;
  ls: number;
  lt: number;
  lv: number;
  count: number;
}

/**
 * Even x-buckets over [lo, hi] (integers: steps, or milliseconds), each the half-open interval
 * [lo + i·w, lo + (i+1)·w) with w = (hi − lo + 1) / n. Points and whole-block stats go in; a block
 * whose points all fall into one bucket adds its stats without being read.
 */
export class Bucketer {
  readonly width: number;
  private readonly acc = new Map<number, Acc>();
  constructor(
    readonly lo: number,
    readonly hi: number,
    readonly n: number,
  ) {
    this.width = (hi - lo + 1) / n;
  }

  index(x: number): number {
    return Math.min(this.n - 1, Math.floor((x - this.lo) / this.width));
  }

  /** Whether [xMin, xMax] lies in one bucket of the range (then its stats may stand for it). */
  within(xMin: number, xMax: number): boolean {
    return xMin >= this.lo && xMax <= this.hi && this.index(xMin) === this.index(xMax);
  }

  private bucket(i: number, x: number): Acc {
    let a = this.acc.get(i);
    if (!a) {
      a = {
        start: x,
        end: x,
        s0: Infinity,
        s1: -Infinity,
        min: Infinity,
        max: -Infinity,
        values: 0,
        ls: NaN,
        lt: NaN,
        lv: NaN,
        count: 0,
      };
      this.acc.set(i, a);
    }
    return a;
  }

  /** Adds the points of records [step, timestamp, value] whose x (step, or timestamp − t0) is in range. */
  addRecords(f: Float64Array, axis: 'step' | 'time', t0 = 0): void {
    const lo = this.lo;
    const hi = this.hi;
    const w = this.width;
    const last = this.n - 1;
    for (let i = 0; i < f.length; i += 3) {
      const s = f[i]!;
      const t = f[i + 1]!;
      const x = axis === 'step' ? s : t - t0;
      if (x < lo || x > hi) continue;
      const v = f[i + 2]!;
      let k = Math.floor((x - lo) / w);
      if (k > last) k = last;
      const a = this.bucket(k, x);
      if (x < a.start) a.start = x;
      if (x > a.end) a.end = x;
      if (s < a.s0) a.s0 = s;
      if (s > a.s1) a.s1 = s;
      if (v === v) {
        a.values++;
        if (v < a.min) a.min = v;
        if (v > a.max) a.max = v;
      }
      if (a.count === 0 || compare(s, t, v, a.ls, a.lt, a.lv) > 0) {
        a.ls = s;
        a.lt = t;
        a.lv = v;
      }
      a.count++;
    }
  }

  /** Adds a whole block by its stats; its points span [xMin, xMax] (inside one bucket, see `within`) and steps [s0, s1]. */
  addStats(s: BlockStats, xMin: number, xMax: number, s0: number, s1: number): void {
    const a = this.bucket(this.index(xMin), xMin);
    if (xMin < a.start) a.start = xMin;
    if (xMax > a.end) a.end = xMax;
    if (s0 < a.s0) a.s0 = s0;
    if (s1 > a.s1) a.s1 = s1;
    if (s.minValue !== null && s.maxValue !== null) {
      a.values += 1;
      if (s.minValue < a.min) a.min = s.minValue;
      if (s.maxValue > a.max) a.max = s.maxValue;
    }
    if (a.count === 0 || compare(s.lastStep, s.lastTimestamp, s.lastValue, a.ls, a.lt, a.lv) > 0) {
      a.ls = s.lastStep;
      a.lt = s.lastTimestamp;
      a.lv = s.lastValue;
    }
    a.count += s.n;
  }

  result(axis: 'step' | 'time'): MetricBucket[] {
    return [...this.acc.entries()]
      .sort((x, y) => x[0] - y[0])
      .map(([bucket, a]) => ({
        bucket,
        start_step: a.s0,
        end_step: a.s1,
        ...(axis === 'time' ? { start_time: a.start, end_time: a.end } : {}),
        min: a.values ? jsonDouble(a.min) : null,
        max: a.values ? jsonDouble(a.max) : null,
        last: jsonDouble(a.lv),
        last_step: a.ls,
        last_timestamp: a.lt,
        count: a.count,
      }));
  }
}

/** Buckets as one array per field (layout=columns): the same values without a key per value. */
export interface MetricBucketColumns {
  bucket: number[];
  start_step: number[];
  end_step: number[];
  start_time?: number[];
  end_time?: number[];
  min: (JsonDouble | null)[];
  max: (JsonDouble | null)[];
  last: JsonDouble[];
  last_step: number[];
  last_timestamp: number[];
  count: number[];
}

export function toColumns(buckets: MetricBucket[], axis: 'step' | 'time'): MetricBucketColumns {
  const col = <K extends keyof MetricBucket>(k: K) => buckets.map((b) => b[k]);
  return {
    bucket: col('bucket'),
    start_step: col('start_step'),
    end_step: col('end_step'),
    ...(axis === 'time'
      ? { start_time: buckets.map((b) => b.start_time!), end_time: buckets.map((b) => b.end_time!) }
      : {}),
    min: col('min'),
    max: col('max'),
    last: col('last'),
    last_step: col('last_step'),
    last_timestamp: col('last_timestamp'),
    count: col('count'),
  };
}
