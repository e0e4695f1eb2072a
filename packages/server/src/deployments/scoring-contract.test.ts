import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, clientDialects, type TestServer } from '../testing/harness.js';
import { findPython, makeWorkspace, runPython } from '../../test/mlflow-client/python.js';
import { registerTestModels, waitOperation, until } from '../testing/deploy-models.js';
import { uploadCode } from '../testing/code-upload.js';

/**
 * The scoring contracts of a deployment, through real HTTP, at api-version 2025-09-01 (the issue's
 * shapes): a scoring script with a registered model (init() reads AZUREML_MODEL_DIR), mirror traffic
 * (callers get the live deployment's answers, the mirror receives copies), MLflow's `instances`, the
 * Open Inference Protocol's metadata and health routes, the swagger document at the endpoint's
 * `swaggerUri`, and a worker crash answering its other in-flight request 502. Workers run the CI
 * venv's Python (ATELIER_SERVING_PYTHON); one server per dialect.
 */
const { python, skip } = findPython();
const V = 'api-version=2025-09-01';

/** A registered model that is plain files (no MLmodel): `scaler` v1 holds weights.json {"scale": 3}. */
const MAKE_SCALER = String.raw`
import json, os, tempfile
import mlflow
with mlflow.start_run() as run:
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "weights.json"), "w") as f:
        json.dump({"scale": 3}, f)
    mlflow.log_artifacts(d, artifact_path="scaler")
    client = mlflow.MlflowClient()
    client.create_registered_model("scaler")
    client.create_model_version("scaler", run.info.artifact_uri + "/scaler", run_id=run.info.run_id)
print("RESULT {\"passed\": [\"scaler\"], \"failed\": {}, \"blocked\": {}}")
`;

/** Blue: loads the model's weights in init() and scales with them in run(). */
const SCORE_BLUE = `import json, os

def init():
    global scale
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "weights.json")) as f:
        scale = json.load(f)["scale"]

def run(raw_data):
    data = json.loads(raw_data)
    return {"who": "blue", "scaled": [scale * x for x in data["x"]]}
`;

/** Green: prints each request it receives (the test counts them in its log). */
const SCORE_GREEN = `import json

def init():
    pass

def run(raw_data):
    data = json.loads(raw_data)
    print("green received n=%s" % data["n"], flush=True)
    return {"who": "green"}
`;

