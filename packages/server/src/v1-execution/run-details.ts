import type { AppContext } from '../context.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import { WORKSPACE_SCOPE_CLAIM } from '../identity/token-scopes.js';
import type { JobRow } from '../jobs/tables.js';
import type { JobLogs } from '../jobs/logs.js';
import type { JobService } from '../jobs/jobs.js';

/** Claim of a log URL's signature: which job's logs it opens (it is no access token: its `oid` is nobody). */
export const LOG_CLAIM = 'atelier_job_logs';
const LOG_URL_TTL_S = 3600;

const iso = (ms: number | null) => (ms ? new Date(ms).toISOString() : null);

/**
 * Run history's view of a job's run (`runs/{id}/details`): status, times, error and `logFiles` —
 * URLs on this server that carry their own short-lived signature, as Azure's SAS URLs do, because
 * azure-ai-ml's `jobs.stream` and azureml-core's `wait_for_completion(show_output=True)` download
 * them without their credentials. The run history routes of both clients answer it for a job.
 */
export class JobRunDetails {
  constructor(
    private readonly ctx: AppContext,
    private readonly jobs: JobService,
    private readonly logs: JobLogs,
  ) {}

  /** The job whose run id (or name) this is; undefined for a run that is no job's. */
  jobOf(ws: WorkspaceInfo, runId: string): Promise<JobRow | undefined> {
    return this.jobs.byRunId(ws, runId);
  }

  /** Where azureml-core's `run.cancel()` posts (the run DTO's `cancelUri`): the execution service. */
  cancelUri(ws: WorkspaceInfo, r: JobRow): string {
    const spec = JSON.parse(r.spec) as { experimentName?: string };
    return `${this.ctx.config.publicUrl}/execution/v1.0${ws.id}/experiments/${encodeURIComponent(
      spec.experimentName ?? '',
    )}/runId/${encodeURIComponent(r.name)}/cancel`;
  }

  async details(ws: WorkspaceInfo, r: JobRow) {
    const files = (await this.logs.list(ws, r)).filter((p) => p.startsWith('user_logs/') || p === 'system_logs.txt');
    const logFiles: Record<string, string> = {};
    if (files.length) {
      const { token } = await this.ctx.tokens.issue(
        { oid: 'job-log-reader', idtyp: 'app', [LOG_CLAIM]: r.job_key, [WORKSPACE_SCOPE_CLAIM]: ws.id },
        { ttlSeconds: LOG_URL_TTL_S },
      );
      for (const f of files)
        logFiles[f] =
          `${this.ctx.config.publicUrl}/history/v1.0${ws.id}/runs/${encodeURIComponent(r.name)}/logfiles/${f}?sig=${encodeURIComponent(token)}`;
    }
    const error = r.error ? (JSON.parse(r.error) as { code: string; message: string }) : undefined;
    const spec = JSON.parse(r.spec) as {
      experimentName?: string;
      displayName?: string;
      tags?: Record<string, string>;
      properties?: Record<string, string>;
    };
    return {
      runId: r.name,
      runUuid: r.run_id,
      parentRunId: r.parent_name,
      rootRunId: r.parent_name ?? r.name,
      target: r.compute || 'local',
      status: r.status,
      createdTimeUtc: iso(r.created_at),
      startTimeUtc: iso(r.start_time),
      endTimeUtc: iso(r.end_time),
      error: error ? { error: { code: error.code, message: error.message } } : null,
      warnings: [],
      tags: spec.tags ?? {},
      properties: spec.properties ?? {},
      runDefinition: {
        jobType: r.job_type,
        experimentName: spec.experimentName,
        displayName: spec.displayName ?? r.name,
      },
      logFiles,
      services: {},
      inputDatasets: [],
      outputDatasets: [],
    };
  }
}
