import { Type, type Static } from '@sinclair/typebox';
import { Int64, JsonDouble, KeyValue, lenient } from './common.js';

/**
 * MLflow's tracking service (`mlflow/protos/service.proto`): requests as this server validates them
 * (field types only; MLflow's own rules and messages are checked by the server's tracking/), and
 * the answers it gives. Names follow the proto messages (`CreateExperiment` →
 * `CreateExperimentRequest` / `CreateExperimentResponse`).
 */

const Str = Type.String();
const OptStr = Type.Optional(Type.String());
const OptStrOrNull = Type.Optional(Type.Union([Type.String(), Type.Null()]));
const OptInt64 = Type.Optional(Type.Union([Int64, Type.Null()]));
/** Request tags: `{key, value}` items, checked by the server (MLflow's messages). */
const RequestTags = Type.Optional(
  Type.Array(
    Type.Object(
      { key: Type.Optional(Type.String()), value: Type.Optional(Type.Union([Type.String(), Type.Null()])) },
      { additionalProperties: true },
    ),
  ),
);
/** A string or a list of them (repeated field; a query parameter may be given once or repeated). */
const StrOrList = Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())]));
/** MLflow's clients send experiment ids as strings; some as numbers. */
const ExperimentIdIn = Type.Optional(Type.Union([Type.String(), Type.Integer()]));
/** ViewType: ACTIVE_ONLY | DELETED_ONLY | ALL, or its number. */
const ViewType = Type.Optional(Type.Union([Type.String(), Type.Integer()]));
/** `run_id`; older clients send `run_uuid`. */
const RunRef = { run_id: OptStr, run_uuid: OptStr };

// ---- messages in answers ----

export const Metric = Type.Object({
  key: Type.String(),
  value: JsonDouble,
  timestamp: Type.Integer(),
  step: Type.Integer(),
});
export type Metric = Static<typeof Metric>;
export const Param = KeyValue;
export type Param = Static<typeof Param>;
export const RunTag = KeyValue;
export type RunTag = Static<typeof RunTag>;
export const ExperimentTag = KeyValue;
export type ExperimentTag = Static<typeof ExperimentTag>;

export const Experiment = Type.Object({
  experiment_id: Type.String(),
  name: Type.String(),
  artifact_location: Type.String(),
  lifecycle_stage: Type.String({ description: 'active | deleted' }),
  last_update_time: Type.Integer(),
  creation_time: Type.Integer(),
  tags: Type.Optional(Type.Array(ExperimentTag)),
});
export type Experiment = Static<typeof Experiment>;

export const RunInfo = Type.Object({
  run_id: Type.String(),
  run_uuid: Type.String({ description: 'deprecated alias of run_id' }),
  run_name: Type.String(),
  experiment_id: Type.String(),
  user_id: Type.String(),
  status: Type.String({ description: 'RUNNING | SCHEDULED | FINISHED | FAILED | KILLED' }),
  start_time: Type.Integer(),
  end_time: Type.Optional(Type.Integer()),
  artifact_uri: Type.String(),
  lifecycle_stage: Type.String({ description: 'active | deleted' }),
});
export type RunInfo = Static<typeof RunInfo>;

export const Dataset = Type.Object({
  name: Type.String(),
  digest: Type.String(),
  source_type: Type.String(),
  source: Type.String(),
  schema: Type.Optional(Type.String()),
  profile: Type.Optional(Type.String()),
});
export type Dataset = Static<typeof Dataset>;

export const DatasetInput = Type.Object({ tags: Type.Optional(Type.Array(KeyValue)), dataset: Dataset });
export type DatasetInput = Static<typeof DatasetInput>;

export const RunData = Type.Object({
  metrics: Type.Optional(Type.Array(Metric)),
  params: Type.Optional(Type.Array(Param)),
  tags: Type.Optional(Type.Array(RunTag)),
});
export type RunData = Static<typeof RunData>;
export const RunInputs = Type.Object({
  dataset_inputs: Type.Optional(Type.Array(DatasetInput)),
  model_inputs: Type.Optional(Type.Array(Type.Object({ model_id: Type.String() }))),
});
export type RunInputs = Static<typeof RunInputs>;
export const RunOutputs = Type.Object({
  model_outputs: Type.Optional(Type.Array(Type.Object({ model_id: Type.String(), step: Type.Integer() }))),
});
export type RunOutputs = Static<typeof RunOutputs>;

