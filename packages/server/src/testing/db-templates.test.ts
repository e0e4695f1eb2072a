import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import pg from 'pg';
import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import { openDatabase, type Database } from '../store/database.js';
import { migrations } from '../store/migrations/index.js';
import { migrateToLatest } from '../store/migrate.js';
import { createMigratedSqlite, createPostgresDatabase, ensurePgTemplate, migrationSetHash } from './db-templates.js';
import { testDialects } from './harness.js';

// Each test builds templates of a hash of its own (not this checkout's), so it never drops or
// rebuilds the template the other test processes use.
const testHash = () => crypto.randomBytes(10).toString('hex');

/** Every migration is recorded as applied: a server starting on it has none to run. */
async function assertNothingToMigrate(database: Database): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async (): Promise<Record<string, Migration>> => migrations };
  const known = await new Migrator({ db: database.db, provider, allowUnorderedMigrations: true }).getMigrations();
  assert.equal(known.length, Object.keys(migrations).length);
  assert.deepEqual(
    known.filter((m) => m.executedAt === undefined).map((m) => m.name),
    [],
  );
}

describe('migration set hash', () => {
  it('names the migration set: stable within a process, hex', () => {
    assert.match(migrationSetHash(), /^[0-9a-f]{20}$/);
    assert.equal(migrationSetHash(), migrationSetHash());
  });
});

describe('migrated SQLite template', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-tpl-test-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const schema = (database: Database) =>
    database
      .sqlite!.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
      .all();

  it('copies a database whole and migrated, as migrating an empty file makes it', async () => {
    const hash = testHash();
    const copy = path.join(dir, 'copy.db');
    await createMigratedSqlite(copy, { dir, templateHash: hash });
    const template = path.join(dir, `atelier-test-sqlite-${hash}.db`);
    assert.ok(fs.existsSync(template));
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes(hash)),
      [`atelier-test-sqlite-${hash}.db`],
      'no building file, WAL or shared-memory file left beside the template',
    );
    const copied = await openDatabase({ sqlitePath: copy, migrate: true });
    const migrated = await openDatabase({ sqlitePath: path.join(dir, 'migrated.db'), migrate: true });
    try {
      await assertNothingToMigrate(copied);
      assert.ok(schema(copied).length > 50);
      assert.deepEqual(schema(copied), schema(migrated));
    } finally {
      await copied.close();
      await migrated.close();
    }
    // An existing file is never overwritten.
    await assert.rejects(createMigratedSqlite(copy, { dir, templateHash: hash }), { code: 'EEXIST' });
  });

  it('builds the template again when it was removed, and removes other sets built over a day ago', async () => {
    const hash = testHash();
    await createMigratedSqlite(path.join(dir, 'a.db'), { dir, templateHash: hash });
    const template = path.join(dir, `atelier-test-sqlite-${hash}.db`);
    const old = path.join(dir, `atelier-test-sqlite-${testHash()}.db`);
    const recent = path.join(dir, `atelier-test-sqlite-${testHash()}.db`);
    const unrelated = path.join(dir, 'atelier-test-sqlite-notes.txt');
    for (const f of [old, recent, unrelated]) fs.writeFileSync(f, 'x');
    const twoDaysAgo = new Date(Date.now() - 2 * 86400_000);
    fs.utimesSync(old, twoDaysAgo, twoDaysAgo);
    fs.utimesSync(unrelated, twoDaysAgo, twoDaysAgo);
    fs.rmSync(template); // as another checkout's cleanup would
    await createMigratedSqlite(path.join(dir, 'b.db'), { dir, templateHash: hash });
    assert.ok(fs.existsSync(template), 'built again');
    assert.ok(!fs.existsSync(old), 'a stale set is removed');
    assert.ok(fs.existsSync(recent), 'a recent set is kept');
    assert.ok(fs.existsSync(unrelated), 'only templates are removed');
    const database = await openDatabase({ sqlitePath: path.join(dir, 'b.db'), migrate: false });
    try {
      await assertNothingToMigrate(database);
    } finally {
      await database.close();
    }
  });
});

