import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer } from '../../testing/azure-client-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Issue 11: run.upload_file(…, datastore_name=…) — a run file kept in a datastore, seen by azureml-core,
// MLflow and the datastore alike.
for (const dialect of clientDialects('postgres')) {
  describe(`azureml-core run files in a datastore (${dialect})`, () => {
    let s: AzureClientServer;
    before(async () => {
      s = await startAzureClientServer(dialect, 'runfiles');
      await s.workspace('files-ws');
    });
    after(async () => s?.close());

    it('upload_file/upload_folder(datastore_name=…), get_file_names, download_file(s); MLflow list/download; Datastore.download', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      const out = await s.steps(py, path.join(HERE, 'azureml_core_run_files.py'), { WORKSPACE: 'files-ws' });
      const ok = (k: string) => out.ok(k);
      const err = (k: string) => out.err(k);
      const runId = ok('run.id');
      assert.deepEqual(ok('run.upload_file(datastore_name=workspaceblobstore)'), [
        'outputs/metrics.json',
        'workspaceblobstore',
        `ExperimentRun/dcid.${runId}/outputs/metrics.json`,
      ]);
      assert.equal(ok('run.upload_folder(datastore_name=…)'), 2);
      assert.equal(ok("run.upload_file (run's own store)"), true);
      assert.match(err('run.upload_file(datastore_name=workspacefilestore)'), /AzureFile.*name a blob datastore/);
      assert.match(err('run.upload_file(datastore_name=missing)'), /no_such_store/);
      assert.match(err('run.upload_file(datastore over an own file)'), /already has a file 'outputs\/own\.txt'/);
      const files = ['outputs/folder/a.txt', 'outputs/folder/sub/b.txt', 'outputs/metrics.json', 'outputs/own.txt'];
      assert.deepEqual(ok('run.get_file_names'), files);
      assert.equal(ok('run.download_file'), '{"auc": 0.9}');
      assert.deepEqual(ok('run.download_files'), {
        'outputs/folder/a.txt': 'a',
        'outputs/folder/sub/b.txt': 'b',
        'outputs/metrics.json': '{"auc": 0.9}',
        'outputs/own.txt': "in the run's own store",
      });
      assert.equal(ok('run.get_details'), true);
      // The bytes are in the datastore (and only the datastore's files there, not the run's own one).
      assert.deepEqual(ok('Datastore.download'), {
        [`ExperimentRun/dcid.${runId}/outputs/folder/a.txt`]: 'a',
        [`ExperimentRun/dcid.${runId}/outputs/folder/sub/b.txt`]: 'b',
        [`ExperimentRun/dcid.${runId}/outputs/metrics.json`]: '{"auc": 0.9}',
      });
      // MLflow's client sees the same files of the same run.
      assert.deepEqual(ok('mlflow list_artifacts(outputs)'), [
        ['outputs/folder', true, null],
        ['outputs/metrics.json', false, 12],
        ['outputs/own.txt', false, 22],
      ]);
      assert.deepEqual(ok('mlflow download_artifacts'), {
        'folder/a.txt': 'a',
        'folder/sub/b.txt': 'b',
        'metrics.json': '{"auc": 0.9}',
        'own.txt': "in the run's own store",
      });
      assert.deepEqual(ok('run.get_file_names (after MLflow)'), [...files, 'outputs/mlflow.txt'].sort());

      // Deleting the run file through MLflow's artifact API removes it from the run and from the datastore.
      const tracking = `${s.server.url}/mlflow/v1.0${s.workspaceId('files-ws')}/api/2.0/mlflow`;
      const got = await httpsJson('GET', `${tracking}/runs/get?run_id=${runId}`, s.ca, s.token);
      const root = String(got.body.run.info.artifact_uri).replace(/^mlflow-artifacts:\//, '');
      const A = `${s.server.url}/mlflow/v1.0${s.workspaceId('files-ws')}/api/2.0/mlflow-artifacts/artifacts`;
      const rows = () =>
        s.server.ctx.db
          .selectFrom('run_datastore_files')
          .select(['path', 'datastore', 'account', 'container', 'blob'])
          .where('path', '=', `${root}/outputs/metrics.json`)
          .execute();
      const [row] = await rows();
      assert.equal(row?.blob, `ExperimentRun/dcid.${runId}/outputs/metrics.json`);
      const bytes = () => s.server.ctx.blobs.account(row!.account, row!.container).stat(row!.blob);
      assert.equal((await bytes())?.size, 12);
      const del = await httpsJson('DELETE', `${A}/${root}/outputs/metrics.json`, s.ca, s.token);
      assert.equal(del.status, 200, JSON.stringify(del.body));
      const list = await httpsJson('GET', `${A}?path=${encodeURIComponent(`${root}/outputs`)}`, s.ca, s.token);
      assert.deepEqual(list.body.files.map((f: any) => f.path).sort(), ['folder', 'mlflow.txt', 'own.txt']);
      assert.deepEqual(await rows(), []);
      assert.equal(await bytes(), undefined);
    });
  });
}
