/** Row types of the compute module's tables (migrations/0400-compute-nodes.ts). */
export interface ComputeNodeRow {
  /** Lower-cased ARM id of the compute. */
  compute_key: string;
  node_id: string;
  created_at: number;
  /** When the node last became idle; null while it runs or prepares a job. */
  idle_since: number | null;
}

declare module '../store/schema.js' {
  interface Tables {
    compute_nodes: ComputeNodeRow;
  }
}