for (const dialect of clientDialects('sqlite')) {
  describe(`deployment scoring contracts (${dialect})`, { skip }, () => {
    let t: TestServer;
    let W: string;

    const deploy = async (endpoint: string, name: string, body: Record<string, unknown>) => {
      const put = await t.request('PUT', `${W}/onlineEndpoints/${endpoint}/deployments/${name}?${V}`, {
        location: 'local',
        ...body,
      });
      assert.ok(put.status === 201 || put.status === 200, put.text);
      assert.deepEqual(put.body.properties.scaleSettings, { scaleType: 'Default' });
      const op = await waitOperation(t, put.headers.get('azure-asyncoperation')!);
      assert.equal(op.status, 'Succeeded', JSON.stringify(op));
    };
    const call = (
      uri: string,
      credential: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ): Promise<Response> =>
      fetch(uri, {
        method: body === undefined ? 'GET' : 'POST',
        headers: {
          authorization: `Bearer ${credential}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });

    before(async () => {
      t = await startTestServer(dialect, { servingPython: python });
      const ws = await makeWorkspace(t, 'rg-contract', 'ws-contract');
      W = ws.armId;
      const makeScaler = async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-scaler-'));
        try {
          fs.writeFileSync(path.join(dir, 'make_scaler.py'), MAKE_SCALER);
          const r = await runPython(python!, [path.join(dir, 'make_scaler.py')], ws.trackingUri, {
            token: t.adminToken,
          });
          assert.equal(r.code, 0, r.stderr.slice(-3000));
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      };
      // Both Python clients at once: most of their time is starting up.
      await Promise.all([registerTestModels(python!, ws.trackingUri, t), makeScaler()]);
      await uploadCode(t, W, 'scorers', '1', { 'score_blue.py': SCORE_BLUE, 'score_green.py': SCORE_GREEN });
    });
    after(async () => {
      await t?.close();
    });

    describe('a scoring script with a registered model, and mirror traffic', () => {
      const E = () => `${W}/onlineEndpoints/ep-script`;
      let key: string;
      let scoringUri: string;

      it('runs init() with the registered model in AZUREML_MODEL_DIR, and run(raw_data) with what it loaded', async () => {
        const ep = await t.request('PUT', `${E()}?${V}`, {
          location: 'local',
          identity: { type: 'SystemAssigned' },
          properties: { authMode: 'Key', traffic: {}, mirrorTraffic: {} },
        });
        assert.equal(ep.status, 201, ep.text);
        scoringUri = ep.body.properties.scoringUri;
        key = (await t.request('POST', `${E()}/listKeys?${V}`)).body.primaryKey;
        await deploy('ep-script', 'blue', {
          sku: { name: 'Default', capacity: 1 },
          properties: {
            model: `${W}/models/scaler/versions/1`,
            codeConfiguration: { codeId: `${W}/codes/scorers/versions/1`, scoringScript: 'score_blue.py' },
          },
        });
        const traffic = await t.request('PATCH', `${E()}?${V}`, { properties: { traffic: { blue: 100 } } });
        assert.equal(traffic.status, 200, traffic.text);
        const r = await call(scoringUri, key, { x: [1, 2.5] });
        const text = await r.text();
        assert.equal(r.status, 200, text);
        assert.equal(r.headers.get('azureml-model-deployment'), 'blue');
        // 3 is only in the model's weights.json: init() read it from AZUREML_MODEL_DIR.
        assert.deepEqual(JSON.parse(text), { who: 'blue', scaled: [3, 7.5] });
      });

      it('refuses mirror traffic to a deployment with live traffic, or above 50 %, with 400', async () => {
        await deploy('ep-script', 'green', {
          sku: { capacity: 1 },
          properties: {
            model: 'azureml:scaler:1',
            codeConfiguration: { codeId: `${W}/codes/scorers/versions/1`, scoringScript: 'score_green.py' },
            requestSettings: { maxConcurrentRequestsPerInstance: 4 },
          },
        });
        const live = await t.request('PATCH', `${E()}?${V}`, {
          properties: { traffic: { blue: 100 }, mirrorTraffic: { blue: 10 } },
        });
        assert.equal(live.status, 400, live.text);
        assert.match(live.body.error.message, /blue.*live traffic/);
        const put = await t.request('PUT', `${E()}?${V}`, {
          location: 'local',
          properties: { authMode: 'Key', traffic: { blue: 50, green: 50 }, mirrorTraffic: { green: 20 } },
        });
        assert.equal(put.status, 400, put.text);
        assert.match(put.body.error.message, /green/);
        const tooMuch = await t.request('PATCH', `${E()}?${V}`, { properties: { mirrorTraffic: { green: 60 } } });
        assert.equal(tooMuch.status, 400, tooMuch.text);
        assert.match(tooMuch.body.error.message, /mirrorTraffic/);
        const got = await t.request('GET', `${E()}?${V}`);
        assert.deepEqual(got.body.properties.traffic, { blue: 100 }, 'a refused change changes nothing');
        assert.deepEqual(got.body.properties.mirrorTraffic, {});
      });

      it('sends callers the live deployment’s answers and copies of some requests to the mirror', async () => {
        const set = await t.request('PATCH', `${E()}?${V}`, {
          properties: { traffic: { blue: 100, green: 0 }, mirrorTraffic: { green: 50 } },
        });
        assert.equal(set.status, 200, set.text);
        assert.deepEqual(set.body.properties.mirrorTraffic, { green: 50 });
        const before = (await t.request('POST', `${E()}/deployments/green/getLogs?${V}`, {})).body.content as string;
        assert.doesNotMatch(before, /green received/);
        const N = 40;
        for (let n = 0; n < N; n++) {
          const r = await call(scoringUri, key, { x: [1], n });
          const text = await r.text();
          assert.equal(r.status, 200, text);
          assert.equal(r.headers.get('azureml-model-deployment'), 'blue');
          assert.deepEqual(JSON.parse(text), { who: 'blue', scaled: [3] });
        }
        // The copies are fire-and-forget: wait until the mirror has logged them.
        const received = await until('green logs its copies', async () => {
          const log = (await t.request('POST', `${E()}/deployments/green/getLogs?${V}`, {})).body.content as string;
          const ns = [...log.matchAll(/green received n=(\d+)/g)].map((m) => Number(m[1]));
          return ns.length ? ns : undefined;
        });
        // Then until no more arrive (the same count three times, 300 ms apart), so that "not all"
        // below counts every copy sent, not only the first ones to arrive.
        let all = received;
        for (let same = 0, deadline = Date.now() + 15_000; same < 3 && Date.now() < deadline;) {
          await new Promise((r) => setTimeout(r, 300));
          const log = (await t.request('POST', `${E()}/deployments/green/getLogs?${V}`, {})).body.content as string;
          const now = [...log.matchAll(/green received n=(\d+)/g)].map((m) => Number(m[1]));
          same = now.length === all.length ? same + 1 : 0;
          all = now;
        }
        assert.ok(all.length >= received.length);
        // 50 %: some but not all (each of both outcomes has a chance of 2^-40).
        assert.ok(all.length > 0 && all.length < N, `green received ${all.length} of ${N}`);
        assert.equal(new Set(all).size, all.length, 'each copy once');
        assert.ok(
          all.every((n) => n >= 0 && n < N),
          all.join(','),
        );
      });
      it('drops the mirror traffic of a deployment that is deleted, and keeps serving', async () => {
        const del = await t.request('DELETE', `${E()}/deployments/green?${V}`);
        assert.equal(del.status, 200, del.text);
        const got = await t.request('GET', `${E()}?${V}`);
        assert.deepEqual(got.body.properties.mirrorTraffic, {});
        assert.deepEqual(got.body.properties.traffic, { blue: 100 });
        const r = await call(scoringUri, key, { x: [2], n: 99 });
        assert.equal(r.status, 200, await r.clone().text());
        assert.equal(r.headers.get('azureml-model-deployment'), 'blue');
      });
    });

    describe('an MLflow model: the scoring contract, OIP v2, swagger, and a crash', () => {
      const E = () => `${W}/onlineEndpoints/ep-mlflow`;
      let token: string;
      let scoringUri: string;
      let swaggerUri: string;
      const at = (p: string) => scoringUri.replace(/\/score$/, p);

      it('creates an AMLToken endpoint and a deployment with the 2025-09-01 shapes', async () => {
        const ep = await t.request('PUT', `${E()}?${V}`, {
          location: 'local',
          identity: { type: 'SystemAssigned' },
          properties: { authMode: 'AMLToken', description: 'doubles x', traffic: {}, mirrorTraffic: {} },
        });
        assert.equal(ep.status, 201, ep.text);
        assert.equal(ep.body.properties.authMode, 'AMLToken');
        assert.equal(ep.body.identity.type, 'SystemAssigned');
        await deploy('ep-mlflow', 'mlflow', {
          sku: { name: 'Default', capacity: 1 },
          properties: {
            endpointComputeType: 'Managed',
            model: `${W}/models/doubler/versions/1`,
            instanceType: 'Standard_DS3_v2',
            requestSettings: { maxConcurrentRequestsPerInstance: 2, requestTimeout: 'PT10S' },
          },
        });
        const d = await t.request('GET', `${E()}/deployments/mlflow?${V}`);
        assert.equal(d.status, 200, d.text);
        assert.equal(d.body.properties.provisioningState, 'Succeeded');
        assert.deepEqual(d.body.properties.requestSettings, {
          maxConcurrentRequestsPerInstance: 2,
          requestTimeout: 'PT10S',
          maxQueueWait: 'PT0.5S',
        });
        assert.deepEqual(d.body.sku, { name: 'Default', capacity: 1 });
        const list = await t.request('GET', `${E()}/deployments?${V}`);
        assert.deepEqual(
          list.body.value.map((x: any) => x.name),
          ['mlflow'],
        );
        const patch = await t.request('PATCH', `${E()}?${V}`, { properties: { traffic: { mlflow: 100 } } });
        assert.equal(patch.status, 200, patch.text);
        // The URIs are read from the endpoint as a client reads them, not rebuilt.
        const got = await t.request('GET', `${E()}?${V}`);
        assert.equal(got.body.properties.provisioningState, 'Succeeded');
        assert.deepEqual(got.body.properties.traffic, { mlflow: 100 });
        assert.equal(got.body.properties.description, 'doubles x');
        scoringUri = got.body.properties.scoringUri;
        swaggerUri = got.body.properties.swaggerUri;
        assert.match(scoringUri, /^http:\/\/127\.0\.0\.1:\d+\/endpoints\/[0-9a-f-]{36}\/ep-mlflow\/score$/);
        assert.ok(swaggerUri.startsWith('http'), swaggerUri);
        const tok = await t.request('POST', `${E()}/token?${V}`);
        assert.equal(tok.status, 200, tok.text);
        token = tok.body.accessToken;
        assert.ok(tok.body.expiryTimeUtc > tok.body.refreshAfterTimeUtc);
      });

      it('takes MLflow’s `instances` input and answers {"predictions": …}', async () => {
        let r = await call(scoringUri, token, { instances: [{ x: 1 }, { x: 2.5 }] });
        assert.equal(r.status, 200, await r.clone().text());
        assert.deepEqual(await r.json(), { predictions: [2, 5] });
        r = await call(at('/invocations'), token, { instances: [{ x: 4 }], params: { factor: 10 } });
        assert.equal(r.status, 200, await r.clone().text());
        assert.deepEqual(await r.json(), { predictions: [40] });
        // Two input formats at once is MLflow's 400.
        r = await call(scoringUri, token, { instances: [{ x: 1 }], inputs: { x: [1] } });
        assert.equal(r.status, 400, await r.clone().text());
      });

      it('answers the Open Inference Protocol’s health and model metadata routes', async () => {
        let r = await call(at('/v2/health/live'), token);
        assert.equal(r.status, 200, await r.clone().text());
        assert.deepEqual(await r.json(), { live: true });
        r = await call(at('/v2/health/ready'), token);
        assert.equal(r.status, 200, await r.clone().text());
        assert.deepEqual(await r.json(), { ready: true });
        r = await call(at('/v2/models/doubler'), token);
        assert.equal(r.status, 200, await r.clone().text());
        const meta = (await r.json()) as any;
        assert.equal(meta.name, 'doubler');
        assert.deepEqual(meta.versions, ['1']);
        assert.equal(meta.platform, 'mlflow');
        // Typed by the model's signature: a double column x in, a double column out.
        assert.deepEqual(meta.inputs, [{ name: 'x', datatype: 'FP64', shape: [-1] }]);
        assert.deepEqual(meta.outputs, [{ name: 'predict', datatype: 'FP64', shape: [-1] }]);
        r = await call(at('/v2/models/doubler/ready'), token);
        assert.deepEqual(await r.json(), { name: 'doubler', ready: true });
        r = await call(at('/v2/models/doubler/versions/1'), token);
        assert.equal(r.status, 200, await r.clone().text());
        assert.deepEqual(((await r.json()) as any).versions, ['1']);
        r = await call(at('/v2/models/doubler/versions/1/ready'), token);
        assert.deepEqual(await r.json(), { name: 'doubler', ready: true });
        r = await call(at('/v2/models/doubler/versions/1/infer'), token, {
          inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP64', data: [21] }],
        });
        assert.equal(r.status, 200, await r.clone().text());
        assert.deepEqual(((await r.json()) as any).outputs[0].data, [42]);
        // Another model, another version or another route of the model is 404, never its metadata.
        r = await call(at('/v2/models/other'), token);
        assert.equal(r.status, 404);
        assert.match(await r.text(), /doubler/);
        r = await call(at('/v2/models/doubler/versions/2'), token);
        assert.equal(r.status, 404, await r.clone().text());
        assert.match(await r.text(), /version 2 is not served here/);
        r = await call(at('/v2/models/doubler/versions/2/infer'), token, {
          inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP64', data: [1] }],
        });
        assert.equal(r.status, 404, await r.clone().text());
        assert.equal((await call(at('/v2/models/doubler/nonsense'), token)).status, 404);
        // MLflow's own health and version routes.
        r = await call(at('/ping'), token);
        assert.equal(r.status, 200);
        r = await call(at('/version'), token);
        assert.equal(r.status, 200);
        assert.match(await r.text(), /^\d+\.\d+/);
        // Unauthenticated, the same routes are refused.
        assert.equal((await fetch(at('/v2/health/live'))).status, 401);
      });

      it('serves the swagger document at the endpoint’s swaggerUri', async () => {
        assert.equal((await fetch(swaggerUri)).status, 401, 'the swagger document needs the credential too');
        const r = await call(swaggerUri, token);
        assert.equal(r.status, 200, await r.clone().text());
        const doc = (await r.json()) as any;
        assert.equal(doc.swagger, '2.0');
        assert.equal(doc.info.title, 'doubler');
        assert.ok(doc.paths['/score'].post.consumes.includes('text/csv'));
        assert.deepEqual(
          doc.info['x-mlflow-input-schema'].map((c: any) => c.name),
          ['x'],
        );
      });

      it('answers 502 to a second in-flight request when the worker crashes, then serves again', async () => {
        const id = `${E()}/deployments/mlflow`;
        const balancer = () => t.server.services.serving.runtimes.get(id)!;
        // x = -2 sleeps five seconds in the worker (one second, x = -1, is not surely long enough on a
        // loaded machine for the next request to get there); while it is in flight, x = 666 makes the
        // worker exit.
        const slow = call(scoringUri, token, { dataframe_records: [{ x: -2 }] });
        await until('the slow request is in flight', async () => balancer().load().inflight === 1);
        await new Promise((r) => setTimeout(r, 50));
        const crash = await call(scoringUri, token, { dataframe_records: [{ x: 666 }] });
        assert.equal(crash.status, 502, await crash.clone().text());
        const other = await slow;
        const text = await other.text();
        assert.equal(other.status, 502, `the other in-flight request: ${other.status} ${text}`);
        assert.match(text, /SCORING_UPSTREAM_FAILED/);
        assert.equal(other.headers.get('azureml-model-deployment'), 'mlflow');
        // The instance is restarted; requests are answered again.
        // (Bounded like a deploy: the new worker imports MLflow and loads the model, which takes long on a loaded machine.)
        await until(
          'the restarted instance answers',
          async () => {
            const r = await call(scoringUri, token, { dataframe_records: [{ x: 2 }] });
            return r.status === 200 && JSON.stringify(await r.json()) === '{"predictions":[4]}';
          },
          120_000,
        );
        const logs = await t.request('POST', `${id}/getLogs?${V}`, { tail: 100 });
        assert.match(logs.body.content, /exited \(code 17\)/);
        assert.match(logs.body.content, /restarting in \d+ ms/);
      });
    });
  });
}
