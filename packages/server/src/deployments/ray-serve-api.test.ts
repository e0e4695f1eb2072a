import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../testing/harness.js';
import { V, createWorkspace, waitForOperation, wsPath } from '../http/arm/arm-test-helpers.js';
import { waitOperation } from '../testing/deploy-models.js';
import { uploadCode } from '../testing/code-upload.js';
import { testRay } from '../testing/ray.js';
import { RayServeClient } from './engines/ray-serve/ray-serve-client.js';

/**
 * Ray Serve through the API, against the real single-node cluster of the tests (.ci/ray.sh): an
 * endpoint whose `properties.compute` names an attached Ray compute runs its deployments as Ray
 * Serve replicas; the scoring URI, keys, traffic, getLogs and delete are the same as on this
 * machine. One store (SQLite): the store paths of endpoints and deployments are the same as those
 * deployments.test.ts covers on both; this suite is about the engine behind them.
 */
const ray = testRay('the Ray Serve deployment API tests');

const SCORE_PY = `import json, os
def init():
    global pid
    pid = os.getpid()
    print("scorer ready on Ray", flush=True)
def run(raw_data):
    data = json.loads(raw_data)
    return {"doubled": [2 * x for x in data["x"]], "pid": pid, "greeting": os.environ.get("GREETING")}
`;

