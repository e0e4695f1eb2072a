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
 * PostgreSQL: pools of connections. Write transactions are grouped as on SQLite (group-commit.ts),
 * but several groups run at once, each on a connection of its own: a group waits for round trips
 * and for its commit's WAL flush, and meanwhile other groups' statements run; writes that arrive
 * while every lane is busy wait and go together into the next group that starts.
 */
export async function openPostgres(opts: {
  url: string;
  poolSize: number;
  onIdleError: (e: Error) => void;
}): Promise<DialectStore> {
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

  // Write transactions have connections of their own, in pipeline mode: the savepoint bookkeeping
  // between two members goes out with the next member's first statement instead of costing a
  // round trip of its own. (Kysely's pool stays in the ordinary mode: it may stream with cursors.)
  const lanes = Math.max(1, opts.poolSize);
  const writers = new pg.Pool({ connectionString: opts.url, max: lanes, pipeline: true } as pg.PoolConfig);
  writers.on('error', (e) => opts.onIdleError(e));
  writers.on('connect', (c) => live.add(c));
  writers.on('remove', (c) => live.delete(c));

  const group = new GroupCommit({
    lanes,
    // Each member that writes takes a subtransaction id; past 64 in one transaction PostgreSQL
    // spills them to pg_subtrans, which slows every snapshot.
    maxGroup: 32,
    async open(): Promise<WriteSession> {
      const client = await writers.connect();
      // Bookkeeping sent without waiting; its outcome is checked before the commit.
      const pending: Promise<unknown>[] = [];
      let failure: unknown;
      const settleAtCommit = (sent: Promise<unknown>) => {
        pending.push(
          sent.catch((e: unknown) => {
            failure ??= e;
          }),
        );
      };
      const send = (text: string) => {
        batchWrites(client);
        settleAtCommit(client.query(text));
      };
      return {
        tx: pgTx(client, true),
        loneTx: pgTx(client, true, settleAtCommit),
        async begin(savepoints) {
          send(savepoints ? 'begin; savepoint member' : 'begin');
        },
        async next(lastOk) {
          send(lastOk ? 'release member; savepoint member' : 'rollback to member');
        },
        async commit(lastOk) {
          // Sent at once, behind what is still unanswered (the bookkeeping, a lone member's last
          // statement): one round trip. After a failure of any of those the transaction is aborted
          // and PostgreSQL answers the COMMIT with ROLLBACK; that failure is the error.
          batchWrites(client);
          const committed = client.query(lastOk ? 'commit' : 'rollback to member; commit') as Promise<
            pg.QueryResult | pg.QueryResult[]
          >;
          committed.catch(() => undefined); // (awaited below, after the answers before it)
          await Promise.all(pending);
          const out = await committed.catch((e: unknown) => {
            throw failure ?? e;
          });
          if (failure !== undefined) throw failure;
          // A transaction left aborted (a member swallowed an error of its own) ends in ROLLBACK.
          const last = Array.isArray(out) ? out[out.length - 1] : out;
          if (last?.command !== 'COMMIT')
            throw new Error(
              `the write transaction was rolled back (${last?.command ?? 'no answer'}): an earlier statement failed`,
            );
        },
        async rollback() {
          await Promise.all(pending);
          await client.query('rollback');
        },
        usable: () => true,
        close: (broken) => client.release(broken),
        // Outside BEGIN a statement is a transaction of its own: PostgreSQL commits it at its Sync,
        // before it answers ReadyForQuery, which is when node-postgres resolves the query.
        oneStatementTx: oneStatement(pgTx(client, true)),
      };
    },
    // Groups run side by side, so two of them may wait for each other's row locks: PostgreSQL
    // ends one member's statement (deadlock detected), and that member runs again in a later group.
    // A serialization failure (40001) says the same: run the member again (a metric batch written
    // on what this server last wrote finds the rows changed: tracking/metrics/metric-cache.ts).
    retryable: (e) => ['40P01', '40001'].includes((e as { code?: unknown }).code as string),
  });

  return {
    db,
    pool,
    write: (fn, o) => group.write(fn, o),
    // One batch of a kind runs its statements at a time; the next one starts while it commits (waits
    // for its WAL flush). The writes are CPU-bound, not flush-bound: a second batch running at once
    // only split what gathered into more, smaller batches (more statements and commits per write).
    batchesAtOnce: 1,
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
      // Kysely ends the pool only if a query of its own ran (read uses the pool directly).
      if (!pool.ended) await pool.end();
      await writers.end();
      const deadline = Date.now() + 5000;
      while (live.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    },
  };
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
}

