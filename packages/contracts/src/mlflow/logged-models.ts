import { Type, type Static } from '@sinclair/typebox';
import { Count, KeyValue, QueryValue, WorkspacePathParams, optional, strict } from './common.js';
import { FileInfo } from './tracking.js';

/** MLflow 3 logged models (`service.proto`, `/mlflow/logged-models…`). Unknown request fields are refused. */

const Str = Type.String({ maxLength: 100_000 });
const KeyValues = Type.Array(
  Type.Object({ key: Type.String({ maxLength: 1000 }), value: Type.Optional(Str) }, { additionalProperties: false }),
  { maxItems: 1000 },
);
/** LoggedModelStatus: a name (LOGGED_MODEL_READY, …) or its number. */
const StatusIn = Type.Union([Type.String({ maxLength: 40 }), Type.Integer()]);

// ---- messages in answers ----

/** A metric of a logged model (Metric with its run, model and dataset). */
export const LoggedModelMetric = Type.Object({
  key: Type.String(),
  value: Type.Number(),
  timestamp: Type.Integer(),
  step: Type.Integer(),
  run_id: Type.String(),
  model_id: Type.String(),
  dataset_name: Type.Optional(Type.String()),
  dataset_digest: Type.Optional(Type.String()),
});
export type LoggedModelMetric = Static<typeof LoggedModelMetric>;

export const LoggedModelInfo = Type.Object({
  model_id: Type.String(),
  experiment_id: Type.String(),
  name: Type.String(),
  creation_timestamp_ms: Type.Integer(),
  last_updated_timestamp_ms: Type.Integer(),
  artifact_uri: Type.String(),
  status: Type.String({ description: 'LOGGED_MODEL_PENDING | LOGGED_MODEL_READY | LOGGED_MODEL_UPLOAD_FAILED' }),
  model_type: Type.Optional(Type.String()),
  source_run_id: Type.Optional(Type.String()),
  status_message: Type.Optional(Type.String()),
  tags: Type.Array(KeyValue),
});
export type LoggedModelInfo = Static<typeof LoggedModelInfo>;

export const LoggedModel = Type.Object({
  info: LoggedModelInfo,
  data: Type.Object({ params: Type.Array(KeyValue), metrics: Type.Array(LoggedModelMetric) }),
});
export type LoggedModel = Static<typeof LoggedModel>;

export const LoggedModelResponse = Type.Object({ model: LoggedModel });
/** CreateLoggedModel, GetLoggedModel, FinalizeLoggedModel. */
export type LoggedModelResponse = Static<typeof LoggedModelResponse>;

// ---- requests ----

export const CreateLoggedModelRequest = strict(
  optional({ experiment_id: Str, name: Str, model_type: Str, source_run_id: Str, params: KeyValues, tags: KeyValues }),
);
export type CreateLoggedModelRequest = Static<typeof CreateLoggedModelRequest>;

export const SearchLoggedModelsRequest = strict(
  optional({
    experiment_ids: Type.Array(Type.String(), { maxItems: 100 }),
    filter: Str,
    datasets: Type.Array(strict(optional({ dataset_name: Str, dataset_digest: Str })), { maxItems: 100 }),
    max_results: Count,
    order_by: Type.Array(
      strict(optional({ field_name: Str, ascending: Type.Boolean(), dataset_name: Str, dataset_digest: Str })),
      { maxItems: 20 },
    ),
    page_token: Str,
  }),
);
export type SearchLoggedModelsRequest = Static<typeof SearchLoggedModelsRequest>;
export const SearchLoggedModelsResponse = Type.Object({
  models: Type.Optional(Type.Array(LoggedModel)),
  next_page_token: Type.Optional(Type.String()),
});
export type SearchLoggedModelsResponse = Static<typeof SearchLoggedModelsResponse>;

/** Path parameters: the model (and a tag key). */
export const LoggedModelParams = Type.Object({ ...WorkspacePathParams.properties, modelId: Type.String() });
export type LoggedModelParams = Static<typeof LoggedModelParams>;
export const LoggedModelTagParams = Type.Object({
  ...WorkspacePathParams.properties,
  modelId: Type.String(),
  tagKey: Type.String(),
});
export type LoggedModelTagParams = Static<typeof LoggedModelTagParams>;

export const GetLoggedModelQuery = strict(optional({ model_id: QueryValue, allow_deleted: QueryValue }));
export type GetLoggedModelQuery = Static<typeof GetLoggedModelQuery>;
export const FinalizeLoggedModelRequest = strict(optional({ model_id: Str, status: StatusIn }));
export type FinalizeLoggedModelRequest = Static<typeof FinalizeLoggedModelRequest>;
export const DeleteLoggedModelRequest = strict(optional({ model_id: Str }));
export type DeleteLoggedModelRequest = Static<typeof DeleteLoggedModelRequest>;
export const SetLoggedModelTagsRequest = strict(optional({ model_id: Str, tags: KeyValues }));
export type SetLoggedModelTagsRequest = Static<typeof SetLoggedModelTagsRequest>;
export const DeleteLoggedModelTagRequest = strict(optional({ model_id: Str, tag_key: Str }));
export type DeleteLoggedModelTagRequest = Static<typeof DeleteLoggedModelTagRequest>;
export const LogLoggedModelParamsRequest = strict(optional({ model_id: Str, params: KeyValues }));
export type LogLoggedModelParamsRequest = Static<typeof LogLoggedModelParamsRequest>;
export const ListLoggedModelArtifactsQuery = strict(
  optional({ model_id: QueryValue, artifact_directory_path: QueryValue, page_token: QueryValue }),
);
export type ListLoggedModelArtifactsQuery = Static<typeof ListLoggedModelArtifactsQuery>;
export const ListLoggedModelArtifactsResponse = Type.Object({
  root_uri: Type.String(),
  files: Type.Optional(Type.Array(FileInfo)),
  next_page_token: Type.Optional(Type.String()),
});
export type ListLoggedModelArtifactsResponse = Static<typeof ListLoggedModelArtifactsResponse>;
export const GetLoggedModelArtifactQuery = strict(optional({ artifact_file_path: QueryValue }));
export type GetLoggedModelArtifactQuery = Static<typeof GetLoggedModelArtifactQuery>;
