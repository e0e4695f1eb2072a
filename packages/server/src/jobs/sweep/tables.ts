/** Row types of the sweep tables (created by store/migrations/0550-sweeps.ts). */
export interface JobSweepRow {
  /** The sweep job's key (jobs.job_key). */
  job_key: string;
  /** The random sampler's seed (samplingAlgorithm.seed, or drawn at the sweep's start). */
  seed: string;
  /** The best trial's job name and its primary metric, once a trial completed with one. */
  best_trial: string | null;
  best_value: number | null;
  updated_at: number;
}

export interface JobSweepTrialRow {
  job_key: string;
  /** 0, 1, …: the trial's number (its parameters are sample(trial_index)). */
  trial_index: number;
  /** The trial's child job. */
  job_name: string;
  /** The sampled parameters (JSON). */
  params: string;
  /** Why early termination stopped it, or null. */
  terminated: string | null;
  created_at: number;
}

declare module '../../store/schema.js' {
  interface Tables {
    job_sweeps: JobSweepRow;
    job_sweep_trials: JobSweepTrialRow;
  }
}
