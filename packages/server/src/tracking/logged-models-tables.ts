/** Row types of MLflow 3 logged models (see store/migrations/0160-mlflow-logged-models.ts). */
export interface LoggedModelRow {
  model_id: string; workspace_id: string; experiment_id: string; name: string; artifact_location: string;
  creation_timestamp_ms: number; last_updated_timestamp_ms: number; status: number; status_message: string | null;
  lifecycle_stage: string; model_type: string | null; source_run_id: string | null;
}
export interface LoggedModelParamRow { model_id: string; key: string; value: string }
export interface LoggedModelTagRow { model_id: string; key: string; value: string }

declare module '../store/schema.js' {
  interface Tables {
    mlflow_logged_models: LoggedModelRow;
    mlflow_logged_model_params: LoggedModelParamRow;
    mlflow_logged_model_tags: LoggedModelTagRow;
  }
}
