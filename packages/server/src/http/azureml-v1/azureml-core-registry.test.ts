import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../../testing/harness.js';
import { clientCredentialsToken, clientPython, httpsJson } from '../../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer, type Steps } from '../../testing/azure-client-server.js';

const V = 'api-version=2025-09-01';
const HERE = path.dirname(fileURLToPath(import.meta.url));

// Issue 11: what azureml-core registers is what the other clients read; its datastore registrations,
// Workspace.create variants and connection filters (one Python process per dialect).
for (const dialect of clientDialects('postgres')) {
  describe(`azureml-core: registrations read back, datastores, create variants (${dialect})`, () => {
    let s: AzureClientServer;
    let key: string;
    let out: Steps;
    const ok = (k: string) => out.ok(k);
    const err = (k: string) => out.err(k);
    before(async () => {
      s = await startAzureClientServer(dialect, 'registry');
      await s.workspace('registry-ws');
      // A storage account of the group, for the datastores azureml-core registers.
      const acct = `${s.server.url}/subscriptions/${s.server.ctx.defaultSubscriptionId}/resourceGroups/registry/providers/Microsoft.Storage/storageAccounts/teamacct`;
      const put = await httpsJson('PUT', `${acct}?${V}`, s.ca, s.token, { location: 'local' });
      assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
      key = (await httpsJson('POST', `${acct}/listKeys?${V}`, s.ca, s.token)).body.keys[0].value;
      const vault = acct.replace('Microsoft.Storage/storageAccounts/teamacct', 'Microsoft.KeyVault/vaults/teamvault');
      const kv = await httpsJson('PUT', `${vault}?${V}`, s.ca, s.token, { location: 'local', properties: {} });
      assert.ok(kv.status === 200 || kv.status === 201, JSON.stringify(kv.body));
    });
    after(async () => s?.close());

    it('runs azureml-core', async (tc) => {
      const py = clientPython();
      if (!py) return tc.skip('no Python with azureml-core (set ATELIER_TEST_PYTHON)');
      out = await s.steps(py, path.join(HERE, 'azureml_core_registry.py'), {
        WORKSPACE: 'registry-ws',
        ACCOUNT: 'teamacct',
        ACCOUNT_KEY: key,
        VAULT: 'teamvault',
      });
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

    it("datastores: azureml-core's register / get / unregister over W/datastores (one store)", async () => {
      assert.ok(out, 'the azureml-core process did not run');
      // A wrong key is refused, naming it, and nothing is made.
      assert.match(err('register_azure_blob_container(wrong key)'), /not an access key/);
      assert.deepEqual(ok('register_azure_blob_container'), ['teamblob', 'AzureBlob', 'team-data', 'teamacct']);
      assert.match(err('register_azure_blob_container(again)'), /Another datastore with the same name already exists/);
      assert.equal(ok('register_azure_blob_container(overwrite)'), 'teamblob');
      assert.match(err('register_azure_file_share(no key)'), /account_key/);
      assert.deepEqual(ok('register_azure_file_share'), ['teamshare', 'AzureFile', 'team-share']);
      assert.match(err('register_azure_blob_container(missing account)'), /nosuchacct/);
      // The key is sealed: Datastore.get gives it to a caller allowed secrets/read (as listSecrets does).
      assert.deepEqual(ok('Datastore.get'), ['teamblob', true, 'team-data']);
      assert.deepEqual(ok('ws.datastores (registered)'), [
        'teamblob',
        'teamshare',
        'workspaceartifactstore',
        'workspaceblobstore',
        'workspacefilestore',
        'workspaceworkingdirectory',
      ]);
      ok('unregister');
      assert.match(err('Datastore.get(unregistered)'), /teamshare|not found/i);
      assert.match(err('unregister(system)'), /system datastore/);
      // ARM reads the same datastore, without its key; the key is in the workspace's key vault only.
      const W = `${s.server.url}${s.workspaceId('registry-ws')}`;
      const arm = await httpsJson('GET', `${W}/datastores/teamblob?${V}`, s.ca, s.token);
      assert.equal(arm.status, 200, JSON.stringify(arm.body));
      assert.equal(arm.body.properties.credentials.credentialsType, 'AccountKey');
      assert.equal(arm.body.properties.containerName, 'team-data');
      assert.ok(!JSON.stringify(arm.body).includes(key), 'the key is never returned by GET');
      const secrets = await httpsJson('POST', `${W}/datastores/teamblob/listSecrets?${V}`, s.ca, s.token, {});
      assert.deepEqual(secrets.body, { secretsType: 'AccountKey', key });
      assert.equal((await httpsJson('GET', `${W}/datastores/teamshare?${V}`, s.ca, s.token)).status, 404);
      assert.equal((await httpsJson('GET', `${W}/datastores/nowhere?${V}`, s.ca, s.token)).status, 404);
      // A v1 body without its kind's section is refused, naming it.
      const v1 = `${s.server.url}/datastore/v1.0${s.workspaceId('registry-ws')}/datastores`;
      const sql = await httpsJson('POST', v1, s.ca, s.token, { name: 'db', dataStoreType: 'AzureSqlDatabase' });
      assert.equal(sql.status, 400);
      assert.match(sql.body.error.message, /azureSqlDatabaseSection is required/);
    });

    it("datastores of the other kinds: azureml-core's SQL, PostgreSQL, MySQL, Data Lake, DBFS and HDFS registrations", async () => {
      assert.ok(out, 'the azureml-core process did not run');
      // What azureml-core reads back (a caller allowed secrets/read gets the sealed secret, as a blob key).
      assert.deepEqual(ok('register_azure_sql_database'), [
        'salesdb',
        'AzureSqlDatabase',
        'sales-srv',
        'sales',
        'analyst',
        'sql-Secret1',
      ]);
      assert.deepEqual(ok('register_azure_sql_database(service principal)'), [true, true]);
      assert.deepEqual(ok('register_azure_postgre_sql'), [
        'AzurePostgreSql',
        'pg-srv',
        'metrics',
        'analyst',
        'pg-Secret1',
        '5433',
        true,
      ]);
      assert.deepEqual(ok('register_azure_my_sql'), ['AzureMySql', 'my-srv', 'shop', 'shop', '3306']);
      assert.match(err('register_azure_my_sql(bad port)'), /portNumber/);
      assert.deepEqual(ok('register_azure_data_lake').slice(0, 2), ['AzureDataLake', 'teamlake']);
      assert.equal(ok('register_azure_data_lake')[3], true);
      assert.deepEqual(ok('register_azure_data_lake_gen2').slice(0, 3), ['AzureDataLakeGen2', 'team-lake', 'teamacct']);
      // A Gen2 service principal is one of this server's: a secret that is not its own is refused.
      assert.match(err('register_azure_data_lake_gen2(wrong secret)'), /not a current secret of service principal/);
      assert.deepEqual(ok('register_dbfs'), ['dbfs1', 'DBFS']);
      assert.deepEqual(ok('register_hdfs'), [
        'Hdfs',
        'https',
        'namenode.example:9871',
        'ml@EXAMPLE.COM',
        'KerberosPassword',
        'krb-Secret1',
      ]);
      // The default receives the workspace's files: a database cannot be it; a Data Lake Gen2 can.
      assert.match(err('set_as_default(sql)'), /cannot be the default datastore/);
      assert.equal(ok('set_as_default(gen2)'), 'lake2');
      assert.equal(ok('set_as_default(blob again)'), 'workspaceblobstore');
      assert.deepEqual(ok('ws.datastores (other kinds)'), [
        ['dbfs1', 'DBFS'],
        ['hdfs1', 'Hdfs'],
        ['lake1', 'AzureDataLake'],
        ['lake2', 'AzureDataLakeGen2'],
        ['mydb', 'AzureMySql'],
        ['pgdb', 'AzurePostgreSql'],
        ['salesdb', 'AzureSqlDatabase'],
        ['salesdb_sp', 'AzureSqlDatabase'],
      ]);
      ok('unregister(mysql)');
      assert.match(err('Datastore.get(unregistered mysql)'), /mydb|not found/i);
      // ARM W/datastores reads the same registrations, never their secrets; listSecrets gives them.
      const W = `${s.server.url}${s.workspaceId('registry-ws')}`;
      const arm = await httpsJson('GET', `${W}/datastores/salesdb?${V}`, s.ca, s.token);
      assert.equal(arm.status, 200, JSON.stringify(arm.body));
      assert.equal(arm.body.properties.datastoreType, 'AzureSqlDatabase');
      assert.equal(arm.body.properties.serverName, 'sales-srv');
      assert.equal(arm.body.properties.portNumber, 1433);
      assert.deepEqual(arm.body.properties.credentials, { credentialsType: 'SqlAdmin', userId: 'analyst' });
      const all = await httpsJson('GET', `${W}/datastores?${V}`, s.ca, s.token);
      for (const secret of ['sql-Secret1', 'pg-Secret1', 'krb-Secret1'])
        assert.ok(!JSON.stringify(all.body).includes(secret), `${secret} is never listed`);
      const hdfs = await httpsJson('POST', `${W}/datastores/hdfs1/listSecrets?${V}`, s.ca, s.token, {});
      assert.deepEqual(hdfs.body, { secretsType: 'KerberosPassword', kerberosPassword: 'krb-Secret1' });
      // A Reader gets the registration without its password.
      const ctx = s.server.ctx;
      const { principal, secret } = await ctx.principals.createServicePrincipal('ds-reader');
      await ctx.access.assign(principal.id, s.workspaceId('registry-ws'), 'Reader', null);
      const token = await clientCredentialsToken(s.server.url, ctx.tenantId, s.ca, principal.name, secret.value);
      const asReader = await httpsJson(
        'GET',
        `${s.server.url}/datastore/v1.0${s.workspaceId('registry-ws')}/datastores/salesdb`,
        s.ca,
        token,
      );
      assert.equal(asReader.status, 200, JSON.stringify(asReader.body));
      assert.equal(asReader.body.azureSqlDatabaseSection.userId, 'analyst');
      assert.ok(!JSON.stringify(asReader.body).includes('sql-Secret1'), 'no password to a Reader');
      const write = await httpsJson(
        'POST',
        `${s.server.url}/datastore/v1.0${s.workspaceId('registry-ws')}/datastores`,
        s.ca,
        token,
        { name: 'x', dataStoreType: 'DBFS' },
      );
      assert.equal(write.status, 403);
      assert.match(JSON.stringify(write.body), /Reader/);
    });

    it("Workspace.create's variants and list_connections' filters", async () => {
      assert.ok(out, 'the azureml-core process did not run');
      const sub = `${s.server.url}/subscriptions/${s.server.ctx.defaultSubscriptionId}`;
      // No group is made: azureml-core reads the group (404) and stops with its own message.
      assert.match(err('create(create_resource_group=False, missing group)'), /Resource group was not found/);
      assert.equal((await httpsJson('GET', `${sub}/resourcegroups/no-such-group?${V}`, s.ca, s.token)).status, 404);
      // Existing storage account and key vault (ARM ids): the workspace uses them, makes no others.
      const arm = `/subscriptions/${s.server.ctx.defaultSubscriptionId}/resourceGroups/registry/providers`;
      assert.deepEqual(ok('create(storage_account, key_vault)'), [
        `${arm}/Microsoft.Storage/storageAccounts/teamacct`,
        `${arm}/Microsoft.KeyVault/vaults/teamvault`,
      ]);
      const byo = await httpsJson('GET', `${s.server.url}${s.workspaceId('byo-ws')}?${V}`, s.ca, s.token);
      assert.equal(
        byo.body.properties.storageAccount.toLowerCase(),
        `${arm}/Microsoft.Storage/storageAccounts/teamacct`.toLowerCase(),
      );
      // A storage account that does not exist fails the deployment, naming it, and leaves nothing.
      assert.match(err('create(missing storage_account)'), /nosuchacct' does not exist/);
      assert.equal(
        (await httpsJson('GET', `${s.server.url}${s.workspaceId('byo-bad')}?${V}`, s.ca, s.token)).status,
        404,
      );
      assert.deepEqual(ok('list_connections()'), ['feed', 'repo']);
      assert.deepEqual(ok('list_connections(category)'), ['feed']);
      assert.deepEqual(ok('list_connections(target)'), ['repo']);
      assert.deepEqual(ok('list_connections(category, target)'), []);
    });
  });
}
