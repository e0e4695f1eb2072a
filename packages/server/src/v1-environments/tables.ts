/** Row type of environment labels (migrations/0470-environment-labels.ts). */
export interface EnvironmentLabelRow {
  workspace_id: string;
  /** The environment's name, lower-cased (names are case-insensitive, as ARM ids). */
  name_key: string;
  label: string;
  version: string;
  version_created_at: number;
  updated_at: number;
  updated_by: string;
}

declare module '../store/schema.js' {
  interface Tables {
    environment_labels: EnvironmentLabelRow;
  }
}
