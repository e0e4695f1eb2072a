import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../testing/harness.js';
import { startAzureClientServer, type AzureClientServer } from '../testing/azure-client-server.js';
import { clientPython, httpsJson } from '../testing/tls-clients.js';
import { findUv } from '../environment-builds/environment-builds.js';
import { ROOT } from './testing.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * azure-ai-ml 1.35.2 drives computes and command jobs as a user runs them (its own process, HTTPS
 * with the server's CA, a service principal): `compute.begin_create_or_update(AmlCompute(…))`,
 * get, list, begin_delete; an environment built with uv; `jobs.create_or_update(command(code=…,
 * inputs, outputs, environment, compute))` — its code uploaded through startPendingUpload and Blob
 * REST — then `jobs.stream` (prints the log, returns at the end), get, list, `download(all=True)`,
 * and `begin_cancel` of a running job (202 + the LRO headers it polls, done once the job is Canceled).
 */
const python = clientPython();
const uvPath = findUv() ?? [path.join(ROOT, '.ci', '.venv', 'bin', 'uv')].find((p) => fs.existsSync(p));
const skip = !python ? 'no Python with azure-ai-ml (ATELIER_TEST_PYTHON)' : !uvPath ? 'uv is not installed' : undefined;
if (skip && process.env.ATELIER_TEST_STRICT === '1') throw new Error(skip);

for (const dialect of clientDialects('postgres')) {
  describe(`azure-ai-ml computes and jobs (${dialect})`, { skip }, () => {
    let s: AzureClientServer;
    const saved = process.env.ATELIER_UV;
    before(async () => {
      process.env.ATELIER_UV = uvPath;
      s = await startAzureClientServer(dialect, 'aiml-jobs');
      await s.workspace('aiml-jobs-ws');
    });
    after(async () => {
      await s?.close();
      if (saved === undefined) delete process.env.ATELIER_UV;
      else process.env.ATELIER_UV = saved;
    });

    it('creates a compute, runs a job from local code, streams, reads, lists, downloads, cancels a running job', async () => {
      const src = path.join(s.home, 'project', 'src');
      fs.mkdirSync(src, { recursive: true });
      fs.writeFileSync(
        path.join(src, 'train.py'),
        [
          'import argparse, os, six',
          'p = argparse.ArgumentParser()',
          'p.add_argument("--x", type=int)',
          'p.add_argument("--out")',
          'a = p.parse_args()',
          'print("training with x =", a.x, "six", six.__version__, flush=True)',
          'open(os.path.join(a.out, "model.txt"), "w").write(str(a.x * 2))',
          'print("done", flush=True)',
          '',
        ].join('\n'),
      );
      const out = await s.python(python!, path.join(HERE, 'clients', 'azure_ai_ml_jobs.py'), {
        WORKSPACE: 'aiml-jobs-ws',
        CODE_DIR: src,
        DOWNLOAD_DIR: path.join(s.home, 'downloads'),
      });
      const ok = (step: string) => {
        const r = out[step];
        assert.ok(r && 'ok' in r, `${step}: ${JSON.stringify(r, null, 1)}`);
        return r.ok;
      };
      assert.deepEqual(ok('compute_create'), {
        name: 'cpu-cluster',
        type: 'amlcompute',
        size: 'Standard_DS2_v2',
        min: 0,
        max: 2,
        idle: 120,
        state: 'Succeeded',
      });
      assert.equal(ok('compute_get').size, 'Standard_DS2_v2');
      assert.deepEqual(ok('compute_list'), ['cpu-cluster']);
      assert.equal(ok('environment'), '1');
      const created = ok('job_created');
      assert.ok(['Queued', 'Preparing', 'Starting', 'Running', 'NotStarted'].includes(created.status), created.status);
      const log = ok('stream');
      assert.match(log, /training with x = 3 six 1\.17\.0/);
      assert.match(log, /Execution Summary/);
      const job = ok('job_get');
      assert.equal(job.status, 'Completed');
      assert.equal(job.name, created.name);
      assert.equal(job.experiment, 'aiml-jobs');
      assert.deepEqual(job.outputs, {
        model: `azureml://datastores/workspaceblobstore/paths/azureml/${created.name}/model/`,
      });
      assert.ok(ok('job_list').includes(created.name));
      // The job's MLflow run is the job: its run id is the job's name.
      const run = await httpsJson(
        'GET',
        `${s.server.url}/mlflow/v1.0${s.workspaceId('aiml-jobs-ws')}/api/2.0/mlflow/runs/get?run_id=${created.name}`,
        s.ca,
        s.token,
      );
      assert.equal(run.status, 200, JSON.stringify(run.body));
      assert.equal(run.body.run.info.status, 'FINISHED');
      // jobs.download(all=True): named outputs (rundata → batchGetResolvedUris → Blob REST) and the
      // logs (workspaceartifactstore, ExperimentRun/dcid.{job}/).
      const files: string[] = ok('download');
      assert.ok(files.includes('named-outputs/model/model.txt'), files.join(', '));
      assert.equal(fs.readFileSync(path.join(s.home, 'downloads', 'named-outputs', 'model', 'model.txt'), 'utf8'), '6');
      assert.ok(files.includes('artifacts/user_logs/std_log.txt'), files.join(', '));
      assert.match(
        fs.readFileSync(path.join(s.home, 'downloads', 'artifacts', 'user_logs', 'std_log.txt'), 'utf8'),
        /training with x = 3/,
      );
      assert.deepEqual(ok('cancel'), { done: true, status: 'Canceled' });
      assert.deepEqual(ok('compute_delete'), []);
    });
  });
}
