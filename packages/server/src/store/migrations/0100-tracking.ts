import { sql, type CreateTableBuilder, type Kysely } from 'kysely';

/**
 * MLflow tracking (experiments, runs, params, tags, metrics, datasets), scoped by workspace_id.
 * Shaped for the hot paths: metrics keyed by (run, key, step, timestamp, value) so history reads
 * are index range scans; latest_metrics (one row per run and key, as MLflow keeps) and params and
 * tags carry the workspace and experiment, so a search filters and orders by them from one index.
 * On SQLite the keyed tables are WITHOUT ROWID (the key is the row: one b-tree, not two).
 */
export async function up(db: Kysely<any>): Promise<void> {
  const sqlite = db.getExecutor().adapter.constructor.name.toLowerCase().includes('sqlite');
  const keyed = <T extends string, C extends string>(b: CreateTableBuilder<T, C>) =>
    sqlite ? b.modifyEnd(sql`without rowid`) : b;

  await db.schema
    .createTable('tracking_experiments')
    .addColumn('workspace_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('experiment_id', 'bigint', (c) => c.notNull())
    .addColumn('name', 'varchar(500)', (c) => c.notNull())
    .addColumn('artifact_location', 'varchar(1000)', (c) => c.notNull())
    .addColumn('lifecycle_stage', 'varchar(16)', (c) => c.notNull())
    .addColumn('creation_time', 'bigint', (c) => c.notNull())
    .addColumn('last_update_time', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('tracking_experiments_pk', ['workspace_id', 'experiment_id'])
    .addUniqueConstraint('tracking_experiments_name', ['workspace_id', 'name'])
    .execute();

  await keyed(
    db.schema
      .createTable('tracking_experiment_tags')
      .addColumn('workspace_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('experiment_id', 'bigint', (c) => c.notNull())
      .addColumn('key', 'varchar(250)', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('tracking_experiment_tags_pk', ['workspace_id', 'experiment_id', 'key']),
  ).execute();

  await db.schema
    .createTable('tracking_runs')
    .addColumn('run_uuid', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('experiment_id', 'bigint', (c) => c.notNull())
    .addColumn('name', 'varchar(250)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(256)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('start_time', 'bigint', (c) => c.notNull())
    .addColumn('end_time', 'bigint')
    .addColumn('lifecycle_stage', 'varchar(16)', (c) => c.notNull())
    .addColumn('artifact_uri', 'varchar(1000)', (c) => c.notNull())
    .addColumn('deleted_time', 'bigint')
    .execute();
  await db.schema
    .createIndex('tracking_runs_exp')
    .on('tracking_runs')
    .columns(['workspace_id', 'experiment_id', 'start_time', 'run_uuid'])
    .execute();

  for (const t of ['tracking_params', 'tracking_tags']) {
    await keyed(
      db.schema
        .createTable(t)
        .addColumn('run_uuid', 'varchar(32)', (c) => c.notNull())
        .addColumn('key', 'varchar(250)', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('workspace_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('experiment_id', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint(`${t}_pk`, ['run_uuid', 'key']),
    ).execute();
    await db.schema
      .createIndex(`${t}_search`)
      .on(t)
      .columns(['workspace_id', 'experiment_id', 'key', 'value'])
      .execute();
  }

  // One row per metric series (run and key): its latest value (as MLflow's latest_metrics), its
  // step range and number of distinct steps (steps = max - min + 1 means contiguous steps, which
  // bulk-interval sampling then needs no scan for), and a small integer id the points are keyed by.
  await db.schema
    .createTable('tracking_latest_metrics')
    .addColumn('series_id', sqlite ? 'integer' : 'bigint', (c) =>
      sqlite ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity(),
    )
    .addColumn('run_uuid', 'varchar(32)', (c) => c.notNull())
    .addColumn('key', 'varchar(250)', (c) => c.notNull())
    .addColumn('step', 'bigint', (c) => c.notNull())
    .addColumn('timestamp', 'bigint', (c) => c.notNull())
    .addColumn('value', 'double precision', (c) => c.notNull())
    .addColumn('is_nan', 'integer', (c) => c.notNull())
    .addColumn('workspace_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('experiment_id', 'bigint', (c) => c.notNull())
    .addColumn('min_step', 'bigint', (c) => c.notNull())
    .addColumn('max_step', 'bigint', (c) => c.notNull())
    .addColumn('steps', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('tracking_latest_metrics_run_key', ['run_uuid', 'key'])
    .execute();

  // Every point, keyed by (series, step, timestamp, value): history reads are one index range and
  // identical points are stored once. value is 0 where is_nan = 1, as MLflow stores NaN.
  await keyed(
    db.schema
      .createTable('tracking_metrics')
      .addColumn('series_id', sqlite ? 'integer' : 'bigint', (c) => c.notNull())
      .addColumn('step', 'bigint', (c) => c.notNull())
      .addColumn('timestamp', 'bigint', (c) => c.notNull())
      .addColumn('value', 'double precision', (c) => c.notNull())
      .addColumn('is_nan', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('tracking_metrics_pk', ['series_id', 'step', 'timestamp', 'value', 'is_nan']),
  ).execute();
  await db.schema
    .createIndex('tracking_latest_metrics_search')
    .on('tracking_latest_metrics')
    .columns(['workspace_id', 'experiment_id', 'key', 'value'])
    .execute();

  // Datasets of an experiment (unique by name and digest) and the run inputs that use them.
  await db.schema
    .createTable('tracking_datasets')
    .addColumn('dataset_uuid', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('experiment_id', 'bigint', (c) => c.notNull())
    .addColumn('name', 'varchar(500)', (c) => c.notNull())
    .addColumn('digest', 'varchar(36)', (c) => c.notNull())
    .addColumn('source_type', 'varchar(36)', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('schema', 'text')
    .addColumn('profile', 'text')
    .addUniqueConstraint('tracking_datasets_name_digest', ['workspace_id', 'experiment_id', 'name', 'digest'])
    .execute();

  await keyed(
    db.schema
      .createTable('tracking_inputs')
      .addColumn('run_uuid', 'varchar(32)', (c) => c.notNull())
      .addColumn('dataset_uuid', 'varchar(32)', (c) => c.notNull())
      .addColumn('tags', 'text', (c) => c.notNull()) // JSON [{key,value}] of the input
      .addColumn('context', 'varchar(500)') // its mlflow.data.context tag, for datasets.context filters
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('tracking_inputs_pk', ['run_uuid', 'dataset_uuid']),
  ).execute();

  // Models a run logged as outputs (MLflow 3 log-outputs): model id and step.
  await keyed(
    db.schema
      .createTable('tracking_outputs')
      .addColumn('run_uuid', 'varchar(32)', (c) => c.notNull())
      .addColumn('model_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('step', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('tracking_outputs_pk', ['run_uuid', 'model_id']),
  ).execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
