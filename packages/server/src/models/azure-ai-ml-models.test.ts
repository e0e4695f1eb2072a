import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../testing/harness.js';
import { clientPython, httpsJson } from '../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer } from '../testing/azure-client-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Issue 11, item 3: azure-ai-ml's ml_client.models over ARM W/models, the same registry as MLflow's.
for (const dialect of clientDialects('postgres')) {
  describe(`azure-ai-ml models over the one registry (${dialect})`, () => {
    let s: AzureClientServer;
    let mlflow: string;
    before(async () => {
      s = await startAzureClientServer(dialect, 'models');
      await s.workspace('models-ws');
      mlflow = `${s.server.url}/mlflow/v1.0${s.workspaceId('models-ws')}/api/2.0/mlflow`;
      const r = await httpsJson('POST', `${mlflow}/registered-models/create`, s.ca, s.token, { name: 'from-mlflow' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const v = await httpsJson('POST', `${mlflow}/model-versions/create`, s.ca, s.token, {
        name: 'from-mlflow',
        source: 'mlflow-artifacts:/0/models/x/artifacts',
        description: 'logged by MLflow',
      });
      assert.equal(v.status, 200, JSON.stringify(v.body));
    });
    after(async () => s?.close());

    it('create_or_update, get, list, archive/restore; MLflow sees the versions and their files', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azure-ai-ml (set ATELIER_TEST_PYTHON)');
      const { ok, err } = await s.steps(py, path.join(HERE, 'clients', 'azure_ai_ml_models.py'), {
        WORKSPACE: 'models-ws',
        MLFLOW_MODEL: 'from-mlflow',
      });
      assert.match(ok('upload'), /^azureml:\/\/datastores\/workspaceblobstore\/paths\/LocalUpload\//);
      assert.deepEqual(ok('create_or_update'), ['clf', '1', { team: 'vision' }, 'a classifier', 'custom_model']);
      assert.equal(ok('create_or_update(next version)'), '2');
      assert.match(err('create_or_update(not a number)'), /whole numbers/);
      const got = ok('get');
      assert.deepEqual(got.slice(0, 3), ['1', { team: 'vision' }, '0.9']);
      assert.match(got[3], /datastores\/workspaceblobstore\/paths\/LocalUpload\/.+\/clf$/);
      assert.equal(ok('get(label=latest)'), '2');
      assert.deepEqual(ok('list'), ['clf', 'from-mlflow']);
      assert.deepEqual(ok('list(name)'), ['2', '1']);
      ok('archive');
      assert.deepEqual(ok('list(name) after archive'), ['2']);
      ok('restore');
      assert.deepEqual(ok('update tags'), { team: 'nlp' });
      const local = ok('create_or_update(local folder)');
      assert.deepEqual(local.slice(0, 2), ['local-model', '1']);
      assert.match(local[2], /datastores\/workspaceblobstore\/paths\/LocalUpload\/[0-9a-f]+\/local-model\/?$/);
      // azure-ai-ml downloads into {download_path}/{model name}/, as from Azure.
      assert.deepEqual(ok('download'), [
        'local-model/local-model/sub/config.json',
        'local-model/local-model/weights.bin',
      ]);
      const train = ok('data.create_or_update(local file)');
      assert.deepEqual(train.slice(0, 2), ['train', '1']);
      assert.match(train[2], /datastores\/workspaceblobstore\/paths\/LocalUpload\/[0-9a-f]+\/train\.csv$/);
      assert.match(ok('data.create_or_update(local folder)')[2], /\/local-model\/?$/);
      assert.equal(ok('data.get'), train[2]);
      assert.deepEqual(ok('get(mlflow model)'), ['from-mlflow', '1', 'logged by MLflow', 'workspaceartifactstore']);

      // The same registry: MLflow lists the model azure-ai-ml made, with its tags, and reads its files.
      const search = await httpsJson('GET', `${mlflow}/registered-models/search`, s.ca, s.token);
      assert.deepEqual(search.body.registered_models.map((m: any) => m.name).sort(), [
        'clf',
        'from-mlflow',
        'local-model',
      ]);
      const mv = await httpsJson('GET', `${mlflow}/model-versions/get?name=clf&version=1`, s.ca, s.token);
      assert.equal(mv.body.model_version.description, 'a classifier');
      assert.deepEqual(mv.body.model_version.tags, [{ key: 'team', value: 'nlp' }]);
      const uri = await httpsJson('GET', `${mlflow}/model-versions/get-download-uri?name=clf&version=1`, s.ca, s.token);
      const folder = String(uri.body.artifact_uri).replace(/^mlflow-artifacts:\//, '');
      assert.match(folder, /^registry\/[0-9a-f]{32}$/);
      const listing = await httpsJson(
        'GET',
        `${s.server.url}/mlflow/v1.0${s.workspaceId('models-ws')}/api/2.0/mlflow-artifacts/artifacts?path=${folder}`,
        s.ca,
        s.token,
      );
      assert.deepEqual(listing.body.files.map((f: any) => f.path).sort(), ['conda.yaml', 'model.pkl']);
    });
  });
}
