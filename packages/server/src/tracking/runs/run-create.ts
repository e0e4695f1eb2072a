import crypto from 'node:crypto';
import type { Database } from '../../store/database.js';
import { InvalidInput, NotFound } from '../../errors.js';
import type { Tag } from '../experiments/experiments.js';
import type { RunView } from './types.js';
import { trackingSql } from '../shared/dialects/index.js';
import type { RunInsert, RunInsertOutcome } from '../shared/dialects/types.js';

/** The tag MLflow keeps a run's name in. */
export const RUN_NAME_TAG = 'mlflow.runName';

export interface NewRun {
  workspaceId: string;
  experimentId: number;
  /** Checked run name (given, from the mlflow.runName tag, or generated). */
  name: string;
  user: string;
  start: number;
  /** Checked tags of the request (mlflow.runName among them or not). */
  tags: Tag[];
  /** A chosen run id (a job's name, as Azure ML's run id is the job's name); default a new 32-hex id. */
  runId?: string;
}

const inserters = new WeakMap<Database, (r: RunInsert) => Promise<RunInsertOutcome>>();
/**
 * create-runs that arrive together share one write (`database.batch`): their statements leave side
 * by side and one commit answers them all. A run id is new (random, or a job's name the caller
 * checked), so no two inserts touch the same row; an experiment that is missing or not active is
 * an answer of the statement, not an error, and writes nothing.
 */
function runInserts(database: Database): (r: RunInsert) => Promise<RunInsertOutcome> {
  let insert = inserters.get(database);
  if (!insert) {
    const queries = trackingSql(database.dialect);
    const many = queries.insertRuns?.bind(queries);
    insert = database.batch<RunInsert, RunInsertOutcome>({
      key: (r) => r.runId,
      isolated: () => false,
      run: (tx, r) => queries.insertRun(tx, r),
      // (PostgreSQL: the whole batch in one statement.)
      ...(many && {
        many: async (tx, rs) => (await many(tx, rs)).map((value) => ({ ok: true as const, value })),
        // One statement: the batch is its own transaction (one round trip, no BEGIN/COMMIT).
        manyIsOneStatement: true,
      }),
    });
    inserters.set(database, insert);
  }
  return insert;
}

/**
 * create-run's write: the run and its tags go into an active experiment atomically, in as few
 * statements as the dialect allows (tracking/dialects: cached prepared statements on SQLite, one
 * statement with CTEs on PostgreSQL), and the answer is the run as runs/get would show it (no
 * metrics, params or inputs yet), so nothing is read back. The write shares its commit with the
 * writes that arrived together (`database.write`: group commit); the answer is sent after it.
 */
export async function insertRun(database: Database, r: NewRun): Promise<RunView> {
  // MLflow's run ids are uuid4().hex; randomUUID draws from a buffered entropy pool (no syscall per id).
  const runId = r.runId ?? crypto.randomUUID().replace(/-/g, '');
  // One tag per key (the last wins, as repeated set-tag calls would), the run name as mlflow.runName.
  const byKey = new Map<string, string>();
  for (const t of r.tags) if (t.key !== RUN_NAME_TAG) byKey.set(t.key, t.value);
  byKey.set(RUN_NAME_TAG, r.name);
  const tags = [...byKey]
    .map(([key, value]) => ({ key, value }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const out = await runInserts(database)({ ...r, runId, tags });
  if ('missing' in out)
    throw new NotFound(`No Experiment with id=${r.experimentId} exists`, { code: 'EXPERIMENT_NOT_FOUND' });
  if ('stage' in out)
    throw new InvalidInput(
      `The experiment ${r.experimentId} must be in the 'active' state. Current state is ${out.stage}.`,
      { code: 'EXPERIMENT_NOT_ACTIVE' },
    );
  return {
    info: {
      run_id: runId,
      run_uuid: runId,
      run_name: r.name,
      experiment_id: String(r.experimentId),
      user_id: r.user,
      status: 'RUNNING',
      start_time: r.start,
      artifact_uri: out.uri,
      lifecycle_stage: 'active',
    },
    data: { tags },
    inputs: {},
  };
}
