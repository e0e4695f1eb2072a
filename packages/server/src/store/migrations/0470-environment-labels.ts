import type { Kysely } from 'kysely';

/**
 * Environment labels (v1-environments/labels.ts): a label names one version of an environment name
 * (`Environment.label(ws, name, version, labels)`, `Environment.get(ws, name, label=…)`); moving it
 * to another version replaces its row. `version_created_at` is the labelled version's creation time,
 * so a label never names a later version made under the same number after a delete.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('environment_labels')
    .addColumn('workspace_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('name_key', 'varchar(256)', (c) => c.notNull())
    .addColumn('label', 'varchar(100)', (c) => c.notNull())
    .addColumn('version', 'varchar(100)', (c) => c.notNull())
    .addColumn('version_created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_by', 'varchar(256)', (c) => c.notNull())
    .addPrimaryKeyConstraint('environment_labels_pk', ['workspace_id', 'name_key', 'label'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
