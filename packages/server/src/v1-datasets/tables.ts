/** Row type of dataset profiles (store/migrations/0951-dataset-profiles.ts). */
export interface DatasetProfileActionRow {
  workspace_id: string;
  action_id: string;
  /** The saved dataset profiled. */
  saved_dataset_id: string;
  experiment_name: string;
  /** The completed run whose file `dataset_profile/profile.json` is the profile. */
  run_id: string;
  compute_target: string;
  created_at: number;
}

declare module '../store/schema.js' {
  interface Tables {
    dataset_profile_actions: DatasetProfileActionRow;
  }
}
