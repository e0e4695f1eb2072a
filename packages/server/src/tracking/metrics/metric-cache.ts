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
 * entry. Bounded (65,536 series, a few MB): the least recently written runs are dropped first.
 */
export interface CachedRun {
  workspaceId: string;
  experimentId: number;
  series: Map<string, SeriesState>;
  log: { rows: number; points: number };
}

/** Series kept in all (~200 bytes each), and of one run at most (a run with more is not kept). */
const MAX_SERIES = 65_536;
const MAX_SERIES_PER_RUN = 256;

export class MetricWriteCache {
  private readonly runs = new Map<string, CachedRun>();
  private series = 0;
  /** Batches written without a read first, and those of them that found the rows changed (run again). */
  readonly counts = { direct: 0, stale: 0 };

  get(runUuid: string): CachedRun | undefined {
    return this.runs.get(runUuid);
  }

  set(runUuid: string, entry: CachedRun): void {
    this.forget(runUuid);
    if (entry.series.size > MAX_SERIES_PER_RUN) return;
    this.runs.set(runUuid, entry);
    this.series += entry.series.size;
    // The least recently written first (a Map iterates in insertion order).
    for (const [id, e] of this.runs) {
      if (this.series <= MAX_SERIES) break;
      this.runs.delete(id);
      this.series -= e.series.size;
    }
  }

  forget(runUuid: string): void {
    const e = this.runs.get(runUuid);
    if (!e) return;
    this.runs.delete(runUuid);
    this.series -= e.series.size;
  }
}
