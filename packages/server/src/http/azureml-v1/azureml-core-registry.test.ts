import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer } from '../../testing/azure-client-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Issue 11: what azureml-core registers is what the other clients read (one Python process per dialect).
for (const dialect of testDialects()) {
  describe(`azureml-core registrations read back through MLflow (${dialect})`, () => {
    let s: AzureClientServer;
    let out: Record<string, { ok?: any; error?: string; trace?: string }>;
    const ok = (k: string) => {
      assert.ok(out[k], `no step ${k}`);
      assert.equal(out[k]!.error, undefined, `${k}: ${out[k]!.error}\n${out[k]!.trace ?? ''}`);
      return out[k]!.ok;
    };
    before(async () => {
      s = await startAzureClientServer(dialect, 'registry');
      await s.workspace('registry-ws');
    });
    after(async () => s?.close());

    it('runs azureml-core', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      const work = path.join(s.home, 'work');
      fs.mkdirSync(work, { recursive: true });
      out = await s.python(py, path.join(HERE, 'azureml_core_registry.py'), {
        WORKSPACE: 'registry-ws',
        WORKDIR: work,
      });
      if (process.env.ATELIER_TEST_DUMP) console.log(JSON.stringify(out, null, 1));
      ok('Workspace()');
    });

    it("Model.register: the MLflow registered model, version and files (REST and MLflow's client)", async () => {
      assert.ok(out, 'the azureml-core process did not run');
      assert.deepEqual(ok('Model.register result'), [
        'shared-clf',
        1,
        { area: 'registry' },
        'registered by azureml-core',
      ]);
      const registry = `${s.server.url}/mlflow/v1.0${s.workspaceId('registry-ws')}/api/2.0/mlflow`;
      const mv = await httpsJson('GET', `${registry}/model-versions/get?name=shared-clf&version=1`, s.ca, s.token);
      assert.equal(mv.status, 200, JSON.stringify(mv.body));
      assert.equal(mv.body.model_version.name, 'shared-clf');
      assert.equal(mv.body.model_version.version, '1');
      assert.equal(mv.body.model_version.status, 'READY');
      assert.deepEqual(ok('mlflow get_registered_model'), ['shared-clf', ['1']]);
      assert.deepEqual(ok('mlflow get_model_version'), [
        'shared-clf',
        '1',
        'registered by azureml-core',
        { area: 'registry' },
        'READY',
      ]);
      assert.deepEqual(ok('mlflow search_model_versions'), ['shared-clf:1']);
      // The files azureml-core uploaded are the version's artifacts, as MLflow downloads them.
      assert.deepEqual(ok('mlflow download_artifacts(models:/)'), {
        'model.pkl': 'model-bytes',
        'sub/conda.yaml': 'name: clf\n',
      });
      // What MLflow's client changes is what azureml-core's Model reads.
      ok('mlflow update_model_version');
      ok('mlflow set_model_version_tag');
      assert.deepEqual(ok('Model after MLflow edit'), ['edited by MLflow', { area: 'registry', checked: 'yes' }]);
    });
  });
}
