import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { migrateBefore, openTestDatabase, testDialects } from '../testing/harness.js';
import { openDatabase } from './database.js';
import { migrateToLatest } from './migrate.js';

test('a migration numbered below ones already applied is applied (feature number ranges)', async () => {
  const database = await openDatabase({});
  try {
    // A database made before 0190 existed: it has 0200/0300 but not 0190.
    await sql`delete from kysely_migration where name = '0190-tracking-model-inputs'`.execute(database.db);
    await sql`drop table tracking_model_inputs`.execute(database.db);
    await migrateToLatest(database.db);
    const { rows } = await sql<{
      name: string;
    }>`select name from kysely_migration where name = '0190-tracking-model-inputs'`.execute(database.db);
    assert.equal(rows.length, 1);
    await sql`select run_uuid, model_id, created_at from tracking_model_inputs`.execute(database.db);
  } finally {
    await database.close();
  }
});

/**
 * 0280: before it, an administrator could give the principal of a user-assigned managed identity a
 * client secret (and sign in with it). A store migrated to just before 0280 with such a secret:
 * after 0280 the identity's principal names its identity and has no secret; a service principal's
 * secret, and a principal whose identity resource has no principalId, are left alone.
 */
for (const dialect of testDialects()) {
  test(`migration 0280 removes the client secrets of managed identities' principals (${dialect})`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-0280-'));
    const { database, drop } = await openTestDatabase(dialect, dir);
    try {
      await migrateBefore(database, '0280');
      const db = database.db as unknown as Kysely<any>;
      const tenant = '00000000-0000-0000-0000-00000000000t';
      const identityPrincipal = '11111111-1111-1111-1111-111111111111';
      const servicePrincipal = '22222222-2222-2222-2222-222222222222';
      const group = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg';
      const identityId = `${group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/Id-One`;
      await db
        .insertInto('principals')
        .values(
          [
            [identityPrincipal, 'id-one-client'],
            [servicePrincipal, 'sp-client'],
          ].map(([id, name]) => ({
            id,
            tenant_id: tenant,
            kind: 'servicePrincipal',
            name,
            name_key: name,
            display_name: name,
            password_hash: null,
            enabled: 1,
            created_at: 0,
          })),
        )
        .execute();
      await db
        .insertInto('principal_secrets')
        .values(
          [
            ['k-identity-1', identityPrincipal],
            ['k-identity-2', identityPrincipal],
            ['k-sp', servicePrincipal],
          ].map(([key_id, principal_id]) => ({
            key_id,
            principal_id,
            hash: 'h'.repeat(64),
            hint: 'abc',
            display_name: key_id,
            created_at: 0,
            expires_at: Number.MAX_SAFE_INTEGER,
          })),
        )
        .execute();
      const resource = (id: string, properties: Record<string, unknown>) => ({
        id_key: id.toLowerCase(),
        id,
        subscription_id: '00000000-0000-0000-0000-000000000001',
        group_key: group.toLowerCase(),
        parent_key: null,
        type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
        type_key: 'microsoft.managedidentity/userassignedidentities',
        name: id.split('/').pop()!,
        location: 'local',
        kind: null,
        tags: '{}',
        sku: null,
        identity: null,
        properties: JSON.stringify(properties),
        etag: 'e',
        created_at: 0,
        created_by: null,
        updated_at: 0,
        updated_by: null,
      });
      await db
        .insertInto('resources')
        .values([
          resource(identityId, { principalId: identityPrincipal, clientId: 'id-one-client', tenantId: tenant }),
          // Half made (no principalId yet): nothing to find, nothing removed.
          resource(`${group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/half`, {}),
        ])
        .execute();

      await migrateToLatest(database.db);

      const secrets = await db.selectFrom('principal_secrets').select('key_id').orderBy('key_id').execute();
      assert.deepEqual(
        secrets.map((s) => s.key_id),
        ['k-sp'],
        "the identity's secrets are gone, the service principal's stays",
      );
      const principals = await db.selectFrom('principals').select(['id', 'managed_identity']).orderBy('id').execute();
      assert.deepEqual(principals, [
        { id: identityPrincipal, managed_identity: identityId },
        { id: servicePrincipal, managed_identity: null },
      ]);
    } finally {
      await database.close();
      await drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
