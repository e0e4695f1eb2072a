/** Row type of run files kept in a datastore (store/migrations/0950-run-datastore-files.ts). */
export interface RunDatastoreFileRow {
  workspace_id: string;
  /** The first two segments of `path` (`{experiment id}/{run id}`). */
  root: string;
  /** The run file's MLflow artifact path (from the workspace's artifact root). */
  path: string;
  datastore: string;
  account: string;
  container: string;
  blob: string;
  created_at: number;
}

declare module '../store/schema.js' {
  interface Tables {
    run_datastore_files: RunDatastoreFileRow;
  }
}
