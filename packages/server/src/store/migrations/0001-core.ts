import type { Kysely } from 'kysely';

/** Control plane: settings, subscriptions, resource groups, ARM resources, operations, identity, secrets. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('settings')
    .addColumn('key', 'varchar(200)', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('subscriptions')
    .addColumn('subscription_id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('display_name', 'varchar(200)', (c) => c.notNull())
    .addColumn('tenant_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('state', 'varchar(20)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('resource_groups')
    .addColumn('id_key', 'varchar(400)', (c) => c.primaryKey()) // lower-cased ARM id
    .addColumn('subscription_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('name', 'varchar(90)', (c) => c.notNull())
    .addColumn('location', 'varchar(100)', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('managed_by', 'varchar(400)')
    .addColumn('provisioning_state', 'varchar(20)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'varchar(200)')
    .execute();
  await db.schema.createIndex('resource_groups_sub').on('resource_groups').columns(['subscription_id']).execute();

  // Every ARM resource below a resource group, of any type (workspaces, their children, storage
  // accounts, vaults, …). One generic table: the resource engine owns its shape.
  await db.schema
    .createTable('resources')
    .addColumn('id_key', 'varchar(800)', (c) => c.primaryKey()) // lower-cased ARM id
    .addColumn('id', 'varchar(800)', (c) => c.notNull())
    .addColumn('subscription_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('group_key', 'varchar(400)', (c) => c.notNull()) // lower-cased resource group id
    .addColumn('parent_key', 'varchar(800)') // lower-cased parent resource id (child resources)
    .addColumn('type', 'varchar(200)', (c) => c.notNull()) // e.g. Microsoft.MachineLearningServices/workspaces
    .addColumn('type_key', 'varchar(200)', (c) => c.notNull()) // lower-cased type
    .addColumn('name', 'varchar(260)', (c) => c.notNull())
    .addColumn('location', 'varchar(100)')
    .addColumn('kind', 'varchar(100)')
    .addColumn('tags', 'text')
    .addColumn('sku', 'text')
    .addColumn('identity', 'text')
    .addColumn('properties', 'text', (c) => c.notNull())
    .addColumn('etag', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'varchar(200)')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_by', 'varchar(200)')
    .execute();
  await db.schema
    .createIndex('resources_sub_type')
    .on('resources')
    .columns(['subscription_id', 'type_key', 'id_key'])
    .execute();
  await db.schema.createIndex('resources_group').on('resources').columns(['group_key', 'type_key', 'id_key']).execute();
  await db.schema
    .createIndex('resources_parent')
    .on('resources')
    .columns(['parent_key', 'type_key', 'id_key'])
    .execute();

  // Long-running operations: status is in the database so any replica can answer a poll.
  await db.schema
    .createTable('operations')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('subscription_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('location', 'varchar(100)', (c) => c.notNull())
    .addColumn('kind', 'varchar(60)', (c) => c.notNull())
    .addColumn('resource_id', 'varchar(800)', (c) => c.notNull())
    .addColumn('status', 'varchar(20)', (c) => c.notNull()) // InProgress | Succeeded | Failed | Canceled
    .addColumn('error', 'text')
    .addColumn('result', 'text')
    .addColumn('owner', 'varchar(64)', (c) => c.notNull()) // process that runs it
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('principals')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey()) // object id (oid)
    .addColumn('tenant_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('kind', 'varchar(20)', (c) => c.notNull()) // user | servicePrincipal
    .addColumn('name', 'varchar(200)', (c) => c.notNull()) // user name or application (client) id
    .addColumn('name_key', 'varchar(200)', (c) => c.notNull().unique())
    .addColumn('display_name', 'varchar(200)', (c) => c.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('role_assignments')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('scope_key', 'varchar(800)', (c) => c.notNull()) // lower-cased scope ('/' = everything)
    .addColumn('scope', 'varchar(800)', (c) => c.notNull())
    .addColumn('principal_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('role', 'varchar(60)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'varchar(36)')
    .execute();
  await db.schema.createIndex('role_assignments_principal').on('role_assignments').columns(['principal_id']).execute();

  // Token signing keys: private halves encrypted with the master key; several may verify at once
  // so a rotation logs nobody out.
  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('private_key', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('retired_at', 'bigint')
    .execute();

  // Data keys (envelope encryption): each owner (a key vault, a workspace) has one, wrapped by the
  // master key or by a customer key.
  await db.schema
    .createTable('data_keys')
    .addColumn('owner_key', 'varchar(800)', (c) => c.primaryKey())
    .addColumn('wrapped', 'text', (c) => c.notNull())
    .addColumn('wrapped_by', 'varchar(800)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('vault_secrets')
    .addColumn('vault_key', 'varchar(800)', (c) => c.notNull())
    .addColumn('name', 'varchar(127)', (c) => c.notNull())
    .addColumn('name_key', 'varchar(127)', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull()) // encrypted
    .addColumn('content_type', 'varchar(255)')
    .addColumn('tags', 'text')
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('version', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('vault_secrets_pk', ['vault_key', 'name_key'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('downgrades are not supported');
}
