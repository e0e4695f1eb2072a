import type { DialectName } from '../../../store/tx.js';
import type { TrackingSql } from './types.js';
import { sqliteTracking } from './sqlite.js';
import { postgresTracking } from './postgres.js';

export type { RunInsert, RunInsertOutcome, TrackingSql } from './types.js';

/** Tracking's per-dialect SQL (types.ts), picked by the store's dialect name. */
const modules: Record<DialectName, TrackingSql> = { sqlite: sqliteTracking, postgres: postgresTracking };

export function trackingSql(dialect: DialectName): TrackingSql {
  return modules[dialect];
}
