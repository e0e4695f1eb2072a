/** Row types of multipart artifact uploads (created by store/migrations/0170-mlflow-artifact-uploads.ts). */
export interface ArtifactUploadRow {
  upload_id: string;
  workspace_id: string;
  storage_account: string;
  path: string;
  num_parts: number;
  token_hash: string;
  created_at: number;
  expires_at: number;
  created_by: string | null;
}
export interface ArtifactUploadPartRow {
  upload_id: string;
  part_number: number;
  etag: string;
  size: number;
}

declare module '../../store/schema.js' {
  interface Tables {
    mlflow_artifact_uploads: ArtifactUploadRow;
    mlflow_artifact_upload_parts: ArtifactUploadPartRow;
  }
}
