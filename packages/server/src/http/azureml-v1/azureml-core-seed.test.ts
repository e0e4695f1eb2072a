import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer, type Steps } from '../../testing/azure-client-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Issue 11, item 4: the seed's Workspace methods through the real azureml-core (one Python process),
// as its reference page calls them; docs/clients.md lists what works and why the rest does not.
for (const dialect of clientDialects('postgres')) {
  describe(`azureml-core through the seed's methods (${dialect})`, () => {
    let s: AzureClientServer;
    let out: Steps;
    const ok = (k: string) => out.ok(k);
    const err = (k: string) => out.err(k);
    before(async () => {
      s = await startAzureClientServer(dialect, 'seed');
      await s.workspace('seed-ws');
      // A model made through MLflow's REST API: azureml-core's Model must see it (one registry).
      const registry = `${s.server.url}/mlflow/v1.0${s.workspaceId('seed-ws')}/api/2.0/mlflow`;
      let r = await httpsJson('POST', `${registry}/registered-models/create`, s.ca, s.token, { name: 'seed-model' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      r = await httpsJson('POST', `${registry}/model-versions/create`, s.ca, s.token, {
        name: 'seed-model',
        source: 'mlflow-artifacts:/0/models/seed/artifacts',
        description: 'made by MLflow',
        tags: [{ key: 'stage', value: 'dev' }],
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      // A data asset registered through ARM (azure-ai-ml's way): azureml-core's ws.datasets lists it.
      const data = `${s.server.url}${s.workspaceId('seed-ws')}/data/seed-data/versions`;
      for (const v of ['1', '2']) {
        const d = await httpsJson('PUT', `${data}/${v}?api-version=2025-09-01`, s.ca, s.token, {
          properties: {
            dataType: 'uri_folder',
            dataUri: 'azureml://datastores/workspaceblobstore/paths/seed-data/',
            description: `version ${v}`,
          },
        });
        assert.ok(d.status === 200 || d.status === 201, JSON.stringify(d.body));
      }
    });
    after(async () => s?.close());

    it('constructor, static and instance methods, key vault, datastores, attributes', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      out = await s.steps(py, path.join(HERE, 'azureml_core_seed.py'), { WORKSPACE: 'seed-ws' });
      ok('Workspace()');
      assert.equal(ok('Workspace.get'), 'seed-ws');
      assert.deepEqual(ok('Workspace.list(group)'), ['seed-ws']);
      assert.deepEqual(ok('Workspace.list(subscription)'), ['seed-ws']);
      ok('write_config');
      assert.equal(ok('from_config'), 'seed-ws');
      assert.equal(ok('create'), 'eastus2');
      assert.equal(ok('create(exist_ok)'), 'seed-made');
      for (const k of [
        'id',
        'name',
        'location',
        'workspaceid',
        'friendlyName',
        'storageAccount',
        'keyVault',
        'applicationInsights',
        'hbiWorkspace',
      ])
        assert.ok(ok('get_details keys').includes(k), k);
      assert.equal(ok('update'), 'Seed page');
      assert.equal(ok('update(v1_legacy_mode, allow_public_access_when_behind_vnet)'), true);
      assert.ok(ok('list_keys').includes('userStorageKey'));
      ok('sync_keys');
      assert.equal(ok('get_default_datastore'), 'workspaceblobstore');
      ok('set_default_datastore');
      ok('get_default_keyvault');
      ok('keyvault.set_secret');
      assert.equal(ok('keyvault.get_secret'), 's3cret');
      ok('keyvault.set_secrets');
      assert.deepEqual(ok('keyvault.get_secrets'), { 'a-key': '1', 'b-key': '2', missing: null });
      assert.deepEqual(ok('keyvault.list_secrets'), ['a-key', 'b-key', 'db-password']);
      ok('keyvault.delete_secret');
      ok('keyvault.delete_secrets');
      assert.deepEqual(ok('keyvault.list_secrets (after)'), []);
      assert.equal(ok('set_connection'), 'feed');
      assert.equal(ok('get_connection'), 'feed');
      assert.equal(ok('list_connections'), true);
      ok('delete_connection');
      assert.ok(ok('diagnose_workspace').includes('storage_account_results'));
      assert.deepEqual(ok('datastores'), [
        'workspaceartifactstore',
        'workspaceblobstore',
        'workspacefilestore',
        'workspaceworkingdirectory',
      ]);
      assert.deepEqual(ok('linked_services'), {});
      assert.deepEqual(ok('private_endpoints'), {});
      assert.equal(ok('name/location/resource_group/subscription_id/sku/tags')[0], 'seed-ws');
      assert.match(ok('discovery_url'), /\/discovery$/);
      ok('service_context');
      // Run history: the run azureml-core logged is the MLflow run of the same id.
      ok('Experiment(ws, name)');
      ok('experiment.start_logging');
      // azureml-core names the run with a uuid; MLflow's id of it is the same uuid as hex (32 characters).
      const runId = String(ok('run.id')).replace(/-/g, '');
      assert.match(runId, /^[0-9a-f]{32}$/);
      for (const k of ['run.log', 'run.log_list', 'run.tag', 'run.add_properties', 'run.complete']) ok(k);
      assert.equal(ok('run.get_status'), 'Completed');
      // run.log_image is an artifact-backed metric: get_metrics answers the run file it points at.
      const metrics = ok('run.get_metrics');
      assert.deepEqual(Object.keys(metrics).sort(), ['accuracy', 'dot', 'losses']);
      assert.deepEqual(
        [metrics.accuracy, metrics.losses],
        [
          [0.5, 0.75],
          [0.3, 0.2],
        ],
      );
      assert.equal(metrics.dot, `aml://artifactId/ExperimentRun/dcid.${ok('run.id')}/dot.png`);
      assert.deepEqual(ok('run.get_metrics(image, populate)'), ['ImageArtifact', '89504e470d0a1a0a']);
      assert.equal(ok('run.get_tags'), 'vision');
      assert.equal(ok('run.get_properties'), 'trial');
      assert.ok(ok('experiments').includes('seed-exp'));
      assert.equal(ok('get_run'), 'Completed');
      assert.deepEqual(
        ok('experiment.get_runs').map((id: string) => id.replace(/-/g, '')),
        [runId],
      );
      const tracking = `${s.server.url}/mlflow/v1.0${s.workspaceId('seed-ws')}/api/2.0/mlflow`;
      const got = await httpsJson('GET', `${tracking}/runs/get?run_id=${runId}`, s.ca, s.token);
      assert.equal(got.status, 200, JSON.stringify(got.body));
      assert.equal(got.body.run.info.status, 'FINISHED');
      assert.equal(got.body.run.info.run_name, 'first run');
      assert.ok(got.body.run.data.tags.some((t: any) => t.key === 'team' && t.value === 'vision'));
      const history = await httpsJson(
        'GET',
        `${tracking}/metrics/get-history?run_id=${runId}&metric_key=accuracy`,
        s.ca,
        s.token,
      );
      assert.deepEqual(history.body.metrics.map((m: any) => m.value).sort(), [0.5, 0.75]);
      const exp = await httpsJson('GET', `${tracking}/experiments/get-by-name?experiment_name=seed-exp`, s.ca, s.token);
      assert.equal(exp.body.experiment.experiment_id, got.body.run.info.experiment_id);
      // A metric that is neither a number nor text (an object) is refused, naming it, and nothing is stored.
      const v2 = `${s.server.url}/metric/v2.0${s.workspaceId('seed-ws')}/runs/${runId}/batch`;
      const bad = await httpsJson('POST', v2, s.ca, s.token, {
        values: [
          { name: 'fine', value: [{ data: { fine: 1 } }] },
          { name: 'label', value: [{ data: { label: { kind: 'cat' } } }] },
        ],
      });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /label/);
      assert.deepEqual(bad.body.error.details, []);
      const fine = await httpsJson(
        'GET',
        `${tracking}/metrics/get-history?run_id=${runId}&metric_key=fine`,
        s.ca,
        s.token,
      );
      assert.deepEqual(fine.body.metrics ?? [], []);

      // Artifacts: run files uploaded through azureml-core are the MLflow run's artifacts.
      for (const k of ['run.upload_file', 'run.log_image']) ok(k);
      assert.equal(ok('run.upload_folder'), 2);
      assert.equal(ok('run.upload_files'), 1);
      assert.deepEqual(ok('run.get_file_names'), [
        'dot.png',
        'logs/train.log',
        'outputs/folder/a.txt',
        'outputs/folder/sub/b.txt',
        'outputs/hello.txt',
      ]);
      assert.equal(ok('run.download_file'), 'hello artifacts');
      assert.deepEqual(ok('run.download_files'), ['outputs/folder/a.txt', 'outputs/folder/sub/b.txt']);
      assert.deepEqual(ok('run.get_details logFiles'), ['logs/train.log']);
      assert.equal(ok('run.get_details_with_logs'), 'epoch 1: loss 0.3\n');
      const listed = await httpsJson('GET', `${tracking}/artifacts/list?run_id=${runId}&path=outputs`, s.ca, s.token);
      assert.deepEqual(
        listed.body.files.map((f: any) => [f.path, f.is_dir]),
        [
          ['outputs/folder', true],
          ['outputs/hello.txt', false],
        ],
      );
      // A path that leaves its container is refused, naming the problem.
      const art = `${s.server.url}/artifact/v2.0${s.workspaceId('seed-ws')}/artifacts`;
      const escape = await httpsJson('POST', `${art}/batch/metadata/ExperimentRun/dcid.${runId}`, s.ca, s.token, {
        paths: [{ path: 'ok.txt' }, { path: '../../other/x.txt' }],
      });
      assert.equal(escape.status, 400);
      assert.match(escape.body.error.message, /\.\./);
      const missing = await httpsJson('GET', `${art}/contentinfo/ExperimentRun/dcid.${runId}/nope.txt`, s.ca, s.token);
      assert.equal(missing.status, 404);

      ok('delete');
      assert.match(err('get after delete'), /not found|could not be found/i);
    });

    it("environments: azureml-core's Environment over the workspace's environment versions (one store)", async () => {
      assert.ok(out, 'the azureml-core process did not run');
      ok('Environment.from_pip_requirements');
      assert.equal(ok('env.register'), '1');
      assert.equal(ok('env.register (same again)'), '1');
      assert.equal(ok('env.register (changed)'), '2');
      assert.deepEqual(ok('Environment.get'), ['2', { STAGE: 'two' }, ['numpy==2.4.6'], true]);
      assert.deepEqual(ok('Environment.get(version)'), { EXAMPLE_ENV_VAR: 'EXAMPLE_VALUE' });
      assert.match(err('Environment.get(missing)'), /404[\s\S]*no-such-env/);
      assert.equal(ok('conda env.register'), '1');
      for (const k of ['Environment.list', 'ws.environments']) {
        assert.ok(ok(k).includes('seed-env'), k);
        assert.ok(ok(k).includes('seed-conda'), k);
        assert.ok(ok(k).includes('AzureML-minimal-py311'), k);
      }
      // env.build(ws) built the version's Python environment on the server (an environment build record).
      assert.equal(ok('env.build'), 'Succeeded');
      // env.build_local(ws): the server's recipe made the (package-less) virtual environment on this machine.
      assert.equal(ok('env.build_local'), null);
      // The same version through ARM (azure-ai-ml's view).
      const arm = await httpsJson(
        'GET',
        `${s.server.url}${s.workspaceId('seed-ws')}/environments/seed-env/versions/2?api-version=2025-09-01`,
        s.ca,
        s.token,
      );
      assert.equal(arm.status, 200, JSON.stringify(arm.body));
      assert.deepEqual(arm.body.properties.environmentVariables, { STAGE: 'two' });
      assert.match(arm.body.properties.condaFile, /numpy==2\.4\.6/);
      assert.match(arm.body.properties.image, /^mcr\.microsoft\.com\/azureml\//);
      // A definition that cannot be an environment version is refused, and nothing is made.
      const env = `${s.server.url}/environment/v1.0${s.workspaceId('seed-ws')}/environments/bad-env`;
      const bad = await httpsJson('PUT', env, s.ca, s.token, { Name: 'bad-env', python: {}, Docker: {} });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /base_image/);
      assert.equal((await httpsJson('GET', env, s.ca, s.token)).status, 404);
      const taken = await httpsJson('PUT', `${env.replace('bad-env', 'seed-env')}/versions/1`, s.ca, s.token, {
        Name: 'seed-env',
        python: { userManagedDependencies: true },
        Docker: { baseImage: 'python:3.11-slim' },
      });
      assert.equal(taken.status, 409);
    });

    it("datasets: the workspace's data assets as azureml-core's registered datasets", async () => {
      assert.ok(out, 'the azureml-core process did not run');
      assert.deepEqual(ok('ws.datasets'), ['seed-data']);
      assert.deepEqual(ok('Dataset.get_all registrations'), [['seed-data', 2, 'version 2']]);
      // (azureml-core-datasets.test.ts registers and reads datasets through azureml-dataprep.)
      assert.deepEqual(ok('Dataset.get_by_name'), ['FileDataset', 'seed-data', 2]);
    });

    it("models: the MLflow registry's models through azureml-core's Model (one registry)", async () => {
      assert.ok(out, 'the azureml-core process did not run');
      assert.deepEqual(ok('model.version/tags'), ['seed-model', 1, { stage: 'dev' }, 'made by MLflow']);
      assert.equal(ok('Model(ws, id)'), 'seed-model:1');
      assert.equal(ok('Model(ws, name, version)'), 1);
      assert.deepEqual(ok('Model.list'), ['seed-model:1']);
      assert.deepEqual(ok('Model.list(tags)'), ['seed-model:1']);
      assert.deepEqual(ok('Model.list(latest)'), ['seed-model:1']);
      assert.deepEqual(ok('ws.models'), ['seed-model']);
      for (const k of ['model.update', 'model.add_tags', 'model.remove_tags', 'model.add_properties']) ok(k);
      assert.deepEqual(ok('model after update'), [
        'from azureml-core',
        { stage: 'prod', reviewed: 'yes' },
        { accuracy: '0.9' },
      ]);
      assert.match(err('Model(ws, missing)'), /no-such-model|not found/i);
      // Model.register: files through the artifact service, the model an MLflow version; download reads them back.
      assert.deepEqual(ok('Model.register result'), [
        'registered-clf',
        1,
        { area: 'seed' },
        { auc: '0.8' },
        'registered by azureml-core',
      ]);
      assert.equal(ok('Model.register again'), 2);
      assert.deepEqual(ok('model.download'), ['clf.pkl', 'model-bytes']);
      ok('model.delete');
      assert.deepEqual(ok('Model.list after delete'), ['registered-clf:1']);
      // Computes: created through ARM W/computes, read at /rp/workspaces/… (the same bodies).
      ok('ComputeTarget.create');
      ok('wait_for_completion');
      assert.deepEqual(ok('ComputeTarget(ws, name)'), ['cpu-cluster', 'AmlCompute', 'Standard_DS2_v2']);
      assert.equal(ok('get_status'), 'Succeeded');
      assert.deepEqual(ok('ws.compute_targets'), ['cpu-cluster']);
      // delete() reads the Azure-AsyncOperation of DELETE W/computes' 202 and polls it to the end.
      ok('compute.delete');
      ok('wait_for_completion(delete)');
      assert.deepEqual(ok('ws.compute_targets after delete'), []);
      // The workspace's online endpoints and build records (none yet here; azureml-core-services.test.ts).
      assert.deepEqual(ok('ws.webservices'), []);
      assert.ok(Array.isArray(ok('ws.images')));
      // What azureml-core changed is the MLflow version's description and tags.
      const registry = `${s.server.url}/mlflow/v1.0${s.workspaceId('seed-ws')}/api/2.0/mlflow`;
      const mv = await httpsJson('GET', `${registry}/model-versions/get?name=seed-model&version=1`, s.ca, s.token);
      assert.equal(mv.status, 200, JSON.stringify(mv.body));
      assert.equal(mv.body.model_version.description, 'from azureml-core');
      assert.deepEqual(Object.fromEntries(mv.body.model_version.tags.map((t: any) => [t.key, t.value])), {
        stage: 'prod',
        reviewed: 'yes',
      });
    });
  });
}
