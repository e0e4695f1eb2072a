import type SqliteDatabase from 'better-sqlite3';
import type pg from 'pg';
import type { Database, DialectName } from '../store/database.js';

/**
 * A small raw-SQL transaction for the tracking write paths (log-batch and friends), the same code
 * on both dialects: `?` placeholders (rewritten to `$n` for PostgreSQL), prepared statements cached
 * on SQLite. On SQLite it holds Kysely's connection (so no other request's transaction is open
 * meanwhile) and runs BEGIN IMMEDIATE … COMMIT on the one writer connection; on PostgreSQL it takes
 * a pooled client.
 */
export interface Tx {
  dialect: DialectName;
  all<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Rows as arrays of column values, in the order selected (cheaper than objects for many rows). */
  rows<T extends unknown[] = unknown[]>(text: string, params?: unknown[]): Promise<T[]>;
  run(text: string, params?: unknown[]): Promise<number>;
}

const pgText = new Map<string, string>();
function toPg(text: string): string {
  let t = pgText.get(text);
  if (t === undefined) {
    let n = 0;
    t = text.replace(/\?/g, () => `$${++n}`);
    if (pgText.size > 5000) pgText.clear();
    pgText.set(text, t);
  }
  return t;
}

const stmtCaches = new WeakMap<SqliteDatabase.Database, Map<string, SqliteDatabase.Statement>>();
function stmt(db: SqliteDatabase.Database, text: string, raw = false): SqliteDatabase.Statement {
  let cache = stmtCaches.get(db);
  if (!cache) stmtCaches.set(db, (cache = new Map()));
  const key = raw ? `raw:${text}` : text;
  let s = cache.get(key);
  if (!s) {
    s = db.prepare(text);
    if (raw) s.raw(true);
    if (cache.size > 2000) cache.clear();
    cache.set(key, s);
  }
  return s;
}

/** SQLite binds only numbers, strings, bigints, buffers and null. */
function bindable(params: unknown[]): unknown[] {
  return params.map((p) => (p === undefined ? null : typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

export async function withTx<T>(database: Database, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return transaction(database, fn, 'begin immediate', 'begin');
}

/**
 * A read-only snapshot for reads of several statements that must agree (e.g. metric blocks and
 * the run's log, which a concurrent write may fold into blocks): SQLite holds the connection in a
 * read transaction; PostgreSQL reads in one REPEATABLE READ transaction.
 */
export async function withRead<T>(database: Database, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return transaction(database, fn, 'begin', 'begin isolation level repeatable read read only');
}

async function transaction<T>(database: Database, fn: (tx: Tx) => Promise<T>, sqliteBegin: string, pgBegin: string): Promise<T> {
  if (database.dialect === 'sqlite') {
    const sqlite = database.sqlite!;
    return database.db.connection().execute(async () => {
      const tx: Tx = {
        dialect: 'sqlite',
        all: async <R>(text: string, params: unknown[] = []) => stmt(sqlite, text).all(...bindable(params)) as R[],
        rows: async <R>(text: string, params: unknown[] = []) => stmt(sqlite, text, true).all(...bindable(params)) as R[],
        run: async (text: string, params: unknown[] = []) => stmt(sqlite, text).run(...bindable(params)).changes,
      };
      stmt(sqlite, sqliteBegin).run();
      try {
        const out = await fn(tx);
        stmt(sqlite, 'commit').run();
        return out;
      } catch (e) {
        if (sqlite.inTransaction) stmt(sqlite, 'rollback').run();
        throw e;
      }
    });
  }
  const client: pg.PoolClient = await database.pool!.connect();
  let broken = false;
  try {
    const tx: Tx = {
      dialect: 'postgres',
      all: async <R>(text: string, params: unknown[] = []) => (await client.query(toPg(text), params)).rows as R[],
      rows: async <R>(text: string, params: unknown[] = []) => (await client.query({ text: toPg(text), values: params, rowMode: 'array' })).rows as R[],
      run: async (text: string, params: unknown[] = []) => (await client.query(toPg(text), params)).rowCount ?? 0,
    };
    await client.query(pgBegin);
    try {
      const out = await fn(tx);
      await client.query('commit');
      return out;
    } catch (e) {
      await client.query('rollback').catch(() => {
        broken = true;
      });
      throw e;
    }
  } finally {
    client.release(broken);
  }
}

/** Rows of `n` tuples of `width` placeholders: "(?,?),(?,?)". */
export function tuples(n: number, width: number): string {
  const one = `(${new Array(width).fill('?').join(',')})`;
  return new Array(n).fill(one).join(',');
}
