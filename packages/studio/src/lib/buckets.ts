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
      const r = await api.get<{ series?: { run_id: string; buckets: Bucket[] }[] }>('metrics/get-history-buckets', {
        run_ids: runIds,
        metric_key: key,
        buckets: n,
        min_step,
        max_step,
      });
      bucketRoute = true;
      const by = new Map((r.series ?? []).map((s) => [s.run_id, s.buckets]));
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
 * every spike visible at that size), in steps of 50 so that a page can guess it before the chart
 * is laid out (`prefetchBuckets`), at most 1,000.
 */
export function bucketsFor(width: number): number {
  return Math.min(1000, Math.max(100, Math.round(width / 100) * 50));
}

const early = new Map<string, Promise<Bucket[][]>>();
const earlyKey = (api: Mlflow, runIds: string[], key: string, n: number, range?: [number, number]) =>
  `${api.base}|${runIds.join(',')}|${key}|${n}|${range ? range.join('~') : ''}`;

/**
 * Starts loading a chart's buckets before the chart exists (a page that knows the runs and metric
 * from its URL calls this while it still loads the runs), so the two requests overlap.
 */
export function prefetchBuckets(api: Mlflow, runIds: string[], key: string, width: number, range?: [number, number]) {
  const n = bucketsFor(width);
  const k = earlyKey(api, runIds, key, n, range);
  if (early.has(k)) return;
  const p = loadBuckets(api, runIds, key, n, range);
  p.catch(() => undefined);
  early.set(k, p);
  // Unclaimed (the chart was never drawn, or asked for something else): forgotten soon.
  setTimeout(() => early.delete(k), 30_000);
}

/** The buckets a chart needs: the prefetched answer when one matches (used once), else a new request. */
export function takeBuckets(
  api: Mlflow,
  runIds: string[],
  key: string,
  n: number,
  range?: [number, number],
): { answer: Promise<Bucket[][]>; prefetched: boolean } {
  const k = earlyKey(api, runIds, key, n, range);
  const p = early.get(k);
  if (p) {
    early.delete(k);
    return { answer: p, prefetched: true };
  }
  return { answer: loadBuckets(api, runIds, key, n, range), prefetched: false };
}
