import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, STORAGE_SUFFIX, type AzureClientServer } from '../../testing/azure-client-server.js';
import { startConnectProxy, type ConnectProxy } from '../../testing/connect-proxy.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** FUSE, which `FileDataset.mount()` needs (the CI machine has it; a container may not). */
const HAS_FUSE = fs.existsSync('/dev/fuse');

// Issue 11: azureml-dataprep's native engine (rslex) reads registered datasets' files for real. It
// resolves the datasets' azureml:// paths through the server (/data/v1.0 dataversion, the v1 datastore
// with its SAS), then reads `https://{account}.blob.{ATELIER_STORAGE_SUFFIX}:{port}` through its own
// resolver. The test's reserved suffix has no DNS record, so a CONNECT proxy (`https_proxy`, which the
// engine honours) stands in for the wildcard record a deployment has; SSL_CERT_FILE trusts the test CA.
for (const dialect of clientDialects('postgres')) {
  describe(`azureml-dataprep reads datasets (${dialect})`, () => {
    let s: AzureClientServer;
    let proxy: ConnectProxy;
    before(async () => {
      s = await startAzureClientServer(dialect, 'dataprep');
      await s.workspace('dp-ws');
      // A data asset registered through ARM (azure-ai-ml's way) with the short azureml://datastores/… URI.
      const arm = await httpsJson(
        'PUT',
        `${s.server.url}${s.workspaceId('dp-ws')}/data/dp-arm/versions/1?api-version=2025-09-01`,
        s.ca,
        s.token,
        {
          properties: {
            dataType: 'uri_folder',
            dataUri: 'azureml://datastores/workspaceblobstore/paths/dp/iris/more/',
          },
        },
      );
      assert.ok(arm.status === 200 || arm.status === 201, JSON.stringify(arm.body));
      const { port } = new URL(s.server.url);
      proxy = await startConnectProxy(STORAGE_SUFFIX, { host: '127.0.0.1', port: Number(port) });
    });
    after(async () => {
      await proxy?.close();
      await s?.close();
    });

    it('to_path, download, mount, to_pandas_dataframe (inferred types), validate=True, take, skip, filter', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      const { ok, err } = await s.steps(py, path.join(HERE, 'azureml_dataprep_read.py'), {
        WORKSPACE: 'dp-ws',
        // rslex reads the lower-case names only; the Python clients read them too (and go direct to
        // the server's own address).
        https_proxy: proxy.url,
        no_proxy: '127.0.0.1,localhost',
        ...(HAS_FUSE ? { DP_MOUNT: '1' } : {}),
      });
      assert.equal(ok('upload'), 'dp');
      assert.equal(ok('file.register'), 1);
      // FileDataset: the files below the folder, read by the engine from the Blob REST subset.
      assert.deepEqual(ok('file.to_path'), ['/README.txt', '/a.csv', '/more/b.csv']);
      assert.deepEqual(ok('file.download'), ['README.txt', 'a.csv', 'more/b.csv']);
      assert.equal(ok('file.download content'), 'sepal_length,sepal_width,species,seen\n4.9,3.0,setosa,2024-04-05\n');
      assert.deepEqual(ok('file.take(2).to_path'), ['/README.txt', '/a.csv']);
      assert.deepEqual(ok('file.skip(2).to_path'), ['/more/b.csv']);
      assert.deepEqual(ok('from_files(validate) single file'), ['/a.csv']);
      assert.deepEqual(ok('ARM data asset to_path'), ['/b.csv']);
      // Nothing there: the engine's own "not found" (Blob REST 404 / an empty listing), as with Azure.
      assert.match(err('missing file download'), /requested stream was not found/);
      assert.match(err('missing folder to_path'), /requested stream was not found/);
      // TabularDataset: validate=True reads the files when the dataset is made; types are inferred.
      assert.equal(ok('tabular.register'), 1);
      assert.deepEqual(ok('to_pandas_dataframe'), [
        ['sepal_length', 'sepal_width', 'species', 'seen'],
        ['float64', 'float64', 'str', 'datetime64[ns]'],
        [
          [5.1, 3.5, 'setosa', '2024-01-02 00:00:00'],
          [7, 3.2, 'versicolor', '2024-02-03 00:00:00'],
          [6.3, 3.3, 'virginica', '2024-03-04 00:00:00'],
          [4.9, 3, 'setosa', '2024-04-05 00:00:00'],
        ],
      ]);
      assert.deepEqual(ok('to_pandas_dataframe (no inference)'), [
        ['str', 'str', 'str', 'str'],
        [
          ['5.1', '3.5', 'setosa', '2024-01-02'],
          ['7.0', '3.2', 'versicolor', '2024-02-03'],
          ['6.3', '3.3', 'virginica', '2024-03-04'],
        ],
      ]);
      assert.deepEqual(ok('take(2)'), ['setosa', 'versicolor']);
      assert.deepEqual(ok('skip(3)'), ['setosa']);
      assert.deepEqual(ok('filter'), ['versicolor', 'virginica']);
      if (HAS_FUSE) assert.deepEqual(ok('file mount'), [['README.txt', 'a.csv', 'more'], 4]);
      else if (process.env.ATELIER_TEST_STRICT === '1')
        assert.fail('/dev/fuse is missing: FileDataset.mount() cannot be tested');
      else tc.diagnostic('no /dev/fuse: FileDataset.mount() not tried');
      // The engine reached the storage account's host-style name (through the stand-in for DNS) only.
      assert.ok(proxy.tunnels.length > 0, 'the engine never reached the blob host');
      for (const t of proxy.tunnels)
        assert.match(t, new RegExp(`^[a-z0-9]+\\.blob\\.${STORAGE_SUFFIX.replace('.', '\\.')}:\\d+$`));
    });

    // Authorisation does not depend on the store: one dialect. (It reads `dp-files` and `dp-table`,
    // registered by the test above.)
    if (dialect === 'sqlite')
      it('a Reader reads datasets through the engine (a read-only SAS, no key) and changes nothing (403 naming the role)', async (tc) => {
        const py = clientPython();
        if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
        const ctx = s.server.ctx;
        const { principal, secret } = await ctx.principals.createServicePrincipal('dp-reader');
        await ctx.access.assign(principal.id, s.workspaceId('dp-ws'), 'Reader', null);
        const reader = await s.steps(py, path.join(HERE, 'azureml_dataprep_read.py'), {
          WORKSPACE: 'dp-ws',
          DP_READER: '1',
          AZURE_CLIENT_ID: principal.name,
          AZURE_CLIENT_SECRET: secret.value,
          https_proxy: proxy.url,
          no_proxy: '127.0.0.1,localhost',
        });
        assert.ok(reader.ok('reader ws.datasets').includes('dp-files'));
        assert.deepEqual(reader.ok('reader to_path'), ['/README.txt', '/a.csv', '/more/b.csv']);
        assert.deepEqual(reader.ok('reader to_pandas_dataframe'), ['setosa', 'versicolor', 'virginica', 'setosa']);
        // No key: a SAS that reads and lists only (the Blob REST subset refuses a write with it).
        assert.deepEqual(reader.ok('reader Datastore.get'), [null, 'rl']);
        assert.equal(reader.ok('reader upload'), 0, 'nothing was written with the read-only SAS');
        for (const write of ['reader register', 'reader update', 'reader unregister_all_versions'])
          assert.match(reader.err(write), /assets\/write[\s\S]*Reader/, write);
        const still = await httpsJson(
          'GET',
          `${s.server.url}${s.workspaceId('dp-ws')}/data/dp-files?api-version=2025-09-01`,
          s.ca,
          s.token,
        );
        assert.equal(still.status, 200, 'the dataset is still registered');
        assert.equal(
          (
            await httpsJson(
              'GET',
              `${s.server.url}${s.workspaceId('dp-ws')}/data/reader-files?api-version=2025-09-01`,
              s.ca,
              s.token,
            )
          ).status,
          404,
        );
      });
  });
}
