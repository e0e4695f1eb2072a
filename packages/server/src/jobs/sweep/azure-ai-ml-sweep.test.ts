import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { startAzureClientServer, type AzureClientServer } from '../../testing/azure-client-server.js';
import { clientPython } from '../../testing/tls-clients.js';
import { pythonWith } from '../testing.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * azure-ai-ml 1.35.2 submits a sweep as its users write one: `command(code=…, inputs={"x":
 * Choice([1, 2, 3])}).sweep(sampling_algorithm="grid", primary_metric, goal, BanditPolicy)` with
 * limits; the trials run the uploaded code and log the metric; `jobs.get` reads the SweepJob back
 * and `jobs.list(parent_job_name=…)` lists its trials.
 */
const python = clientPython();
const jobsPython = pythonWith([]);
const skip = !python ? 'no Python with azure-ai-ml (ATELIER_TEST_PYTHON)' : jobsPython.skip;
if (skip && process.env.ATELIER_TEST_STRICT === '1') throw new Error(skip);
if (jobsPython.python) process.env.ATELIER_JOBS_PYTHON = jobsPython.python;

for (const dialect of clientDialects('sqlite')) {
  describe(`azure-ai-ml sweep jobs (${dialect})`, { skip }, () => {
    let s: AzureClientServer;
    before(async () => {
      s = await startAzureClientServer(dialect, 'aiml-sweep');
      await s.workspace('aiml-sweep-ws');
    });
    after(async () => s?.close());

    it('command(...).sweep(...) runs its trials and finds the best', async () => {
      const src = path.join(s.home, 'project', 'src');
      fs.mkdirSync(src, { recursive: true });
      fs.writeFileSync(
        path.join(src, 'train.py'),
        [
          '# Logs acc through MLflow REST with the job variables (what mlflow.log_metric does).',
          'import argparse, json, os, time, urllib.request',
          'p = argparse.ArgumentParser()',
          'p.add_argument("--x", type=int)',
          'a = p.parse_args()',
          'body = json.dumps({"run_id": os.environ["MLFLOW_RUN_ID"], "key": "acc", "value": 1 - abs(a.x - 2) / 10,',
          '                   "timestamp": int(time.time() * 1000), "step": 0}).encode()',
          'req = urllib.request.Request(os.environ["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow/runs/log-metric", data=body,',
          '    headers={"Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"], "Content-Type": "application/json"})',
          'urllib.request.urlopen(req).read()',
          'print("x =", a.x)',
          '',
        ].join('\n'),
      );
      const out = await s.python(python!, path.join(HERE, 'clients', 'azure_ai_ml_sweep.py'), {
        WORKSPACE: 'aiml-sweep-ws',
        CODE_DIR: src,
      });
      const ok = (step: string) => {
        const r = out[step];
        assert.ok(r && 'ok' in r, `${step}: ${JSON.stringify(r, null, 1)}`);
        return r.ok;
      };
      assert.equal(ok('created').type, 'sweep');
      const done = ok('wait');
      assert.deepEqual(done, {
        type: 'sweep',
        status: 'Completed',
        goal: 'maximize',
        metric: 'acc',
        sampling: 'grid',
        max_total_trials: 3,
        best_trial: `${ok('created').name}_1`,
        search_space: ['x'],
      });
      const name = ok('created').name;
      assert.deepEqual(ok('trials'), [
        [`${name}_0`, 'Completed'],
        [`${name}_1`, 'Completed'],
        [`${name}_2`, 'Completed'],
      ]);
    });
  });
}
