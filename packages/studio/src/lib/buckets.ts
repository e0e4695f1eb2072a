import { ApiError, type Mlflow } from './api';

/** One x-bucket of a metric series: what the chart draws (a min–max band and the last value). */
export interface Bucket {
  start_step: number;
  end_step: number;
  min: number;
  max: number;
  last: number;
  last_step: number;
  count: number;
}

let bucketRoute: boolean | undefined;

/**
 * A metric series of one run as at most `n` buckets over [minStep, maxStep] (the whole series when
 * absent): the server's `metrics/get-history-buckets` reads every point and keeps min, max and last per
 * bucket, so spikes survive at every zoom. A server without that route (older versions) is asked for
 * MLflow's sampled `get-history-bulk-interval` instead, each point a bucket of one.
 */
export async function loadBuckets(
  api: Mlflow,
  runId: string,
  key: string,
  n: number,
  range?: [number, number],
): Promise<Bucket[]> {
  const q = {
    run_id: runId,
    metric_key: key,
    buckets: n,
    min_step: range ? Math.floor(range[0]) : undefined,
    max_step: range ? Math.ceil(range[1]) : undefined,
  };
  if (bucketRoute !== false) {
    try {
      const r = await api.get<{ buckets?: Bucket[] }>('metrics/get-history-buckets', q);
      bucketRoute = true;
      return r.buckets ?? [];
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404 && e.code === 'ENDPOINT_NOT_FOUND')) throw e;
      bucketRoute = false;
    }
  }
  const r = await api.get<{ metrics?: { step: number; value: number }[] }>('metrics/get-history-bulk-interval', {
    run_ids: [runId],
    metric_key: key,
    max_results: Math.min(n, 1000),
    start_step: q.min_step,
    end_step: q.max_step,
  });
  return (r.metrics ?? []).map((m) => ({
    start_step: m.step,
    end_step: m.step,
    min: m.value,
    max: m.value,
    last: m.value,
    last_step: m.step,
    count: 1,
  }));
}
