import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { TestServer } from '../testing/harness.js';
import { V } from '../http/arm/arm-test-helpers.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);
export const ROOT = path.resolve(HERE, '..', '..', '..', '..');

/**
 * The Python of job tests: ATELIER_TEST_PYTHON, else .ci/.venv/bin/python, when it has `modules`.
 * Without one the caller skips with the returned note (ATELIER_TEST_STRICT=1: throws).
 */
export function pythonWith(modules: string[]): { python?: string; skip?: string } {
  const configured = process.env.ATELIER_TEST_PYTHON;
  const fallback = path.join(ROOT, '.ci', '.venv', 'bin', 'python');
  const python = configured || (fs.existsSync(fallback) ? fallback : undefined);
  const probe = python
    ? spawnSync(python, ['-c', modules.map((m) => `import ${m}`).join('; ') || 'pass'], { encoding: 'utf8' })
    : undefined;
  if (python && probe?.status === 0) return { python };
  const why = `no Python with ${modules.join(', ') || 'python'} (set ATELIER_TEST_PYTHON or run bash .ci/run to make .ci/.venv)`;
  if (process.env.ATELIER_TEST_STRICT === '1') throw new Error(why);
  process.stderr.write(`note: ${why}; skipping\n`);
  return { skip: why };
}

/** Polls a job until `until` holds for its GET body (default: a terminal status); returns that body. */
export async function waitForJob(
  t: TestServer,
  jobUrl: string,
  until: (b: any) => boolean = (b) => ['Completed', 'Failed', 'Canceled'].includes(b.properties.status),
  timeoutMs = 60_000,
): Promise<any> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await t.request('GET', `${jobUrl}?${V}`);
    assert.equal(r.status, 200, r.text);
    if (until(r.body)) return r.body;
    if (Date.now() > end) throw new Error(`job ${jobUrl} stayed ${r.body.properties.status}: ${r.text}`);
    await new Promise((res) => setTimeout(res, 25));
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
