import type { Database } from '../store/database.js';
import './experiments/tables.js';
import './runs/tables.js';
import './metrics/tables.js';
import './logged-models/tables.js';

/** Removes every tracking row of a workspace (its experiments, runs and what they logged). */
export async function deleteWorkspaceTracking(database: Database, workspaceId: string): Promise<void> {
  await database.write(async (tx) => {
    const runSub = 'select run_uuid from tracking_runs where workspace_id = ?';
    for (const t of ['tracking_metric_blocks', 'tracking_metric_block_stats'])
      await tx.run(
        `delete from ${t} where series_id in (select series_id from tracking_latest_metrics where workspace_id = ?)`,
        [workspaceId],
      );
    for (const t of ['tracking_inputs', 'tracking_model_inputs', 'tracking_outputs', 'tracking_metric_log'])
      await tx.run(`delete from ${t} where run_uuid in (${runSub})`, [workspaceId]);
    for (const t of [
      'tracking_model_metrics',
      'tracking_latest_metrics',
      'tracking_params',
      'tracking_tags',
      'tracking_datasets',
      'tracking_runs',
      'tracking_experiment_tags',
      'tracking_experiments',
    ]) {
      await tx.run(`delete from ${t} where workspace_id = ?`, [workspaceId]);
    }
  });
}
