import { ApiError, type Mlflow } from './api';

/** One x-bucket of a metric series: what the chart draws (a min–max band and the last value). */
export interface Bucket {
  start: number;
  end: number;
  min: number | null;
  max: number | null;
  last: number;
  last_step: number;
  count: number;
}

let bucketRoute: boolean | undefined;

/** The route's layout=columns answer for one series (values that are not finite come as strings). */
interface Columns {
  start_step: number[];
  end_step: number[];
  min: (number | string | null)[];
  max: (number | string | null)[];
  last: (number | string)[];
  last_step: number[];
  count: number[];
}

const double = (v: number | string): number => (typeof v === 'number' ? v : Number(v));

function fromColumns(c: Columns): Bucket[] {
  return c.last_step.map((step, i) => ({
    start: c.start_step[i]!,
    end: c.end_step[i]!,
    min: c.min[i] === null ? null : double(c.min[i]!),
    max: c.max[i] === null ? null : double(c.max[i]!),
    last: double(c.last[i]!),
    last_step: step,
    count: c.count[i]!,
  }));
}

/**
 * A metric of several runs (at most 100) as at most `n` buckets each over [minStep, maxStep] (the
 * whole series when absent), in one request: the server's `metrics/get-history-buckets` reads every
 * point and keeps min, max and last per bucket, so spikes survive at every zoom. A server without that
 * route (older versions) is asked for MLflow's sampled `get-history-bulk-interval` instead, each point
 * a bucket of one.
 */
export async function loadBuckets(
  api: Mlflow,
  runIds: string[],
  key: string,
  n: number,
  range?: [number, number],
): Promise<Bucket[][]> {
  const min_step = range ? Math.floor(range[0]) : undefined;
  const max_step = range ? Math.ceil(range[1]) : undefined;
  if (bucketRoute !== false) {
    try {
      // layout=columns: one array per field, less than half the bytes of an object per bucket.
      const r = await api.get<{ series?: { run_id: string; columns?: Columns }[] }>('metrics/get-history-buckets', {
        run_ids: runIds,
        metric_key: key,
        buckets: n,
        min_step,
        max_step,
        layout: 'columns',
      });
      bucketRoute = true;
      const by = new Map((r.series ?? []).map((s) => [s.run_id, s.columns ? fromColumns(s.columns) : []]));
      return runIds.map((id) => by.get(id) ?? []);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404 && e.code === 'ENDPOINT_NOT_FOUND')) throw e;
      bucketRoute = false;
    }
  }
  return Promise.all(
    runIds.map(async (id) => {
      const r = await api.get<{ metrics?: { step: number; value: number }[] }>('metrics/get-history-bulk-interval', {
        run_ids: [id],
        metric_key: key,
        max_results: Math.min(n, 1000),
        start_step: min_step,
        end_step: max_step,
      });
      return (r.metrics ?? []).map((m) => ({
        start: m.step,
        end: m.step,
        min: m.value,
        max: m.value,
        last: m.value,
        last_step: m.step,
        count: 1,
      }));
    }),
  );
}

/**
 * How many buckets a chart of `width` pixels asks for: one per two pixels (the min–max band keeps
 * every spike visible at that size, and the answer is half as large), in steps of 50, at most 1,000.
 */
export function bucketsFor(width: number): number {
  return Math.min(1000, Math.max(100, Math.round(width / 100) * 50));
}