if (testDialects().includes('postgres')) {
  describe('migrated PostgreSQL template', () => {
    const base = process.env.ATELIER_TEST_DATABASE_URL!;
    const created: string[] = [];
    const templates: string[] = [];
    const url = (name: string) => {
      const u = new URL(base);
      u.pathname = `/${name}`;
      return u.toString();
    };
    const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try {
        return await fn(c);
      } finally {
        await c.end();
      }
    };
    const newDatabase = async (opts: { migrated?: boolean; templateHash?: string }) => {
      const name = `atelier_t_${crypto.randomBytes(6).toString('hex')}`;
      await createPostgresDatabase(base, name, opts);
      created.push(name);
      return name;
    };
    const schema = async (database: Database) => {
      const q = async (text: string) => (await database.pool!.query(text)).rows;
      return {
        columns: await q(
          `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
            WHERE table_schema = 'public' ORDER BY 1, 2`,
        ),
        indexes: await q(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`),
      };
    };
    const templateRow = (name: string) =>
      admin(
        async (c) =>
          (
            await c.query(
              `SELECT d.datistemplate, d.datallowconn, shobj_description(d.oid, 'pg_database') AS built
                 FROM pg_database d WHERE datname = $1`,
              [name],
            )
          ).rows[0],
      );
    after(async () => {
      await admin(async (c) => {
        for (const name of created) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        for (const name of templates) {
          const exists = (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount;
          if (!exists) continue;
          await c.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE false`);
          await c.query(`DROP DATABASE ${name}`);
        }
      });
    });

    const hash = testHash();
    const template = `atelier_tpl_${hash}`;
    templates.push(template);

    it('builds one template when several processes ask at once', async () => {
      const names = await Promise.all([1, 2, 3].map(() => ensurePgTemplate(base, hash)));
      assert.deepEqual(names, [template, template, template]);
      const row = await templateRow(template);
      assert.equal(row.datistemplate, true);
      assert.equal(row.datallowconn, false, 'nobody may connect: a copy fails while anybody is');
      assert.match(row.built, /^\d+$/);
      assert.equal(await templateRow(`${template}_b`), undefined, 'no half-built database left');
    });

    it('copies a database migrated as migrating an empty one makes it; an empty one stays empty', async () => {
      const copied = await openDatabase({
        url: url(await newDatabase({ migrated: true, templateHash: hash })),
        migrate: false,
      });
      const migrated = await openDatabase({ url: url(await newDatabase({})), migrate: false });
      try {
        assert.deepEqual((await schema(migrated)).columns, [], 'empty without migrated');
        await assertNothingToMigrate(copied);
        await migrateToLatest(migrated.db);
        const copiedSchema = await schema(copied);
        assert.ok(copiedSchema.columns.length > 100 && copiedSchema.indexes.length > 50);
        assert.deepEqual(copiedSchema, await schema(migrated));
      } finally {
        await copied.close();
        await migrated.close();
      }
    });

    it('builds the template again when it was dropped, and drops other sets built over a day ago', async () => {
      const old = `atelier_tpl_${testHash()}`;
      const recent = `atelier_tpl_${testHash()}`;
      templates.push(old, recent);
      await admin(async (c) => {
        for (const [name, built] of [
          [old, Date.now() - 2 * 86400_000],
          [recent, Date.now()],
        ] as const) {
          await c.query(`CREATE DATABASE ${name}`);
          await c.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
          await c.query(`COMMENT ON DATABASE ${name} IS '${built}'`);
        }
        // As another checkout's cleanup would; this process still knows the template's name.
        await c.query(`ALTER DATABASE ${template} WITH IS_TEMPLATE false`);
        await c.query(`DROP DATABASE ${template}`);
      });
      const name = await newDatabase({ migrated: true, templateHash: hash });
      assert.equal((await templateRow(template))?.datistemplate, true, 'built again');
      assert.equal(await templateRow(old), undefined, 'a stale set is dropped');
      assert.equal((await templateRow(recent))?.datistemplate, true, 'a recent set is kept');
      const database = await openDatabase({ url: url(name), migrate: false });
      try {
        await assertNothingToMigrate(database);
      } finally {
        await database.close();
      }
    });
  });
}
