import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import pg from 'pg';
import { openDatabase } from '../store/database.js';
import { migrations } from '../store/migrations/index.js';

/**
 * Migrated template databases for tests: a test server starts on a copy of a database that already
 * has every migration, instead of running them all on an empty one (on PostgreSQL ~0.5 s of the
 * server's and PostgreSQL's CPU per start, on SQLite ~0.1 s). The server still runs its migration
 * check at start and finds nothing to do.
 *
 * A template is named by a hash of the migration set (the files of store/migrations/ and each
 * migration's functions), so a changed or added migration makes a new template, never a stale one.
 * The first test process that needs one builds it; the others (concurrent processes included) use it:
 * - PostgreSQL: `atelier_tpl_<hash>` on the test server, built under an advisory lock as
 *   `<name>_b`, then renamed, so the name exists only once it is whole (a builder that dies leaves
 *   `<name>_b`, dropped by the next one). It is marked IS_TEMPLATE and ALLOW_CONNECTIONS false:
 *   `CREATE DATABASE x TEMPLATE t` fails while anybody is connected to `t`. Each test database is
 *   `CREATE DATABASE x TEMPLATE atelier_tpl_<hash>`.
 * - SQLite: `atelier-test-sqlite-<hash>.db` in the OS temporary folder, written under a temporary
 *   name and renamed into place (atomic), copied into a new server's data root.
 * Templates of other hashes (earlier migration sets, other checkouts) are dropped by the process that
 * builds a new one, when they were built more than a day ago: a developer's long-lived PostgreSQL or
 * temporary folder keeps about a day's worth. One still in use elsewhere is only rebuilt there (a copy
 * that finds its template gone builds it again), and PostgreSQL's DROP DATABASE waits for copies
 * running from it.
 */

/** Templates of other migration sets older than this are dropped when a new one is built. */
const STALE_MS = 24 * 3600_000;
const PG_PREFIX = 'atelier_tpl_';
const SQLITE_PREFIX = 'atelier-test-sqlite-';
// pg_advisory_lock key (bigint) serialising template builds on one PostgreSQL server (per database:
// every builder takes it on the database of ATELIER_TEST_DATABASE_URL).
const PG_BUILD_LOCK = '7245093811440219517';

let setHash: string | undefined;
/** The hash naming this checkout's migration set (hex, 20 characters). */
export function migrationSetHash(): string {
  if (setHash) return setHash;
  const h = crypto.createHash('sha256');
  // The migration files (a helper a migration calls is in its file), whichever tree runs (TypeScript
  // through tsx or built JavaScript: each makes its own template) ...
  const dir = new URL('../store/migrations/', import.meta.url);
  if (fs.existsSync(dir)) {
    for (const name of fs.readdirSync(dir).sort()) {
      const file = new URL(name, dir);
      if (!fs.statSync(file).isFile()) continue;
      h.update(`file ${name}\0`).update(fs.readFileSync(file)).update('\0');
    }
  }
  // ... and the migrations themselves, so a tree without those files still names them.
  for (const [name, m] of Object.entries(migrations).sort(([a], [b]) => (a < b ? -1 : 1))) {
    h.update(`migration ${name}\0${String(m.up)}\0${String(m.down ?? '')}\0`);
  }
  setHash = h.digest('hex').slice(0, 20);
  return setHash;
}

function databaseUrl(base: string, name: string): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Promises by key, each made by the first caller and shared by the others; one that fails (or that a
 * caller `forget`s as stale) is dropped, so the next caller makes it again.
 */
class Shared<T> {
  private readonly byKey = new Map<string, Promise<T>>();
  get(key: string, make: () => Promise<T>): Promise<T> {
    let p = this.byKey.get(key);
    if (!p) {
      const mine = make();
      this.byKey.set(key, mine);
      mine.catch(() => this.forget(key, mine));
      p = mine;
    }
    return p;
  }
  forget(key: string, p: Promise<T>): void {
    if (this.byKey.get(key) === p) this.byKey.delete(key);
  }
}

const strategies = new Shared<string>();
/**
 * ` STRATEGY FILE_COPY` on PostgreSQL 15+ ('' before: no such clause), once per server. 15's default
 * WAL_LOG reads every block of the source and writes it to the WAL; FILE_COPY copies the files and
 * asks for a checkpoint (cheap with the tests' fsync=off). Measured here: on the loaded shared test
 * server ~0.2 s less backend CPU per database (from template1 or the migrated template), on a quiet
 * one the same within noise. Most of a copy's cost is the file system making its ~575 files.
 */
function strategy(base: string, admin: pg.Client): Promise<string> {
  return strategies.get(base, () =>
    admin
      .query('SHOW server_version_num')
      .then((r) => (Number(r.rows[0].server_version_num) >= 150000 ? ' STRATEGY FILE_COPY' : '')),
  );
}

const pgTemplates = new Shared<string>();

/**
 * Creates database `name` on the server at `base`: empty, or with `migrated` a copy of the migrated
 * template (built first when missing). `templateHash` (tests of this module) names another template
 * than this migration set's.
 */
