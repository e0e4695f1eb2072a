/**
 * The database's tables, as Kysely sees them. Each feature adds its own tables to `Tables` by
 * module augmentation next to its own code (e.g. tracking/runs/tables.ts), so features stay separate:
 *
 *   declare module '../store/schema.js' { interface Tables { runs: RunRow } }
 *
 * Portable column conventions (SQLite and PostgreSQL alike): times are epoch milliseconds in
 * bigint columns (read back as numbers), JSON is stored as text, booleans as 0/1 integers.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by module augmentation
export interface Tables {}
