import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer, type Steps } from '../../testing/azure-client-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Issue 11: azureml-core's environment labels (a label names one version; moving it moves it).
for (const dialect of clientDialects('sqlite')) {
  describe(`azureml-core environment labels (${dialect})`, () => {
    let s: AzureClientServer;
    let out: Steps;
    const ok = (k: string) => out.ok(k);
    const error = (k: string) => out.err(k);
    before(async () => {
      s = await startAzureClientServer(dialect, 'envlabels');
      await s.workspace('label-ws');
    });
    after(async () => s?.close());

    it('Environment.label, Environment.get(label=…), azure-ai-ml get(label="latest")', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      out = await s.steps(py, path.join(HERE, 'azureml_core_environment_labels.py'), {
        WORKSPACE: 'label-ws',
      });
      assert.deepEqual(
        ['register 1', 'register 2', 'register 3'].map((k) => ok(k)),
        ['1', '2', '3'],
      );
      assert.equal(ok('Environment.label(1, [production, stable])'), null);
      assert.deepEqual(ok('get(label=production)'), ['1', 'one']);
      assert.deepEqual(ok('get(label=stable)'), ['1', 'one']);
      assert.deepEqual(ok('get(label=latest)'), ['3', 'three']);
      ok('Environment.label(2, [production])');
      assert.deepEqual(ok('get(label=production) after move'), ['2', 'two']);
      assert.deepEqual(ok('get(label=stable) after move'), ['1', 'one']);
      ok('Environment.label(1, [])');
      assert.match(error('get(label=stable) after clearing'), /Code: 404[\s\S]*no version labelled 'stable'/);
      assert.match(error('get(label=missing)'), /Code: 404[\s\S]*no version labelled 'no-such-label'/);
      assert.match(error('Environment.label(missing version)'), /Code: 404[\s\S]*version '9'/);
      assert.match(error('Environment.label(latest)'), /Code: 400[\s\S]*'latest' always names the newest version/);
      assert.match(error('Environment.label(bad name)'), /Code: 400[\s\S]*label \\?"no spaces\\?" is invalid/);
      assert.match(error('get(version and label)'), /Only one of version or label/);
      // azure-ai-ml resolves 'latest' itself (the newest version, the same as azureml-core's) and
      // refuses any other label before sending (docs/clients.md).
      assert.equal(ok('ml_client.environments.get(label=latest)'), '3');
      assert.match(error('ml_client.environments.get(label=production)'), /version label production does not exist/);
      // Unserved, saying why (docs/clients.md): no container registry.
      assert.match(error('env.get_image_details'), /Code: 501[\s\S]*describes a container image in a registry/);
      // Run files in a datastore are served now (azureml-core-run-files.test.ts proves where they go).
      ok('run.upload_file(datastore_name=workspaceblobstore)');

      // A refused label change changed nothing: production still names 2.
      const E = `${s.server.url}/environment/v1.0${s.workspaceId('label-ws')}/environments/labelled`;
      const still = await httpsJson('GET', `${E}/labels/production`, s.ca, s.token);
      assert.equal(still.status, 200, JSON.stringify(still.body));
      assert.equal(still.body.version, '2');
      const notList = await httpsJson('PUT', `${E}/versions/1/metadata`, s.ca, s.token, { Labels: 'production' });
      assert.equal(notList.status, 400);
      assert.match(notList.body.error.message, /Labels must be a list/);
      assert.equal((await httpsJson('GET', `${E}/labels/production`, s.ca, s.token)).body.version, '2');
    });

    it('a label of a deleted version names nothing, also after the version is made again', async () => {
      const W = `${s.server.url}${s.workspaceId('label-ws')}`;
      const E = `${s.server.url}/environment/v1.0${s.workspaceId('label-ws')}/environments/gone`;
      const body = { properties: { image: 'python:3.11-slim' } };
      const V = `${W}/environments/gone/versions/1?api-version=2025-09-01`;
      assert.ok([200, 201].includes((await httpsJson('PUT', V, s.ca, s.token, body)).status));
      const set = await httpsJson('PUT', `${E}/versions/1/metadata`, s.ca, s.token, { Labels: ['blue'] });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.equal((await httpsJson('GET', `${E}/labels/blue`, s.ca, s.token)).status, 200);
      assert.equal((await httpsJson('DELETE', V, s.ca, s.token)).status, 200);
      assert.equal((await httpsJson('GET', `${E}/labels/blue`, s.ca, s.token)).status, 404);
      assert.ok([200, 201].includes((await httpsJson('PUT', V, s.ca, s.token, body)).status));
      const again = await httpsJson('GET', `${E}/labels/blue`, s.ca, s.token);
      assert.equal(again.status, 404, JSON.stringify(again.body));
    });
  });
}
