import { sql } from 'kysely';
import type { AppContext } from '../../context.js';
import type { WorkspaceRef } from '../artifacts/artifacts.js';
import type { ExperimentLookup, ExperimentRef } from './logged-models.js';
import { DEFAULT_EXPERIMENT_ID, type ExperimentService } from '../experiments/experiments.js';

/**
 * Experiments and runs as the tracking core stores them (`tracking_experiments`, keyed by workspace GUID
 * and a numeric experiment id), read for logged models: whether the experiment exists and is
 * active, and its artifact location.
 */
export class TrackingExperimentLookup implements ExperimentLookup {
  constructor(
    private readonly ctx: AppContext,
    private readonly experiments: ExperimentService,
  ) {}

  async getExperiment(ws: WorkspaceRef, experimentId: string): Promise<ExperimentRef | undefined> {
    if (!/^\d{1,15}$/.test(experimentId)) return undefined;
    // Every workspace has the Default experiment "0", also before anything was tracked into it.
    if (Number(experimentId) === DEFAULT_EXPERIMENT_ID) await this.experiments.ensureDefault(ws.workspaceId);
    const { rows } = await sql<{ experiment_id: number | string; artifact_location: string; lifecycle_stage: string }>`
      select experiment_id, artifact_location, lifecycle_stage from tracking_experiments
      where workspace_id = ${ws.workspaceId} and experiment_id = ${Number(experimentId)}`.execute(this.ctx.db);
    const row = rows[0];
    if (!row) return undefined;
    return {
      experimentId: String(row.experiment_id),
      artifactLocation: row.artifact_location,
      lifecycleStage: row.lifecycle_stage,
    };
  }

  /** A run's artifact root (`mlflow-artifacts:/<experiment>/<run>/artifacts`), if the run is in this workspace. */
  async runArtifactUri(ws: WorkspaceRef, runId: string): Promise<string | undefined> {
    if (!/^[0-9a-zA-Z-]{1,64}$/.test(runId)) return undefined;
    const { rows } = await sql<{ artifact_uri: string }>`
      select artifact_uri from tracking_runs where workspace_id = ${ws.workspaceId} and run_uuid = ${runId}`.execute(
      this.ctx.db,
    );
    return rows[0]?.artifact_uri;
  }
}
