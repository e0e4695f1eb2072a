import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testDialects } from '../testing/harness.js';
import { startAzureClientServer, STORAGE_SUFFIX, type AzureClientServer } from '../testing/azure-client-server.js';
import { httpsJson } from '../testing/tls-clients.js';
import { pythonWith } from './testing.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const V = 'api-version=2025-09-01';

/**
 * azureml-core inside a job: a command job (local executor, a Python with azureml-core 1.61) runs
 * a script that calls `Run.get_context()` — not an offline run — then `run.log`, `log_list`, `tag`,
 * `add_properties`, `upload_file`; what it logged is the job's MLflow run (read back through
 * MLflow's REST API), with the job's own workspace-scoped token.
 */
const py = pythonWith(['azureml.core']);
if (py.python) process.env.ATELIER_JOBS_PYTHON = py.python;

for (const dialect of testDialects()) {
  describe(`azureml-core Run.get_context() in a job (${dialect})`, { skip: py.skip }, () => {
    let s: AzureClientServer;
    let W: string;
    before(async () => {
      s = await startAzureClientServer(dialect, 'v1ctx');
      await s.workspace('v1ctx-ws');
      W = s.workspaceId('v1ctx-ws');
    });
    after(async () => s?.close());

    const call = (method: string, p: string, body?: unknown) =>
      httpsJson(method, `${s.server.url}${p}`, s.ca, s.token, body);

    async function waitForJob(job: string): Promise<any> {
      for (let i = 0; i < 2400; i++) {
        const r = await call('GET', `${job}?${V}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        if (['Completed', 'Failed', 'Canceled'].includes(r.body.properties.status)) return r.body;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`job ${job} did not end`);
    }

    it("logs metrics, tags, properties and files into the job's own run", async () => {
      const job = `${W}/jobs/v1_train_1`;
      const script = path.join(HERE, 'clients', 'azureml_core_run_context.py');
      const put = await call('PUT', `${job}?${V}`, {
        properties: {
          jobType: 'Command',
          command: `python ${script}`,
          experimentName: 'v1-in-a-job',
          environmentVariables: { ATELIER_STORAGE_SUFFIX: STORAGE_SUFFIX },
        },
      });
      assert.equal(put.status, 201, JSON.stringify(put.body));
      const done = await waitForJob(job);
      const log = await call('GET', `${job}/logs/files/user_logs/std_log.txt`);
      assert.equal(done.properties.status, 'Completed', String(log.body));
      const line = String(log.body)
        .split('\n')
        .find((l) => l.startsWith('RESULT '));
      assert.ok(line, String(log.body));
      const results = JSON.parse(line.slice('RESULT '.length));
      const ok = (k: string) => {
        assert.ok(results[k], `no step ${k}`);
        assert.equal(results[k].error, undefined, `${k}: ${results[k].error}\n${results[k].trace ?? ''}`);
        return results[k].ok;
      };
      assert.deepEqual(ok('context'), { type: '_SubmittedRun', id: 'v1_train_1' });
      assert.equal(ok('experiment'), 'v1-in-a-job');
      assert.equal(ok('workspace'), 'v1ctx-ws');
      assert.equal(ok('same_context'), 'v1_train_1');
      for (const k of ['log', 'log_list', 'tag', 'add_properties', 'flush']) ok(k);
      assert.deepEqual(ok('upload_file'), ['outputs/weights.txt']);
      assert.deepEqual(ok('get_metrics'), { accuracy: 0.91, losses: [0.5, 0.25, 0.125] });
      assert.equal(ok('status'), 'Running');

      // The same run through MLflow's REST API: the job's run, its metrics, tag and file.
      const mlflow = `/mlflow/v1.0${W}/api/2.0/mlflow`;
      const run = await call('GET', `${mlflow}/runs/get?run_id=v1_train_1`);
      assert.equal(run.status, 200, JSON.stringify(run.body));
      assert.equal(run.body.run.info.status, 'FINISHED');
      const exp = await call('GET', `${mlflow}/experiments/get-by-name?experiment_name=v1-in-a-job`);
      assert.equal(run.body.run.info.experiment_id, exp.body.experiment.experiment_id);
      const metrics = Object.fromEntries(run.body.run.data.metrics.map((m: any) => [m.key, m.value]));
      assert.equal(metrics.accuracy, 0.91);
      assert.equal(metrics.losses, 0.125);
      const history = await call('GET', `${mlflow}/metrics/get-history?run_id=v1_train_1&metric_key=losses`);
      assert.deepEqual(
        history.body.metrics.map((m: any) => m.value),
        [0.5, 0.25, 0.125],
      );
      const tags = Object.fromEntries(run.body.run.data.tags.map((t: any) => [t.key, t.value]));
      assert.equal(tags.stage, 'trained');
      assert.equal(tags['azureml.property.framework'], 'numpy');
      const files = await call('GET', `${mlflow}/artifacts/list?run_id=v1_train_1&path=outputs`);
      assert.deepEqual(
        files.body.files.map((f: any) => f.path),
        ['outputs/weights.txt'],
      );
    });
  });
}
