import type { Kysely } from 'kysely';

/**
 * MLflow 3 metrics of logged models: every point a run logged with a `model_id` (runs/log-metric,
 * runs/log-batch), kept beside the run's own metric storage and written only for such points, so
 * plain metric logging does not touch it. Keyed as MLflow keys them: (model, key, timestamp, step,
 * run); a point logged again with that key keeps its first value. value is 0 for NaN and ±max
 * double for ±Infinity, as MLflow stores them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('tracking_model_metrics')
    .addColumn('model_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('key', 'varchar(250)', (c) => c.notNull())
    .addColumn('timestamp', 'bigint', (c) => c.notNull())
    .addColumn('step', 'bigint', (c) => c.notNull())
    .addColumn('run_uuid', 'varchar(32)', (c) => c.notNull())
    .addColumn('value', 'double precision', (c) => c.notNull())
    .addColumn('dataset_name', 'varchar(500)')
    .addColumn('dataset_digest', 'varchar(36)')
    .addColumn('workspace_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('experiment_id', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('tracking_model_metrics_pk', ['model_id', 'key', 'timestamp', 'step', 'run_uuid'])
    .execute();
  await db.schema
    .createIndex('tracking_model_metrics_ws')
    .on('tracking_model_metrics')
    .columns(['workspace_id'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
