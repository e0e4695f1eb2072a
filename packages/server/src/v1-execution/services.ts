import type { AppContext } from '../context.js';
import type { ControlPlaneServices } from '../resources/control-plane.js';
import type { AssetServices } from '../assets/services.js';
import type { CodeServices } from '../codes/services.js';
import type { JobServices } from '../jobs/services.js';
import type { V1EnvironmentService } from '../v1-environments/environments.js';
import { V1Snapshots } from './snapshots.js';
import { V1Submissions } from './submissions.js';
import { JobRunDetails } from './run-details.js';
import { V1LocalRuns } from './local-runs.js';
import type { RunHistoryService } from '../run-history/run-history.js';

/** azureml-core's `Experiment.submit(ScriptRunConfig)`: snapshots (code assets), submissions (command jobs), their runs' details, local runs. */
export interface V1ExecutionServices {
  snapshots: V1Snapshots;
  submissions: V1Submissions;
  runDetails: JobRunDetails;
  localRuns: V1LocalRuns;
}

export function createV1ExecutionServices(
  ctx: AppContext,
  cp: ControlPlaneServices,
  assets: AssetServices,
  codes: CodeServices,
  jobs: JobServices,
  environments: V1EnvironmentService,
  history: RunHistoryService,
): V1ExecutionServices {
  const snapshots = new V1Snapshots(ctx, codes.codes, assets.datastores, cp.workspaces.dependents);
  return {
    snapshots,
    submissions: new V1Submissions(jobs.jobs, snapshots, environments, history),
    runDetails: new JobRunDetails(ctx, jobs.jobs, jobs.logs),
    localRuns: new V1LocalRuns(ctx, history, environments),
  };
}
