import type { Tag } from '../experiments/experiments.js';

/**
 * What runs log and how a run is answered (MLflow's JSON shapes); in a module of their own so the
 * writers runs.ts calls (run-create.ts, metrics/, logged-models/) need not import runs.ts back.
 */

/** A metric point; model_id (with its dataset) when it is also a metric of that logged model (MLflow 3). */
export interface MetricIn {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  model_id?: string;
  dataset_name?: string;
  dataset_digest?: string;
}
export interface ParamIn {
  key: string;
  value: string;
}

/** A double as proto3 JSON writes it: NaN and the infinities as strings. */
export type JsonDouble = number | 'NaN' | 'Infinity' | '-Infinity';
export const jsonDouble = (v: number): JsonDouble =>
  Number.isFinite(v) ? v : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';

export interface MetricView {
  key: string;
  value: JsonDouble;
  timestamp: number;
  step: number;
}
export interface RunInfoView {
  run_id: string;
  run_uuid: string;
  run_name: string;
  experiment_id: string;
  user_id: string;
  status: string;
  start_time: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: string;
}
export interface DatasetView {
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema?: string;
  profile?: string;
}
export interface RunView {
  info: RunInfoView;
  data: { metrics?: MetricView[]; params?: Tag[]; tags?: Tag[] };
  inputs: { dataset_inputs?: { tags?: Tag[]; dataset: DatasetView }[]; model_inputs?: { model_id: string }[] };
  outputs?: { model_outputs?: { model_id: string; step: number }[] };
}
