import type { Kysely } from 'kysely';

/** MLflow 3 logged models (per workspace), their params and tags. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mlflow_logged_models')
    .addColumn('model_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(800)', (c) => c.notNull())
    .addColumn('experiment_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(500)', (c) => c.notNull())
    .addColumn('artifact_location', 'text', (c) => c.notNull())
    .addColumn('creation_timestamp_ms', 'bigint', (c) => c.notNull())
    .addColumn('last_updated_timestamp_ms', 'bigint', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('status_message', 'text')
    .addColumn('lifecycle_stage', 'varchar(20)', (c) => c.notNull())
    .addColumn('model_type', 'varchar(500)')
    .addColumn('source_run_id', 'varchar(64)')
    .execute();
  await db.schema
    .createIndex('mlflow_logged_models_ws_exp')
    .on('mlflow_logged_models')
    .columns(['workspace_id', 'experiment_id', 'creation_timestamp_ms'])
    .execute();

  await db.schema
    .createTable('mlflow_logged_model_params')
    .addColumn('model_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('key', 'varchar(255)', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('mlflow_logged_model_params_pk', ['model_id', 'key'])
    .execute();

  await db.schema
    .createTable('mlflow_logged_model_tags')
    .addColumn('model_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('key', 'varchar(255)', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('mlflow_logged_model_tags_pk', ['model_id', 'key'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
