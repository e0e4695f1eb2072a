/** Row type of runs' text metrics (store/migrations/0960-run-text-metrics.ts). */
export interface RunTextMetricRow {
  workspace_id: string;
  /** The MLflow run's id. */
  run_uuid: string;
  /** The metric's name (a table's column: `{name}.{column}`). */
  name: string;
  /** Unique within the run's metric (a uuid). */
  point_id: string;
  /** Epoch ms. */
  timestamp: number;
  step: number;
  value: string;
}

declare module '../store/schema.js' {
  interface Tables {
    run_text_metrics: RunTextMetricRow;
  }
}
