import { Type, type Static } from '@sinclair/typebox';
import { KeyValue, optional, queryOf, strict } from './common.js';

/**
 * MLflow's model registry (`mlflow/protos/model_registry.proto`). Unknown request fields are
 * refused (400 naming the field); every field is optional on the wire and the server says which
 * one is missing, in MLflow's words.
 */

const Str = Type.String({ maxLength: 100_000 });
/** A version number, as a string (proto JSON) or a number. */
const VersionIn = Type.Union([Type.String({ maxLength: 30 }), Type.Integer()]);
const TagList = Type.Array(
  Type.Object({ key: Type.String({ maxLength: 1000 }), value: Type.Optional(Str) }, { additionalProperties: false }),
  { maxItems: 1000 },
);

// ---- messages in answers ----

export const ModelVersion = Type.Object({
  name: Type.String(),
  version: Type.String(),
  creation_timestamp: Type.Integer(),
  last_updated_timestamp: Type.Integer(),
  user_id: Type.Optional(Type.String()),
  current_stage: Type.String({ description: 'None | Staging | Production | Archived' }),
  description: Type.Optional(Type.String()),
  source: Type.String(),
  run_id: Type.Optional(Type.String()),
  status: Type.String({ description: 'PENDING_REGISTRATION | FAILED_REGISTRATION | READY' }),
  status_message: Type.Optional(Type.String()),
  tags: Type.Array(KeyValue),
  run_link: Type.Optional(Type.String()),
  aliases: Type.Array(Type.String()),
  model_id: Type.Optional(Type.String()),
});
export type ModelVersion = Static<typeof ModelVersion>;

export const RegisteredModelAlias = Type.Object({ alias: Type.String(), version: Type.String() });
export type RegisteredModelAlias = Static<typeof RegisteredModelAlias>;

export const RegisteredModel = Type.Object({
  name: Type.String(),
  creation_timestamp: Type.Integer(),
  last_updated_timestamp: Type.Integer(),
  user_id: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  latest_versions: Type.Array(ModelVersion),
  tags: Type.Array(KeyValue),
  aliases: Type.Array(RegisteredModelAlias),
});
export type RegisteredModel = Static<typeof RegisteredModel>;

export const RegisteredModelResponse = Type.Object({ registered_model: RegisteredModel });
/** CreateRegisteredModel, GetRegisteredModel, RenameRegisteredModel, UpdateRegisteredModel. */
export type RegisteredModelResponse = Static<typeof RegisteredModelResponse>;
export const ModelVersionResponse = Type.Object({ model_version: ModelVersion });
/** CreateModelVersion, GetModelVersion, UpdateModelVersion, TransitionModelVersionStage, GetModelVersionByAlias. */
export type ModelVersionResponse = Static<typeof ModelVersionResponse>;

// ---- registered models ----

export const CreateRegisteredModelRequest = strict(
  optional({ name: Str, tags: TagList, description: Str, deployment_job_id: Str }),
);
export type CreateRegisteredModelRequest = Static<typeof CreateRegisteredModelRequest>;
export const RegisteredModelNameQuery = queryOf('name');
export type RegisteredModelNameQuery = Static<typeof RegisteredModelNameQuery>;
export const RenameRegisteredModelRequest = strict(optional({ name: Str, new_name: Str }));
export type RenameRegisteredModelRequest = Static<typeof RenameRegisteredModelRequest>;
export const UpdateRegisteredModelRequest = strict(optional({ name: Str, description: Str, deployment_job_id: Str }));
export type UpdateRegisteredModelRequest = Static<typeof UpdateRegisteredModelRequest>;
export const DeleteRegisteredModelRequest = strict(optional({ name: Str }));
export type DeleteRegisteredModelRequest = Static<typeof DeleteRegisteredModelRequest>;

export const RegistrySearchQuery = queryOf('filter', 'max_results', 'order_by', 'page_token');
/** SearchRegisteredModels and SearchModelVersions (GET). */
export type RegistrySearchQuery = Static<typeof RegistrySearchQuery>;
export const SearchRegisteredModelsResponse = Type.Object({
  registered_models: Type.Optional(Type.Array(RegisteredModel)),
  next_page_token: Type.Optional(Type.String()),
});
export type SearchRegisteredModelsResponse = Static<typeof SearchRegisteredModelsResponse>;

