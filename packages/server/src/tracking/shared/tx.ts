import type SqliteDatabase from 'better-sqlite3';
import type pg from 'pg';
import type { Database, DialectName } from '../../store/database.js';

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

/**
 * A write transaction. On SQLite, write transactions that arrive in the same turn of the event loop
 * share one BEGIN IMMEDIATE … COMMIT (group commit): each runs in a savepoint of its own, so one
 * that fails is rolled back alone, and each caller is answered only after the shared commit. One
 * commit instead of several writes the pages they share (the latest-metric rows and the search
 * index of an experiment) once, which is most of what a commit costs.
 */
export async function withTx<T>(database: Database, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (database.dialect === 'sqlite') return grouped(database, fn);
  return transaction(database, fn, 'begin');
}

interface Member {
  fn: (tx: Tx) => Promise<unknown>;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}
interface Writer {
  queue: Member[];
  scheduled: boolean;
}
const writers = new WeakMap<Database, Writer>();
/** At most this many transactions share a commit (bounds the time one group holds the writer). */
const GROUP_MAX = 64;

function grouped<T>(database: Database, fn: (tx: Tx) => Promise<T>): Promise<T> {
  let w = writers.get(database);
  if (!w) writers.set(database, (w = { queue: [], scheduled: false }));
  const writer = w;
  return new Promise<T>((resolve, reject) => {
    writer.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
    if (!writer.scheduled) {
      writer.scheduled = true;
      // After the poll phase: the requests read in this turn join the group.
      setImmediate(() => void drain(database, writer));
    }
  });
}

async function drain(database: Database, w: Writer): Promise<void> {
  try {
    while (w.queue.length > 0) await writeGroup(database, w.queue.splice(0, GROUP_MAX));
  } finally {
    w.scheduled = false;
    if (w.queue.length > 0) {
      w.scheduled = true;
      setImmediate(() => void drain(database, w));
    }
  }
}

async function writeGroup(database: Database, group: Member[]): Promise<void> {
  const sqlite = database.sqlite!;
  const tx = sqliteTx(sqlite);
  const single = group.length === 1;
  const done: [Member, unknown][] = [];
  try {
    await database.db.connection().execute(async () => {
      stmt(sqlite, 'begin immediate').run();
      try {
        for (const m of group) {
          if (!single) stmt(sqlite, 'savepoint member').run();
          try {
            const out = await m.fn(tx);
            if (!single) stmt(sqlite, 'release member').run();
            done.push([m, out]);
          } catch (e) {
            if (single || !sqlite.inTransaction) throw e;
            // Only this member's writes are undone; the others go on.
            stmt(sqlite, 'rollback to member').run();
            stmt(sqlite, 'release member').run();
            m.reject(e);
          }
        }
        stmt(sqlite, 'commit').run();
      } catch (e) {
        if (sqlite.inTransaction) stmt(sqlite, 'rollback').run();
        throw e;
      }
    });
  } catch (e) {
    // Nothing of the group was committed: every member fails (one already answered stays so).
    for (const m of group) m.reject(e);
    return;
  }
  for (const [m, out] of done) m.resolve(out);
}

function sqliteTx(sqlite: SqliteDatabase.Database): Tx {
  return {
    dialect: 'sqlite',
    all: async <R>(text: string, params: unknown[] = []) => stmt(sqlite, text).all(...bindable(params)) as R[],
    rows: async <R>(text: string, params: unknown[] = []) => stmt(sqlite, text, true).all(...bindable(params)) as R[],
    run: async (text: string, params: unknown[] = []) => stmt(sqlite, text).run(...bindable(params)).changes,
  };
}

/**
 * A read-only snapshot for reads of several statements that must agree (e.g. metric blocks and
 * the run's log, which a concurrent write may fold into blocks): SQLite holds the connection in a
 * read transaction; PostgreSQL reads in one REPEATABLE READ transaction.
 */
export async function withRead<T>(database: Database, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return transaction(database, fn, 'begin isolation level repeatable read read only');
}

/** PostgreSQL: a transaction begun with `pgBegin`. SQLite: a read snapshot (its writes go through grouped()). */
async function transaction<T>(database: Database, fn: (tx: Tx) => Promise<T>, pgBegin: string): Promise<T> {
  if (database.dialect === 'sqlite') {
    const sqlite = database.sqlite!;
    return database.db.connection().execute(async () => {
      const tx = sqliteTx(sqlite);
      stmt(sqlite, 'begin').run();
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
