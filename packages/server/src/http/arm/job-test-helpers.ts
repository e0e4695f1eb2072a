import assert from 'node:assert/strict';
import type { TestServer } from '../../testing/harness.js';
import { V } from './arm-test-helpers.js';

/** Test helpers of the job suites (jobs/, jobs/pipeline/, jobs/sweep/): real server, real HTTP. */

/**
 * The pauses of a test's poll: 25 ms, growing by half up to 250 ms. A quick change is seen at once;
 * a job that takes seconds costs a few polls a second, not forty: the suites wait on many jobs at
 * once, and every GET is served (token, database, body) by the same busy process as the jobs.
 */
export function pollPauses(): () => Promise<void> {
  let ms = 25;
  return () => {
    const wait = new Promise<void>((res) => setTimeout(res, ms));
    ms = Math.min(250, Math.round(ms * 1.5));
    return wait;
  };
}

/** Polls a job until `until` holds for its GET body (default: a terminal status); returns that body. */
export async function waitForJob(
  t: TestServer,
  jobUrl: string,
  until: (b: any) => boolean = (b) => ['Completed', 'Failed', 'Canceled'].includes(b.properties.status),
  timeoutMs = 60_000,
): Promise<any> {
  const end = Date.now() + timeoutMs;
  const pause = pollPauses();
  for (;;) {
    const r = await t.request('GET', `${jobUrl}?${V}`);
    assert.equal(r.status, 200, r.text);
    if (until(r.body)) return r.body;
    if (Date.now() > end) throw new Error(`job ${jobUrl} stayed ${r.body.properties.status}: ${r.text}`);
    await pause();
  }
}

/** A command job's body. */
export function commandJob(
  command: string,
  extra: Record<string, unknown> = {},
): { properties: Record<string, unknown> } {
  return { properties: { jobType: 'Command', command, ...extra } };
}

/** A job's user log (GET …/logs/files/user_logs/std_log.txt). */
export async function userLog(t: TestServer, jobUrl: string, file = 'user_logs/std_log.txt'): Promise<string> {
  const r = await t.request('GET', `${jobUrl}/logs/files/${file}`);
  assert.equal(r.status, 200, r.text);
  return r.text;
}
