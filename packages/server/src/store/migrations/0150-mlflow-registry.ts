import type { Kysely } from 'kysely';

/**
 * MLflow model registry, per workspace: registered models, their versions, tags and aliases.
 * Deleted versions stay as rows (stage 'Deleted_Internal') so version numbers are never reused,
 * as in MLflow's own store.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mlflow_registered_models')
    .addColumn('workspace_id', 'varchar(800)', (c) => c.notNull())
    .addColumn('name', 'varchar(256)', (c) => c.notNull())
    .addColumn('creation_time', 'bigint', (c) => c.notNull())
    .addColumn('last_updated_time', 'bigint', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('user_id', 'varchar(256)')
    .addPrimaryKeyConstraint('mlflow_registered_models_pk', ['workspace_id', 'name'])
    .execute();

  await db.schema
    .createTable('mlflow_registered_model_tags')
    .addColumn('workspace_id', 'varchar(800)', (c) => c.notNull())
    .addColumn('name', 'varchar(256)', (c) => c.notNull())
    .addColumn('key', 'varchar(250)', (c) => c.notNull())
    .addColumn('value', 'text')
    .addPrimaryKeyConstraint('mlflow_registered_model_tags_pk', ['workspace_id', 'name', 'key'])
    .execute();

  await db.schema
    .createTable('mlflow_registered_model_aliases')
    .addColumn('workspace_id', 'varchar(800)', (c) => c.notNull())
    .addColumn('name', 'varchar(256)', (c) => c.notNull())
    .addColumn('alias', 'varchar(255)', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('mlflow_registered_model_aliases_pk', ['workspace_id', 'name', 'alias'])
    .execute();

  await db.schema
    .createTable('mlflow_model_versions')
    .addColumn('workspace_id', 'varchar(800)', (c) => c.notNull())
    .addColumn('name', 'varchar(256)', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('creation_time', 'bigint', (c) => c.notNull())
    .addColumn('last_updated_time', 'bigint', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('user_id', 'varchar(256)')
    .addColumn('current_stage', 'varchar(20)', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('storage_location', 'text')
    .addColumn('run_id', 'varchar(64)')
    .addColumn('run_link', 'text')
    .addColumn('model_id', 'varchar(64)')
    .addColumn('status', 'varchar(20)', (c) => c.notNull())
    .addColumn('status_message', 'text')
    .addPrimaryKeyConstraint('mlflow_model_versions_pk', ['workspace_id', 'name', 'version'])
    .execute();
  await db.schema
    .createIndex('mlflow_model_versions_run')
    .on('mlflow_model_versions')
    .columns(['workspace_id', 'run_id'])
    .execute();

  await db.schema
    .createTable('mlflow_model_version_tags')
    .addColumn('workspace_id', 'varchar(800)', (c) => c.notNull())
    .addColumn('name', 'varchar(256)', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('key', 'varchar(250)', (c) => c.notNull())
    .addColumn('value', 'text')
    .addPrimaryKeyConstraint('mlflow_model_version_tags_pk', ['workspace_id', 'name', 'version', 'key'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
