import { Type, type Static } from '@sinclair/typebox';
import { Count } from './common.js';
import { FileInfo } from './tracking.js';

/**
 * MLflow's artifact proxy service (`mlflow/protos/mlflow_artifacts.proto`, `/mlflow-artifacts/…`)
 * and the web UI's artifact routes. Upload and download bodies are the files themselves.
 */

export const ListArtifactsProxyQuery = Type.Object(
  { path: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
export type ListArtifactsProxyQuery = Static<typeof ListArtifactsProxyQuery>;
export const ListArtifactsProxyResponse = Type.Object({ files: Type.Optional(Type.Array(FileInfo)) });
export type ListArtifactsProxyResponse = Static<typeof ListArtifactsProxyResponse>;

export const CreateMultipartUploadRequest = Type.Object(
  { path: Type.Optional(Type.String()), num_parts: Type.Optional(Count) },
  { additionalProperties: false },
);
export type CreateMultipartUploadRequest = Static<typeof CreateMultipartUploadRequest>;
/** Where to PUT each part: the URL and the headers to send with it (they carry the upload's credential). */
export const MultipartUploadCredential = Type.Object({
  url: Type.String(),
  part_number: Type.Integer(),
  headers: Type.Record(Type.String(), Type.String()),
});
export type MultipartUploadCredential = Static<typeof MultipartUploadCredential>;
export const CreateMultipartUploadResponse = Type.Object({
  upload_id: Type.String(),
  credentials: Type.Array(MultipartUploadCredential),
});
export type CreateMultipartUploadResponse = Static<typeof CreateMultipartUploadResponse>;

export const MultipartUploadPart = Type.Object(
  { part_number: Count, etag: Type.Optional(Type.String({ maxLength: 200 })), url: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
export type MultipartUploadPart = Static<typeof MultipartUploadPart>;
export const CompleteMultipartUploadRequest = Type.Object(
  {
    path: Type.Optional(Type.String()),
    upload_id: Type.Optional(Type.String({ maxLength: 64 })),
    parts: Type.Optional(Type.Array(MultipartUploadPart, { maxItems: 10_000 })),
  },
  { additionalProperties: false },
);
export type CompleteMultipartUploadRequest = Static<typeof CompleteMultipartUploadRequest>;
export const AbortMultipartUploadRequest = Type.Object(
  { path: Type.Optional(Type.String()), upload_id: Type.Optional(Type.String({ maxLength: 64 })) },
  { additionalProperties: false },
);
export type AbortMultipartUploadRequest = Static<typeof AbortMultipartUploadRequest>;

/** MLflow's web UI: a file of a run (`/get-artifact`). */
export const GetRunArtifactQuery = Type.Object(
  { path: Type.Optional(Type.String()), run_uuid: Type.Optional(Type.String()), run_id: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
export type GetRunArtifactQuery = Static<typeof GetRunArtifactQuery>;
/** MLflow's web UI: upload one small file into a run (the body is the file). */
export const UploadRunArtifactQuery = Type.Object(
  { path: Type.Optional(Type.String()), run_uuid: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
export type UploadRunArtifactQuery = Static<typeof UploadRunArtifactQuery>;

/** `GET /api/3.0/mlflow/server-info`. */
export const ServerInfoResponse = Type.Object({ store_type: Type.String(), workspaces_enabled: Type.Boolean() });
export type ServerInfoResponse = Static<typeof ServerInfoResponse>;
