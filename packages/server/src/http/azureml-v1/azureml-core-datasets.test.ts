import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer, type Steps } from '../../testing/azure-client-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Issue 11, item 2: azureml-core's datasets (azureml-dataprep on the client) over the workspace's data assets.
for (const dialect of clientDialects('sqlite')) {
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

      // update / add_tags / remove_tags change the version the dataset object names (2), not version 1.
      assert.deepEqual(ok('dataset.update'), [2, 'iris, edited', { stage: 'dev' }]);
      assert.deepEqual(ok('dataset.add_tags'), { stage: 'dev', team: 'flowers' });
      assert.match(err('dataset.add_tags (different value)'), /different values for tags .*stage/);
      assert.deepEqual(ok('dataset.remove_tags'), { team: 'flowers' });
      assert.deepEqual(ok('get_by_name after edits'), [2, 'iris, edited', { team: 'flowers' }]);
      assert.deepEqual(ok('get_by_name(version=1) untouched'), ['iris table', {}]);
      assert.deepEqual(ok('dataset.update (clear)'), ['', {}]);
      // unregister_all_versions archives the data asset and its versions; the name can be registered again.
      assert.deepEqual(ok('register to-drop'), [1, 2]);
      ok('unregister_all_versions');
      assert.match(err('get_by_name after unregister'), /Cannot find dataset registered with name "to-drop"/);
      assert.deepEqual(ok('ws.datasets after unregister'), ['arm-data', 'iris-files', 'iris-table']);
      assert.deepEqual(ok('register again after unregister'), ['to-drop', 3]);

      // Saved (unregistered) datasets: anonymous data asset versions named by their definition's hash.
      assert.equal(ok('unregistered dataset.id (before saving)'), null);
      const savedId = ok('dataset._ensure_saved');
      assert.match(savedId, /^[A-Za-z0-9_-]+$/);
      assert.equal(ok('dataset.id (saved)'), true);
      assert.equal(ok('_ensure_saved (same definition again)'), true);
      assert.deepEqual(ok('Dataset.get_by_id (saved)'), ['TabularDataset', null, null, true]);
      assert.deepEqual(ok('ws.datasets (saved ones not listed)'), ['arm-data', 'iris-files', 'iris-table', 'to-drop']);
      assert.deepEqual(ok('Model.register(datasets=[unregistered])'), [
        'with-data',
        1,
        { training: [['FileDataset', null, true]] },
      ]);
      assert.deepEqual(ok('register a saved dataset'), ['from-saved', 1]);

      // One store: the registered datasets are the workspace's data assets (what azure-ai-ml and the studio see).
      const W = `${s.server.url}${s.workspaceId('data-ws')}`;
      const edited = await httpsJson('GET', `${W}/data/iris-table/versions/2?api-version=2025-09-01`, s.ca, s.token);
      assert.equal(edited.body.properties.description, 'iris, edited');
      assert.deepEqual(edited.body.properties.tags, { team: 'flowers' });
      const dropped = await httpsJson(
        'GET',
        `${W}/data/to-drop/versions?api-version=2025-09-01&listViewType=All`,
        s.ca,
        s.token,
      );
      assert.deepEqual(dropped.body.value.map((v: any) => [v.name, v.properties.isArchived]).sort(), [
        ['1', true],
        ['2', true],
        ['3', false],
      ]);
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
      // A bad update is refused and changes nothing; a tag on the data asset itself (set through ARM) is named.
      const id = encodeURIComponent(`${s.workspaceId('data-ws')}/data/iris-table`);
      const badTags = await httpsJson('PUT', `${D}/${id}`, s.ca, s.token, { name: 'iris-table', tags: { n: 1 } });
      assert.equal(badTags.status, 400, JSON.stringify(badTags.body));
      assert.match(badTags.body.error.message, /tags must be an object of strings/);
      const renamed = await httpsJson('PUT', `${D}/${id}`, s.ca, s.token, { name: 'other', tags: {} });
      assert.equal(renamed.status, 400);
      assert.match(renamed.body.error.message, /cannot be renamed/);
      const c = await httpsJson('PUT', `${W}/data/iris-table?api-version=2025-09-01`, s.ca, s.token, {
        properties: { dataType: 'uri_file', tags: { owner: 'lab' } },
      });
      assert.equal(c.status, 200, JSON.stringify(c.body));
      const lost = await httpsJson('PUT', `${D}/${id}`, s.ca, s.token, { name: 'iris-table', tags: {} });
      assert.equal(lost.status, 400);
      assert.match(lost.body.error.message, /'owner' is on the data asset 'iris-table' itself/);
      const after = await httpsJson('GET', `${W}/data/iris-table/versions/2?api-version=2025-09-01`, s.ca, s.token);
      assert.deepEqual(after.body.properties.tags, { team: 'flowers' });
      const savedAsset = Buffer.from(savedId, 'base64url').toString('utf8').split(':')[0];
      const anon = await httpsJson('GET', `${W}/data/${savedAsset}/versions/1?api-version=2025-09-01`, s.ca, s.token);
      assert.equal(anon.status, 200, JSON.stringify(anon.body));
      assert.equal(anon.body.properties.isAnonymous, true);
      // A saved dataset is checked as a registration is; a refused one makes nothing.
      const S = `${s.server.url}/dataset/v1.0${s.workspaceId('data-ws')}/saveddatasets`;
      const before = await httpsJson('GET', `${W}/data?api-version=2025-09-01`, s.ca, s.token);
      const badSaved = await httpsJson('POST', S, s.ca, s.token, {
        datasetType: 'file',
        dataflowJson: JSON.stringify({ blocks: [{ type: 'Microsoft.DPrep.GetFilesBlock' }], meta: {} }),
      });
      assert.equal(badSaved.status, 400);
      assert.match(badSaved.body.error.message, /legacy dataprep blocks/);
      const noType = await httpsJson('POST', S, s.ca, s.token, { dataflowJson: '{}' });
      assert.equal(noType.status, 400);
      assert.match(noType.body.error.message, /datasetType must be 'file' or 'tabular'/);
      const afterBad = await httpsJson('GET', `${W}/data?api-version=2025-09-01`, s.ca, s.token);
      assert.equal(afterBad.body.value.length, before.body.value.length);
      for (const n of ['legacy', 'none', 'elsewhere'])
        assert.equal((await httpsJson('GET', `${D}/query/name=${n}`, s.ca, s.token)).status, 404, n);
    });
  });
}