export const Run = Type.Object({ info: RunInfo, data: RunData, inputs: RunInputs, outputs: Type.Optional(RunOutputs) });
export type Run = Static<typeof Run>;

/** A metric point of one run, as the bulk routes answer (MetricWithRunId). */
export const MetricWithRunId = Type.Object({ ...Metric.properties, run_id: Type.String() });
export type MetricWithRunId = Static<typeof MetricWithRunId>;

export const DatasetSummary = Type.Object({
  experiment_id: Type.String(),
  name: Type.String(),
  digest: Type.String(),
  context: Type.Optional(Type.String()),
});
export type DatasetSummary = Static<typeof DatasetSummary>;

/** An entry of an artifact listing: `path` relative to the listed root. */
export const FileInfo = Type.Object({
  path: Type.String(),
  is_dir: Type.Boolean(),
  file_size: Type.Optional(Type.Integer()),
});
export type FileInfo = Static<typeof FileInfo>;

// ---- experiments ----

export const CreateExperimentRequest = lenient({ name: Str, artifact_location: OptStr, tags: RequestTags });
export type CreateExperimentRequest = Static<typeof CreateExperimentRequest>;
export const CreateExperimentResponse = Type.Object({ experiment_id: Type.String() });
export type CreateExperimentResponse = Static<typeof CreateExperimentResponse>;

export const GetExperimentQuery = lenient({ experiment_id: OptStr });
export type GetExperimentQuery = Static<typeof GetExperimentQuery>;
export const GetExperimentByNameQuery = lenient({ experiment_name: OptStr });
export type GetExperimentByNameQuery = Static<typeof GetExperimentByNameQuery>;
export const GetExperimentResponse = Type.Object({ experiment: Experiment });
export type GetExperimentResponse = Static<typeof GetExperimentResponse>;

export const SearchExperimentsRequest = lenient({
  max_results: OptInt64,
  page_token: OptStr,
  filter: OptStr,
  order_by: StrOrList,
  view_type: ViewType,
});
export type SearchExperimentsRequest = Static<typeof SearchExperimentsRequest>;
export const SearchExperimentsResponse = Type.Object({
  experiments: Type.Array(Experiment),
  next_page_token: Type.Optional(Type.String()),
});
export type SearchExperimentsResponse = Static<typeof SearchExperimentsResponse>;

export const UpdateExperimentRequest = lenient({ experiment_id: ExperimentIdIn, new_name: OptStr });
export type UpdateExperimentRequest = Static<typeof UpdateExperimentRequest>;
export const ExperimentIdRequest = lenient({ experiment_id: ExperimentIdIn });
/** DeleteExperiment and RestoreExperiment. */
export type ExperimentIdRequest = Static<typeof ExperimentIdRequest>;
export const SetExperimentTagRequest = lenient({
  experiment_id: ExperimentIdIn,
  key: OptStr,
  value: Type.Optional(Type.Union([Str, Type.Null()])),
});
export type SetExperimentTagRequest = Static<typeof SetExperimentTagRequest>;
export const DeleteExperimentTagRequest = lenient({ experiment_id: ExperimentIdIn, key: OptStr });
export type DeleteExperimentTagRequest = Static<typeof DeleteExperimentTagRequest>;

// ---- runs ----

export const CreateRunRequest = lenient({
  experiment_id: ExperimentIdIn,
  user_id: OptStr,
  run_name: OptStr,
  start_time: OptInt64,
  tags: RequestTags,
});
export type CreateRunRequest = Static<typeof CreateRunRequest>;
export const RunResponse = Type.Object({ run: Run });
/** CreateRun and GetRun. */
export type RunResponse = Static<typeof RunResponse>;
export const GetRunQuery = lenient(RunRef);
export type GetRunQuery = Static<typeof GetRunQuery>;
export const UpdateRunRequest = lenient({
  ...RunRef,
  status: Type.Optional(Type.Union([Str, Type.Integer()])),
  end_time: OptInt64,
  run_name: OptStr,
});
export type UpdateRunRequest = Static<typeof UpdateRunRequest>;
export const UpdateRunResponse = Type.Object({ run_info: RunInfo });
export type UpdateRunResponse = Static<typeof UpdateRunResponse>;
export const RunIdRequest = lenient(RunRef);
/** DeleteRun and RestoreRun. */
export type RunIdRequest = Static<typeof RunIdRequest>;