/** A statement as sent: its text with `$n` placeholders, and its name if it gets one (statementName). */
interface PgStatement {
  text: string;
  name: string | undefined;
}
const pgStatements = new Map<string, PgStatement>();
/** `?` placeholders → `$1, $2, …`, and the statement's name: decided once per text (cached). */
function pgStatement(text: string): PgStatement {
  let st = pgStatements.get(text);
  if (st === undefined) {
    let n = 0;
    const t = text.replace(/\?/g, () => `$${++n}`);
    st = { text: t, name: statementName(t) };
    if (pgStatements.size > 5000) pgStatements.clear();
    pgStatements.set(text, st);
  }
  return st;
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

/**
 * Statement names: a connection parses and plans a named statement once, then only binds and runs
 * it. Only texts of a few placeholders get one (a text with many rows of placeholders is rarely the
 * same twice; a long statement of array parameters is the same for any number of rows), and only
 * so many, since every connection keeps what it prepared. Kept apart from pgStatements, which may be
 * cleared: a text keeps its name.
 */
const statementNames = new Map<string, string>();
const MAX_NAMED = 500;
function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_NAMED && (text.length <= 1500 || fewPlaceholders(text)))
    statementNames.set(text, (name = `atelier_${statementNames.size}`));
  return name;
}
/** Whether a text names at most 32 parameters (`$32`); read once per text (pgStatement caches it). */
function fewPlaceholders(text: string): boolean {
  if (text.length > 8000) return false;
  let most = 0;
  for (const m of text.matchAll(/\$(\d+)/g)) most = Math.max(most, Number(m[1]));
  return most <= 32;
}

/**
 * Statements written in one turn of the event loop leave in one socket write: a pipelined
 * connection otherwise writes (a system call and a packet) per statement. The socket is corked
 * at the first and uncorked once the turn's promise callbacks have run.
 */
const corked = new WeakSet<pg.PoolClient>();
function batchWrites(client: pg.PoolClient): void {
  if (corked.has(client)) return;
  const stream = (client as unknown as { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection
    ?.stream;
  if (!stream?.cork || !stream.uncork) return;
  corked.add(client);
  stream.cork();
  process.nextTick(() => {
    corked.delete(client);
    stream.uncork!();
  });
}

/** A Tx that sends one statement and refuses a second one (it would be a transaction of its own). */
function oneStatement(tx: Tx): Tx {
  let sent = false;
  const once = () => {
    if (sent)
      throw new Error('a one-statement write sent a second statement (use database.write without oneStatement)');
    sent = true;
  };
  return {
    dialect: tx.dialect,
    get db(): Kysely<Tables> {
      throw new Error('a one-statement write cannot use the query builder (its statements are not counted)');
    },
    all: async (text, params) => (once(), tx.all(text, params)),
    rows: async (text, params) => (once(), tx.rows(text, params)),
    run: async (text, params) => (once(), tx.run(text, params)),
  };
}

function pgTx(client: pg.PoolClient, pipelined = false, settleAtCommit?: (sent: Promise<unknown>) => void): Tx {
  const query = (text: string, params: unknown[], rowMode?: 'array') => {
    const { text: t, name } = pgStatement(text);
    if (pipelined) batchWrites(client);
    return client.query({ name, text: t, values: params, ...(rowMode ? { rowMode } : {}) });
  };
  return {
    dialect: 'postgres',
    get db() {
      return kyselyOn(client);
    },
    all: async <R>(text: string, params: unknown[] = []) => (await query(text, params)).rows as R[],
    rows: async <R>(text: string, params: unknown[] = []) => (await query(text, params, 'array')).rows as R[],
    run: async (text: string, params: unknown[] = []) => (await query(text, params)).rowCount ?? 0,
    ...(settleAtCommit && { settleAtCommit }),
  };
}
