import type { Kysely } from 'kysely';

/**
 * Run files kept in a datastore (v1-artifacts/datastore-files.ts): azureml-core's
 * `run.upload_file(…, datastore_name=…)` writes the bytes into the named datastore's container, and
 * this row makes them a file of the run at `path` (an MLflow artifact path of the workspace: what
 * MLflow, the studio and azureml-core list and read). Keyed by the path's first two segments
 * (`{experiment id}/{run id}`: one run's files, few) and then the path, so a listing reads one run's rows.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('run_datastore_files')
    .addColumn('workspace_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('root', 'varchar(300)', (c) => c.notNull())
    .addColumn('path', 'varchar(1024)', (c) => c.notNull())
    .addColumn('datastore', 'varchar(255)', (c) => c.notNull())
    .addColumn('account', 'varchar(24)', (c) => c.notNull())
    .addColumn('container', 'varchar(63)', (c) => c.notNull())
    .addColumn('blob', 'varchar(1024)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('run_datastore_files_pk', ['workspace_id', 'root', 'path'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
