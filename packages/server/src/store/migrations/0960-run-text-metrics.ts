import type { Kysely } from 'kysely';

/**
 * Text metrics of runs (run-history/text-metrics.ts): azureml-core's `run.log(name, 'a string')`,
 * `log_list` of strings and the text cells of `log_row` / `log_table`. MLflow metrics are numbers,
 * so these points live here, one row per point, keyed by the run and the metric's name (a table's
 * column is `{name}.{column}`, as its numeric columns are in MLflow).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('run_text_metrics')
    .addColumn('workspace_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('run_uuid', 'varchar(32)', (c) => c.notNull())
    .addColumn('name', 'varchar(250)', (c) => c.notNull())
    .addColumn('point_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('timestamp', 'bigint', (c) => c.notNull())
    .addColumn('step', 'bigint', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('run_text_metrics_pk', ['run_uuid', 'name', 'point_id'])
    .execute();
  await db.schema
    .createIndex('run_text_metrics_by_workspace')
    .on('run_text_metrics')
    .columns(['workspace_id', 'run_uuid'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
