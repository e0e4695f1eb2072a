import type { Generated, Selectable } from 'kysely';

/**
 * Row types of the metric tables (created by store/migrations/0100-tracking.ts and
 * 0180-metric-blocks.ts). Packed points (metric-blocks.ts): per series, and per run not yet folded.
 */
export interface MetricBlockRow {
  series_id: number;
  seq: number;
  min_step: number;
  max_step: number;
  n: number;
  data: Buffer;
}
export interface MetricLogRow {
  run_uuid: string;
  seq: number;
  n: number;
  data: Buffer;
  /** The points of the run's log up to and including this row (its last row tells the log's size). */
  points_through: number | null;
}
/**
 * One row per series: latest value, step range, number of distinct steps (steps = max - min + 1:
 * contiguous; 0: not known) and, when they have gaps, the ranges they form (JSON [[a, b], …]).
 */
export interface LatestMetricRow {
  series_id: Generated<number>;
  run_uuid: string;
  key: string;
  step: number;
  timestamp: number;
  value: number;
  is_nan: number;
  workspace_id: string;
  experiment_id: number;
  min_step: number;
  max_step: number;
  steps: number;
  step_segments: string | null;
}

/** A series' row as a metric write reads it, without its run's columns. */
export type SeriesState = Omit<Selectable<LatestMetricRow>, 'run_uuid' | 'workspace_id' | 'experiment_id'>;

/** What a chart needs of a block without its points (metric-blocks.ts BlockStats; migration 0260). */
export interface MetricBlockStatsRow {
  series_id: number;
  seq: number;
  n: number;
  min_value: number | null;
  max_value: number | null;
  last_step: number;
  last_timestamp: number;
  last_value: number;
  last_is_nan: number;
  min_timestamp: number;
  max_timestamp: number;
}

declare module '../../store/schema.js' {
  interface Tables {
    tracking_metric_block_stats: MetricBlockStatsRow;
    tracking_metric_blocks: MetricBlockRow;
    tracking_metric_log: MetricLogRow;
    tracking_latest_metrics: LatestMetricRow;
  }
}