export async function createPostgresDatabase(
  base: string,
  name: string,
  { migrated = false, templateHash = migrationSetHash() }: { migrated?: boolean; templateHash?: string } = {},
): Promise<void> {
  const key = `${templateHash} ${base}`;
  for (let attempt = 0; ; attempt++) {
    const pending = migrated ? pgTemplates.get(key, () => ensurePgTemplate(base, templateHash)) : undefined;
    const template = pending ? ` TEMPLATE ${await pending}` : '';
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}${template}${await strategy(base, admin)}`);
      return;
    } catch (e) {
      // 3D000: the template was dropped since (another checkout's cleanup): build it again, once.
      if (!pending || (e as { code?: string }).code !== '3D000' || attempt > 0) throw e;
      pgTemplates.forget(key, pending);
    } finally {
      await admin.end();
    }
  }
}

/**
 * The name of the migrated template of `hash` on the server at `base`, built when missing. Exported
 * for this module's tests (each call asks the server; createPostgresDatabase asks once per process).
 */
export async function ensurePgTemplate(base: string, hash: string): Promise<string> {
  const name = `${PG_PREFIX}${hash}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    const exists = async () =>
      ((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0;
    if (await exists()) return name;
    await admin.query('SELECT pg_advisory_lock($1)', [PG_BUILD_LOCK]);
    try {
      if (await exists()) return name;
      const building = `${name}_b`;
      // A builder that died left it; nobody else builds while we hold the lock.
      await admin.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${building}${await strategy(base, admin)}`);
      try {
        const database = await openDatabase({ url: databaseUrl(base, building), migrate: true, poolSize: 1 });
        await database.close();
        // Whole before it gets its name. ALTER and RENAME wait (up to 5 s) for the closed pool's
        // backend to go away.
        await admin.query(`ALTER DATABASE ${building} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
        await admin.query(`COMMENT ON DATABASE ${building} IS '${Date.now()}'`);
        await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
      } catch (e) {
        await dropTemplate(admin, building).catch(() => {});
        throw e;
      }
      await dropStalePgTemplates(admin, name);
      return name;
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [PG_BUILD_LOCK]);
    }
  } finally {
    await admin.end();
  }
}

async function dropTemplate(admin: pg.Client, name: string): Promise<void> {
  // A template cannot be dropped: IS_TEMPLATE false first. DROP waits for copies being made from it.
  await admin.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE false`);
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** Under the build lock: other migration sets' templates built more than STALE_MS ago. */
async function dropStalePgTemplates(admin: pg.Client, keep: string): Promise<void> {
  const { rows } = await admin.query<{ datname: string; built: string | null }>(
    `SELECT d.datname, s.description AS built FROM pg_database d
       LEFT JOIN pg_shdescription s ON s.objoid = d.oid AND s.classoid = 'pg_database'::regclass
      WHERE d.datistemplate AND d.datname LIKE 'atelier\\_tpl\\_%' AND d.datname <> $1`,
    [keep],
  );
  for (const { datname, built } of rows) {
    if (!/^atelier_tpl_[0-9a-f]+$/.test(datname)) continue;
    if (built && /^\d+$/.test(built) && Date.now() - Number(built) < STALE_MS) continue;
    await dropTemplate(admin, datname).catch((e: { code?: string }) => {
      if (e.code !== '3D000') throw e; // gone already
    });
  }
}

const sqliteTemplates = new Shared<string>();

/**
 * Writes a migrated SQLite database at `file` (a copy of the template, built first when missing).
 * `dir` and `templateHash` (tests of this module) place and name another template than this
 * migration set's in the OS temporary folder.
 */
export async function createMigratedSqlite(
  file: string,
  { dir = os.tmpdir(), templateHash = migrationSetHash() }: { dir?: string; templateHash?: string } = {},
): Promise<void> {
  const key = path.join(dir, templateHash);
  for (let attempt = 0; ; attempt++) {
    const pending = sqliteTemplates.get(key, () => ensureSqliteTemplate(dir, templateHash));
    const template = await pending;
    try {
      fs.copyFileSync(template, file, fs.constants.COPYFILE_EXCL);
      return;
    } catch (e) {
      // Removed since (another checkout's cleanup): build it again, once.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0 || fs.existsSync(template)) throw e;
      sqliteTemplates.forget(key, pending);
    }
  }
}

async function ensureSqliteTemplate(dir: string, hash: string): Promise<string> {
  const file = path.join(dir, `${SQLITE_PREFIX}${hash}.db`);
  if (fs.existsSync(file)) return file;
  // Built under a name of its own and renamed into place: a reader never sees half a file, and
  // processes building at once each rename a whole one.
  const building = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
  try {
    const database = await openDatabase({ sqlitePath: building, migrate: true });
    await database.close();
    for (const suffix of ['-wal', '-shm']) {
      if (fs.existsSync(building + suffix)) throw new Error(`SQLite left ${building}${suffix} after closing`);
    }
    fs.renameSync(building, file);
  } finally {
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(building + suffix, { force: true });
  }
  for (const name of fs.readdirSync(dir)) {
    if (!/^atelier-test-sqlite-[0-9a-f]+\.db$/.test(name)) continue;
    const other = path.join(dir, name);
    if (other === file) continue;
    try {
      if (Date.now() - fs.statSync(other).mtimeMs > STALE_MS) fs.rmSync(other, { force: true });
    } catch {
      // Removed by another process meanwhile.
    }
  }
  return file;
}
