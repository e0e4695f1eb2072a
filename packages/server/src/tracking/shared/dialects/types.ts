import type { RawBuilder, SqlBool } from 'kysely';
import type { Tx } from '../../../store/tx.js';
import type { RunRow } from '../../runs/tables.js';
import type { SeriesState } from '../../metrics/tables.js';

/**
 * The SQL of tracking that differs between SQLite and PostgreSQL, one module per dialect behind
 * this interface (as Kysely's dialect folders): domain code asks `trackingSql(dialect)` and never
 * branches on the dialect's name.
 */
export interface TrackingSql {
  /** Case-sensitive LIKE (MLflow's LIKE). */
  like(column: unknown, pattern: string): RawBuilder<SqlBool>;
  /** Case-insensitive LIKE of the model registry's filters. */
  ilike(column: unknown, pattern: string): RawBuilder<SqlBool>;
  /** A column reference the planner may not use an index for (so a list of candidate ids drives the query). */
  unindexed(column: string): string;
  /** A join that keeps the written table order (the left table is the outer loop). */
  orderedJoin: string;
  /** Whether a run search led by a metric names its join order itself (the planner guesses it wrong otherwise). */
  leadJoinOrder: boolean;
  /** Statements that refresh the planner's statistics of the tracking tables, if the planner needs them. */
  refreshStatistics?: string;
  /** Holds a run for the rest of the write transaction (concurrent writes to it wait). */
  lockRun(tx: Tx, runId: string): Promise<void>;
  /** `select … for update` where rows can be locked (SQLite has one writer anyway). */
  forUpdate<Q extends { forUpdate(): Q }>(query: Q): Q;
  /** Inserts rows of `width` values each with `head` (`insert into t (a, b)`) and `tail` (e.g. `on conflict …`). */
  insertRows(tx: Tx, head: string, width: number, rows: unknown[][], tail?: string): Promise<void>;
  /** Updates existing latest-metric rows (values in LATEST_ROW order, series_id first). */
  updateLatestMetrics(tx: Tx, rows: unknown[][], columns: string): Promise<void>;
  /**
   * Appends an encoded log row of `n` points to a run's metric log, unless the log is `full` (given
   * the rows and points already in it): then `fold` moves the log into blocks, with the new row
   * (`extra`) or after it was appended (`extra` unset).
   */
  appendMetricLog(
    tx: Tx,
    runUuid: string,
    n: number,
    data: Buffer,
    full: (rows: number, points: number) => boolean,
    fold: (hasLog: boolean, extra?: Buffer) => Promise<void>,
  ): Promise<void>;
  /** `on conflict` clause that appends points to a small last metric block (table alias `b`). */
  blockAppend: string;
  /**
   * create-run's write: the run and its tags into an active experiment. Resolves to the artifact
   * URI, or to `missing` / the experiment's stage when it is not there or not active (nothing written).
   */
  insertRun(tx: Tx, r: RunInsert): Promise<RunInsertOutcome>;
  /**
   * Many create-runs in one statement (where a statement costs a round trip and the driver's
   * work): one outcome per run, in order. Absent where one cached statement per run is cheaper.
   * The run ids are distinct.
   */
  insertRuns?(tx: Tx, rs: RunInsert[]): Promise<RunInsertOutcome[]>;
  /**
   * Metric writes into many runs at once, a statement for all where the dialect's statements are
   * costly (absent where one cached statement per run is cheaper): see metric-write.ts'
   * writeMetricsMany.
   */
  metricsMany?: MetricsManySql;
}

export interface MetricsManySql {
  /** Holds these runs (sorted ids, as lockRun) until the transaction ends; sent at once. */
  lockRuns(tx: Tx, runIds: string[]): Promise<unknown>;
  /**
   * Holds these runs (sorted ids, as lockRun), then reads their rows and the latest-metric rows of
   * these runs with one of these keys (more pairs than asked may come back), each with its run's id,
   * and what each run's log holds (its rows and points; runs without a log are absent).
   */
  lockAndRead(
    tx: Tx,
    runIds: string[],
    keys: string[],
  ): Promise<{ runs: RunRow[]; latest: [string, SeriesState][]; logs: Map<string, { rows: number; points: number }> }>;
  /**
   * Appends one log row to each run of `logs` (distinct runs) and updates existing latest-metric
   * rows (as updateLatestMetrics: one statement for both). Sends the statement at once; the promise
   * settles with its answer (a caller may hand it to Tx.settleAtCommit).
   */
  appendLogs(tx: Tx, logs: { runUuid: string; n: number; data: Buffer }[], updates: unknown[][]): Promise<unknown>;
  /**
   * appendLogs, only if every updated series is still `expected.series` (in the order of
   * `updates`), and every run of `logs` still in workspace `expected.workspaces` (in the order of
   * `logs`), active, with a log of `expected.logs` rows and points; else it writes nothing. Sends
   * the statement at once; the promise settles with whether it wrote.
   */
  appendLogsIf(
    tx: Tx,
    logs: { runUuid: string; n: number; data: Buffer }[],
    updates: unknown[][],
    expected: { series: SeriesState[]; workspaces: string[]; logs: { rows: number; points: number }[] },
  ): Promise<boolean>;
}

export type RunInsertOutcome = { uri: string } | { missing: true } | { stage: string };

export interface RunInsert {
  workspaceId: string;
  experimentId: number;
  runId: string;
  name: string;
  user: string;
  start: number;
  tags: { key: string; value: string }[];
}
