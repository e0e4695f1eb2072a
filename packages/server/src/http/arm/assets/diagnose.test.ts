import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, testDialects, type TestServer } from '../../../testing/harness.js';
import { V, createWorkspace, groupPath, wsPath } from '../arm-test-helpers.js';

type Report = Record<string, { code: string; level: string; message: string }[]>;

async function diagnose(t: TestServer, W: string): Promise<Report> {
  const post = await t.request('POST', `${W}/diagnose?${V}`, { value: {} });
  assert.equal(post.status, 202, post.text);
  assert.ok(post.headers.get('azure-asyncoperation'));
  const location = post.headers.get('location')!;
  for (let i = 0; i < 200; i++) {
    const r = await t.request('GET', location);
    if (r.status === 200) return r.body.value;
    assert.equal(r.status, 202, r.text);
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error('diagnosis did not finish');
}

const codes = (list: { code: string; level: string }[]) => list.map((r) => `${r.level}:${r.code}`);

for (const dialect of testDialects()) {
  describe(`diagnose and linked services (${dialect})`, () => {
    let t: TestServer;
    let W: string;
    let ws: any;
    before(async () => {
      t = await startTestServer(dialect);
      ws = await createWorkspace(t, 'diag-rg', 'diag-ws');
      W = wsPath(t, 'diag-rg', 'diag-ws');
    });
    after(async () => t?.close());

    it('a healthy workspace reports no errors', async () => {
      const r = await diagnose(t, W);
      for (const k of [
        'storageAccountResults',
        'keyVaultResults',
        'containerRegistryResults',
        'applicationInsightsResults',
        'dnsResolutionResults',
        'otherResults',
        'userDefinedRouteResults',
        'networkSecurityRuleResults',
        'resourceLockResults',
      ]) {
        assert.ok(Array.isArray(r[k]) && r[k]!.length > 0, k);
      }
      const errors = Object.values(r)
        .flat()
        .filter((x) => x.level === 'Error');
      assert.deepEqual(errors, []);
      assert.ok(codes(r.storageAccountResults!).includes('Information:StorageWritable'));
      assert.ok(codes(r.keyVaultResults!).includes('Information:KeyVaultDecrypts'));
    });

    it('reports each broken dependency', async () => {
      const ctx = t.server.ctx;
      // Storage: the account's blob folder replaced by a file.
      const account = ws.properties.storageAccount.split('/').pop();
      const folder = path.join(t.home, 'blobs', account);
      fs.rmSync(folder, { recursive: true, force: true });
      fs.writeFileSync(folder, 'not a folder');
      // Key vault: a secret whose sealed value was damaged.
      assert.equal(
        (await t.request('PUT', `${ws.properties.keyVault}/secrets/probe?api-version=7.4`, { value: 'v' })).status,
        200,
      );
      await ctx.db
        .updateTable('vault_secrets')
        .set({ value: 'v1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA:AAAA' })
        .where('name', '=', 'probe')
        .execute();
      // Application insights: its instrumentation key gone.
      await ctx.db
        .deleteFrom('resource_keys')
        .where('resource_key', '=', ws.properties.applicationInsights.toLowerCase())
        .execute();
      // Container registry: pointed at one that does not exist. Network: public access off and no
      // approved endpoint (diagnose itself stays reachable, to tell why nothing else is).
      const row = await ctx.db
        .selectFrom('resources')
        .select('properties')
        .where('id_key', '=', W.toLowerCase())
        .executeTakeFirstOrThrow();
      const props = JSON.parse(row.properties);
      props.containerRegistry = `${groupPath(t, 'diag-rg')}/providers/Microsoft.ContainerRegistry/registries/gone12345`;
      props.publicNetworkAccess = 'Disabled';
      await ctx.db
        .updateTable('resources')
        .set({ properties: JSON.stringify(props) })
        .where('id_key', '=', W.toLowerCase())
        .execute();
      // Database: a migration that is not recorded.
      await ctx.db
        .deleteFrom('kysely_migration' as 'resources')
        .where('name' as 'id_key', '=', '0001-core')
        .execute();

      const report = await diagnose(t, W);
      assert.ok(
        codes(report.storageAccountResults!).includes('Error:StorageFolderNotAFolder'),
        JSON.stringify(report.storageAccountResults),
      );
      assert.ok(
        codes(report.keyVaultResults!).includes('Error:KeyVaultDecryptFailed'),
        JSON.stringify(report.keyVaultResults),
      );
      assert.ok(
        codes(report.applicationInsightsResults!).includes('Error:InstrumentationKeyMissing'),
        JSON.stringify(report.applicationInsightsResults),
      );
      assert.ok(
        codes(report.containerRegistryResults!).includes('Error:ContainerRegistryNotFound'),
        JSON.stringify(report.containerRegistryResults),
      );
      assert.ok(codes(report.otherResults!).includes('Error:NoNetworkPath'), JSON.stringify(report.otherResults));
      assert.ok(
        codes(report.otherResults!).includes('Error:DatabaseMigrationsMissing'),
        JSON.stringify(report.otherResults),
      );

      // Repair what the other tests need.
      props.publicNetworkAccess = 'Enabled';
      await ctx.db
        .updateTable('resources')
        .set({ properties: JSON.stringify(props) })
        .where('id_key', '=', W.toLowerCase())
        .execute();
      await ctx.db
        .insertInto('kysely_migration' as 'settings')
        .values({ name: '0001-core', timestamp: new Date().toISOString() } as never)
        .execute();
    });

    it('linked services: records of other workspaces', async () => {
      await createWorkspace(t, 'diag-rg', 'other-ws');
      const other = wsPath(t, 'diag-rg', 'other-ws');
      const put = await t.request('PUT', `${W}/linkedServices/to-other?${V}`, {
        properties: { linkedServiceResourceId: other },
      });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.body.properties.linkType, 'MachineLearning');
      assert.ok(put.body.properties.createdTime);
      const list = await t.request('GET', `${W}/linkedServices?${V}`);
      assert.deepEqual(
        list.body.value.map((l: any) => l.name),
        ['to-other'],
      );
      const synapse = await t.request('PUT', `${W}/linkedServices/syn?${V}`, {
        properties: {
          linkedServiceResourceId: `/subscriptions/${t.subscriptionId}/resourceGroups/x/providers/Microsoft.Synapse/workspaces/syn1`,
          linkType: 'Synapse',
        },
      });
      assert.equal(synapse.status, 201, synapse.text);
      for (const bad of [
        { linkedServiceResourceId: W },
        { linkedServiceResourceId: 'not-an-id' },
        { linkedServiceResourceId: `${W}-missing` },
        { linkedServiceResourceId: other, extra: 1 },
      ]) {
        const r = await t.request('PUT', `${W}/linkedServices/bad?${V}`, { properties: bad });
        assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
      }
      assert.equal((await t.request('DELETE', `${W}/linkedServices/syn?${V}`)).status, 200);
      assert.equal((await t.request('GET', `${W}/linkedServices/syn?${V}`)).status, 404);
    });
  });
}
