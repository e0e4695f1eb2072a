import type { SeriesState } from './tables.js';

/**
 * What one process last wrote into a run's metrics (PostgreSQL's batched metric writes): the run's
 * workspace and experiment, its series' summaries as stored (tracking_latest_metrics) and its log's
 * size. A batch whose runs and keys are all here needs nothing read before it writes, so its
 * statements and COMMIT leave together: one round trip instead of two.
 *
 * It is a guess, never trusted: the write sends what it expects to find, and the statement checks
 * it against the rows (another server on the same database, a write that went by another path, a
 * deleted run, a transaction that did not commit). If anything differs it writes nothing and the
 * batch runs again on what it reads (metric-write.ts, `writeMetricsMany`), which refreshes the
 * entry. Bounded: the least recently written runs are dropped first.
 */
export interface CachedRun {
  workspaceId: string;
  experimentId: number;
  series: Map<string, SeriesState>;
  log: { rows: number; points: number };
}

/** Runs kept (their series below), and series of one run at most (a run with more is not kept). */
const MAX_RUNS = 4096;
const MAX_SERIES_PER_RUN = 256;

export class MetricWriteCache {
  private readonly runs = new Map<string, CachedRun>();
  /** Batches written without a read first, and those of them that found the rows changed (run again). */
  readonly counts = { direct: 0, stale: 0 };

  get(runUuid: string): CachedRun | undefined {
    return this.runs.get(runUuid);
  }

  set(runUuid: string, entry: CachedRun): void {
    this.runs.delete(runUuid);
    if (entry.series.size > MAX_SERIES_PER_RUN) return;
    this.runs.set(runUuid, entry);
    if (this.runs.size > MAX_RUNS) this.runs.delete(this.runs.keys().next().value!);
  }

  forget(runUuid: string): void {
    this.runs.delete(runUuid);
  }
}
