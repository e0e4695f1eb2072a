import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer, type Steps } from '../../testing/azure-client-server.js';
import '../../run-history/tables.js';
import '../../v1-artifacts/tables.js';
import { ArtifactService } from '../../tracking/artifacts/artifacts.js';
import { resolveWorkspace } from '../../resources/workspaces.js';
import '../../tracking/metrics/tables.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Issue 11: azureml-core's Workspace.create with the parameters beyond the defaults, as a user
// passes them (its own ARM template deployment, then its own AmlCompute create-and-wait), and a v1
// route the server does not serve answering a 501 the client can show (one Python process per dialect).
for (const dialect of clientDialects('sqlite')) {
  describe(`azureml-core: Workspace.create with every parameter (${dialect})`, () => {
    let s: AzureClientServer;
    let out: Steps;
    const ids: Record<string, string> = {};
    const put = async (id: string, apiVersion: string, body: unknown) => {
      const r = await httpsJson('PUT', `${s.server.url}${id}?api-version=${apiVersion}`, s.ca, s.token, body);
      assert.ok(r.status === 200 || r.status === 201, `${id}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    before(async () => {
      s = await startAzureClientServer(dialect, 'create');
      const group = `/subscriptions/${s.server.ctx.defaultSubscriptionId}/resourceGroups/create/providers`;
      const vault = await put(`${group}/Microsoft.KeyVault/vaults/createcmk`, '2023-07-01', { location: 'local' });
      const key = await httpsJson(
        'POST',
        `${s.server.url}${vault.id}/keys/ws-key/create?api-version=7.4`,
        s.ca,
        s.token,
        { kty: 'RSA' },
      );
      assert.equal(key.status, 200, JSON.stringify(key.body));
      ids.CMK_VAULT = vault.id;
      ids.CMK_KID = key.body.key.kid;
      ids.APP_INSIGHTS = (
        await put(`${group}/Microsoft.Insights/components/create-insights`, '2020-02-02', {
          location: 'local',
          kind: 'web',
          properties: { Application_Type: 'web' },
        })
      ).id;
      ids.REGISTRY = (
        await put(`${group}/Microsoft.ContainerRegistry/registries/createacr`, '2023-07-01', {
          location: 'local',
          sku: { name: 'Standard' },
        })
      ).id;
      ids.IDENTITY = `${group}/Microsoft.ManagedIdentity/userAssignedIdentities/create-identity`;
    });
    after(async () => s?.close());

    it('runs azureml-core', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      out = await s.steps(py, path.join(HERE, 'azureml_core_create.py'), { WORKSPACE: 'create-ws', ...ids });
      ok();
    });
    const ok = () => assert.ok(out, 'the azureml-core process did not run');

    it('Workspace.create: get_details() shows every parameter it was given', () => {
      ok();
      const d = out.ok('Workspace.create(all)');
      assert.equal(d.name, 'create-ws');
      assert.equal(d.provisioningState, 'Succeeded');
      assert.equal(d.hbiWorkspace, true);
      assert.equal(String(d.applicationInsights).toLowerCase(), ids.APP_INSIGHTS!.toLowerCase());
      assert.equal(String(d.containerRegistry).toLowerCase(), ids.REGISTRY!.toLowerCase());
      assert.equal(String(d.primaryUserAssignedIdentity).toLowerCase(), ids.IDENTITY!.toLowerCase());
      assert.equal(d.sku, 'Basic');
      assert.equal(String(d.systemDatastoresAuthMode).toLowerCase(), 'identity');
      assert.equal(d.encryption.status, 'Enabled');
      assert.equal(d.encryption.key_vault_properties.key_identifier, ids.CMK_KID);
      assert.equal(d.encryption.key_vault_properties.key_vault_arm_id, ids.CMK_VAULT);
      assert.deepEqual(Object.keys(d.identity.user_assigned_identities), [ids.IDENTITY]);
    });

    it('system_datastores_auth_mode=identity: the default datastore carries no account key', () => {
      ok();
      assert.deepEqual(out.ok('default datastore'), ['workspaceblobstore', true, null, null]);
    });

    it('default_cpu_compute_target: the cpu-cluster the client made and waited for', () => {
      ok();
      assert.deepEqual(out.ok('default cpu-cluster'), ['cpu-cluster', 'AmlCompute', 'Standard_DS2_v2', 'Succeeded', 2]);
    });

    it('child runs: child_run keeps its parent, get_children (tags, recursive), get_runs leaves children out, cancel', () => {
      ok();
      out.ok('start_logging');
      const top = /Id: (\w+)/.exec(out.ok('start_logging'))![1];
      const name = (n: string) => `run_${top!.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5')}${n}`;
      out.ok('tag children');
      assert.deepEqual(out.ok('child parent'), [true, true]);
      assert.deepEqual(out.ok('get_children()'), [name('>a'), name('>b')]);
      assert.deepEqual(out.ok('get_children(tags)'), [name('>b')]);
      assert.deepEqual(out.ok('get_children(recursive)'), [name('>a'), name('>a>a1'), name('>b')]);
      assert.deepEqual(out.ok('a.get_children()'), [name('>a>a1')]);
      assert.equal(out.ok('get_runs()'), true);
      assert.equal(out.ok('get_runs(include_children)'), 4);
      assert.deepEqual(out.ok('get_runs(tags)'), [name('>a')]);
      out.ok('b.cancel()');
      assert.equal(out.ok('b status'), 'Canceled');
      out.ok('run.complete()');
    });

    it('experiments: tag, set_tags, remove_tags, Experiment.list filters, archive and reactivate', () => {
      ok();
      out.ok('exp tags');
      out.ok('exp.remove_tags');
      assert.deepEqual(out.ok('exp.tags'), { stage: 'dev', flag: '' });
      assert.deepEqual(out.ok('Experiment.list(name)'), ['create-exp']);
      assert.deepEqual(out.ok('Experiment.list(tags)'), ['create-exp']);
      assert.deepEqual(out.ok('Experiment.list(tag exists)'), ['create-exp']);
      out.ok('exp.archive()');
      assert.equal(out.ok('archived_time'), true);
      assert.ok(!out.ok('list active').includes('create-exp'));
      assert.ok(out.ok('list active').includes('create-other'));
      assert.deepEqual(out.ok('list archived'), ['create-exp']);
      assert.ok(out.ok('list all').includes('create-exp') && out.ok('list all').includes('create-other'));
      assert.ok(!out.ok('ws.experiments (archived)').includes('create-exp'));
      assert.match(out.err('tag archived'), /archived: reactivate it/);
      out.ok('exp.reactivate()');
      const [archivedTime, names, runs] = out.ok('reactivated');
      assert.equal(archivedTime, null);
      assert.ok(names.includes('create-exp'));
      assert.equal(runs, 1);
    });

    it('text metrics: run.log / log_list / log_row / log_table with strings read back by get_metrics, MLflow sees numbers only', async () => {
      ok();
      out.ok('log text');
      const m = out.ok('get_metrics(text)');
      assert.deepEqual(m.note, ['first', 'second']);
      assert.equal(m.stage, 'train');
      assert.deepEqual(m.words, ['a', 'b']);
      assert.deepEqual(
        [m['rows.epoch'], m['rows.label']],
        [
          [1, 2],
          ['x', 'y'],
        ],
      );
      assert.deepEqual(
        [m['tbl.n'], m['tbl.name']],
        [
          [1, 2],
          ['p', 'q'],
        ],
      );
      assert.equal(m.acc, 0.5);
      assert.deepEqual(out.ok('get_metrics(name)'), { stage: 'train' });
      // MLflow's view of the same run: its numeric metrics only.
      const runId = String(out.ok('run id')).replace(/-/g, '');
      const ws = `/subscriptions/${s.server.ctx.defaultSubscriptionId}/resourceGroups/create/providers/Microsoft.MachineLearningServices/workspaces/create-ws`;
      const mlflow = `${s.server.url}/mlflow/v1.0${ws}/api/2.0/mlflow`;
      const got = await httpsJson('GET', `${mlflow}/runs/get?run_id=${runId}`, s.ca, s.token);
      assert.equal(got.status, 200, JSON.stringify(got.body));
      const keys = (got.body.run.data.metrics as { key: string }[]).map((x) => x.key).sort();
      assert.deepEqual(keys, ['acc', 'rows.epoch', 'tbl.n']);
      // A name holds text or numbers, not both.
      const v1 = `${s.server.url}/metric/v2.0${ws}/runs/${out.ok('run id')}/batch`;
      const clash = await httpsJson('POST', v1, s.ca, s.token, {
        values: [{ name: 'note', columns: { note: 'Double' }, value: [{ data: { note: 1 } }] }],
      });
      assert.equal(clash.status, 400, JSON.stringify(clash.body));
      assert.match(clash.body.error.message, /metric 'note' .* holds text/);
      const bad = await httpsJson('POST', v1, s.ca, s.token, {
        values: [{ name: 'obj', value: [{ data: { obj: { a: 1 } } }] }],
      });
      assert.equal(bad.status, 400, JSON.stringify(bad.body));
      assert.match(bad.body.error.message, /neither a number, a boolean nor a string/);
    });

    it('run types: an interactive run has none (its runTypeV2 is External), get_runs(type=…) filters on it', () => {
      ok();
      assert.deepEqual(out.ok('run.type'), [null, null, ['External', ['unspecified']]]);
      assert.deepEqual(out.ok('get_runs(type)'), [0, 1]);
    });

    it('Experiment.delete: refused while a run is active, then the experiment and its runs are gone for good', async () => {
      ok();
      const [doomedRun, doomedExp] = out.ok('doomed run');
      assert.match(out.err('Experiment.delete(active run)'), /still active; cancel or complete its runs/);
      out.ok('doomed.complete()');
      out.ok('Experiment.delete');
      assert.ok(!out.ok('deleted: list all').includes('create-other'));
      assert.match(out.err('deleted: get_run'), /could not be found|not found/i);
      // The name can be used again: a new, empty experiment.
      assert.equal(out.ok('deleted: name again')[0], 0);
      const ws = `/subscriptions/${s.server.ctx.defaultSubscriptionId}/resourceGroups/create/providers/Microsoft.MachineLearningServices/workspaces/create-ws`;
      const mlflow = `${s.server.url}/mlflow/v1.0${ws}/api/2.0/mlflow`;
      const run = await httpsJson('GET', `${mlflow}/runs/get?run_id=${doomedRun.replace(/-/g, '')}`, s.ca, s.token);
      assert.equal(run.status, 404, JSON.stringify(run.body));
      // (The name made again is a new experiment, which may take the freed id: it has no runs.)
      const runs = await httpsJson('POST', `${mlflow}/runs/search`, s.ca, s.token, {
        experiment_ids: [String(doomedExp)],
        run_view_type: 'ALL',
      });
      assert.equal(runs.status, 200, JSON.stringify(runs.body));
      assert.deepEqual(runs.body.runs ?? [], []);
      // Nothing of it is left in the store: rows, the run's files (its own and those linked from a datastore).
      assert.deepEqual(out.ok('doomed files')[2], ['outputs/ds.txt', 'outputs/own.txt']);
      const w = await resolveWorkspace(s.server.ctx, s.server.ctx.defaultSubscriptionId, 'create', 'create-ws');
      const files = await new ArtifactService(s.server.ctx).listRecursive(
        { workspaceId: w.workspaceId, storageAccountId: w.storageAccountId ?? null },
        `${doomedExp}/${doomedRun.replace(/-/g, '')}`,
      );
      assert.deepEqual(files, []);
      const db = s.server.ctx.db;
      const linked = await db
        .selectFrom('run_datastore_files')
        .select('path')
        .where('workspace_id', '=', w.workspaceId)
        .execute();
      assert.ok(!linked.some((l) => l.path.includes(doomedRun.replace(/-/g, ''))), JSON.stringify(linked));
      const left = await db
        .selectFrom('run_text_metrics')
        .select('name')
        .where('run_uuid', '=', doomedRun.replace(/-/g, ''))
        .execute();
      assert.deepEqual(left, []);
      const series = await db
        .selectFrom('tracking_latest_metrics')
        .select('key')
        .where('run_uuid', '=', doomedRun.replace(/-/g, ''))
        .execute();
      assert.deepEqual(series, []);
    });

    it("a v1 route Atelier does not serve: azureml-core shows the server's 501 message", () => {
      ok();
      const e = out.err('Run.list_by_compute');
      assert.match(e, /NotImplemented/);
      assert.match(
        e,
        /Atelier does not serve GET \/history\/v1\.0\/\{workspace\}\/computes\/cpu-cluster\/runs of the azureml v1 'history' service/,
      );
    });
  });
}
