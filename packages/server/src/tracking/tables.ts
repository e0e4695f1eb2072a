import type { Generated } from 'kysely';

/** Row types of the tracking tables (see store/migrations/0100-tracking.ts). */
export interface ExperimentRow {
  workspace_id: string; experiment_id: number; name: string; artifact_location: string; lifecycle_stage: string;
  creation_time: number; last_update_time: number;
}
export interface ExperimentTagRow { workspace_id: string; experiment_id: number; key: string; value: string }
export interface RunRow {
  run_uuid: string; workspace_id: string; experiment_id: number; name: string; user_id: string; status: string;
  start_time: number; end_time: number | null; lifecycle_stage: string; artifact_uri: string; deleted_time: number | null;
}
export interface KeyValueRow { run_uuid: string; key: string; value: string; workspace_id: string; experiment_id: number }
/** Packed points (tracking/metric-blocks.ts; migration 0180): per series, and per run not yet folded. */
export interface MetricBlockRow { series_id: number; seq: number; min_step: number; max_step: number; n: number; data: Buffer }
export interface MetricLogRow { run_uuid: string; seq: number; n: number; data: Buffer }
/**
 * One row per series: latest value, step range, number of distinct steps (steps = max - min + 1:
 * contiguous; 0: not known) and, when they have gaps, the ranges they form (JSON [[a, b], …]).
 */
export interface LatestMetricRow {
  series_id: Generated<number>; run_uuid: string; key: string; step: number; timestamp: number; value: number; is_nan: number;
  workspace_id: string; experiment_id: number; min_step: number; max_step: number; steps: number;
  step_segments: string | null;
}
export interface DatasetRow {
  dataset_uuid: string; workspace_id: string; experiment_id: number; name: string; digest: string; source_type: string;
  source: string; schema: string | null; profile: string | null;
}
export interface InputRow { run_uuid: string; dataset_uuid: string; tags: string; context: string | null; created_at: number }
export interface OutputRow { run_uuid: string; model_id: string; step: number }

declare module '../store/schema.js' {
  interface Tables {
    tracking_experiments: ExperimentRow;
    tracking_experiment_tags: ExperimentTagRow;
    tracking_runs: RunRow;
    tracking_params: KeyValueRow;
    tracking_tags: KeyValueRow;
    tracking_metric_blocks: MetricBlockRow;
    tracking_metric_log: MetricLogRow;
    tracking_latest_metrics: LatestMetricRow;
    tracking_datasets: DatasetRow;
    tracking_inputs: InputRow;
    tracking_outputs: OutputRow;
  }
}
