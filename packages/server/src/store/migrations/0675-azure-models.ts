import type { Kysely } from 'kysely';

/**
 * What Azure's clients keep on a model version beyond MLflow's registry row (which stays the one
 * record of the version): azureml-core's framework, properties, mime type, asset URL…, azure-ai-ml's
 * model type, URI, flavors, stage, archived flag — one JSON document per version. And azureml-core's
 * model-management assets (an id naming artifact prefixes, made before a model is registered).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('azure_model_versions')
    .addColumn('workspace_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('name', 'varchar(256)', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('azure_model_versions_pk', ['workspace_id', 'name', 'version'])
    .execute();
  await db.schema
    .createTable('azure_model_assets')
    .addColumn('workspace_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('id', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(256)', (c) => c.notNull())
    .addColumn('created_time', 'bigint', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('azure_model_assets_pk', ['workspace_id', 'id'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
