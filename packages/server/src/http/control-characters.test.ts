import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { V, createWorkspace, groupPath, wsPath } from './arm/arm-test-helpers.js';
import { makeWorkspace, type TestWorkspace } from './mlflow/testing.js';

// Control characters in names (and NUL anywhere) are refused with a 4xx, on every protocol, and change nothing.
for (const dialect of testDialects()) {
  describe(`control characters in input (${dialect})`, () => {
    let t: TestServer;
    let w: TestWorkspace;
    before(async () => {
      t = await startTestServer(dialect);
      w = await makeWorkspace(t, 'ctl-ws', 'ctl-rg');
    });
    after(async () => t?.close());

    it('ARM: friendlyName with control characters, and NUL in any string, are 400', async () => {
      await createWorkspace(t, 'ctl-rg', 'ctl-arm');
      const W = wsPath(t, 'ctl-rg', 'ctl-arm');
      for (const friendlyName of ['a\u0000b', 'bell\u0007', 'esc\u001b[31mred', 'del\u007f']) {
        const r = await t.request('PATCH', `${W}?${V}`, { properties: { friendlyName } });
        assert.equal(r.status, 400, `${JSON.stringify(friendlyName)}: ${r.text}`);
      }
      const created = await t.request('PUT', `${wsPath(t, 'ctl-rg', 'ctl-new')}?${V}`, {
        location: 'local',
        properties: { friendlyName: 'x\u0000' },
      });
      assert.equal(created.status, 400, created.text);
      assert.equal((await t.request('GET', `${wsPath(t, 'ctl-rg', 'ctl-new')}?${V}`)).status, 404);
      assert.equal((await t.request('PATCH', `${W}?${V}`, { tags: { k: 'v\u0000' } })).status, 400);
      assert.equal((await t.request('PATCH', `${W}?${V}`, { properties: { description: 'nul\u0000' } })).status, 400);
      const rg = await t.request('PUT', `${groupPath(t, 'ctl%00rg')}?${V}`, { location: 'local' });
      assert.ok(rg.status >= 400 && rg.status < 500, rg.text);
      const got = await t.request('GET', `${W}?${V}`);
      assert.equal(got.body.properties.friendlyName, 'ctl-arm');
      assert.deepEqual(got.body.tags, {});
      // Newlines and tabs in a description are text, not control input.
      assert.equal(
        (await t.request('PATCH', `${W}?${V}`, { properties: { description: 'line one\n\tline two' } })).status,
        200,
      );
    });

    it('MLflow: names with control characters, and NUL in any string, are INVALID_PARAMETER_VALUE', async () => {
      const api = `${w.trackingUri}/api/2.0/mlflow`;
      for (const name of ['exp\u0000', 'exp\u001b[2J', 'exp\r\nX-Injected: 1']) {
        const r = await t.request('POST', `${api}/experiments/create`, { name });
        assert.equal(r.status, 400, `${JSON.stringify(name)}: ${r.text}`);
        assert.equal(r.body.error_code, 'INVALID_PARAMETER_VALUE');
      }
      const exp = await t.request('POST', `${api}/experiments/create`, { name: 'fine' });
      assert.equal(exp.status, 200, exp.text);
      const run = await t.request('POST', `${api}/runs/create`, {
        experiment_id: exp.body.experiment_id,
        run_name: 'run\u0000',
      });
      assert.equal(run.status, 400, run.text);
      const model = await t.request('POST', `${api}/registered-models/create`, { name: 'model\u0000' });
      assert.equal(model.status, 400, model.text);
      const model2 = await t.request('POST', `${api}/registered-models/create`, { name: 'model\u0008' });
      assert.equal(model2.status, 400, model2.text);
      const ok = await t.request('POST', `${api}/runs/create`, {
        experiment_id: exp.body.experiment_id,
        run_name: 'ok',
      });
      assert.equal(ok.status, 200, ok.text);
      const tag = await t.request('POST', `${api}/runs/set-tag`, {
        run_id: ok.body.run.info.run_id,
        key: 'k',
        value: 'v\u0000',
      });
      assert.equal(tag.status, 400, tag.text);
      assert.equal(tag.body.error_code, 'INVALID_PARAMETER_VALUE');
      const search = await t.request('POST', `${api}/experiments/search`, { max_results: 100 });
      assert.deepEqual(search.body.experiments.map((e: { name: string }) => e.name).sort(), ['Default', 'fine']);
      assert.equal((await t.request('GET', `${api}/registered-models/search`)).body.registered_models, undefined);
    });
  });
}
