import { AtelierError, PayloadTooLarge } from '../../../errors.js';

/**
 * A client of a Ray cluster's Jobs API (served by its dashboard, http://<head>:8265), the subset the
 * Ray executor uses: submit, status, logs, stop, delete, and the package store that takes a job's
 * working folder. Ray ships its client only in Python (`ray.job_submission.JobSubmissionClient`), so
 * this speaks the same REST calls with undici's `request` (not `fetch`: it sends `Sec-Fetch-*` headers,
 * and Ray's dashboard refuses PUT/POST/DELETE from anything that looks like a browser); the shapes follow Ray's
 * `dashboard/modules/job/common.py` and `job_head.py` (Ray 2.x).
 */

interface RayResponse {
  status: number;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/** `JobStatus` of Ray: PENDING (runtime_env being set up, or waiting for resources), RUNNING, then one of the terminal three. */
export type RayJobStatus = 'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';

export const RAY_TERMINAL: ReadonlySet<RayJobStatus> = new Set(['STOPPED', 'SUCCEEDED', 'FAILED']);

/** What `POST /api/jobs/` takes (`JobSubmitRequest`). */
export interface RaySubmitRequest {
  entrypoint: string;
  submission_id: string;
  runtime_env?: {
    working_dir?: string;
    pip?: string[] | { packages: string[]; pip_check?: boolean };
    env_vars?: Record<string, string>;
  };
  metadata?: Record<string, string>;
  entrypoint_num_cpus?: number;
  entrypoint_num_gpus?: number;
  entrypoint_memory?: number;
  entrypoint_resources?: Record<string, number>;
}

/** What `GET /api/jobs/{id}` answers (`JobDetails`), the fields the executor reads. */
export interface RayJobDetails {
  submission_id: string;
  status: RayJobStatus;
  message?: string | null;
  /** RUNTIME_ENV_SETUP_FAILURE, JOB_SUPERVISOR_ACTOR_…, or null for the user's own failure. */
  error_type?: string | null;
  driver_exit_code?: number | null;
  start_time?: number | null;
  end_time?: number | null;
  metadata?: Record<string, string> | null;
}

/** The largest package a Ray cluster stores (its gRPC message limit, `GCS_STORAGE_MAX_SIZE`). */
export const RAY_PACKAGE_MAX_BYTES = 512 * 1024 * 1024;

/** HTTP answers the client tells apart (kept out of the domain's words: these are Ray's). */
const HTTP_NOT_FOUND = 404;

export interface RayJobsClientOptions {
  /** Bearer token of a cluster started with RAY_AUTH_MODE=token. */
  token?: string;
  /** Per-request limit (default 30 s; a package upload gets 10 minutes). */
  timeoutMs?: number;
}

/**
 * What every client of a Ray cluster's dashboard shares: the address, the optional token, the
 * transport and its errors, and the package store (`working_dir` packages of jobs and Serve apps).
 */
export class RayDashboardClient {
  readonly base: string;
  protected readonly token?: string;
  protected readonly timeoutMs: number;

