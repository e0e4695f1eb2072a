import type { Database } from '../../store/database.js';
import './tables.js';

/** One dataset a run of an experiment used, with the input's context tag (MLflow's DatasetSummary). */
export interface DatasetSummaryView {
  experiment_id: string;
  name: string;
  digest: string;
  context?: string;
}

/** At most this many summaries are answered (MLflow's store returns at most 1,000). */
const MAX_SUMMARIES = 1000;

/**
 * The distinct (experiment, dataset name, digest, context) of the inputs logged into runs of these
 * experiments of a workspace (mlflow/store/tracking/sqlalchemy_store.py, _search_datasets). Ids
 * that are not experiment ids match nothing.
 */
export async function datasetSummaries(
  database: Database,
  ws: string,
  experimentIds: string[],
): Promise<DatasetSummaryView[]> {
  const ids = [...new Set(experimentIds.filter((i) => /^\d{1,15}$/.test(i)).map(Number))];
  if (ids.length === 0) return [];
  const rows = await database.db
    .selectFrom('tracking_datasets as d')
    .innerJoin('tracking_inputs as i', 'i.dataset_uuid', 'd.dataset_uuid')
    .select(['d.experiment_id', 'd.name', 'd.digest', 'i.context'])
    .distinct()
    .where('d.workspace_id', '=', ws)
    .where('d.experiment_id', 'in', ids)
    .orderBy('d.experiment_id')
    .orderBy('d.name')
    .orderBy('d.digest')
    .orderBy('i.context')
    .limit(MAX_SUMMARIES)
    .execute();
  return rows.map((r) => {
    const v: DatasetSummaryView = { experiment_id: String(r.experiment_id), name: r.name, digest: r.digest };
    if (r.context !== null && r.context !== undefined) v.context = r.context;
    return v;
  });
}
