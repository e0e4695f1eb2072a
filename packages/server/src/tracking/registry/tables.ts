/** Row types of the MLflow model registry (created by store/migrations/0150-mlflow-registry.ts). */
export interface RegisteredModelRow {
  workspace_id: string;
  name: string;
  creation_time: number;
  last_updated_time: number;
  description: string | null;
  user_id: string | null;
}
export interface RegisteredModelTagRow {
  workspace_id: string;
  name: string;
  key: string;
  value: string | null;
}
export interface RegisteredModelAliasRow {
  workspace_id: string;
  name: string;
  alias: string;
  version: number;
}
export interface ModelVersionRow {
  workspace_id: string;
  name: string;
  version: number;
  creation_time: number;
  last_updated_time: number;
  description: string | null;
  user_id: string | null;
  current_stage: string;
  source: string;
  storage_location: string | null;
  run_id: string | null;
  run_link: string | null;
  model_id: string | null;
  status: string;
  status_message: string | null;
}
export interface ModelVersionTagRow {
  workspace_id: string;
  name: string;
  version: number;
  key: string;
  value: string | null;
}

declare module '../../store/schema.js' {
  interface Tables {
    mlflow_registered_models: RegisteredModelRow;
    mlflow_registered_model_tags: RegisteredModelTagRow;
    mlflow_registered_model_aliases: RegisteredModelAliasRow;
    mlflow_model_versions: ModelVersionRow;
    mlflow_model_version_tags: ModelVersionTagRow;
  }
}
