import type { Kysely } from 'kysely';

/**
 * Dataset profiles (v1-datasets/profiles.ts): one row per profile of a saved dataset
 * (`submit_profile_run`), naming the completed run whose file holds it; `get_profile` reads the
 * newest of a saved dataset, `get_profile_runs` all of them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('dataset_profile_actions')
    .addColumn('workspace_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('action_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('saved_dataset_id', 'varchar(700)', (c) => c.notNull())
    .addColumn('experiment_name', 'varchar(256)', (c) => c.notNull())
    .addColumn('run_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('compute_target', 'varchar(256)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('dataset_profile_actions_pk', ['workspace_id', 'action_id'])
    .execute();
  await db.schema
    .createIndex('dataset_profile_actions_by_dataset')
    .on('dataset_profile_actions')
    .columns(['workspace_id', 'saved_dataset_id', 'created_at'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
