import { tuples, type Tx } from '../../../store/tx.js';
import type { RunInsert } from './types.js';

/** create-run in three statements, the same SQL on both dialects: the experiment check, the run, its tags (500 per insert). */
export async function insertRunSteps(
  tx: Tx,
  r: RunInsert,
): Promise<{ uri: string } | { missing: true } | { stage: string }> {
  const [e] = await tx.all<{ artifact_location: string; lifecycle_stage: string }>(
    'select artifact_location, lifecycle_stage from tracking_experiments where workspace_id = ? and experiment_id = ?',
    [r.workspaceId, r.experimentId],
  );
  if (!e) return { missing: true };
  if (e.lifecycle_stage !== 'active') return { stage: e.lifecycle_stage };
  const uri = `${e.artifact_location.replace(/\/+$/, '')}/${r.runId}/artifacts`;
  await tx.run(
    "insert into tracking_runs (run_uuid, workspace_id, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time) values (?, ?, ?, ?, ?, 'RUNNING', ?, null, 'active', ?, null)",
    [r.runId, r.workspaceId, r.experimentId, r.name, r.user, r.start, uri],
  );
  for (let i = 0; i < r.tags.length; i += 500) {
    const chunk = r.tags.slice(i, i + 500);
    await tx.run(
      `insert into tracking_tags (run_uuid, key, value, workspace_id, experiment_id) values ${tuples(chunk.length, 5)}`,
      chunk.flatMap((t) => [r.runId, t.key, t.value, r.workspaceId, r.experimentId]),
    );
  }
  return { uri };
}