  constructor(dashboardUrl: string, opts: RayJobsClientOptions = {}) {
    const u = new URL(dashboardUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new Error(`a Ray dashboard address is http(s)://host:port, not ${dashboardUrl}`);
    this.base = u.origin + u.pathname.replace(/\/+$/, '');
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** `GET /api/version`: the cluster's Ray version (also a reachability check). */
  async version(): Promise<{ version: string; ray_version: string; session_name?: string }> {
    return (await this.json('GET', '/api/version')) as { version: string; ray_version: string };
  }

  /** Whether the package store holds `uri` (`gcs://_ray_pkg_<hash>.zip`); also pins it for a while, as Ray's own client relies on. */
  async packageExists(uri: string): Promise<boolean> {
    const res = await this.request('GET', packagePath(uri));
    if (res.status === HTTP_NOT_FOUND) return false;
    await this.check(res, `checking package ${uri}`);
    return true;
  }

  /** `PUT /api/packages/gcs/<name>`: stores a zip under `uri`. */
  async uploadPackage(uri: string, zip: Buffer): Promise<void> {
    if (zip.length >= RAY_PACKAGE_MAX_BYTES)
      throw new PayloadTooLarge(
        `the folder sent to the Ray cluster (code, model) zips to ${zip.length} bytes; a Ray cluster takes packages under ${RAY_PACKAGE_MAX_BYTES} bytes: move data out of the code folder (use inputs)`,
        { code: 'RAY_PACKAGE_TOO_LARGE' },
      );
    const res = await this.request('PUT', packagePath(uri), zip, 'application/octet-stream', 600_000);
    await this.check(res, `uploading package ${uri}`);
  }

  /** `GET` of a JSON resource, null on 404. */
  protected async getJson(p: string, what: string): Promise<unknown> {
    const res = await this.request('GET', p);
    if (res.status === HTTP_NOT_FOUND) return null;
    await this.check(res, what);
    return res.json();
  }

  protected async json(method: string, p: string, body?: unknown): Promise<unknown> {
    const res = await this.request(
      method,
      p,
      body === undefined ? undefined : JSON.stringify(body),
      body === undefined ? undefined : 'application/json',
    );
    await this.check(res, `${method} ${p}`);
    return res.json();
  }

  /** `GET` of a text resource (log files). */
  protected async text(p: string): Promise<string> {
    const res = await this.request('GET', p);
    await this.check(res, `GET ${p}`);
    return res.text();
  }

  protected async request(
    method: string,
    p: string,
    body?: string | Buffer,
    contentType?: string,
    timeoutMs = this.timeoutMs,
  ): Promise<RayResponse> {
    const headers: Record<string, string> = { 'user-agent': 'atelier' };
    if (contentType) headers['content-type'] = contentType;
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    try {
      // Loaded on first use: a server that runs no Ray job does not hold undici.
      const { request: httpRequest } = await import('undici');
      const res = await httpRequest(this.base + p, {
        method: method as 'GET' | 'PUT' | 'POST' | 'DELETE',
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      // The body is read at once, within the same time limit.
      const text = await res.body.text();
      return {
        status: res.statusCode,
        text: async () => text,
        json: async () => (text ? (JSON.parse(text) as unknown) : null),
      };
    } catch (e) {
      const err = e as { code?: string; message?: string; name?: string };
      const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.code ?? err.message);
      throw new AtelierError(`the Ray cluster at ${this.base} could not be reached (${why})`, {
        code: 'RAY_CLUSTER_UNAVAILABLE',
      });
    }
  }

  protected async check(res: RayResponse, what: string): Promise<void> {
    if (res.status >= 200 && res.status < 300) return;
    const text = (await res.text().catch(() => '')).trim();
    // Ray answers a traceback for its own failures: its last line says what went wrong.
    const last = text.split('\n').filter(Boolean).pop() ?? '';
    const code = res.status >= 500 ? 'RAY_CLUSTER_UNAVAILABLE' : 'RAY_REQUEST_REJECTED';
    throw new AtelierError(`the Ray cluster at ${this.base} failed ${what}: ${res.status} ${last.slice(0, 500)}`, {
      code,
    });
  }
}

/** The Jobs API: submit, status, logs, stop, delete. */
export class RayJobsClient extends RayDashboardClient {
  async submit(req: RaySubmitRequest): Promise<{ submission_id: string }> {
    return (await this.json('POST', '/api/jobs/', req)) as { submission_id: string };
  }

  /** A job's details, or null when the cluster has no job of that id. */
  async get(submissionId: string): Promise<RayJobDetails | null> {
    return (await this.getJson(
      `/api/jobs/${encodeURIComponent(submissionId)}`,
      `reading job ${submissionId}`,
    )) as RayJobDetails | null;
  }

  /** The job's whole driver log so far (Ray answers the full text each time). */
  async logs(submissionId: string): Promise<string> {
    const body = (await this.json('GET', `/api/jobs/${encodeURIComponent(submissionId)}/logs`)) as { logs?: string };
    return body.logs ?? '';
  }

  /** Asks Ray to stop the job (SIGTERM, `RAY_JOB_STOP_WAIT_TIME_S`, SIGKILL); false when it had ended already. */
  async stop(submissionId: string): Promise<boolean> {
    const body = (await this.json('POST', `/api/jobs/${encodeURIComponent(submissionId)}/stop`)) as {
      stopped?: boolean;
    };
    return body.stopped === true;
  }

  /** Forgets an ended job (its record and logs on the cluster); false when there was none. */
  async delete(submissionId: string): Promise<boolean> {
    const res = await this.request('DELETE', `/api/jobs/${encodeURIComponent(submissionId)}`);
    if (res.status === HTTP_NOT_FOUND) return false;
    await this.check(res, `deleting job ${submissionId}`);
    return true;
  }
}

/** `gcs://_ray_pkg_<hash>.zip` → `/api/packages/gcs/_ray_pkg_<hash>.zip` (Ray's `http_uri_components_to_uri` in reverse). */
function packagePath(uri: string): string {
  const m = /^([a-z0-9]+):\/\/([A-Za-z0-9_.-]+)$/.exec(uri);
  if (!m) throw new Error(`not a Ray package URI: ${uri}`);
  return `/api/packages/${m[1]}/${m[2]}`;
}
