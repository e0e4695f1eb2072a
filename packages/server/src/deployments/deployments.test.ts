import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { findPython, makeWorkspace } from '../../test/mlflow-client/python.js';
import { registerTestModels, waitOperation, until } from '../testing/deploy-models.js';

/**
 * Online endpoints and deployments end to end: real MLflow models (logged by the Python client),
 * real worker processes (the CI venv's Python as ATELIER_SERVING_PYTHON), the balancing proxy,
 * keys and tokens, traffic, failures (a model that does not load, a worker that crashes, a full
 * queue, a timeout) and a blue/green swap under load; and a second server on the same database and
 * data root (replicas behind a load balancer) serving what the first provisioned.
 */
const { python, skip } = findPython();
const V = 'api-version=2023-04-01-preview';

for (const dialect of testDialects()) {
  describe(`online endpoints and deployments (${dialect})`, { skip }, () => {
    let t: TestServer;
    let W: string;
    let E: string;
    let key: string;
    let scoringUri: string;

    const score = (
      body: unknown,
      opts: { key?: string | null; headers?: Record<string, string>; path?: string } = {},
    ) => {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...(opts.headers ?? {}) };
      const k = opts.key === undefined ? key : opts.key;
      if (k) headers.authorization = `Bearer ${k}`;
      const url = opts.path ? scoringUri.replace(/\/score$/, opts.path) : scoringUri;
      return fetch(url, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
    };

    const deploy = async (endpoint: string, name: string, body: Record<string, unknown>) => {
      const put = await t.request('PUT', `${W}/onlineEndpoints/${endpoint}/deployments/${name}?${V}`, body);
      assert.ok(put.status === 201 || put.status === 200, put.text);
      assert.deepEqual(put.body.properties.scaleSettings, { scaleType: 'Default' });
      assert.ok(put.headers.get('retry-after'));
      return waitOperation(t, put.headers.get('azure-asyncoperation')!);
    };

    before(async () => {
      t = await startTestServer(dialect, { servingPython: python });
      const ws = await makeWorkspace(t, 'rg-deploy', 'ws-deploy');
      W = ws.armId;
      await registerTestModels(python!, ws.trackingUri, t);
      E = `${W}/onlineEndpoints/ep-one`;
    });
    /** The second server of the replicas case (started there), on t's database and data root. */
    let b: TestServer | undefined;
    after(async () => {
      await b?.close();
      await t?.close();
    });

    it('creates a Key endpoint whose keys are listed only by listKeys', async () => {
      const put = await t.request('PUT', `${E}?${V}`, {
        location: 'local',
        identity: { type: 'SystemAssigned' },
        properties: { authMode: 'Key', traffic: {}, mirrorTraffic: {} },
      });
      assert.equal(put.status, 201, put.text);
      assert.equal(put.body.properties.provisioningState, 'Succeeded');
      scoringUri = put.body.properties.scoringUri;
      assert.match(scoringUri, /\/endpoints\/[0-9a-f-]{36}\/ep-one\/score$/);
      assert.equal(put.body.properties.keys, null);
      const keys = await t.request('POST', `${E}/listKeys?${V}`);
      assert.equal(keys.status, 200, keys.text);
      assert.equal(keys.body.primaryKey.length, 32);
      assert.notEqual(keys.body.primaryKey, keys.body.secondaryKey);
      key = keys.body.primaryKey;
      const list = await t.request('GET', `${W}/onlineEndpoints?${V}`);
      assert.equal(list.body.value.length, 1);
      assert.ok(!list.text.includes(key), 'a list never shows keys');
      // Traffic may only name deployments that exist.
      const bad = await t.request('PATCH', `${E}?${V}`, { properties: { traffic: { nope: 100 } } });
      assert.equal(bad.status, 400, bad.text);
      assert.match(bad.text, /nope/);
    });

    it('deploys an MLflow model and serves MLflow’s scoring contract through the proxy', async () => {
      const op = await deploy('ep-one', 'blue', {
        location: 'local',
        sku: { name: 'Default', capacity: 2 },
        properties: {
          endpointComputeType: 'Managed',
          model: `${W}/models/doubler/versions/1`,
          instanceType: 'Standard_DS3_v2',
          requestSettings: { maxConcurrentRequestsPerInstance: 2 },
        },
      });
      assert.equal(op.status, 'Succeeded', JSON.stringify(op));
      const got = await t.request('GET', `${E}/deployments/blue?${V}`);
      assert.equal(got.body.properties.provisioningState, 'Succeeded');
      assert.equal(got.body.sku.capacity, 2);
      const traffic = await t.request('PATCH', `${E}?${V}`, { properties: { traffic: { blue: 100 } } });
      assert.equal(traffic.status, 200, traffic.text);
      assert.deepEqual(traffic.body.properties.traffic, { blue: 100 });

      let r = await score({ dataframe_split: { columns: ['x'], data: [[1], [2.5]] } });
      assert.equal(r.status, 200, await r.clone().text());
      assert.equal(r.headers.get('azureml-model-deployment'), 'blue');
      assert.deepEqual(await r.json(), { predictions: [2, 5] });
      r = await score({ dataframe_records: [{ x: 3 }], params: { factor: 3 } });
      assert.deepEqual(await r.json(), { predictions: [9] });
      r = await score({ inputs: { x: [4] } }, { path: '/invocations' });
      assert.deepEqual(await r.json(), { predictions: [8] });
      r = await score('x\n5\n', { headers: { 'content-type': 'text/csv' } });
      assert.deepEqual(await r.json(), { predictions: [10] });
      r = await score('hello', { headers: { 'content-type': 'text/plain' } });
      assert.equal(r.status, 415);
      // The Open Inference Protocol v2.
      r = await score(
        { inputs: [{ name: 'x', shape: [2, 1], datatype: 'FP64', data: [1, 2] }] },
        { path: '/v2/models/doubler/infer' },
      );
      assert.equal(r.status, 200, await r.clone().text());
      const oip = (await r.json()) as any;
      assert.equal(oip.model_name, 'doubler');
      assert.deepEqual(oip.outputs[0].data, [2, 4]);
      const sw = await fetch(scoringUri.replace(/score$/, 'swagger.json'), {
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(sw.status, 200);
      assert.equal(((await sw.json()) as any).swagger, '2.0');
    });

    it('refuses a missing or wrong key with 401, and serves the secondary key and a regenerated one', async () => {
      assert.equal((await score({ dataframe_records: [{ x: 1 }] }, { key: null })).status, 401);
      assert.equal((await score({ dataframe_records: [{ x: 1 }] }, { key: 'x'.repeat(32) })).status, 401);
      const keys = await t.request('POST', `${E}/listKeys?${V}`);
      assert.equal((await score({ dataframe_records: [{ x: 1 }] }, { key: keys.body.secondaryKey })).status, 200);
      const regen = await t.request('POST', `${E}/regenerateKeys?${V}`, { keyType: 'Primary' });
      assert.equal(regen.status, 200, regen.text);
      assert.equal((await score({ dataframe_records: [{ x: 1 }] })).status, 401, 'the old primary key no longer works');
      key = (await t.request('POST', `${E}/listKeys?${V}`)).body.primaryKey;
      assert.equal((await score({ dataframe_records: [{ x: 1 }] })).status, 200);
    });

    it('answers a crashed worker’s request with 502, restarts it, and keeps serving', async () => {
      const r = await score({ dataframe_records: [{ x: 666 }] });
      assert.equal(r.status, 502, await r.clone().text());
      for (let i = 0; i < 10; i++) assert.equal((await score({ dataframe_records: [{ x: 1 }] })).status, 200);
      // The 502 comes when the worker's connection drops; its exit is seen (and logged) later, and the
      // log is an append stream whose lines reach the file in separate writes: wait for the last line.
      const log = await until('the crashed worker is restarted', async () => {
        const logs = await t.request('POST', `${E}/deployments/blue/getLogs?${V}`, { tail: 200 });
        assert.equal(logs.status, 200, logs.text);
        return /restarting in \d+ ms/.test(logs.body.content) ? (logs.body.content as string) : undefined;
      });
      assert.match(log, /exited \(code 17\)\n.*restarting in \d+ ms/);
      const short = await t.request('POST', `${E}/deployments/blue/getLogs?${V}`, { tail: 2 });
      assert.equal(short.body.content.trim().split('\n').length, 2);
    });

    it('getLogs shows every instance, and narrows to one instance or one container type', async () => {
      const L = `${E}/deployments/blue/getLogs?${V}`;
      const all = await t.request('POST', L, { tail: 1000 });
      assert.equal(all.status, 200, all.text);
      const tags = new Set([...all.body.content.matchAll(/\[(instance-\d+|atelier)\]/g)].map((m: string[]) => m[1]));
      assert.deepEqual([...tags].sort(), ['atelier', 'instance-0', 'instance-1'], 'both instances of capacity 2');
      const one = await t.request('POST', L, { tail: 1000, instance: 'instance-1' });
      assert.equal(one.status, 200, one.text);
      const lines = one.body.content.trim().split('\n');
      assert.ok(lines.length > 0 && lines.every((l: string) => l.includes('[instance-1]')), one.body.content);
      assert.equal(
        (await t.request('POST', L, { tail: 2, instance: 'instance-1' })).body.content.trim().split('\n').length,
        2,
      );
      const server = await t.request('POST', L, { tail: 1000, containerType: 'InferenceServer' });
      assert.doesNotMatch(server.body.content, /\[atelier\]/);
      assert.match(server.body.content, /\[instance-0\]/);
      const init = await t.request('POST', L, { tail: 1000, containerType: 'StorageInitializer' });
      assert.match(init.body.content, /\[atelier\] model doubler:1 fetched/);
      assert.doesNotMatch(init.body.content, /\[instance-/);
      const missing = await t.request('POST', L, { instance: 'instance-7' });
      assert.equal(missing.status, 404, missing.text);
      assert.match(missing.body.error.message, /instance-0, instance-1/);
      assert.equal((await t.request('POST', L, { instance: '../etc' })).status, 400);
    });

    it('marks a deployment whose model fails to load Failed, with the log tail', async () => {
      const op = await deploy('ep-one', 'broken', {
        location: 'local',
        sku: { capacity: 1 },
        properties: { model: 'azureml:broken:1' },
      });
      assert.equal(op.status, 'Failed');
      assert.match(op.error.message, /failed to load/);
      assert.match(op.error.message, /weights are missing/);
      const got = await t.request('GET', `${E}/deployments/broken?${V}`);
      assert.equal(got.body.properties.provisioningState, 'Failed');
      const direct = await score(
        { dataframe_records: [{ x: 1 }] },
        { headers: { 'azureml-model-deployment': 'broken' } },
      );
      assert.equal(direct.status, 503);
      const del = await t.request('DELETE', `${E}/deployments/broken?${V}`);
      assert.equal(del.status, 200, del.text);
    });

    it('refuses bad deployments with 400 naming the field, storing nothing', async () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ properties: { model: 'azureml:nope:1' } }, /no model 'nope'/],
        [{ properties: { model: 'azureml:doubler:1' }, sku: { capacity: 0 } }, /sku.capacity/],
        [{ properties: { model: 'azureml:doubler:1', scaleSettings: { scaleType: 'TargetUtilization' } } }, /autoscal/],
        [
          { properties: { model: 'azureml:doubler:1', requestSettings: { requestTimeout: '5 seconds' } } },
          /requestTimeout/,
        ],
        [{ properties: { model: 'azureml:doubler:1', endpointComputeType: 'Kubernetes' } }, /Managed/],
      ];
      for (const [body, re] of cases) {
        const r = await t.request('PUT', `${E}/deployments/bad?${V}`, { location: 'local', ...body });
        assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.text}`);
        assert.match(r.text, re);
      }
      const got = await t.request('GET', `${E}/deployments/bad?${V}`);
      assert.equal(got.status, 404);
    });

    it('swaps blue → green under constant load without dropping a request', async () => {
      const op = await deploy('ep-one', 'green', {
        location: 'local',
        sku: { capacity: 1 },
        properties: { model: 'azureml:doubler:1', requestSettings: { maxConcurrentRequestsPerInstance: 4 } },
      });
      assert.equal(op.status, 'Succeeded', JSON.stringify(op));
      let stop = false;
      const seen: Record<string, number> = {};
      const failures: string[] = [];
      const worker = async () => {
        while (!stop) {
          const r = await score({ dataframe_records: [{ x: 1 }] });
          const text = await r.text();
          if (r.status !== 200) failures.push(`${r.status} ${text}`);
          const d = r.headers.get('azureml-model-deployment') ?? '?';
          seen[d] = (seen[d] ?? 0) + 1;
        }
      };
      const load = Array.from({ length: 4 }, () => worker());
      // The load runs before, during and after the swap: until blue and then green answered a few.
      await until('blue serves the load', () => (seen.blue ?? 0) >= 20, 60_000);
      const swap = await t.request('PATCH', `${E}?${V}`, { properties: { traffic: { blue: 0, green: 100 } } });
      assert.equal(swap.status, 200, swap.text);
      await until('green serves the load', () => (seen.green ?? 0) >= 20, 60_000);
      stop = true;
      await Promise.all(load);
      assert.deepEqual(failures, []);
      assert.ok(seen.blue! > 0 && seen.green! > 0, JSON.stringify(seen));
      const after = await score({ dataframe_records: [{ x: 1 }] });
      assert.equal(after.headers.get('azureml-model-deployment'), 'green');
      // Blue still answers when named.
      const named = await score({ dataframe_records: [{ x: 1 }] }, { headers: { 'azureml-model-deployment': 'blue' } });
      assert.equal(named.headers.get('azureml-model-deployment'), 'blue');
      // A deployment with traffic cannot be deleted.
      const del = await t.request('DELETE', `${E}/deployments/green?${V}`);
      assert.equal(del.status, 409, del.text);
    });

    it('answers 429 when the queue wait is exceeded and 408 past the request timeout', async () => {
      const op = await deploy('ep-one', 'slow', {
        location: 'local',
        sku: { capacity: 1 },
        properties: {
          model: 'azureml:doubler:1',
          requestSettings: { maxConcurrentRequestsPerInstance: 1, maxQueueWait: 'PT0.1S', requestTimeout: 'PT0.8S' },
        },
      });
      assert.equal(op.status, 'Succeeded', JSON.stringify(op));
      const h = { 'azureml-model-deployment': 'slow' };
      // x = -1 sleeps a second: past the timeout (408), and holding the only slot meanwhile (429 for the next).
      // The second request is sent once the first holds the slot (not after a fixed pause: on a loaded
      // machine the first may not have reached the balancer 50 ms later), and must reach it before the
      // first times out and frees the slot: hence a timeout well under the second but not a tight one.
      const balancer = t.server.services.serving.runtimes.get(`${E}/deployments/slow`)!;
      const slow = score({ dataframe_records: [{ x: -1 }] }, { headers: h });
      await until('the slow request holds the only slot', () => balancer.load().inflight === 1, 30_000, 5);
      const answers = await Promise.all([slow, score({ dataframe_records: [{ x: 1 }] }, { headers: h })]);
      assert.equal(answers[0].status, 408, await answers[0].text());
      assert.equal(answers[1].status, 429, await answers[1].text());
      assert.equal((await score({ dataframe_records: [{ x: 1 }] }, { headers: h })).status, 200);
    });

    it('serves an AMLToken endpoint with tokens only, and deletes endpoints with their deployments', async () => {
      const E2 = `${W}/onlineEndpoints/ep-token`;
      const put = await t.request('PUT', `${E2}?${V}`, { location: 'local', properties: { authMode: 'AMLToken' } });
      assert.equal(put.status, 201, put.text);
      assert.equal((await t.request('POST', `${E2}/listKeys?${V}`)).status, 400);
      const tok = await t.request('POST', `${E2}/token?${V}`);
      assert.equal(tok.status, 200, tok.text);
      assert.equal(tok.body.tokenType, 'Bearer');
      const uri = put.body.properties.scoringUri as string;
      const call = (credential: string) =>
        fetch(uri, {
          method: 'POST',
          headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
          body: '{}',
        });
      // Authenticated, but no deployment has traffic yet.
      const ok = await call(tok.body.accessToken);
      assert.equal(ok.status, 404);
      assert.match(await ok.text(), /NO_DEPLOYMENT_TO_ROUTE_TO/);
      assert.equal((await call(key)).status, 401, 'another endpoint’s key is refused');
      assert.equal((await call(tok.body.accessToken.slice(0, -2) + 'xx')).status, 401);
      // Deleting the first endpoint stops its instances and its scoring URI.
      const del = await t.request('DELETE', `${E}?${V}`);
      assert.equal(del.status, 200, del.text);
      assert.equal((await score({ dataframe_records: [{ x: 1 }] })).status, 404);
      assert.equal(t.server.services.serving.runtimes.has(`${E}/deployments/blue`), false);
      assert.equal((await t.request('DELETE', `${E2}?${V}`)).status, 200);
    });

    // Two servers on one database and data root (replicas behind a load balancer): a deployment
    // provisioned through one is served by the other too — it starts its own instances from the
    // durable record on the first request — and the other follows a scale change and a delete.
    // (Was replicas.test.ts, which started its own server and registered the same models again.)
    it('serves through the replica that did not provision, follows a scale change and a delete', async () => {
      const a = t;
      b = await startTestServer(dialect, {
        servingPython: python,
        home: a.home,
        databaseUrl: a.server.ctx.config.databaseUrl,
        // b re-reads the records every 0.2 s (3 s by default), so following a change waits little.
        deploymentFollowMs: 200,
      });
      const E = `${W}/onlineEndpoints/ep-rep`;
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
        fetch(String(ep.body.properties.scoringUri).replace(a.url, b!.url), {
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
      // (Bounded like a deploy: two instances load their model, which takes long on a loaded machine.)
      await until('b runs 2 instances', () => runtimesB.runtime(id)?.ready().length === 2, 120_000);
      assert.deepEqual(await (await viaB({ dataframe_records: [{ x: 2 }] })).json(), { predictions: [4] });

      // A delete through a: b stops its instances and answers that nothing serves.
      assert.equal((await a.request('PATCH', `${E}?${V}`, { properties: { traffic: {} } })).status, 200);
      assert.equal((await a.request('DELETE', `${E}/deployments/blue?${V}`)).status, 200);
      await until('b stops blue', () => !runtimesB.has(id));
      await until('b routes nowhere', async () => (await viaB({ dataframe_records: [{ x: 1 }] })).status === 404);
    });
  });
}
