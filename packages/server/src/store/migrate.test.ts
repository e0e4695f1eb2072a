import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
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