export const GetLatestVersionsRequest = strict(
  optional({ name: Str, stages: Type.Array(Type.String(), { maxItems: 10 }) }),
);
export type GetLatestVersionsRequest = Static<typeof GetLatestVersionsRequest>;
export const GetLatestVersionsQuery = queryOf('name', 'stages');
export type GetLatestVersionsQuery = Static<typeof GetLatestVersionsQuery>;
export const ModelVersionsResponse = Type.Object({ model_versions: Type.Optional(Type.Array(ModelVersion)) });
export type ModelVersionsResponse = Static<typeof ModelVersionsResponse>;

export const SetRegisteredModelTagRequest = strict(optional({ name: Str, key: Str, value: Str }));
export type SetRegisteredModelTagRequest = Static<typeof SetRegisteredModelTagRequest>;
export const DeleteRegisteredModelTagRequest = strict(optional({ name: Str, key: Str }));
export type DeleteRegisteredModelTagRequest = Static<typeof DeleteRegisteredModelTagRequest>;

// ---- aliases ----

export const SetRegisteredModelAliasRequest = strict(optional({ name: Str, alias: Str, version: VersionIn }));
export type SetRegisteredModelAliasRequest = Static<typeof SetRegisteredModelAliasRequest>;
export const DeleteRegisteredModelAliasRequest = strict(optional({ name: Str, alias: Str }));
export type DeleteRegisteredModelAliasRequest = Static<typeof DeleteRegisteredModelAliasRequest>;
export const AliasQuery = queryOf('name', 'alias');
export type AliasQuery = Static<typeof AliasQuery>;

// ---- model versions ----

export const CreateModelVersionRequest = strict(
  optional({ name: Str, source: Str, run_id: Str, tags: TagList, run_link: Str, description: Str, model_id: Str }),
);
export type CreateModelVersionRequest = Static<typeof CreateModelVersionRequest>;
export const ModelVersionQuery = queryOf('name', 'version');
export type ModelVersionQuery = Static<typeof ModelVersionQuery>;
export const UpdateModelVersionRequest = strict(optional({ name: Str, version: VersionIn, description: Str }));
export type UpdateModelVersionRequest = Static<typeof UpdateModelVersionRequest>;
export const TransitionModelVersionStageRequest = strict(
  optional({ name: Str, version: VersionIn, stage: Str, archive_existing_versions: Type.Boolean() }),
);
export type TransitionModelVersionStageRequest = Static<typeof TransitionModelVersionStageRequest>;
export const DeleteModelVersionRequest = strict(optional({ name: Str, version: VersionIn }));
export type DeleteModelVersionRequest = Static<typeof DeleteModelVersionRequest>;
export const SearchModelVersionsResponse = Type.Object({
  model_versions: Type.Optional(Type.Array(ModelVersion)),
  next_page_token: Type.Optional(Type.String()),
});
export type SearchModelVersionsResponse = Static<typeof SearchModelVersionsResponse>;
export const GetModelVersionDownloadUriResponse = Type.Object({ artifact_uri: Type.String() });
export type GetModelVersionDownloadUriResponse = Static<typeof GetModelVersionDownloadUriResponse>;
/** MLflow's web UI: a file of a model version (`/model-versions/get-artifact`). */
export const ModelVersionArtifactQuery = queryOf('name', 'version', 'path');
export type ModelVersionArtifactQuery = Static<typeof ModelVersionArtifactQuery>;
export const SetModelVersionTagRequest = strict(optional({ name: Str, version: VersionIn, key: Str, value: Str }));
export type SetModelVersionTagRequest = Static<typeof SetModelVersionTagRequest>;
export const DeleteModelVersionTagRequest = strict(optional({ name: Str, version: VersionIn, key: Str }));
export type DeleteModelVersionTagRequest = Static<typeof DeleteModelVersionTagRequest>;
