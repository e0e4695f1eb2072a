import type { JobService } from './jobs.js';
import type { JobRow } from './tables.js';

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
