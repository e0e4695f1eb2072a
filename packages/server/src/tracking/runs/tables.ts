/** Row types of the run tables (created by store/migrations/0100-tracking.ts). */
export interface RunRow {
  run_uuid: string;
  workspace_id: string;
  experiment_id: number;
  name: string;
  user_id: string;
  status: string;
  start_time: number;
  end_time: number | null;
  lifecycle_stage: string;
  artifact_uri: string;
  deleted_time: number | null;
}
export interface KeyValueRow {
  run_uuid: string;
  key: string;
  value: string;
  workspace_id: string;
  experiment_id: number;
}
export interface DatasetRow {
  dataset_uuid: string;
  workspace_id: string;
  experiment_id: number;
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema: string | null;
  profile: string | null;
}
export interface InputRow {
  run_uuid: string;
  dataset_uuid: string;
  tags: string;
  context: string | null;
  created_at: number;
}
export interface OutputRow {
  run_uuid: string;
  model_id: string;
  step: number;
}

declare module '../../store/schema.js' {
  interface Tables {
    tracking_runs: RunRow;
    tracking_params: KeyValueRow;
    tracking_tags: KeyValueRow;
    tracking_datasets: DatasetRow;
    tracking_inputs: InputRow;
    tracking_outputs: OutputRow;
  }
}
