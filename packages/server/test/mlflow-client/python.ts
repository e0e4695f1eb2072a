import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import type { TestServer } from '../../src/testing/harness.js';

/**
 * Running the real Python MLflow client against a test server. The interpreter is
 * ATELIER_TEST_PYTHON (CI sets it to .ci/.venv/bin/python), else .ci/.venv/bin/python when it exists.
 * Without one the suite is skipped with a note — or fails under ATELIER_TEST_STRICT=1.
 */

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..', '..');
export const SCRIPTS = path.join(path.dirname(new URL(import.meta.url).pathname), 'scripts');

/**
 * A Python one-liner that exits non-zero, naming them, when some of `modules` cannot be found
 * (importlib.util.find_spec: located, not imported).
 */
export function findModules(modules: string[]): string {
  return `import importlib.util as u, sys; missing = [m for m in ${JSON.stringify(modules)} if u.find_spec(m) is None]; sys.exit("no module named " + ", ".join(missing)) if missing else None`;
}

export function findPython(): { python?: string; skip?: string } {
  const configured = process.env.ATELIER_TEST_PYTHON;
  const fallback = path.join(ROOT, '.ci', '.venv', 'bin', 'python');
  const python = configured || (fs.existsSync(fallback) ? fallback : undefined);
  const strict = process.env.ATELIER_TEST_STRICT === '1';
  if (!python) {
    const why =
      'ATELIER_TEST_PYTHON is not set and .ci/.venv does not exist: the MLflow client tests need Python with the packages of .ci/python-requirements.txt (bash .ci/run makes it)';
    if (strict) throw new Error(`${why}; ATELIER_TEST_STRICT=1 forbids skipping`);
    process.stderr.write(`note: ${why}; skipping them\n`);
    return { skip: why };
  }
  // Finds the packages without importing them (importing these four costs ~3 s of CPU, in every
  // file that calls this); a broken install still fails, in the test that imports it.
  const probe = spawnSync(python, ['-c', findModules(['mlflow', 'pandas', 'PIL', 'matplotlib'])], {
    encoding: 'utf8',
  });
  if (probe.status !== 0) {
    const why = `${python} does not have mlflow, pandas, PIL and matplotlib (install .ci/python-requirements.txt into it): ${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}`;
    if (strict || configured) throw new Error(why);
    process.stderr.write(`note: ${why}; skipping the MLflow client tests\n`);
    return { skip: why };
  }
  return { python };
}

export type Auth = { token: string } | { username: string; password: string } | { none: true };

export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The script's last line `RESULT {...}`, parsed. */
  result?: { passed: string[]; failed: Record<string, string>; blocked: Record<string, string>; [k: string]: unknown };
}

/** Runs `scripts/<script>` with the MLflow client pointed at `trackingUri`. */
export async function runScript(
  python: string,
  script: string,
  args: string[],
  trackingUri: string,
  auth: Auth,
  timeoutMs = 300_000,
): Promise<ScriptResult> {
  return runPython(python, [path.join(SCRIPTS, script), ...args], trackingUri, auth, timeoutMs);
}

/**
 * Runs the interpreter with `argv` (asynchronously: the test server answers in this same process,
 * so a synchronous spawn would deadlock it).
 */
export async function runPython(
  python: string,
  argv: string[],
  trackingUri: string,
  auth: Auth,
  timeoutMs = 300_000,
): Promise<ScriptResult> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-mlflow-client-'));
  const env: NodeJS.ProcessEnv = {};
  // Only what the client needs: no MLFLOW_* of the developer's shell leaks into the test.
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('MLFLOW_') && !k.startsWith('DATABRICKS_')) env[k] = v;
  Object.assign(env, {
    MLFLOW_TRACKING_URI: trackingUri,
    MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
    MLFLOW_HTTP_REQUEST_TIMEOUT: '120',
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR: 'false',
    MLFLOW_DISABLE_TELEMETRY: 'true',
    DO_NOT_TRACK: 'true',
    MPLBACKEND: 'Agg',
    MPLCONFIGDIR: work,
    HOME: work,
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
  });
  if ('token' in auth) env.MLFLOW_TRACKING_TOKEN = auth.token;
  if ('username' in auth) {
    env.MLFLOW_TRACKING_USERNAME = auth.username;
    env.MLFLOW_TRACKING_PASSWORD = auth.password;
  }
  const child = spawn(python, argv, { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  fs.rmSync(work, { recursive: true, force: true });
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('RESULT '));
  return { code, stdout, stderr, result: line ? JSON.parse(line.slice('RESULT '.length)) : undefined };
}

/** A readable account of a script run that did not pass, for the assertion message. */
export function explain(script: string, r: ScriptResult): string {
  const lines = [`${script} exited ${r.code}`];
  if (r.result) {
    for (const [step, err] of Object.entries(r.result.failed)) lines.push(`  FAIL ${step}: ${err}`);
    for (const [step, why] of Object.entries(r.result.blocked)) lines.push(`  BLOCKED ${step}: ${why}`);
    lines.push(`  passed: ${r.result.passed.join('; ') || 'none'}`);
  } else {
    lines.push('  (no RESULT line) stdout ends:', r.stdout.split('\n').slice(-10).join('\n'));
  }
  lines.push('  stderr ends:', r.stderr.split('\n').slice(-25).join('\n'));
  return lines.join('\n');
}

/** PUT a resource group and a workspace through ARM, poll until Succeeded; returns the tracking URI. */
export async function makeWorkspace(
  t: TestServer,
  group: string,
  name: string,
): Promise<{ armId: string; trackingUri: string }> {
  const v = 'api-version=2025-09-01';
  const rg = await t.request('PUT', `/subscriptions/${t.subscriptionId}/resourceGroups/${group}?${v}`, {
    location: 'local',
  });
  if (rg.status >= 300) throw new Error(`PUT resource group: ${rg.status} ${rg.text}`);
  const armId = `/subscriptions/${t.subscriptionId}/resourceGroups/${group}/providers/Microsoft.MachineLearningServices/workspaces/${name}`;
  const put = await t.request('PUT', `${armId}?${v}`, { location: 'local', properties: { friendlyName: name } });
  if (put.status >= 300) throw new Error(`PUT workspace: ${put.status} ${put.text}`);
  for (let i = 0; i < 600; i++) {
    const got = await t.request('GET', `${armId}?${v}`);
    const state = got.body?.properties?.provisioningState;
    if (state === 'Succeeded') return { armId, trackingUri: got.body.properties.mlFlowTrackingUri };
    if (state === 'Failed' || state === 'Canceled') throw new Error(`workspace provisioning ${state}: ${got.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('workspace did not reach Succeeded in 30 s');
}
