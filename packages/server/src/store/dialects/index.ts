import type { Kysely } from 'kysely';
import type SqliteDatabase from 'better-sqlite3';
import type pg from 'pg';
import type { Tables } from '../schema.js';
import type { Tx } from '../tx.js';
import type { WriteOptions } from '../group-commit.js';

/** What a dialect module (sqlite.ts, postgres.ts) opens: the store's database before migrations. */
export interface DialectStore {
  db: Kysely<Tables>;
  write<T>(fn: (tx: Tx) => Promise<T>, opts?: WriteOptions): Promise<T>;
  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Batches of one kind running their statements at once (database.batch): more only help with several writers. */
  batchesAtOnce: number;
  sqlite?: SqliteDatabase.Database;
  pool?: pg.Pool;
  close(): Promise<void>;
}
