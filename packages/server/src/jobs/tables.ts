/** Row type of the jobs table (created by store/migrations/0500-jobs.ts). */
export interface JobRow {
  /** `<workspace GUID>/<lower-cased job name>`: job names are unique per workspace, case-insensitively. */
  job_key: string;
  workspace_id: string;
  /** The workspace's ARM id, as created (for the job's own ARM id). */
  workspace_arm_id: string;
  name: string;
  /** Command | Sweep | Pipeline. */
  job_type: string;
  /** Azure ML status (NotStarted, Queued, Preparing, Running, Finalizing, CancelRequested, Completed, Failed, Canceled). */
  status: string;
  /** The validated `properties` of the job (JSON). */
  spec: string;
  tags: string;
  /** The sweep or pipeline this job is a trial or step of (its name), or null. */
  parent_name: string | null;
  /** Lower-cased compute name the job runs on ('' = the server's own machine). */
  compute: string;
  /** Ranks the job occupies while it runs (resources.instanceCount). */
  ranks: number;
  /** The job's MLflow run and experiment. */
  run_id: string | null;
  experiment_id: number | null;
  /** Which executor runs it, and its handle (reattach after a restart). */
  executor: string | null;
  handle: string | null;
  /** The server process driving the job now, and when it last said so (ms). */
  owner: string | null;
  heartbeat_at: number | null;
  /** `{code, message}` of a failed job (JSON). */
  error: string | null;
  /** Hash of a pipeline step's spec and input hashes (reuse of unchanged steps). */
  reuse_key: string | null;
  created_at: number;
  /** Principal id of the submitter (the job acts as them) and how systemData names them. */
  created_by: string;
  created_by_actor: string;
  start_time: number | null;
  end_time: number | null;
  updated_at: number;
}

declare module '../store/schema.js' {
  interface Tables {
    jobs: JobRow;
  }
}
