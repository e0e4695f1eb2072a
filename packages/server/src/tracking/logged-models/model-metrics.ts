import { requireLoggedModels } from './model-inputs.js';
import type { RunRow } from '../runs/tables.js';
import type { ModelMetricRow } from './tables.js';
import type { MetricIn } from '../runs/types.js';
import { tuples, type Tx } from '../../store/tx.js';

/** A logged model's metric as MLflow's `Metric` message writes it. */
export interface ModelMetricView {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  run_id: string;
  model_id: string;
  dataset_name?: string;
  dataset_digest?: string;
}

const MAX_DOUBLE = 1.7976931348623157e308;

/** MLflow's sanitize_metric_value for logged-model metrics: NaN is stored as 0, ±Infinity as ±max double. */
function storedValue(v: number): number {
  if (Number.isNaN(v)) return 0;
  if (v === Infinity) return MAX_DOUBLE;
  if (v === -Infinity) return -MAX_DOUBLE;
  return v;
}

/**
 * Records the points that name a logged model (`model_id`) as that model's metrics, in the
 * caller's transaction (MLflow's _log_model_metrics). The models must be logged models of the
 * run's workspace (MLflow's foreign key; deleted ones count, as there); a point already stored
 * under (model, key, timestamp, step, run) keeps its first value. Points without a model_id
 * cost nothing here.
 */
export async function writeModelMetrics(tx: Tx, run: RunRow, metrics: MetricIn[]): Promise<void> {
  let withModel: MetricIn[] | undefined;
  for (const m of metrics) if (m.model_id !== undefined) (withModel ??= []).push(m);
  if (!withModel) return;
  const ids = [...new Set(withModel.map((m) => m.model_id!))];
  await requireLoggedModels(tx, run.workspace_id, ids);
  const rows = withModel.map((m) => [
    m.model_id,
    m.key,
    m.timestamp,
    m.step,
    run.run_uuid,
    storedValue(m.value),
    m.dataset_name ?? null,
    m.dataset_digest ?? null,
    run.workspace_id,
    run.experiment_id,
  ]);
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    await tx.run(
      `insert into tracking_model_metrics (model_id, key, timestamp, step, run_uuid, value, dataset_name, dataset_digest, workspace_id, experiment_id) values ${tuples(chunk.length, 10)} on conflict (model_id, key, timestamp, step, run_uuid) do nothing`,
      chunk.flat(),
    );
  }
}

export function modelMetricView(r: ModelMetricRow): ModelMetricView {
  const v: ModelMetricView = {
    key: r.key,
    value: Number(r.value),
    timestamp: Number(r.timestamp),
    step: Number(r.step),
    run_id: r.run_uuid,
    model_id: r.model_id,
  };
  if (r.dataset_name !== null) v.dataset_name = r.dataset_name;
  if (r.dataset_digest !== null) v.dataset_digest = r.dataset_digest;
  return v;
}
