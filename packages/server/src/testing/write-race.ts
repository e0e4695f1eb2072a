import type { Database } from '../store/database.js';

/**
 * Deterministic races between two write transactions, for tests of "check, then change" steps:
 * a `Gate` pauses one transaction at a test hook, `startBehind` starts the other and resolves
 * once it waits for the first (queued behind SQLite's one writer, or blocked on a PostgreSQL row
 * lock), so that releasing the gate shows which of the two wins. No sleeps decide the order.
 */
export interface Gate {
  /** The test hook: signals arrival, then waits for `open`. */
  hook: () => Promise<void>;
  /** Resolves when a transaction reached the hook. */
  reached: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrive = r));
  const opened = new Promise<void>((r) => (release = r));
  return {
    hook: async () => {
      arrive();
      await opened;
    },
    reached,
    open: () => release(),
  };
}

/** A settled result, so a rejection is inspected by the test rather than reported as unhandled. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: any };

/**
 * Starts `start` (whose transaction must come after the one paused at a gate) and resolves once it
 * waits for that one. SQLite: at once — a transaction holds the one connection, so every statement
 * of `start` runs after the paused transaction ends. PostgreSQL: when a statement of this database
 * waits for a lock (found by looking, not by a timed pause). Gives the outcome of `start`.
 */
export async function startBehind<T>(
  database: Database,
  start: () => Promise<T>,
): Promise<{ outcome: Promise<Outcome<T>> }> {
  const outcome = start().then(
    (value): Outcome<T> => ({ ok: true, value }),
    (error): Outcome<T> => ({ ok: false, error }),
  );
  if (database.pool) {
    let settled = false;
    void outcome.then(() => (settled = true));
    while (!settled) {
      const r = await database.pool.query(
        "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
      );
      if (r.rows[0].n > 0) break;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  return { outcome };
}
