import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { testDialects } from '../packages/server/src/testing/harness.js';

/**
 * `npm run bench -- --quick` against Atelier only: the runner itself works end to end (server
 * started as a child, workspace created, every workload run without errors, report and JSON
 * written). No speed is asserted here; the numbers are for people (see the README's Benchmark).
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function runBench(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'run.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 480_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('npm run bench', () => {
  it('rejects unknown options and workloads with a message', async () => {
    let r = await runBench(['--compare', 'nothing']);
    assert.equal(r.code, 2);
    assert.match(r.out, /--compare takes 'mlflow'/);
    r = await runBench(['--only', 'create-run,teleport']);
    assert.equal(r.code, 2);
    assert.match(r.out, /unknown workload\(s\) teleport/);
  });

  for (const dialect of testDialects()) {
    it(`--quick runs every workload against Atelier (${dialect})`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-bench-test-'));
      const json = path.join(dir, 'bench.json');
      const args = ['--quick', '--json', json];
      if (dialect === 'postgres') args.push('--postgres', process.env.ATELIER_TEST_DATABASE_URL!);
      try {
        const r = await runBench(args);
        assert.equal(r.code, 0, r.out);
        const report = JSON.parse(fs.readFileSync(json, 'utf8'));
        assert.equal(report.mode, 'quick');
        assert.equal(report.targets.length, 1);
        const atelier = report.targets[0];
        assert.equal(atelier.name, 'Atelier');
        assert.match(
          atelier.trackingUri,
          /\/mlflow\/v1\.0\/subscriptions\/[^/]+\/resourceGroups\/bench\/providers\/Microsoft\.MachineLearningServices\/workspaces\/bench-ws$/,
        );
        assert.ok(atelier.coldStartMs > 0 && atelier.idleRssBytes > 0 && atelier.workspaceCreateMs > 0);
        const names = [
          'create-run',
          'log-metric',
          'log-batch-10',
          'log-batch-1000',
          'log-params-tags',
          'writers-16',
          'search-runs',
          'get-history',
          'bulk-interval',
          'metric-buckets',
          'artifact-upload',
          'artifact-download',
        ];
        assert.deepEqual(Object.keys(atelier.results), names);
        for (const name of names) {
          const w = atelier.results[name];
          assert.ok(!w.error, `${name}: ${w.error}`);
          assert.equal(w.errors, 0, `${name}: ${w.firstError}`);
          assert.ok(w.ops > 0 && w.units > 0 && w.p50 > 0 && w.p99 >= w.p50, `${name}: ${JSON.stringify(w)}`);
        }
        assert.equal(atelier.results['log-batch-1000'].units, 10 * 1000);
        assert.equal(atelier.results['get-history'].units, 4 * 20_000);
        assert.ok(atelier.results['artifact-upload'].rssGrowthBytes >= 0);
        assert.ok(Math.abs(atelier.results['artifact-download'].units - (16 * 1024 * 1024) / 1e6) < 1e-9);
        assert.match(r.out, /workload\s+unit\/s\s+conc\s+Atelier \/s\s+p50 ms\s+p99 ms/);
        assert.ok(report.goals['search-runs'] && typeof report.goals['search-runs'].text === 'string');
        if (fs.existsSync(path.join(ROOT, 'bench', 'control-plane.ts'))) {
          assert.ok(report.controlPlane && !report.controlPlane.error, JSON.stringify(report.controlPlane));
          assert.match(r.out, /control plane \(bench\/control-plane\.ts/);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
