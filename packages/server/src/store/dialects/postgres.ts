import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Tables } from '../schema.js';
import type { Tx } from '../tx.js';
import { GroupCommit, type WriteSession } from '../group-commit.js';
import type { DialectStore } from './index.js';

// PostgreSQL returns int8 as strings by default; our bigints are epoch ms and counters that fit in
// a double, so read them as numbers.
pg.types.setTypeParser(20, (v: string) => Number(v));
pg.types.setTypeParser(1700, (v: string) => Number(v));

/**
 * PostgreSQL: a pool of connections. Write transactions are grouped as on SQLite (group-commit.ts),
 * but several groups run at once, each on a pooled connection of its own: a group waits for round
 * trips and for its commit's WAL flush, and meanwhile the next group's statements run. Savepoint
 * bookkeeping rides with the statements around it (`release …; savepoint …` is one round trip).
 */
export async function openPostgres(opts: { url: string; poolSize: number; onIdleError: (e: Error) => void }): Promise<DialectStore> {
  const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize });
  pool.on('error', (e) => opts.onIdleError(e));
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

  const group = new GroupCommit({
    // Leave most of the pool to reads and single statements.
    lanes: Math.max(1, Math.min(4, Math.floor(opts.poolSize / 2))),
    // Each member that writes takes a subtransaction id; past 64 in one transaction PostgreSQL
    // spills them to pg_subtrans, which slows every snapshot.
    maxGroup: 32,
    async open(): Promise<WriteSession> {
      const client = await pool.connect();
      return {
        tx: pgTx(client),
        async begin(savepoints) {
          await client.query(savepoints ? 'begin; savepoint member' : 'begin');
        },
        async next(lastOk) {
          await client.query(lastOk ? 'release member; savepoint member' : 'rollback to member');
        },
        async commit(lastOk) {
          const out = (await client.query(lastOk ? 'commit' : 'rollback to member; commit')) as pg.QueryResult | pg.QueryResult[];
          // A transaction left aborted (a member swallowed an error of its own) ends in ROLLBACK.
          const last = Array.isArray(out) ? out[out.length - 1] : out;
          if (last?.command !== 'COMMIT') throw new Error(`the write transaction was rolled back (${last?.command ?? 'no answer'}): an earlier statement failed`);
        },
        async rollback() {
          await client.query('rollback');
        },
        usable: () => true,
        close: (broken) => client.release(broken),
      };
    },
    // Groups run side by side, so two of them may wait for each other's row locks: PostgreSQL
    // ends one member's statement (deadlock detected), and that member runs again in a later group.
    retryable: (e) => (e as { code?: unknown }).code === '40P01',
  });

  return {
    db,
    pool,
    write: (fn) => group.write(fn),
    async read(fn) {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('begin isolation level repeatable read read only');
        try {
          const out = await fn(pgTx(client));
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
    },
    close: async () => {
      await db.destroy();
      // Kysely ends the pool only if a query of its own ran (write/read use the pool directly).
      if (!pool.ended) await pool.end();
      const deadline = Date.now() + 5000;
      while (live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    },
  };
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
}

const pgText = new Map<string, string>();
/** `?` placeholders → `$1, $2, …` (cached per text). */
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

/** A Kysely whose every query runs on this one checked-out client (so inside its transaction). */
const bound = new WeakMap<pg.PoolClient, Kysely<Tables>>();
function kyselyOn(client: pg.PoolClient): Kysely<Tables> {
  let k = bound.get(client);
  if (!k) {
    // Kysely asks its "pool" for a client and releases it after each query: hand it this one, kept.
    const lent = { query: client.query.bind(client), release: () => {} };
    const pool = { connect: async () => lent, end: async () => {} } as unknown as pg.Pool;
    k = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
    bound.set(client, k);
  }
  return k;
}

function pgTx(client: pg.PoolClient): Tx {
  return {
    dialect: 'postgres',
    get db() {
      return kyselyOn(client);
    },
    all: async <R>(text: string, params: unknown[] = []) => (await client.query(toPg(text), params)).rows as R[],
    rows: async <R>(text: string, params: unknown[] = []) => (await client.query({ text: toPg(text), values: params, rowMode: 'array' })).rows as R[],
    run: async (text: string, params: unknown[] = []) => (await client.query(toPg(text), params)).rowCount ?? 0,
  };
}
