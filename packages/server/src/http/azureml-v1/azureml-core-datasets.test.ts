import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer, type Steps } from '../../testing/azure-client-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Issue 11, item 2: azureml-core's datasets (azureml-dataprep on the client) over the workspace's data assets.
for (const dialect of testDialects()) {
  describe(`azureml-core datasets (${dialect})`, () => {
    let s: AzureClientServer;
    let out: Steps;
    const ok = (k: string) => out.ok(k);
    const err = (k: string) => out.err(k);
    before(async () => {
      s = await startAzureClientServer(dialect, 'datasets');
      await s.workspace('data-ws');
      // A data asset registered through ARM (azure-ai-ml's way): azureml-core reads it as a FileDataset.
      const arm = await httpsJson(
        'PUT',
        `${s.server.url}${s.workspaceId('data-ws')}/data/arm-data/versions/1?api-version=2025-09-01`,
        s.ca,
        s.token,
        { properties: { dataType: 'uri_folder', dataUri: 'azureml://datastores/workspaceblobstore/paths/iris/' } },
      );
      assert.ok(arm.status === 200 || arm.status === 201, JSON.stringify(arm.body));
    });
    after(async () => s?.close());

    it('Datastore.upload_files/download; from_files / from_delimited_files, register, get_by_name, get_by_id, to_pandas_dataframe', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      out = await s.steps(py, path.join(HERE, 'azureml_core_datasets.py'), { WORKSPACE: 'data-ws' });
      // Datastore.upload_files / download reach the system blob datastore in the server's Blob REST
      // subset (host-style URIs under ATELIER_STORAGE_SUFFIX, a container SAS as its credential).
      assert.deepEqual(ok('datastore endpoint'), ['atelier.test', 'Sas']);
      assert.equal(ok('datastore.upload_files'), 'up');
      assert.deepEqual(ok('datastore.download'), [2, ['up/iris/README.txt', 'up/iris/iris.csv'], 3]);
      ok('Dataset.File.from_files');
      assert.deepEqual(ok('file.register'), ['iris-files', 1, true]);
      ok('Dataset.Tabular.from_delimited_files');
      assert.deepEqual(ok('tabular.register'), ['iris-table', 1]);
      assert.match(err('tabular.register (again)'), /already a dataset registered under name "iris-table"/);
      // The same definition again is the same version; a changed one the next.
      assert.deepEqual(ok('tabular.register (same, new version)'), ['iris-table', 1]);
      assert.deepEqual(ok('tabular.register (changed, new version)'), ['iris-table', 2]);
      assert.deepEqual(ok('ws.datasets'), ['arm-data', 'iris-files', 'iris-table']);
      assert.deepEqual(ok('get_by_name fields'), ['iris-table', 2, 'TabularDataset', 'iris table']);
      assert.equal(ok('Dataset.get_by_name(version)'), 1);
      assert.match(err('Dataset.get_by_name(missing)'), /no-such-dataset/);
      assert.equal(ok('Dataset.get_by_id'), 'iris-table');
      assert.deepEqual(ok('Dataset.get_all registrations'), [
        ['arm-data', 1],
        ['iris-files', 1],
        ['iris-table', 2],
      ]);
      assert.deepEqual(ok('ws.datasets[name] (made through ARM)'), ['FileDataset', 'arm-data', 1]);
      assert.deepEqual(ok('file get_by_name'), ['FileDataset', 'iris-files', { k: 'v' }]);
      // azureml-dataprep's engine (native code) reads the files itself from the datastore's host-style
      // blob URI ({account}.blob.{ATELIER_STORAGE_SUFFIX}), resolved by the system's DNS, which the
      // test's reserved suffix is not in (the Python clients' resolver is patched; the engine's is not).
      assert.match(err('to_pandas_dataframe'), /Connection failed when trying to access the stream/);

      // One store: the registered datasets are the workspace's data assets (what azure-ai-ml and the studio see).
      const W = `${s.server.url}${s.workspaceId('data-ws')}`;
      const v1 = await httpsJson('GET', `${W}/data/iris-table/versions/1?api-version=2025-09-01`, s.ca, s.token);
      assert.equal(v1.status, 200, JSON.stringify(v1.body));
      assert.equal(v1.body.properties.dataType, 'uri_file');
      assert.match(v1.body.properties.dataUri, /\/datastores\/workspaceblobstore\/paths\/iris\/iris\.csv$/);
      assert.equal(v1.body.properties.description, 'iris table');
      assert.equal(v1.body.properties.properties['azureml.v1.datasetType'], 'tabular');
      assert.match(v1.body.properties.properties['azureml.v1.definition'], /read_delimited/);
      const files = await httpsJson('GET', `${W}/data/iris-files/versions/1?api-version=2025-09-01`, s.ca, s.token);
      assert.equal(files.body.properties.dataType, 'uri_folder');

      // Bad input is refused, naming what to change, and nothing is made.
      const D = `${s.server.url}/dataset/v1.0${s.workspaceId('data-ws')}/datasets`;
      const legacy = await httpsJson('POST', D, s.ca, s.token, {
        name: 'legacy',
        datasetType: 'tabular',
        latest: { dataflow: JSON.stringify({ blocks: [{ type: 'Microsoft.DPrep.GetFilesBlock' }], meta: {} }) },
      });
      assert.equal(legacy.status, 400);
      assert.match(legacy.body.error.message, /legacy dataprep blocks/);
      const none = await httpsJson('POST', D, s.ca, s.token, { name: 'none', datasetType: 'file', latest: {} });
      assert.equal(none.status, 400);
      assert.match(none.body.error.message, /meta\.RsDataflow/);
      const elsewhere = await httpsJson('POST', D, s.ca, s.token, {
        name: 'elsewhere',
        datasetType: 'file',
        latest: {
          dataflow: JSON.stringify({
            blocks: [],
            meta: { RsDataflow: 'type: mltable\npaths:\n  - file: azureml://datastores/no-such-store/paths/a.csv\n' },
          }),
        },
      });
      assert.equal(elsewhere.status, 400);
      assert.match(elsewhere.body.error.message, /no-such-store/);
      for (const n of ['legacy', 'none', 'elsewhere'])
        assert.equal((await httpsJson('GET', `${D}/query/name=${n}`, s.ca, s.token)).status, 404, n);
    });
  });
}
