import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer } from '../testing/harness.js';
import { V, createWorkspace, wsPath } from '../http/arm/arm-test-helpers.js';
import { pythonWith } from './testing.js';
import { commandJob, userLog, waitForJob } from '../http/arm/job-test-helpers.js';

const py = pythonWith([]);
if (py.python) process.env.ATELIER_JOBS_PYTHON = py.python;

describe('jobs survive a server restart (sqlite: the next server adopts them at once)', { skip: py.skip }, () => {
  it('a job running when its server stopped is reattached and finishes; its exit code is not lost', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-jobs-restart-'));
    let t = await startTestServer('sqlite', { home });
    try {
      await createWorkspace(t, 'dur-rg', 'dur-ws');
      const W = wsPath(t, 'dur-rg', 'dur-ws');
      const job = `${W}/jobs/survivor`;
      const ended = `${W}/jobs/ended_meanwhile`;
      assert.equal(
        (await t.request('PUT', `${job}?${V}`, commandJob('echo before; sleep 1.5; echo after'))).status,
        201,
      );
      assert.equal((await t.request('PUT', `${ended}?${V}`, commandJob('sleep 0.3; exit 5'))).status, 201);
      await waitForJob(t, job, (b) => b.properties.status === 'Running');
      await waitForJob(t, ended, (b) => b.properties.status === 'Running');
      await t.close({ keepData: true });
      await new Promise((r) => setTimeout(r, 500));
      t = await startTestServer('sqlite', { home });
      const a = await waitForJob(t, job);
      assert.equal(a.properties.status, 'Completed', JSON.stringify(a.properties.error));
      assert.equal(await userLog(t, job), 'before\nafter\n');
      const b = await waitForJob(t, ended);
      assert.equal(b.properties.status, 'Failed');
      assert.match(b.properties.error.message, /exited with code 5/);
    } finally {
      await t.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
