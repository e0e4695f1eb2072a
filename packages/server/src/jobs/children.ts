import type { WorkspaceInfo } from '../resources/workspace-info.js';
import type { ExecutionResult } from './executors/executor.js';
import type { JobService } from './jobs.js';
import type { JobRow } from './tables.js';
import { TERMINAL } from './spec.js';

/** Whether a job has ended (a terminal status). */
export const ended = (r: JobRow): boolean => (TERMINAL as readonly string[]).includes(r.status);

/**
 * Waits until one of `children` ends (the scheduler says so), `ms` pass, or `signal` aborts:
 * how sweep and pipeline drivers sleep between looks at their child jobs.
 */
export function waitForChildren(
  jobs: JobService,
  children: Iterable<JobRow>,
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  const keys = [...children].map((c) => c.job_key);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      for (const k of keys) jobs.ended.off(k, done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const k of keys) jobs.ended.on(k, done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * How a sweep or pipeline ends early: cancels every child still going, waits until none is left
 * (looking again each time one ends, or every 500 ms), and answers `outcome` with `reason`.
 */
export async function stopChildren(
  jobs: JobService,
  ws: WorkspaceInfo,
  parent: JobRow,
  children: Iterable<JobRow>,
  outcome: 'Canceled' | 'Failed',
  reason: string,
  signal: AbortSignal,
): Promise<ExecutionResult> {
  for (const c of children) if (!ended(c)) await jobs.cancel(ws, c.name);
  for (;;) {
    const left = (await jobs.children(parent.workspace_id, parent.name)).filter((c) => !ended(c));
    if (!left.length) break;
    await waitForChildren(jobs, left, 500, signal);
    if (signal.aborted) throw signal.reason;
  }
  return { outcome, reason };
}
