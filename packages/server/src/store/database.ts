import fs from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import type { Tables } from './schema.js';
import './tables.js';
import { migrateToLatest } from './migrate.js';
import { startCheckpointer } from './checkpointer.js';

export type DialectName = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<Tables>;
  dialect: DialectName;
  /** The raw better-sqlite3 handle (SQLite only): hot paths may use prepared statements directly. */
  sqlite?: SqliteDatabase.Database;
  /** The raw pg pool (PostgreSQL only). */
  pool?: pg.Pool;
  close(): Promise<void>;
}

// PostgreSQL returns int8 as strings by default; our bigints are epoch ms and counters that fit in
// a double, so read them as numbers.
pg.types.setTypeParser(20, (v: string) => Number(v));
pg.types.setTypeParser(1700, (v: string) => Number(v));

export interface OpenOptions {
  /** postgres://… URL; when unset, SQLite at `sqlitePath`. */
  url?: string;
  sqlitePath?: string;
  /** Apply migrations (default true). */
  migrate?: boolean;
  poolSize?: number;
  /**
   * PostgreSQL: called when an idle pooled connection fails (the server restarted, an admin ended
   * the session). The pool drops that connection and makes a new one when needed; without a
   * listener node-postgres would throw the error and end the process.
   */
  onIdleError?: (e: Error) => void;
  /** SQLite: called when a background WAL checkpoint fails (default: a process warning). */
  onCheckpointError?: (message: string) => void;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  let database: Database;
  if (opts.url) {
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10 });
    pool.on('error', (e) => (opts.onIdleError ?? warnIdleError)(e));
    // pool.end() resolves before its connections have said goodbye to the server; close() waits
    // for them, so nothing of this process is still connected when close() returns.
    const live = new Set<pg.PoolClient>();
    pool.on('connect', (c) => live.add(c));
    pool.on('remove', (c) => live.delete(c));
    // Fail fast with a clear message when the server is not reachable.
    try {
      const c = await pool.connect();
      c.release();
    } catch (e) {
      await pool.end().catch(() => {});
      throw new Error(`cannot connect to PostgreSQL at ${redactUrl(opts.url)}: ${(e as Error).message}`);
    }
    const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
    const close = async () => {
      await db.destroy();
      const deadline = Date.now() + 5000;
      while (live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    database = { db, dialect: 'postgres', pool, close };
  } else {
    const file = opts.sqlitePath ?? ':memory:';
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
    const checkpointer = file === ':memory:' ? undefined : startCheckpointer(file, { onError: opts.onCheckpointError ?? warnCheckpointError });
    if (checkpointer) sqlite.pragma('wal_autocheckpoint = 16384');
    // Kysely's SqliteDialect keeps this one connection and serialises its use: one writer.
    const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: sqlite }) });
    database = {
      db,
      dialect: 'sqlite',
      sqlite,
      close: async () => {
        await checkpointer?.stop();
        await db.destroy();
      },
    };
  }
  if (opts.migrate !== false) {
    try {
      await migrateToLatest(database.db);
    } catch (e) {
      await database.close().catch(() => {});
      throw e;
    }
  }
  return database;
}

function warnCheckpointError(message: string): void {
  process.emitWarning(`a background SQLite checkpoint failed: ${message}`, { code: 'ATELIER_SQLITE_CHECKPOINT' });
}

function warnIdleError(e: Error): void {
  process.emitWarning(`a pooled PostgreSQL connection failed and was dropped: ${e.message}`, { code: 'ATELIER_PG_IDLE' });
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
}

/** `now()` as epoch milliseconds. */
export const nowMs = (): number => Date.now();

export { sql };
