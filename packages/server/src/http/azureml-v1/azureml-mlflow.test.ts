import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer } from '../../testing/azure-client-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../../../..');

/**
 * The seed's `Workspace.get_mlflow_tracking_uri()` through the real azureml-core and azureml-mlflow
 * (which pins an older MLflow than the other client tests, so it has a virtual environment of its
 * own: ATELIER_TEST_AZUREML_MLFLOW_PYTHON, made by .ci/run), and the MLflow client logging through
 * that URI with azureml-mlflow's tracking store: the run is the one MLflow's REST shows.
 */
function azuremlMlflowPython(): string | undefined {
  const candidates = [
    process.env.ATELIER_TEST_AZUREML_MLFLOW_PYTHON,
    path.join(ROOT, '.ci', '.azureml-mlflow-venv', 'bin', 'python'),
  ].filter(Boolean) as string[];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found && process.env.ATELIER_TEST_STRICT === '1')
    throw new Error('ATELIER_TEST_AZUREML_MLFLOW_PYTHON is not set: the azureml-mlflow test cannot run (see .ci/run)');
  return found;
}

for (const dialect of clientDialects('postgres')) {
  describe(`azureml-core get_mlflow_tracking_uri with azureml-mlflow (${dialect})`, () => {
    let s: AzureClientServer;
    before(async () => {
      s = await startAzureClientServer(dialect, 'amlflow');
      await s.workspace('amlflow-ws');
    });
    after(async () => s?.close());

    it("gives the workspace's azureml:// tracking URI; MLflow logs at its path the run MLflow REST shows", async (tc) => {
      const py = azuremlMlflowPython();
      if (!py) return tc.skip('no Python with azureml-mlflow (set ATELIER_TEST_AZUREML_MLFLOW_PYTHON)');
      const { ok, err } = await s.steps(py, path.join(HERE, 'azureml_mlflow.py'), { WORKSPACE: 'amlflow-ws' });
      const uri = ok('get_mlflow_tracking_uri') as string;
      const host = new URL(s.server.url).host;
      assert.equal(uri, `azureml://${host}/mlflow/v2.0${s.workspaceId('amlflow-ws')}?`);
      const [runId, ...seen] = ok("MLflow over https at the URI's path") as [string, ...unknown[]];
      assert.deepEqual(seen, ['https-path', { alpha: '0.5' }, { loss: 0.25 }, 'azureml-mlflow']);
      // The same run, read over the workspace's MLflow REST at its v1.0 path by another client.
      const got = await httpsJson(
        'GET',
        `${s.server.url}/mlflow/v1.0${s.workspaceId('amlflow-ws')}/api/2.0/mlflow/runs/get?run_id=${runId}`,
        s.ca,
        s.token,
      );
      assert.equal(got.status, 200, JSON.stringify(got.body));
      assert.equal(got.body.run.info.run_name, 'https-path');
      assert.deepEqual(
        got.body.run.data.metrics.map((m: { key: string; value: number }) => [m.key, m.value]),
        [['loss', 0.25]],
      );
      // azureml-mlflow's own store fails in azureml-core before it sends a request (docs/clients.md).
      assert.match(err("MLflow through azureml-mlflow's store"), /Unsupported audience/);
    });
  });
}
