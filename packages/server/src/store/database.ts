import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type SqliteDatabase from 'better-sqlite3';
import type pg from 'pg';
import type { Tables } from './schema.js';
import './tables.js';
import { migrateToLatest } from './migrate.js';
import type { DialectName, Tx } from './tx.js';
import { WriteBatch, type WriteBatchOptions } from './write-batch.js';
import type { WriteOptions } from './group-commit.js';
import { openSqlite } from './dialects/sqlite.js';
import { openPostgres } from './dialects/postgres.js';

export type { DialectName, Tx } from './tx.js';
export type { ItemOutcome, WriteBatchOptions } from './write-batch.js';
export type { WriteOptions } from './group-commit.js';
export { tuples } from './tx.js';
export { redactUrl } from './dialects/postgres.js';

export interface Database {
  db: Kysely<Tables>;
  dialect: DialectName;
  /**
   * True when one server process at a time serves this database (SQLite: the data root's file),
   * false when several servers may share it (PostgreSQL). Domain code asks this, never the dialect.
   */
  singleServer: boolean;
  /**
   * A write transaction: every domain write of more than one statement goes through here. Writes
   * that arrive together share one commit (group commit, group-commit.ts), each in a savepoint of
   * its own: one that throws is undone alone and its caller gets the error; each caller is answered
   * only after the commit. `fn` must not call `write` again (pass `tx` down). With `oneStatement`,
   * `fn` sends at most one statement: alone in its group it runs without BEGIN/COMMIT where a lone
   * statement commits by itself (PostgreSQL), one round trip.
   */
  write<T>(fn: (tx: Tx) => Promise<T>, opts?: WriteOptions): Promise<T>;
  /**
   * Many small writes of one kind in one member of a group (write-batch.ts): items that arrive
   * while the previous batch of this kind runs go together, their statements side by side, with
   * no savepoint each. Make one per kind of write (e.g. at service construction) and call it per item.
   */
  batch<I, O>(opts: WriteBatchOptions<I, O>): (item: I) => Promise<O>;
  /**
   * A read-only snapshot, for reads of several statements that must agree (e.g. metric blocks and
   * the run's log, which a concurrent write may fold into blocks).
   */
  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** The raw better-sqlite3 handle (SQLite only): for the store's own modules and tests. */
  sqlite?: SqliteDatabase.Database;
  /** The raw pg pool (PostgreSQL only): for the store's own modules and tests. */
  pool?: pg.Pool;
  close(): Promise<void>;
}

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
  const store = opts.url
    ? {
        dialect: 'postgres',
        ...(await openPostgres({
          url: opts.url,
          poolSize: opts.poolSize ?? 10,
          onIdleError: opts.onIdleError ?? warnIdleError,
        })),
      }
    : {
        dialect: 'sqlite',
        ...openSqlite({
          file: opts.sqlitePath ?? ':memory:',
          onCheckpointError: opts.onCheckpointError ?? warnCheckpointError,
        }),
      };
  const database: Database = {
    ...store,
    dialect: store.dialect as DialectName,
    singleServer: store.dialect === 'sqlite',
    batch<I, O>(o: WriteBatchOptions<I, O>) {
      const b = new WriteBatch<I, O>((fn, wo) => store.write(fn, wo), { maxRunning: store.batchesAtOnce, ...o });
      return (item: I) => b.add(item);
    },
  };
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
  process.emitWarning(`a pooled PostgreSQL connection failed and was dropped: ${e.message}`, {
    code: 'ATELIER_PG_IDLE',
  });
}

/** `now()` as epoch milliseconds. */
export const nowMs = (): number => Date.now();

export { sql };
