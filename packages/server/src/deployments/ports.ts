import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { Tx } from '../store/database.js';

/**
 * What deployments need of other modules, as small ports: environment builds (the Python of a
 * deployment) and code snapshots (its scoring script). The composition root plugs in the
 * modules that provide them; absent, a deployment that needs one is refused with 501.
 */
export interface EnvironmentBuildsPort {
  /**
   * Checks that `environmentId` names an environment version of the workspace that can be built
   * here (no build): NotFound, or InvalidInput naming why (image-only, conda packages).
   */
  check(ws: WorkspaceInfo, environmentId: string): Promise<void>;
  /** Builds (or finds cached) the environment `environmentId` names; its Python runs the workers. */
  ensure(
    ws: WorkspaceInfo,
    environmentId: string,
    opts?: { signal?: AbortSignal; onLog?: (line: string) => void },
  ): Promise<{ id: string; pythonPath: string; pipRequirements: string[]; specHash?: string }>;
  /**
   * The pip requirements of an environment version, without building it (for engines that build
   * environments themselves, as Ray Serve's runtime_env does); InvalidInput when it cannot be built here.
   */
  requirements(ws: WorkspaceInfo, environmentId: string): Promise<{ pipRequirements: string[]; specHash: string }>;
  /** An environment with these pip requirements (an MLflow model's own requirements.txt). */
  ensureForRequirements(
    requirements: string[],
    python?: string,
    opts?: { signal?: AbortSignal; onLog?: (line: string) => void },
  ): Promise<{ pythonPath: string; pipRequirements?: string[]; specHash?: string }>;
}

export interface CodeSnapshotsPort {
  /** A read-only local folder with the files of a code asset version (`codeConfiguration.codeId`). */
  snapshot(ws: WorkspaceInfo, codeId: string): Promise<{ dir: string; hash: string }>;
}

/** What deployments need of computes: the attached Ray cluster an endpoint's `properties.compute` names. */
export interface ComputesPort {
  /**
   * The compute `ref` names (ARM id, `azureml:name` or name) in the workspace: NotFound when there is
   * none, Conflict while it is not Succeeded.
   */
  capacity(
    ws: Pick<WorkspaceInfo, 'id' | 'name'>,
    ref: string,
  ): Promise<{ computeType: string; id: string; name: string; rayAddress?: string }>;
  /**
   * Holds the compute in the write transaction that creates an endpoint on it: a delete of the
   * compute waits for that transaction, or this waits for the delete and throws (NotFound).
   */
  hold?(tx: Tx, ws: Pick<WorkspaceInfo, 'id' | 'name'>, ref: string): Promise<unknown>;
}
