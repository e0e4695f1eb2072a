/**
 * Jobs in the SDK: `ws.submitJob(name, properties)` (a command, sweep or pipeline job as Azure ML's
 * `W/jobs` shapes), `ws.getJob`, `ws.listJobs`, `ws.cancelJob`, `ws.jobLog` (one log file), and
 * `ws.waitForJob(name, {showOutput})`, which follows the job's live log stream (server-sent events)
 * and prints its lines until it ends.
 */
import type * as C from '@atelier/contracts';
import { Workspace } from '../workspace/workspace.js';
import { linkOf, rawRequest } from '../assets/link.js';
import { host } from '../host.js';

export { ScriptRunConfig, ScriptRun, OfflineRun, shellQuote, type ScriptRunConfigOptions } from './script-run.js';
export { uploadCode, snapshotFiles, contentHash, type SnapshotFile } from './code-upload.js';

export type JobResource = C.Job;

const TERMINAL = ['Completed', 'Failed', 'Canceled', 'NotResponding', 'Paused'];

declare module '../workspace/workspace.js' {
  interface Workspace {
    /** Submits a job (`PUT W/jobs/{name}`); `properties` as Azure ML's (jobType, command, inputs, …). */
    submitJob(name: string, properties: Record<string, unknown>): Promise<JobResource>;
    getJob(name: string): Promise<JobResource>;
    /** The workspace's jobs, newest first (`jobType`: Command, Sweep, Pipeline). */
    listJobs(opts?: { jobType?: string; tag?: string }): Promise<JobResource[]>;
    /** Cancels a job (a running one gets SIGTERM, a grace period, then SIGKILL). */
    cancelJob(name: string): Promise<void>;
    /** One log file of a job as text (default `user_logs/std_log.txt`). */
    jobLog(name: string, file?: string): Promise<string>;
    /**
     * Waits for a job to end, following its live log stream; with `showOutput` its lines are
     * written to standard output (or given to `onLine`). Returns the job as it ended.
     */
    waitForJob(name: string, opts?: { showOutput?: boolean; onLine?: (line: string) => void }): Promise<JobResource>;
  }
}

const V = { 'api-version': '2025-09-01' };

Workspace.prototype.submitJob = async function (name, properties) {
  const link = linkOf(this);
  return (
    await link.client.request<JobResource>('PUT', `${link.id}/jobs/${encodeURIComponent(name)}`, {
      body: { properties },
      query: V,
      what: `submit job '${name}'`,
    })
  ).body;
};

Workspace.prototype.getJob = async function (name) {
  const link = linkOf(this);
  return (
    await link.client.request<JobResource>('GET', `${link.id}/jobs/${encodeURIComponent(name)}`, {
      query: V,
      what: `get job '${name}'`,
    })
  ).body;
};

Workspace.prototype.listJobs = async function (opts = {}) {
  const link = linkOf(this);
  const out: JobResource[] = [];
  for await (const j of link.client.list<JobResource>(`${link.id}/jobs`, {
    query: { ...V, jobType: opts.jobType, tag: opts.tag },
    what: 'list jobs',
  }))
    out.push(j);
  return out;
};

Workspace.prototype.cancelJob = async function (name) {
  const link = linkOf(this);
  await link.client.request('POST', `${link.id}/jobs/${encodeURIComponent(name)}/cancel`, {
    query: V,
    what: `cancel job '${name}'`,
  });
};

Workspace.prototype.jobLog = async function (name, file = 'user_logs/std_log.txt') {
  const link = linkOf(this);
  const res = await rawRequest(
    link,
    'GET',
    `${link.id}/jobs/${encodeURIComponent(name)}/logs/files/${file.split('/').map(encodeURIComponent).join('/')}`,
    { what: `read log '${file}' of job '${name}'` },
  );
  return res.text();
};

Workspace.prototype.waitForJob = async function (name, opts = {}) {
  const link = linkOf(this);
  const onLine = opts.onLine ?? (opts.showOutput ? (l: string) => host().print(l) : undefined);
  for (;;) {
    const res = await rawRequest(link, 'GET', `${link.id}/jobs/${encodeURIComponent(name)}/logs/stream`, {
      what: `follow the logs of job '${name}'`,
    });
    let buf = '';
    let ended = false;
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const kind = /^event: (\w+)$/m.exec(ev)?.[1];
        const data = /^data: (.*)$/m.exec(ev)?.[1];
        if (kind === 'line' && data && onLine) onLine((JSON.parse(data) as { line: string }).line);
        if (kind === 'end') ended = true;
      }
    }
    const job = await this.getJob(name);
    if (ended || TERMINAL.includes(String(job.properties.status))) return job;
  }
};
