import type { Kysely } from 'kysely';
import type { Tables } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

/**
 * An open transaction of the store (`database.write` / `database.read`). Raw SQL takes `?`
 * placeholders on both dialects (the PostgreSQL module rewrites them to `$n`); `db` is a Kysely
 * bound to the same transaction, for the writes that read better as query builders.
 *
 * SQL that differs between the dialects does not branch on `dialect`: it lives in per-dialect query
 * modules behind one interface, picked by name (e.g. tracking/dialects/).
 */
export interface Tx {
  readonly dialect: DialectName;
  readonly db: Kysely<Tables>;
  all<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Rows as arrays of column values, in the order selected (cheaper than objects for many rows). */
  rows<T extends unknown[] = unknown[]>(text: string, params?: unknown[]): Promise<T[]>;
  /** Runs a statement; the number of rows it changed. */
  run(text: string, params?: unknown[]): Promise<number>;
  /**
   * Hands over a statement already sent whose answer the write does not need: the transaction
   * checks it at its COMMIT (its failure fails the write as any statement's), so the COMMIT leaves
   * right behind it instead of a round trip later. Present only where the dialect pipelines and the
   * write is alone in its group (a failure found at COMMIT cannot be undone for one member alone);
   * absent, the caller awaits the statement itself.
   */
  readonly settleAtCommit?: (sent: Promise<unknown>) => void;
}

/** Rows of `n` tuples of `width` placeholders: "(?,?),(?,?)". */
export function tuples(n: number, width: number): string {
  const one = `(${new Array(width).fill('?').join(',')})`;
  return new Array(n).fill(one).join(',');
}