describe('deployments on an attached Ray compute (Ray Serve)', { skip: !ray }, () => {
  let t: TestServer;
  let W: string;
  const saved = process.env.ATELIER_RAY_ADDRESSES;

  before(async () => {
    process.env.ATELIER_RAY_ADDRESSES = ray!.dashboard;
    t = await startTestServer('sqlite', {
      servingPython: undefined,
      rayServePort: Number(process.env.ATELIER_TEST_RAY_SERVE_PORT ?? 28300),
    });
    if (saved === undefined) delete process.env.ATELIER_RAY_ADDRESSES;
    else process.env.ATELIER_RAY_ADDRESSES = saved;
    await createWorkspace(t, 'ray-deploy-rg', 'ray-deploy-ws');
    W = wsPath(t, 'ray-deploy-rg', 'ray-deploy-ws');
    const computes = {
      ray1: { properties: { computeType: 'Ray', properties: { dashboardUrl: ray!.dashboard } } },
      cpu1: {
        properties: {
          computeType: 'AmlCompute',
          properties: { vmSize: 'local-1c-2g', scaleSettings: { minNodeCount: 0, maxNodeCount: 1 } },
        },
      },
    };
    for (const [name, body] of Object.entries(computes)) {
      const put = await t.request('PUT', `${W}/computes/${name}?${V}`, body);
      assert.equal(put.status, 201, put.text);
      const op = await waitForOperation(t, put.headers.get('azure-asyncoperation')!);
      assert.equal(op.status, 'Succeeded', JSON.stringify(op));
    }
    await uploadCode(t, W, 'scorer', '1', { 'score.py': SCORE_PY });
  });
  after(async () => {
    await t?.close();
  });

  it('refuses an endpoint compute that is not attached or not Ray, and a Managed deployment on a Ray endpoint', async () => {
    const put = (name: string, compute: string) =>
      t.request('PUT', `${W}/onlineEndpoints/${name}?${V}`, {
        location: 'local',
        properties: { authMode: 'Key', compute },
      });
    const missing = await put('ep-missing', 'nope');
    assert.equal(missing.status, 400, missing.text);
    assert.equal(missing.body.error.target ?? 'properties.compute', 'properties.compute');
    assert.match(missing.body.error.message, /properties\.compute: .*nope.*attach the Ray cluster first/);
    const aml = await put('ep-aml', `${W}/computes/cpu1`);
    assert.equal(aml.status, 400, aml.text);
    assert.match(aml.body.error.message, /cpu1' is AmlCompute; .*attached Ray cluster/);
    for (const n of ['ep-missing', 'ep-aml'])
      assert.equal((await t.request('GET', `${W}/onlineEndpoints/${n}?${V}`)).status, 404, 'nothing stored');
    // A Kubernetes deployment needs an endpoint on a compute.
    const plain = await t.request('PUT', `${W}/onlineEndpoints/ep-plain?${V}`, {
      location: 'local',
      properties: { authMode: 'Key' },
    });
    assert.equal(plain.status, 201, plain.text);
    const k8s = await t.request('PUT', `${W}/onlineEndpoints/ep-plain/deployments/blue?${V}`, {
      location: 'local',
      properties: {
        endpointComputeType: 'Kubernetes',
        codeConfiguration: { codeId: `${W}/codes/scorer/versions/1`, scoringScript: 'score.py' },
      },
    });
    assert.equal(k8s.status, 400, k8s.text);
    assert.match(k8s.body.error.message, /has none: use Managed/);
  });

  it('runs a deployment as Ray Serve replicas behind the same scoring URI, keys, traffic, logs and delete', async () => {
    const E = `${W}/onlineEndpoints/ep-ray`;
    const ep = await t.request('PUT', `${E}?${V}`, {
      location: 'local',
      properties: { authMode: 'Key', compute: 'azureml:ray1' },
    });
    assert.equal(ep.status, 201, ep.text);
    assert.equal(ep.body.properties.compute, `${W}/computes/ray1`);
    const scoringUri = ep.body.properties.scoringUri as string;
    const key = (await t.request('POST', `${E}/listKeys?${V}`)).body.primaryKey as string;
    // The compute cannot change afterwards.
    const moved = await t.request('PUT', `${E}?${V}`, {
      location: 'local',
      properties: { authMode: 'Key', compute: `${W}/computes/cpu1` },
    });
    assert.equal(moved.status, 400, moved.text);

    const code = { codeId: `${W}/codes/scorer/versions/1`, scoringScript: 'score.py' };
    const managed = await t.request('PUT', `${E}/deployments/blue?${V}`, {
      location: 'local',
      properties: { endpointComputeType: 'Managed', codeConfiguration: code },
    });
    assert.equal(managed.status, 400, managed.text);
    assert.match(managed.body.error.message, /use Kubernetes/);
    const tooBig = await t.request('PUT', `${E}/deployments/blue?${V}`, {
      location: 'local',
      properties: {
        codeConfiguration: code,
        containerResourceRequirements: { containerResourceRequests: { cpu: 'lots' } },
      },
    });
    assert.equal(tooBig.status, 400, tooBig.text);
    assert.match(tooBig.body.error.message, /containerResourceRequests\.cpu/);

    const put = await t.request('PUT', `${E}/deployments/blue?${V}`, {
      location: 'local',
      sku: { capacity: 2 },
      properties: {
        codeConfiguration: code,
        environmentVariables: { GREETING: 'hello from Ray' },
        containerResourceRequirements: { containerResourceRequests: { cpu: '100m' } },
        requestSettings: { maxConcurrentRequestsPerInstance: 2, requestTimeout: 'PT30S' },
      },
    });
    assert.equal(put.status, 201, put.text);
    assert.equal(put.body.properties.endpointComputeType, 'Kubernetes');
    const op = await waitOperation(t, put.headers.get('azure-asyncoperation')!, 240_000);
    assert.equal(op.status, 'Succeeded', JSON.stringify(op));
    const got = await t.request('GET', `${E}/deployments/blue?${V}`);
    assert.equal(got.body.properties.provisioningState, 'Succeeded');

    assert.equal((await t.request('PATCH', `${E}?${V}`, { properties: { traffic: { blue: 100 } } })).status, 200);
    const score = (auth?: string) =>
      fetch(scoringUri, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body: JSON.stringify({ x: [1, 21] }),
      });
    assert.equal((await score()).status, 401);
    assert.equal((await score('wrong-key-wrong-key-wrong-key-00')).status, 401);
    const pids = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const r = await score(key);
      const text = await r.text();
      assert.equal(r.status, 200, text);
      assert.equal(r.headers.get('azureml-model-deployment'), 'blue');
      const out = JSON.parse(text);
      assert.deepEqual(out.doubled, [2, 42]);
      assert.equal(out.greeting, 'hello from Ray');
      pids.add(out.pid);
    }
    assert.ok(pids.size >= 1);

    // getLogs: the engine's lines and every replica's Serve log.
    const logs = await t.request('POST', `${E}/deployments/blue/getLogs?${V}`, { tail: 400 });
    assert.equal(logs.status, 200, logs.text);
    assert.match(logs.body.content, /Serve application atelier-[0-9a-f]+: RUNNING/);
    assert.match(logs.body.content, /\[replica-\w+\] .*scorer ready on Ray/);
    // The deployment package record says which engine ran it.
    const images = await t.request('GET', `${W}/images?${V}`);
    const pkg = images.body.value.find((i: any) => i.properties.kind === 'deployment');
    assert.equal(pkg?.properties.tool, 'ray-serve', images.text);

    // A scale change re-provisions in place: the application the new start put stays (the runtime it
    // replaced removes nothing), and the endpoint keeps answering.
    const scale = await t.request('PATCH', `${E}/deployments/blue?${V}`, { sku: { capacity: 1 } });
    assert.equal(scale.status, 200, scale.text);
    const scaled = await t.request('GET', `${E}/deployments/blue?${V}`);
    if (scaled.body.properties.provisioningState !== 'Succeeded') {
      const until = Date.now() + 120_000;
      while (Date.now() < until) {
        const g = await t.request('GET', `${E}/deployments/blue?${V}`);
        if (g.body.properties.provisioningState !== 'Updating') break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.equal((await t.request('GET', `${E}/deployments/blue?${V}`)).body.properties.provisioningState, 'Succeeded');
    for (let i = 0; i < 3; i++) {
      const r = await score(key);
      assert.equal(r.status, 200, await r.text());
    }
    const live = await new RayServeClient(ray!.dashboard).details();
    const mine = Object.values(live.applications).filter((a) =>
      a.deployed_app_config?.route_prefix?.startsWith('/atelier-'),
    );
    assert.ok(
      mine.some((a) => (a.deployed_app_config?.args as any)?.deployment?.num_replicas === 1),
      'the scaled application runs',
    );

    // Delete: the endpoint and its deployment go, and so does the Serve application.
    const app = (t.server.services.serving.runtimes.runtime(`${E}/deployments/blue`) as any)?.name as string;
    assert.match(app, /^atelier-/);
    const del = await t.request('DELETE', `${E}?${V}`);
    assert.ok(del.status === 200 || del.status === 202, del.text);
    assert.equal((await t.request('GET', `${E}?${V}`)).status, 404);
    const d = await new RayServeClient(ray!.dashboard).details();
    assert.equal(d.applications[app], undefined, 'the Serve application is removed');
  });
});
