import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../testing/harness.js';
import { V } from './arm/arm-test-helpers.js';
import { unbuiltV1Route } from './azureml-v1/common.js';

/**
 * Property-based fuzzing of every operation in /openapi.json with schemathesis (pinned in
 * .ci/python-requirements.txt): generated valid and invalid inputs, as the admin, against a real
 * server whose subscription, resource group and workspace exist (so requests reach the handlers).
 * Bad input must get a 4xx: the test fails on any answer ≥ 500, except MLflow's
 * `501 NOT_IMPLEMENTED` for features this server does not build (presigned URLs, prompt-lab runs,
 * tracing, …: MLflow clients read that code to fall back) and the azureml v1 services' 501
 * `NotImplemented` for a method of their paths that is not built (azureml-core shows its message). Bounded in time:
 * ATELIER_TEST_FUZZ_SECONDS (default 60: every one of the 430 operations was reached in 60 s, about 1,200
 * scenarios, at load 11 on 2 cores; the test prints both counts). Schemathesis is found beside ATELIER_TEST_PYTHON (else
 * .ci/.venv); without it the test is skipped with a note, or fails under ATELIER_TEST_STRICT=1.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

function findSchemathesis(): { bin?: string; skip?: string } {
  const venv = path.join(ROOT, '.ci', '.venv', 'bin', 'python');
  const python = process.env.ATELIER_TEST_PYTHON || (fs.existsSync(venv) ? venv : undefined);
  const bin = python ? path.join(path.dirname(python), 'schemathesis') : undefined;
  if (bin && spawnSync(bin, ['--version'], { encoding: 'utf8' }).status === 0) return { bin };
  const why = `schemathesis was not found (${bin ?? 'ATELIER_TEST_PYTHON unset and no .ci/.venv'}): the fuzz test needs .ci/python-requirements.txt installed (bash .ci/run)`;
  if (process.env.ATELIER_TEST_STRICT === '1') throw new Error(why);
  process.stderr.write(`note: ${why}; skipping it\n`);
  return { skip: why };
}

interface Interaction {
  request: { method: string; uri: string; body?: { $base64?: string } };
  response?: { status_code: number; content?: { $base64?: string } };
}
interface ScenarioFinished {
  status: string;
  phase: string;
  recorder?: {
    label: string;
    checks?: Record<string, { name: string; status: string }[]>;
    interactions?: Record<string, Interaction>;
  };
}

const decode = (b?: { $base64?: string }) => (b?.$base64 ? Buffer.from(b.$base64, 'base64').toString('utf8') : '');

/**
 * A deliberate "not built here" answer: 501 with MLflow's NOT_IMPLEMENTED body, or the azureml v1
 * services' `{ error: { code: 'NotImplemented' } }` for a method of a v1 path no route serves
 * (`unbuiltV1Route`: schemathesis tries other methods on every documented path).
 */
function isDeclaredNotImplemented(i: Interaction | undefined): boolean {
  const r = i?.response;
  if (r?.status_code !== 501) return false;
  try {
    const body = JSON.parse(decode(r.content)) as { error_code?: string; error?: { code?: string } };
    if (body.error_code === 'NOT_IMPLEMENTED') return true;
    const url = new URL(i!.request.uri);
    return body.error?.code === 'NotImplemented' && unbuiltV1Route(i!.request.method, url.pathname) !== undefined;
  } catch {
    return false;
  }
}

const { bin, skip } = findSchemathesis();
const seconds = Number(process.env.ATELIER_TEST_FUZZ_SECONDS ?? 60);

describe('fuzzing /openapi.json (schemathesis)', { skip }, () => {
  let t: TestServer;
  let work: string;
  before(async () => {
    t = await startTestServer('sqlite');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-fuzz-'));
    const g = `/subscriptions/${t.subscriptionId}/resourceGroups/fuzz`;
    assert.equal((await t.request('PUT', `${g}?${V}`, { location: 'local' })).status, 201);
    const ws = await t.request('PUT', `${g}/providers/Microsoft.MachineLearningServices/workspaces/fuzz?${V}`, {
      location: 'local',
      properties: {},
    });
    assert.ok(ws.status === 200 || ws.status === 201, ws.text);
    // The document is built on its first request: build it here, so that schemathesis's own fetch of
    // it (a 10 s read timeout) does not pay for that on a loaded machine.
    assert.equal((await t.request('GET', '/openapi.json', undefined, { token: null })).status, 200);
  });
  after(async () => {
    await t?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it(
    `answers no generated request with a 5xx (${seconds} s over every operation)`,
    { timeout: (seconds + 180) * 1000 },
    async (ctx) => {
      // Path parameters of real resources, so that requests get past "not found" into the handlers.
      fs.writeFileSync(
        path.join(work, 'schemathesis.toml'),
        `[parameters]\nsubscriptionId = "${t.subscriptionId}"\nresourceGroupName = "fuzz"\nworkspaceName = "fuzz"\n`,
      );
      const report = path.join(work, 'report.ndjson');
      const args = [
        '--no-color',
        '--config-file',
        path.join(work, 'schemathesis.toml'),
        'run',
        `${t.url}/openapi.json`,
        '--header',
        `Authorization: Bearer ${t.adminToken}`,
        '--checks',
        'not_a_server_error',
        '--max-time',
        String(seconds),
        '--workers',
        '2',
        '--request-timeout',
        '30',
        '--suppress-health-check',
        'all',
        '--report',
        'ndjson',
        '--report-ndjson-path',
        report,
      ];
      // Asynchronously: this process serves the requests schemathesis makes.
      const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const child = spawn(bin!, args, {
          cwd: work,
          env: { ...process.env, HOME: work, NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, out }));
      });
      // 0: nothing found, 1: failures or errors found (judged below); anything else: it did not run.
      assert.ok(r.code === 0 || r.code === 1, `schemathesis exited with ${r.code}:\n${r.out.slice(-5000)}`);
      const scenarios = fs
        .readFileSync(report, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((e) => 'ScenarioFinished' in e)
        .map((e) => e.ScenarioFinished as ScenarioFinished);
      const tested = new Set(scenarios.filter((s) => s.status !== 'skip').map((s) => s.recorder?.label));
      assert.ok(tested.size > 200, `only ${tested.size} operations were tested:\n${r.out.slice(-3000)}`);
      ctx.diagnostic(`${tested.size} operations tested, ${scenarios.length} scenarios`);
      const serverErrors: string[] = [];
      for (const s of scenarios) {
        for (const [id, checks] of Object.entries(s.recorder?.checks ?? {})) {
          if (!checks.some((c) => c.name === 'not_a_server_error' && c.status === 'failure')) continue;
          const i = s.recorder!.interactions?.[id];
          if (isDeclaredNotImplemented(i)) continue;
          serverErrors.push(
            `${i?.response?.status_code ?? '?'} ${i?.request.method} ${i?.request.uri}\n  body: ${decode(i?.request.body).slice(0, 300)}\n  answer: ${decode(i?.response?.content).slice(0, 300)}`,
          );
        }
      }
      assert.deepEqual(serverErrors, [], `${serverErrors.length} answers ≥ 500:\n${serverErrors.join('\n')}`);
    },
  );
});