export const LogMetricRequest = lenient({
  ...RunRef,
  key: Str,
  value: Type.Unknown({ description: 'a double (NaN and ±Infinity as bare tokens or strings)' }),
  timestamp: Int64,
  step: OptInt64,
  model_id: OptStrOrNull,
  dataset_name: OptStrOrNull,
  dataset_digest: OptStrOrNull,
});
export type LogMetricRequest = Static<typeof LogMetricRequest>;
export const LogParamRequest = lenient({ ...RunRef, key: Str, value: Type.Optional(Type.Union([Str, Type.Null()])) });
export type LogParamRequest = Static<typeof LogParamRequest>;
export const SetTagRequest = lenient({ ...RunRef, key: Str, value: Type.Optional(Type.Union([Str, Type.Null()])) });
export type SetTagRequest = Static<typeof SetTagRequest>;
export const DeleteTagRequest = lenient({ run_id: OptStr, key: OptStr });
export type DeleteTagRequest = Static<typeof DeleteTagRequest>;

/** Items are checked one by one by the server, with MLflow's messages (`metrics[3].value …`). */
const Items = (what: string) => Type.Optional(Type.Array(Type.Unknown({ description: what })));
export const LogBatchRequest = lenient({
  run_id: OptStr,
  metrics: Items('Metric'),
  params: Items('Param'),
  tags: Items('RunTag'),
});
export type LogBatchRequest = Static<typeof LogBatchRequest>;
export const LogInputsRequest = lenient({
  run_id: OptStr,
  datasets: Items('DatasetInput'),
  models: Items('ModelInput {model_id}'),
});
export type LogInputsRequest = Static<typeof LogInputsRequest>;
export const LogOutputsRequest = lenient({ run_id: OptStr, models: Items('ModelOutput {model_id, step}') });
export type LogOutputsRequest = Static<typeof LogOutputsRequest>;
export const LogModelRequest = lenient({ run_id: OptStr, model_json: OptStr });
export type LogModelRequest = Static<typeof LogModelRequest>;

export const SearchRunsRequest = lenient({
  experiment_ids: StrOrList,
  filter: OptStr,
  run_view_type: ViewType,
  max_results: OptInt64,
  order_by: StrOrList,
  page_token: OptStr,
});
export type SearchRunsRequest = Static<typeof SearchRunsRequest>;
export const SearchRunsResponse = Type.Object({ runs: Type.Array(Run), next_page_token: Type.Optional(Type.String()) });
export type SearchRunsResponse = Static<typeof SearchRunsResponse>;

// ---- metrics ----

export const GetMetricHistoryQuery = lenient({
  ...RunRef,
  metric_key: OptStr,
  max_results: OptStr,
  page_token: OptStr,
});
export type GetMetricHistoryQuery = Static<typeof GetMetricHistoryQuery>;
export const GetMetricHistoryResponse = Type.Object({
  metrics: Type.Array(Metric),
  next_page_token: Type.Optional(Type.String()),
});
export type GetMetricHistoryResponse = Static<typeof GetMetricHistoryResponse>;
export const GetMetricHistoryBulkIntervalQuery = lenient({
  run_ids: StrOrList,
  metric_key: OptStr,
  start_step: OptStr,
  end_step: OptStr,
  max_results: OptStr,
});
export type GetMetricHistoryBulkIntervalQuery = Static<typeof GetMetricHistoryBulkIntervalQuery>;
/** MLflow's web UI: one metric of several runs. */
export const GetMetricHistoryBulkQuery = lenient({ run_id: StrOrList, metric_key: OptStr, max_results: OptStr });
export type GetMetricHistoryBulkQuery = Static<typeof GetMetricHistoryBulkQuery>;
export const MetricsWithRunIdResponse = Type.Object({ metrics: Type.Array(MetricWithRunId) });
/** GetMetricHistoryBulkInterval and get-history-bulk. */
export type MetricsWithRunIdResponse = Static<typeof MetricsWithRunIdResponse>;

/**
 * Atelier's metric buckets (not in MLflow): per x-bucket of one metric of up to 100 runs, the least,
 * greatest and last value, for charts accurate at every zoom.
 */
