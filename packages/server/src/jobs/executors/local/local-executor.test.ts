import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalExecutor } from './local-executor.js';
import type { ExecutionSpec } from '../executor.js';

const PYTHON = process.env.ATELIER_TEST_PYTHON || 'python3';

const roots: string[] = [];
after(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

function specFor(name: string, command: string, extra: Partial<ExecutionSpec> = {}): ExecutionSpec {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `atelier-exec-${name}-`));
  roots.push(root);
  const workDir = path.join(root, 'wd');
  fs.mkdirSync(workDir);
  return {
    jobId: name,
    workDir,
    command,
    env: { GREETING: 'hello there' },
    python: { pythonPath: PYTHON, envDir: '', pipRequirements: [] },
    instanceCount: 1,
    logDir: path.join(root, 'logs'),
    stateDir: path.join(root, 'state'),
    ...extra,
  };
}

const log = (spec: ExecutionSpec, file = 'user_logs/std_log.txt') =>
  fs.readFileSync(path.join(spec.logDir, file), 'utf8');

test('a command runs in its work folder with its env and python, its output in std_log.txt', async () => {
  const ex = new LocalExecutor();
  const spec = specFor(
    'ok',
    `echo "$GREETING" && pwd && python -c 'import sys; print("py", sys.version_info[0])' && echo err >&2 && test -z "$ATELIER_MASTER_KEY"`,
  );
  process.env.ATELIER_MASTER_KEY = 'must-not-leak';
  try {
    const { handle } = await ex.start(spec);
    const r = await ex.wait(handle);
    assert.deepEqual(r, { outcome: 'Completed', exitCode: 0 });
  } finally {
    delete process.env.ATELIER_MASTER_KEY;
  }
  const out = log(spec);
  assert.match(out, /hello there\n/);
  assert.ok(out.includes(`${fs.realpathSync(spec.workDir)}\n`) || out.includes(`${spec.workDir}\n`), out);
  assert.match(out, /py 3\n/);
  assert.match(out, /err\n/);
});

test('a failing command is Failed with its exit code', async () => {
  const ex = new LocalExecutor();
  const spec = specFor('fail', 'echo before; exit 3');
  const r = await ex.wait((await ex.start(spec)).handle);
  assert.equal(r.outcome, 'Failed');
  assert.equal(r.exitCode, 3);
  assert.match(r.reason!, /exited with code 3/);
});

test('ranks get RANK and WORLD_SIZE and one log each', async () => {
  const ex = new LocalExecutor();
  const spec = specFor('ranks', 'echo "rank $RANK of $WORLD_SIZE port $MASTER_PORT"', { instanceCount: 3 });
  const r = await ex.wait((await ex.start(spec)).handle);
  assert.equal(r.outcome, 'Completed');
  for (const rank of [0, 1, 2])
    assert.match(log(spec, `user_logs/std_log_process_${rank}.txt`), new RegExp(`rank ${rank} of 3 port \\d+`));
});

test('cancel: SIGTERM reaches the process group, then the job is Canceled', async () => {
  const ex = new LocalExecutor();
  // The child shell traps TERM and says so: proof the group got SIGTERM before any SIGKILL.
  const spec = specFor('cancel', `trap 'echo got-term; exit 143' TERM; echo started; while :; do sleep 0.05; done`);
  const { handle } = await ex.start(spec);
  while (!fs.existsSync(path.join(spec.logDir, 'user_logs/std_log.txt')) || !log(spec).includes('started'))
    await new Promise((r) => setTimeout(r, 20));
  assert.equal(await ex.alive(handle), true);
  const waiting = ex.wait(handle);
  await ex.cancel(handle, 5_000);
  assert.deepEqual(await waiting, { outcome: 'Canceled', reason: 'the job was canceled' });
  assert.equal(await ex.alive(handle), false);
  assert.match(log(spec), /got-term/);
});

test('cancel: a process that ignores SIGTERM is killed after the grace period', async () => {
  const ex = new LocalExecutor();
  const spec = specFor('stubborn', `trap '' TERM; echo started; while :; do sleep 0.05; done`);
  const { handle } = await ex.start(spec);
  while (!fs.existsSync(path.join(spec.logDir, 'user_logs/std_log.txt')) || !log(spec).includes('started'))
    await new Promise((r) => setTimeout(r, 20));
  await ex.cancel(handle, 100);
  assert.equal(await ex.alive(handle), false);
  assert.equal((await ex.wait(handle)).outcome, 'Canceled');
});

test('a job past its timeout is stopped and Failed with the reason', async () => {
  const ex = new LocalExecutor();
  const spec = specFor('timeout', 'sleep 30', { timeoutMs: 200 });
  const r = await ex.wait((await ex.start(spec)).handle);
  assert.equal(r.outcome, 'Failed');
  assert.match(r.reason!, /time limit \(limits\.timeout = 0\.2 s\)/);
});

test('another executor instance (a restarted server) reattaches: alive, wait, exit code', async () => {
  const first = new LocalExecutor();
  const spec = specFor('reattach', 'sleep 0.3; exit 4');
  const { handle } = await first.start(spec);
  const second = new LocalExecutor();
  assert.equal(await second.alive(handle), true);
  const r = await second.wait(handle);
  assert.equal(r.outcome, 'Failed');
  assert.equal(r.exitCode, 4);
  assert.equal(await second.alive(handle), false);
});
