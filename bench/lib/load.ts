import type { CpuSampler, CpuSplit } from './cpu.js';

/**
 * The load runner: `concurrency` workers take operation numbers from one counter until `total` are
 * done or `maxMs` has passed, timing each operation. Bounded in count and time by construction.
 */

export interface LoadResult {
  /** Operations that succeeded. */
  ops: number;
  /** Work units those operations carried (metric points, bytes, …); equals ops when not given. */
  units: number;
  errors: number;
  firstError?: string;
  seconds: number;
  concurrency: number;
  /** Latencies of successful operations, milliseconds. */
  p50: number;
  p99: number;
  /** True when the time limit stopped the workload before `total` operations. */
  timeLimited: boolean;
  /** CPU microseconds per successful measured operation, by process (when `cpu` was given). */
  cpuUsPerOp?: CpuSplit;
}

export interface LoadOptions {
  total: number;
  concurrency: number;
  maxMs: number;
  /** Stop early when this many operations failed in a row (the server does not support it). */
  maxConsecutiveErrors?: number;
  /**
   * Operations run first and not measured (connections opened, code paths warm on both sides);
   * they get the numbers total, total+1, … so they never collide with measured ones. At most 5 s.
   */
  warmup?: number;
  /** Counts the CPU the measured operations cost (not the warm-up's). */
  cpu?: CpuSampler;
}

/** Runs `op(i, worker)` for i = 0..total-1; `op` returns the work units it carried (default 1). */
export async function runLoad(
  opts: LoadOptions,
  op: (i: number, worker: number) => Promise<number | void>,
): Promise<LoadResult> {
  if (opts.warmup) {
    let k = 0;
    const until = performance.now() + Math.min(5000, opts.maxMs / 4);
    const warm = async (w: number): Promise<void> => {
      while (k < opts.warmup! && performance.now() < until) {
        const i = opts.total + k++;
        await op(i, w).catch(() => {});
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => warm(w)));
  }
  const latencies: number[] = [];
  let next = 0;
  let units = 0;
  let errors = 0;
  let consecutive = 0;
  let firstError: string | undefined;
  let stop = false;
  let timeLimited = false;
  const maxConsecutive = opts.maxConsecutiveErrors ?? 20;
  opts.cpu?.start();
  const started = performance.now();
  const deadline = started + opts.maxMs;
  const worker = async (w: number): Promise<void> => {
    while (!stop) {
      const i = next++;
      if (i >= opts.total) return;
      if (performance.now() > deadline) {
        timeLimited = true;
        stop = true;
        return;
      }
      const t0 = performance.now();
      try {
        const u = await op(i, w);
        latencies.push(performance.now() - t0);
        units += typeof u === 'number' ? u : 1;
        consecutive = 0;
      } catch (e) {
        errors++;
        consecutive++;
        firstError ??= (e as Error).message;
        if (consecutive >= maxConsecutive) stop = true;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
  const seconds = (performance.now() - started) / 1000;
  const cpuUsPerOp = opts.cpu?.stop(latencies.length);
  latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    units,
    errors,
    firstError,
    seconds,
    concurrency: opts.concurrency,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    timeLimited,
    ...(cpuUsPerOp ? { cpuUsPerOp } : {}),
  };
}

/** Nearest-rank percentile of sorted values (NaN when empty). */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}
