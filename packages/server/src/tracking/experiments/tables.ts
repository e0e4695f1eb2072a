/** Row types of the experiment tables (created by store/migrations/0100-tracking.ts). */
export interface ExperimentRow {
  workspace_id: string;
  experiment_id: number;
  name: string;
  artifact_location: string;
  lifecycle_stage: string;
  creation_time: number;
  last_update_time: number;
}
export interface ExperimentTagRow {
  workspace_id: string;
  experiment_id: number;
  key: string;
  value: string;
}

declare module '../../store/schema.js' {
  interface Tables {
    tracking_experiments: ExperimentRow;
    tracking_experiment_tags: ExperimentTagRow;
  }
}
