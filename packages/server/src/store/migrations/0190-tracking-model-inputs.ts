import type { Kysely } from 'kysely';

/** MLflow 3 model inputs of runs (`runs/log-inputs` with `models`): which logged models a run used. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('tracking_model_inputs')
    .addColumn('run_uuid', 'varchar(32)', (c) => c.notNull())
    .addColumn('model_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('tracking_model_inputs_pk', ['run_uuid', 'model_id'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
