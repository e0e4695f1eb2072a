import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { findPython, makeWorkspace } from '../../test/mlflow-client/python.js';
import { registerTestModels, waitOperation, until } from '../testing/deploy-models.js';

/**
 * Two servers on one database and data root (replicas behind a load balancer): a deployment
 * provisioned through one is served by the other too — it starts its own instances from the
 * durable record on the first request — and the other follows a scale change and a delete.
 */
const { python, skip } = findPython();
const V = 'api-version=2023-04-01-preview';

for (const dialect of testDialects()) {
  describe(`deployments served by every replica (${dialect})`, { skip }, () => {
    let a: TestServer;
    let b: TestServer;
    before(async () => {
      a = await startTestServer(dialect, { servingPython: python });
      b = await startTestServer(dialect, {
        servingPython: python,
        home: a.home,
        databaseUrl: a.server.ctx.config.databaseUrl,
      });
    });
    after(async () => {
      await b?.close();
      await a?.close();
    });

    it('serves through the replica that did not provision, follows a scale change and a delete', async () => {
      const ws = await makeWorkspace(a, 'rg-replicas', 'ws-replicas');
      await registerTestModels(python!, ws.trackingUri, a);
      const E = `${ws.armId}/onlineEndpoints/ep-rep`;
      const ep = await a.request('PUT', `${E}?${V}`, { location: 'local', properties: { authMode: 'Key' } });
      assert.equal(ep.status, 201, ep.text);
      const key = (await a.request('POST', `${E}/listKeys?${V}`)).body.primaryKey as string;
      const put = await a.request('PUT', `${E}/deployments/blue?${V}`, {
        location: 'local',
        sku: { capacity: 1 },
        properties: { model: 'azureml:doubler:1' },
      });
      assert.equal(put.status, 201, put.text);
      assert.equal((await waitOperation(a, put.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      assert.equal((await a.request('PATCH', `${E}?${V}`, { properties: { traffic: { blue: 100 } } })).status, 200);

      const id = `${E}/deployments/blue`;
      const runtimesB = b.server.services.serving.runtimes;
      assert.equal(runtimesB.has(id), false, 'b has not started it yet');
      const viaB = (body: unknown) =>
        fetch(String(ep.body.properties.scoringUri).replace(a.url, b.url), {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const first = await viaB({ dataframe_records: [{ x: 21 }] });
      assert.equal(first.status, 200, await first.clone().text());
      assert.deepEqual(await first.json(), { predictions: [42] });
      assert.equal(runtimesB.has(id), true);
      assert.equal(runtimesB.runtime(id)!.ready().length, 1);

      // A scale change through a: b restarts its instances with the new capacity.
      const scale = await a.request('PATCH', `${E}/deployments/blue?${V}`, { sku: { capacity: 2 } });
      assert.equal(scale.status, 200, scale.text);
      await until('b runs 2 instances', () => runtimesB.runtime(id)?.ready().length === 2);
      assert.deepEqual(await (await viaB({ dataframe_records: [{ x: 2 }] })).json(), { predictions: [4] });

      // A delete through a: b stops its instances and answers that nothing serves.
      assert.equal((await a.request('PATCH', `${E}?${V}`, { properties: { traffic: {} } })).status, 200);
      assert.equal((await a.request('DELETE', `${E}/deployments/blue?${V}`)).status, 200);
      await until('b stops blue', () => !runtimesB.has(id));
      await until('b routes nowhere', async () => (await viaB({ dataframe_records: [{ x: 1 }] })).status === 404);
    });
  });
}