export const GetMetricBucketsQuery = lenient({
  run_id: StrOrList,
  run_ids: StrOrList,
  metric_key: OptStr,
  buckets: OptStr,
  x_axis: Type.Optional(
    Type.String({ description: "'step' (default) or 'relative_time' (ms since each series' first point)" }),
  ),
  min_step: OptStr,
  max_step: OptStr,
  min_relative_time: OptStr,
  max_relative_time: OptStr,
  layout: Type.Optional(
    Type.String({
      description:
        "'objects' (default: `buckets`, one object per bucket) or 'columns' (`columns`: one array per field, the same values, less than half the size)",
    }),
  ),
});
export type GetMetricBucketsQuery = Static<typeof GetMetricBucketsQuery>;
export const MetricBucket = Type.Object({
  bucket: Type.Integer({ description: 'the bucket number, 0 … bucket_count-1 from the start of the range' }),
  start_step: Type.Number({ description: "least step of the bucket's points" }),
  end_step: Type.Number({ description: "greatest step of the bucket's points" }),
  start_time: Type.Optional(
    Type.Number({ description: "x_axis=relative_time: least ms since the series' first point" }),
  ),
  end_time: Type.Optional(
    Type.Number({ description: "x_axis=relative_time: greatest ms since the series' first point" }),
  ),
  min: Type.Union([JsonDouble, Type.Null()], { description: 'least value, NaN left out (null: all NaN)' }),
  max: Type.Union([JsonDouble, Type.Null()]),
  last: JsonDouble,
  last_step: Type.Number(),
  last_timestamp: Type.Number(),
  count: Type.Integer(),
});
export type MetricBucket = Static<typeof MetricBucket>;
/** layout=columns: a series' buckets as one array per field of MetricBucket, index i = the i-th bucket. */
export const MetricBucketColumns = Type.Object({
  bucket: Type.Array(Type.Integer()),
  start_step: Type.Array(Type.Number()),
  end_step: Type.Array(Type.Number()),
  start_time: Type.Optional(Type.Array(Type.Number())),
  end_time: Type.Optional(Type.Array(Type.Number())),
  min: Type.Array(Type.Union([JsonDouble, Type.Null()])),
  max: Type.Array(Type.Union([JsonDouble, Type.Null()])),
  last: Type.Array(JsonDouble),
  last_step: Type.Array(Type.Number()),
  last_timestamp: Type.Array(Type.Number()),
  count: Type.Array(Type.Integer()),
});
export type MetricBucketColumns = Static<typeof MetricBucketColumns>;
const SeriesBuckets = {
  run_id: Type.String(),
  first_timestamp: Type.Optional(
    Type.Number({ description: "x_axis=relative_time: the series' first timestamp (ms)" }),
  ),
  buckets: Type.Optional(Type.Array(MetricBucket)),
  columns: Type.Optional(MetricBucketColumns),
};
/** `run_id` (one run): `run_id`, `buckets` (or `columns`) at the top; `run_ids` (several): `series`. */
export const GetMetricBucketsResponse = Type.Object({
  metric_key: Type.String(),
  x_axis: Type.Union([Type.Literal('step'), Type.Literal('relative_time')]),
  start: Type.Number(),
  end: Type.Number(),
  bucket_width: Type.Number(),
  bucket_count: Type.Integer(),
  run_id: Type.Optional(SeriesBuckets.run_id),
  first_timestamp: Type.Optional(Type.Number()),
  buckets: SeriesBuckets.buckets,
  columns: SeriesBuckets.columns,
  series: Type.Optional(Type.Array(Type.Object(SeriesBuckets))),
});
export type GetMetricBucketsResponse = Static<typeof GetMetricBucketsResponse>;

// ---- datasets, artifacts, prompt lab ----

export const SearchDatasetsRequest = lenient({ experiment_ids: Type.Optional(Type.Array(Type.String())) });
export type SearchDatasetsRequest = Static<typeof SearchDatasetsRequest>;
export const SearchDatasetsResponse = Type.Object({ dataset_summaries: Type.Array(DatasetSummary) });
export type SearchDatasetsResponse = Static<typeof SearchDatasetsResponse>;

export const CreatePromptlabRunRequest = lenient({});
export type CreatePromptlabRunRequest = Static<typeof CreatePromptlabRunRequest>;

export const ListArtifactsQuery = lenient({ ...RunRef, path: OptStr, page_token: OptStr });
export type ListArtifactsQuery = Static<typeof ListArtifactsQuery>;
export const ListArtifactsResponse = Type.Object({
  root_uri: Type.String(),
  files: Type.Optional(Type.Array(FileInfo)),
  next_page_token: Type.Optional(Type.String()),
});
export type ListArtifactsResponse = Static<typeof ListArtifactsResponse>;
