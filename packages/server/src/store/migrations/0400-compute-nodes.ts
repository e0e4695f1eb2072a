import type { Kysely } from 'kysely';

/**
 * The nodes of compute clusters (compute/nodes.ts): one row per node a cluster holds now. A node is
 * busy (running or preparing a job) or idle since `idle_since`; an idle node past the cluster's
 * `nodeIdleTimeBeforeScaleDown` leaves (its row is deleted) unless the cluster keeps `minNodeCount`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('compute_nodes')
    .addColumn('compute_key', 'varchar(800)', (c) => c.notNull())
    .addColumn('node_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('idle_since', 'bigint')
    .addPrimaryKeyConstraint('compute_nodes_pk', ['compute_key', 'node_id'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
