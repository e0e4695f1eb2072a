import crypto from 'node:crypto';
import type { Database } from '../../store/database.js';
import { InvalidInput, NotFound } from '../../errors.js';
import type { Tag } from '../experiments/experiments.js';
import type { RunView } from './types.js';
import { withTx, tuples, type Tx } from '../shared/tx.js';

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
}

/**
 * create-run's write: the run and its tags go into an active experiment atomically, in as few
 * statements as the dialect allows, and the answer is the run as runs/get would show it (no
 * metrics, params or inputs yet), so nothing is read back.
 * - SQLite: cached prepared statements (experiment check, run, all tags in one insert) in a write
 *   transaction, which withTx shares with the writes that arrived together (group commit: one
 *   commit, the costly part of a small write, for all of them; each answer is sent only after it).
 * - PostgreSQL: one statement (one round trip, atomic by itself) whose CTEs read the experiment,
 *   insert the run if it is active, then the tags if the run went in (a request with very many
 *   tags takes a transaction instead).
 */
export async function insertRun(database: Database, r: NewRun): Promise<RunView> {
  // MLflow's run ids are uuid4().hex; randomUUID draws from a buffered entropy pool (no syscall per id).
  const runId = crypto.randomUUID().replace(/-/g, '');
  // One tag per key (the last wins, as repeated set-tag calls would), the run name as mlflow.runName.
  const byKey = new Map<string, string>();
  for (const t of r.tags) if (t.key !== RUN_NAME_TAG) byKey.set(t.key, t.value);
  byKey.set(RUN_NAME_TAG, r.name);
  const tags = [...byKey].map(([key, value]) => ({ key, value })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const it: Insert = { ...r, runId, tags };
  let artifactUri: string;
  if (database.dialect === 'postgres' && tags.length <= PG_MAX_TAGS) {
    const { rows } = await database.pool!.query<{ lifecycle_stage: string; artifact_uri: string | null }>(pgInsertRun(tags.length), [
      r.workspaceId, r.experimentId, runId, r.name, r.user, r.start, ...tags.flatMap((t) => [t.key, t.value]),
    ]);
    const [hit] = rows;
    if (!hit) throw notFound(it);
    if (hit.artifact_uri === null) throw notActive(it, hit.lifecycle_stage);
    artifactUri = hit.artifact_uri;
  } else {
    artifactUri = await withTx(database, async (tx) => {
      const out = await insertIn(tx, it);
      if ('error' in out) throw out.error;
      return out.uri;
    });
  }
  return {
    info: {
      run_id: runId, run_uuid: runId, run_name: r.name, experiment_id: String(r.experimentId), user_id: r.user, status: 'RUNNING',
      start_time: r.start, artifact_uri: artifactUri, lifecycle_stage: 'active',
    },
    data: { tags },
    inputs: {},
  };
}

interface Insert extends NewRun { runId: string }

const notActive = (it: Insert, stage: string) => new InvalidInput(`The experiment ${it.experimentId} must be in the 'active' state. Current state is ${stage}.`, { code: 'EXPERIMENT_NOT_ACTIVE' });
const notFound = (it: Insert) => new NotFound(`No Experiment with id=${it.experimentId} exists`, { code: 'EXPERIMENT_NOT_FOUND' });

/**
 * One run into an open transaction. A missing or inactive experiment is answered (nothing was
 * written for it); a database error is thrown and undoes the whole transaction.
 */
async function insertIn(tx: Tx, it: Insert): Promise<{ uri: string } | { error: Error }> {
  const ws = it.workspaceId;
  const exp = it.experimentId;
  const [e] = await tx.all<{ artifact_location: string; lifecycle_stage: string }>(
    'select artifact_location, lifecycle_stage from tracking_experiments where workspace_id = ? and experiment_id = ?',
    [ws, exp],
  );
  if (!e) return { error: notFound(it) };
  if (e.lifecycle_stage !== 'active') return { error: notActive(it, e.lifecycle_stage) };
  const uri = `${e.artifact_location.replace(/\/+$/, '')}/${it.runId}/artifacts`;
  await tx.run(
    "insert into tracking_runs (run_uuid, workspace_id, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time) values (?, ?, ?, ?, ?, 'RUNNING', ?, null, 'active', ?, null)",
    [it.runId, ws, exp, it.name, it.user, it.start, uri],
  );
  for (let i = 0; i < it.tags.length; i += 500) {
    const chunk = it.tags.slice(i, i + 500);
    await tx.run(`insert into tracking_tags (run_uuid, key, value, workspace_id, experiment_id) values ${tuples(chunk.length, 5)}`, chunk.flatMap((t) => [it.runId, t.key, t.value, ws, exp]));
  }
  return { uri };
}

/** Tags one PostgreSQL statement takes (2 parameters each, of at most 65,535); more go the transaction way. */
const PG_MAX_TAGS = 1000;
const pgTexts = new Map<number, string>();
/** $1 workspace, $2 experiment, $3 run id, $4 name, $5 user, $6 start time, then key/value pairs. */
function pgInsertRun(tagCount: number): string {
  let text = pgTexts.get(tagCount);
  if (text === undefined) {
    const values = Array.from({ length: tagCount }, (_, i) => `($${7 + 2 * i}::text, $${8 + 2 * i}::text)`).join(', ');
    text = `with e as (
        select artifact_location, lifecycle_stage from tracking_experiments where workspace_id = $1::text and experiment_id = $2::bigint
      ), r as (
        insert into tracking_runs (run_uuid, workspace_id, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time)
        select $3::text, $1::text, $2::bigint, $4::text, $5::text, 'RUNNING', $6::bigint, null, 'active', rtrim(e.artifact_location, '/') || '/' || $3::text || '/artifacts', null
        from e where e.lifecycle_stage = 'active'
        returning artifact_uri
      ), t as (
        insert into tracking_tags (run_uuid, key, value, workspace_id, experiment_id)
        select $3::text, v.key, v.value, $1::text, $2::bigint from (values ${values}) as v(key, value) where exists (select 1 from r)
      )
      select e.lifecycle_stage, r.artifact_uri from e left join r on true`;
    if (pgTexts.size < 200) pgTexts.set(tagCount, text);
  }
  return text;
}
