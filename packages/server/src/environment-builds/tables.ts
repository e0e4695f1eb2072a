/** Row type of environment build records (migrations/0460-environment-builds.ts). */
export interface EnvironmentBuildRow {
  id: string;
  spec_hash: string;
  workspace_key: string;
  environment_id: string;
  status: string;
  spec: string;
  log: string;
  size_bytes: number | null;
  tool: string;
  created_at: number;
  finished_at: number | null;
}

declare module '../store/schema.js' {
  interface Tables {
    environment_builds: EnvironmentBuildRow;
  }
}
