import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer } from '../../testing/azure-client-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Issue 11: TabularDataset.submit_profile_run / get_profile / get_profile_runs — profiles computed by the
// server from the dataset's files, kept as a file of a completed run, checked against pandas.
for (const dialect of clientDialects('postgres')) {
  describe(`azureml-core dataset profiles (${dialect})`, () => {
    let s: AzureClientServer;
    before(async () => {
      s = await startAzureClientServer(dialect, 'profiles');
      await s.workspace('prof-ws');
    });
    after(async () => s?.close());

    it('submit_profile_run, get_profile (columns equal pandas), get_profile_runs, get_producing_run', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      const out = await s.steps(py, path.join(HERE, 'azureml_core_dataset_profiles.py'), { WORKSPACE: 'prof-ws' });
      const ok = (k: string) => out.ok(k);
      const err = (k: string) => out.err(k);
      assert.equal(ok('upload'), 'data');
      assert.match(err('get_profile (none yet)'), /Unable to fetch profile results\. Please submit a new profile run/);
      ok('ComputeTarget.create');
      assert.match(err('submit_profile_run (no such compute)'), /Not Found/);
      ok('submit_profile_run');
      const [status, experiment, files] = ok('profile run');
      assert.deepEqual([status, experiment, files], ['Completed', 'profiles', ['dataset_profile/profile.json']]);
      ok('get_profile');
      assert.equal(ok('get_producing_run'), true);
      const cols = ok('profile columns');
      assert.deepEqual(Object.keys(cols), ['length', 'width', 'species', 'count']);
      assert.deepEqual(
        Object.values(cols).map((c: any) => [c.type, c.count, c.missing]),
        [
          ['DECIMAL', 7, 1],
          ['DECIMAL', 7, 1],
          ['STRING', 7, 1],
          ['INTEGER', 7, 0],
        ],
      );
      assert.deepEqual(cols.species.top, [
        ['setosa', 2],
        ['versicolor', 2],
      ]);
      // Every statistic pandas computes for the same rows is the profile's.
      assert.deepEqual(ok('profile vs pandas (differences)'), []);
      assert.deepEqual(ok('row_count, shape'), [7, [7, 4]]);
      assert.equal(ok('second submit_profile_run'), true);
      assert.equal(ok('get_profile_runs'), 2);
      assert.match(err('submit_profile_run (FileDataset)'), /submit_profile_run|TabularDataset|attribute/);
      assert.match(err('submit_profile_run (local)'), /Not Implemented/);
      const local = await httpsJson(
        'POST',
        `${s.server.url}/dataset/v1.0${s.workspaceId('prof-ws')}/saveddatasets/abc/profilewithpreview?computeTarget=local&experimentName=profiles`,
        s.ca,
        s.token,
      );
      assert.equal(local.status, 501);
      assert.match(local.body.error.message, /compute_target='local'/);

      assert.match(
        err('DatasetSnapshot.get_all'),
        /NotImplementedError: _DatasetClient\.get_all_snapshots is no longer supported/,
      );

      // The profile is a file of a run every client sees: MLflow lists it.
      const tracking = `${s.server.url}/mlflow/v1.0${s.workspaceId('prof-ws')}/api/2.0/mlflow`;
      const exp = await httpsJson('GET', `${tracking}/experiments/get-by-name?experiment_name=profiles`, s.ca, s.token);
      assert.equal(exp.status, 200, JSON.stringify(exp.body));
      const runs = await httpsJson('POST', `${tracking}/runs/search`, s.ca, s.token, {
        experiment_ids: [exp.body.experiment.experiment_id],
      });
      assert.equal(runs.body.runs.length, 2);
      assert.ok(runs.body.runs.every((r: any) => r.info.status === 'FINISHED'));

      // Bad input is refused, naming what to change, and nothing is made.
      const D = `${s.server.url}/dataset/v1.0${s.workspaceId('prof-ws')}`;
      const noExp = await httpsJson(
        'POST',
        `${D}/saveddatasets/abc/profilewithpreview?computeTarget=cpu`,
        s.ca,
        s.token,
      );
      assert.equal(noExp.status, 400);
      assert.match(noExp.body.error.message, /experimentName/);
      const missing = await httpsJson(
        'POST',
        `${D}/saveddatasets/bm8tc3VjaDox/profilewithpreview?computeTarget=cpu&experimentName=profiles`,
        s.ca,
        s.token,
      );
      assert.equal(missing.status, 404, JSON.stringify(missing.body));
      const badAction = await httpsJson(
        'POST',
        `${D}/datasets/00000000-0000-0000-0000-000000000000/actions/result`,
        s.ca,
        s.token,
        { actionType: 'snapshot' },
      );
      assert.equal(badAction.status, 400);
      const after = await httpsJson('POST', `${tracking}/runs/search`, s.ca, s.token, {
        experiment_ids: [exp.body.experiment.experiment_id],
      });
      assert.equal(after.body.runs.length, 2);
    });
  });
}
