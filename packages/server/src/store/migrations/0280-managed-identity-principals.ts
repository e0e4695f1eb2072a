import type { Kysely } from 'kysely';

/**
 * The principal of a user-assigned managed identity names that identity (`managed_identity`: its ARM
 * id), so it can be told from a service principal: a managed identity gets tokens only from the
 * managed identity endpoint, never with a client secret (Azure's rule). Principals made before this
 * migration are found through their identity resource's `properties.principalId`, and any secret an
 * administrator gave one is removed (it could sign in with it until now).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('principals').addColumn('managed_identity', 'varchar(800)').execute();
  const identities = await db
    .selectFrom('resources')
    .select(['id', 'properties'])
    .where('type_key', '=', 'microsoft.managedidentity/userassignedidentities')
    .execute();
  for (const r of identities as { id: string; properties: string }[]) {
    const principalId = (JSON.parse(r.properties) as { principalId?: unknown }).principalId;
    if (typeof principalId !== 'string') continue;
    await db.updateTable('principals').set({ managed_identity: r.id }).where('id', '=', principalId).execute();
    await db.deleteFrom('principal_secrets').where('principal_id', '=', principalId).execute();
  }
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
