/**
 * Row types of MLflow 3 logged models (created by store/migrations/0160-mlflow-logged-models.ts), the
 * models runs used as inputs (0190-tracking-model-inputs.ts) and their metrics (0195-model-metrics.ts).
 */
export interface LoggedModelRow {
  model_id: string;
  workspace_id: string;
  experiment_id: string;
  name: string;
  artifact_location: string;
  creation_timestamp_ms: number;
  last_updated_timestamp_ms: number;
  status: number;
  status_message: string | null;
  lifecycle_stage: string;
  model_type: string | null;
  source_run_id: string | null;
}
export interface LoggedModelParamRow {
  model_id: string;
  key: string;
  value: string;
}
export interface LoggedModelTagRow {
  model_id: string;
  key: string;
  value: string;
}
/** A logged model a run used as an input (MLflow 3 `ModelInput`). */
export interface ModelInputRow {
  run_uuid: string;
  model_id: string;
  created_at: number;
}
/** A point of a logged model's metric. */
export interface ModelMetricRow {
  model_id: string;
  key: string;
  timestamp: number;
  step: number;
  run_uuid: string;
  value: number;
  dataset_name: string | null;
  dataset_digest: string | null;
  workspace_id: string;
  experiment_id: number;
}

declare module '../../store/schema.js' {
  interface Tables {
    mlflow_logged_models: LoggedModelRow;
    mlflow_logged_model_params: LoggedModelParamRow;
    mlflow_logged_model_tags: LoggedModelTagRow;
    tracking_model_inputs: ModelInputRow;
    tracking_model_metrics: ModelMetricRow;
  }
}
