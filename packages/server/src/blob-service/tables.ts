/** Row types of the Blob REST subset (migrations/0450-blob-properties.ts). */
export interface BlobPropertiesRow {
  key_hash: string;
  account: string;
  container: string;
  blob: string;
  /** JSON object of the blob's user metadata (`x-ms-meta-*`). */
  metadata: string;
  content_type: string | null;
  content_md5: string | null;
  updated_at: number;
}

declare module '../store/schema.js' {
  interface Tables {
    blob_properties: BlobPropertiesRow;
  }
}
