import type { DialectName, Tx } from './tx.js';

/**
 * Row locks of a write transaction, for a check and the write it allows to be one step: the side
 * that deletes holds the row it deletes (`forUpdate`), a write that comes to depend on that row holds
 * it too (`forShare`), so of two such transactions one waits for the other and then sees its result.
 * PostgreSQL locks the rows; SQLite has one writer, so a write transaction holds every row already.
 */
export interface RowLocks {
  forUpdate<Q extends { forUpdate(): Q }>(query: Q): Q;
  forShare<Q extends { forShare(): Q }>(query: Q): Q;
}

const LOCKS: Record<DialectName, RowLocks> = {
  sqlite: { forUpdate: (q) => q, forShare: (q) => q },
  postgres: { forUpdate: (q) => q.forUpdate(), forShare: (q) => q.forShare() },
};

/** The row locks of the transaction's dialect. */
export function rowLocks(tx: Pick<Tx, 'dialect'>): RowLocks {
  return LOCKS[tx.dialect];
}
