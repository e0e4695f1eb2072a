import fs from 'node:fs';
import path from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import SqliteDatabase from 'better-sqlite3';
import type { Tables } from '../schema.js';
import type { Tx } from '../tx.js';
import { GroupCommit, type WriteSession } from '../group-commit.js';
import { startCheckpointer } from '../checkpointer.js';
import type { DialectStore } from './index.js';

/**
 * SQLite: one file, one connection (Kysely's SqliteDialect serialises its use), one writer.
 * Transactions hold Kysely's connection, so no other request's statement can land inside them,
 * and run cached prepared statements on it.
 */
export function openSqlite(opts: { file: string; onCheckpointError: (message: string) => void }): DialectStore {
  const file = opts.file;
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  // WAL: readers never block the writer; NORMAL sync is durable across process crashes (only an
  // OS crash may lose the last transactions), busy_timeout waits instead of "database is locked".
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 10000');
  sqlite.pragma('foreign_keys = ON');
  // Checkpoints run in a worker thread (see checkpointer.ts); the writer's own automatic
  // checkpoint stays as a safety net, at 64 MiB of WAL instead of 4 MiB.
  const checkpointer = file === ':memory:' ? undefined : startCheckpointer(file, { onError: opts.onCheckpointError });
  if (checkpointer) sqlite.pragma('wal_autocheckpoint = 16384');
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: sqlite }) });
  const stmt = statements(sqlite);

  const group = new GroupCommit({
    lanes: 1,
    maxGroup: 64,
    async open(): Promise<WriteSession> {
      const held = await hold(db);
      return {
        tx: sqliteTx(stmt, held.conn),
        async begin(savepoints) {
          stmt('begin immediate').run();
          if (savepoints) stmt('savepoint member').run();
        },
        async next(lastOk) {
          if (!lastOk) stmt('rollback to member').run();
          stmt('release member').run();
          stmt('savepoint member').run();
        },
        async commit(lastOk) {
          if (!lastOk) stmt('rollback to member').run();
          stmt('commit').run();
        },
        async rollback() {
          if (sqlite.inTransaction) stmt('rollback').run();
        },
        usable: () => sqlite.inTransaction,
        close: () => held.release(),
      };
    },
  });

  return {
    db,
    sqlite,
    write: (fn, o) => group.write(fn, o),
    // One writer: a second batch could only wait for the first one's commit, and split what gathers.
    batchesAtOnce: 1,
    async read(fn) {
      return db.connection().execute(async (conn) => {
        const tx = sqliteTx(stmt, conn);
        stmt('begin').run();
        try {
          const out = await fn(tx);
          stmt('commit').run();
          return out;
        } catch (e) {
          if (sqlite.inTransaction) stmt('rollback').run();
          throw e;
        }
      });
    },
    close: async () => {
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}

/** Kysely's one connection, held until `release()` (nothing else runs on it meanwhile). */
function hold(db: Kysely<Tables>): Promise<{ conn: Kysely<Tables>; release(): void }> {
  return new Promise((resolve, reject) => {
    db.connection()
      .execute((conn) => new Promise<void>((release) => resolve({ conn, release: () => release() })))
      .catch(reject);
  });
}

type Prepare = (text: string, raw?: boolean) => SqliteDatabase.Statement;

/** Prepared statements, cached per text. */
function statements(sqlite: SqliteDatabase.Database): Prepare {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return (text, raw = false) => {
    const key = raw ? `raw:${text}` : text;
    let s = cache.get(key);
    if (!s) {
      s = sqlite.prepare(text);
      if (raw) s.raw(true);
      if (cache.size > 2000) cache.clear();
      cache.set(key, s);
    }
    return s;
  };
}

/** SQLite binds only numbers, strings, bigints, buffers and null. */
function bindable(params: unknown[]): unknown[] {
  return params.map((p) => (p === undefined ? null : typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

function sqliteTx(stmt: Prepare, db: Kysely<Tables>): Tx {
  return {
    dialect: 'sqlite',
    db,
    all: async <R>(text: string, params: unknown[] = []) => stmt(text).all(...bindable(params)) as R[],
    rows: async <R>(text: string, params: unknown[] = []) => stmt(text, true).all(...bindable(params)) as R[],
    run: async (text: string, params: unknown[] = []) => stmt(text).run(...bindable(params)).changes,
  };
}
