import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionSpec } from '../executor.js';
import { RayExecutor } from './ray-executor.js';
import { RayJobsClient } from './ray-jobs-client.js';
import { packageWorkingDir } from './working-dir-package.js';
import { testRay } from '../../../testing/ray.js';

// The Ray executor against a real single-node Ray cluster (.ci/ray.sh): the job's folder goes up as a
// package, the job runs there, its log and outcome come back, a wait can be given up and taken up
// again. Failures, exit codes, cancel, time limits and ranks are checked through the jobs API by the
// command-job suite, which runs on both executors (jobs/jobs.test.ts).
const ray = testRay('the Ray executor tests');

describe('Ray executor', { skip: !ray }, () => {
  let tmp: string;
  let executor: RayExecutor;
  let n = 0;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-ray-exec-'));
    executor = new RayExecutor({ pollMs: 100, stopGraceMs: 2_000 });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function spec(command: string, extra: Partial<ExecutionSpec> = {}): ExecutionSpec {
    const id = `t${++n}`;
    const workDir = path.join(tmp, id, 'work');
    fs.mkdirSync(path.join(workDir, 'pkg'), { recursive: true });
    fs.writeFileSync(path.join(workDir, 'pkg', 'data.txt'), `data of ${id}\n`);
    fs.writeFileSync(
      path.join(workDir, 'main.py'),
      [
        'import os, sys',
        'print("hello from", os.environ["RANK"], "of", os.environ["WORLD_SIZE"], flush=True)',
        'print(open("pkg/data.txt").read().strip(), os.environ.get("GREETING", ""), flush=True)',
        'print("to stderr", file=sys.stderr, flush=True)',
        'sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)',
      ].join('\n'),
    );
    return {
      jobId: `ray-exec-${id}`,
      workDir,
      command,
      env: { GREETING: 'bonjour' },
      python: { pythonPath: '', envDir: '', pipRequirements: [] },
      instanceCount: 1,
      logDir: path.join(tmp, id, 'logs'),
      stateDir: path.join(tmp, id, 'state'),
      cluster: { dashboardUrl: ray!.dashboard },
      ...extra,
    };
  }

  test('a job runs on the cluster from its uploaded folder: Completed, its output in user_logs/std_log.txt', async () => {
    const s = spec('python main.py');
    const { handle } = await executor.start(s);
    const result = await executor.wait(handle);
    assert.deepEqual(result, { outcome: 'Completed', exitCode: 0 });
    const log = fs.readFileSync(path.join(s.logDir, 'user_logs', 'std_log.txt'), 'utf8');
    assert.match(log, /^hello from 0 of 1\n/, "the log starts with the job's own output (no Ray preamble)");
    assert.match(log, new RegExp(`data of ${path.basename(path.dirname(s.workDir))} bonjour`));
    assert.match(log, /to stderr/);
    assert.equal(await executor.alive(handle), false);
    // Waiting again (a restarted server) answers the kept outcome, though Ray has forgotten the job.
    assert.deepEqual(await executor.wait(handle), result);
  });

  test('an aborted wait rejects and leaves the job running; a later wait finds it', async () => {
    const s = spec('python -c "import time; time.sleep(1.5); print(\'done\')"');
    const { handle } = await executor.start(s);
    const ac = new AbortController();
    const first = executor.wait(handle, ac.signal);
    ac.abort(new Error('server stopping'));
    await assert.rejects(first, /server stopping/);
    assert.deepEqual(await executor.wait(handle), { outcome: 'Completed', exitCode: 0 });
    assert.match(fs.readFileSync(path.join(s.logDir, 'user_logs', 'std_log.txt'), 'utf8'), /done/);
  });

  test('a package is named by its content: the same files give the same URI, and it is uploaded once', async () => {
    const a = spec('true');
    const b = spec('true');
    fs.writeFileSync(path.join(b.workDir, 'pkg', 'data.txt'), fs.readFileSync(path.join(a.workDir, 'pkg', 'data.txt')));
    const [pa, pb] = [await packageWorkingDir(a.workDir), await packageWorkingDir(b.workDir)];
    assert.equal(pa.uri, pb.uri);
    assert.match(pa.uri, /^gcs:\/\/_ray_pkg_[0-9a-f]{40}\.zip$/);
    fs.writeFileSync(path.join(b.workDir, 'extra.txt'), 'x');
    assert.notEqual((await packageWorkingDir(b.workDir)).uri, pa.uri);
    const client = new RayJobsClient(ray!.dashboard);
    await client.uploadPackage(pa.uri, pa.zip);
    assert.equal(await client.packageExists(pa.uri), true);
    assert.equal(await client.packageExists('gcs://_ray_pkg_0000000000000000000000000000000000000000.zip'), false);
  });

  test("a link out of the job's folder is refused before anything is submitted", async () => {
    const s = spec('true');
    fs.symlinkSync('/etc', path.join(s.workDir, 'escape'));
    await assert.rejects(executor.start(s), /link that leads outside/);
  });

  test('a spec without a cluster address is refused', async () => {
    await assert.rejects(executor.start(spec('true', { cluster: undefined })), /needs the cluster's Jobs API address/);
  });

  test('an unreachable cluster is a clear error naming its address', async () => {
    await assert.rejects(
      executor.start(spec('true', { cluster: { dashboardUrl: 'http://127.0.0.1:9' } })),
      /Ray cluster at http:\/\/127\.0\.0\.1:9 could not be reached/,
    );
  });
});
