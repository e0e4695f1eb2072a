import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { startTestServer, type TestServer } from '../../../server/src/testing/harness.js';
import { pythonWith } from '../../../server/src/jobs/testing.js';
import {
  AmlCompute,
  ComputeTarget,
  Experiment,
  OfflineRun,
  OperationFailedError,
  Run,
  ScriptRunConfig,
  TokenAuthentication,
  ValidationError,
  Workspace,
  shellQuote,
  snapshotFiles,
  uploadCode,
} from '../index.js';

const py = pythonWith(['mlflow']);
if (py.python) process.env.ATELIER_JOBS_PYTHON = py.python;

const write = (root: string, rel: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
};

// ScriptRunConfig → Experiment.submit → ScriptRun.waitForCompletion, and Run.getContext, on a real
// server with the local executor (SQLite: the SDK is under test; the jobs suite covers both stores).
describe('ScriptRunConfig / Experiment.submit / Run.getContext (SDK) with real jobs', { skip: py.skip }, () => {
  let t: TestServer;
  let tmp: string;
  let ws: Workspace;
  let src: string;
  before(async () => {
    t = await startTestServer('sqlite');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-jobs-'));
    ws = await Workspace.create({
      endpoint: t.url,
      auth: new TokenAuthentication(t.adminToken),
      env: { ATELIER_CONFIG_DIR: path.join(tmp, 'profile') },
      name: 'jobs-ws',
      resourceGroup: 'jobs-rg',
      showOutput: false,
    });
    src = path.join(tmp, 'src');
    write(
      src,
      'train.py',
      [
        'import os, sys, mlflow',
        'print("args", sys.argv[1:])',
        'files = sorted(os.path.relpath(os.path.join(d, f), ".") for d, _, fs in os.walk(".") for f in fs)',
        'print("files", files)',
        'mlflow.log_metric("accuracy", 0.75)',
        'mlflow.log_metric("accuracy", 0.875)',
        'sys.exit(int(os.environ.get("EXIT_CODE", "0")))',
      ].join('\n'),
    );
    write(src, 'pkg/util.py', 'X = 1\n');
    write(src, '.git/HEAD', 'ref: refs/heads/main\n');
    write(src, 'node_modules/x/index.js', '');
    write(src, 'pkg/__pycache__/util.cpython-311.pyc', 'x');
    write(src, 'data/big.csv', 'a,b\n');
    write(src, 'run.log', 'old\n');
    write(src, '.amlignore', 'data/\n*.log\n');
  });
  after(async () => {
    await t?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('snapshots skip .git, node_modules, __pycache__ and what .amlignore lists', async () => {
    assert.deepEqual(
      (await snapshotFiles(src)).map((f) => f.path),
      ['.amlignore', 'pkg/util.py', 'train.py'],
    );
  });

  it('submits a script with arguments on a compute, streams its output, logs to the job’s run; the code is uploaded once', async () => {
    const cluster = await ComputeTarget.create(
      ws,
      'cpu',
      AmlCompute.provisioningConfiguration({ vmSize: 'local-1c-2g', maxNodes: 1 }),
    );
    await cluster.waitForCompletion();
    const exp = new Experiment(ws, 'script-runs');
    const config = new ScriptRunConfig({
      sourceDirectory: src,
      script: 'train.py',
      arguments: ['--lr', 0.01, "it's; rm -rf /"],
      computeTarget: cluster,
    });
    const run = await exp.submit(config, { tags: { team: 'a' } });
    assert.equal(run.id, run.jobName);
    const lines: string[] = [];
    const details = await run.waitForCompletion({ showOutput: true, onLine: (l) => lines.push(l) });
    assert.equal(details.status, 'Completed');
    const out = lines.join('\n');
    assert.match(out, /args \['--lr', '0\.01', "it's; rm -rf \/"\]/);
    assert.match(out, /files \['\.amlignore', 'pkg\/util\.py', 'train\.py'\]/);
    assert.equal(run.status, 'Completed');
    assert.deepEqual((await run.getMetrics()).accuracy, [0.75, 0.875]);
    const job = await run.getJob();
    assert.match(String(job.properties.computeId), /\/computes\/cpu$/);
    assert.deepEqual(job.properties.tags, { team: 'a' });
    assert.match(await run.getLog(), /args/);

    // The same folder again: the same code version, not uploaded again.
    const looked = await uploadCode(ws, src);
    assert.equal(looked.uploaded, false);
    assert.equal(looked.id, job.properties.codeId);
    const again = await exp.submit(config);
    assert.equal((await again.getJob()).properties.codeId, job.properties.codeId);
    await again.waitForCompletion();
    // A change makes a new one.
    write(src, 'pkg/util.py', 'X = 2\n');
    const changed = await exp.submit(config);
    assert.notEqual((await changed.getJob()).properties.codeId, job.properties.codeId);
    await changed.waitForCompletion();
  });

  it('a failed script throws with its reason (or reports Failed with raiseOnError: false)', async () => {
    const exp = new Experiment(ws, 'script-runs');
    const config = new ScriptRunConfig({ sourceDirectory: src, command: 'echo failing >&2; exit 3' });
    const run = await exp.submit(config);
    await assert.rejects(run.waitForCompletion(), (e: unknown) => {
      assert.ok(e instanceof OperationFailedError);
      assert.match(e.message, /ended Failed/);
      return true;
    });
    const other = await exp.submit(config);
    assert.equal((await other.waitForCompletion({ raiseOnError: false })).status, 'Failed');
  });

  it('refuses bad configurations before anything is sent', async () => {
    assert.throws(() => new ScriptRunConfig({ sourceDirectory: src }), /needs script/);
    assert.throws(() => new ScriptRunConfig({ script: '../x.py' }), /stay inside sourceDirectory/);
    assert.throws(() => new ScriptRunConfig({ script: 'a.py', command: 'ls' }), /not both/);
    assert.throws(() => new ScriptRunConfig({ script: 'a.py', nodeCount: 0 }), ValidationError);
    const exp = new Experiment(ws, 'script-runs');
    await assert.rejects(
      exp.submit(new ScriptRunConfig({ sourceDirectory: path.join(tmp, 'nope'), script: 'a.py' })),
      /is not a folder/,
    );
    await assert.rejects(
      exp.submit(new ScriptRunConfig({ sourceDirectory: src, script: 'train.py', computeTarget: 'no-such' })),
      /no-such/,
    );
    assert.equal(shellQuote("a'b"), `'a'\\''b'`);
  });

  it('Run.getContext: offline outside a job; inside a job, the job’s run (a Node script using the SDK)', async () => {
    const offline = await Run.getContext({ env: {} });
    assert.ok(offline instanceof OfflineRun);
    assert.match(offline.id, /^OfflineRun_/);

    // The SDK as one file, as a job's Node script would import it.
    const bundle = path.join(tmp, 'sdk.mjs');
    await esbuild.build({
      entryPoints: [path.join(import.meta.dirname, '..', 'index.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: bundle,
      logLevel: 'silent',
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    await esbuild.stop();
    const nodeSrc = path.join(tmp, 'node-src');
    write(
      nodeSrc,
      'ctx.mjs',
      [
        'const { Run, OfflineRun } = await import(process.env.SDK_BUNDLE);',
        'const run = await Run.getContext();',
        "if (run instanceof OfflineRun) throw new Error('offline inside a job');",
        "await run.log('from_node', 7);",
        "await run.tag('where', 'job');",
        "console.log('context run', run.id);",
      ].join('\n'),
    );
    const exp = new Experiment(ws, 'context');
    const run = await exp.submit(
      new ScriptRunConfig({
        sourceDirectory: nodeSrc,
        command: [process.execPath, 'ctx.mjs'],
        environmentVariables: { SDK_BUNDLE: bundle },
      }),
    );
    const lines: string[] = [];
    await run.waitForCompletion({ onLine: (l) => lines.push(l) });
    assert.ok(lines.includes(`context run ${run.id}`), lines.join('\n'));
    await run.refresh();
    assert.deepEqual((await run.getMetrics()).from_node, 7);
    assert.equal(run.tags.where, 'job');
  });
});
