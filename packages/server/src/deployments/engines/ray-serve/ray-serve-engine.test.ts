import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import type { DeploymentRuntime, DeploymentSpec } from '../engine.js';
import { RayServeEngine } from './ray-serve-engine.js';
import { WORKER_PY } from '../local/worker-source.js';
import { testRay } from '../../../testing/ray.js';

// The Ray Serve engine against a real single-node Ray cluster (.ci/ray.sh): a deployment becomes a
// Serve application whose replicas run the local engine's worker (here with a scoring script);
// requests through Serve's ingress reach them.
const ray = testRay('the Ray Serve engine tests');

/** A scoring script (Azure's init()/run(raw_data) contract) that reads its "model" from AZUREML_MODEL_DIR. */
const SCORE_PY = String.raw`import json, os
model = None
def init():
    global model
    model = open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "weights.txt")).read().strip()
    if model == "broken":
        raise RuntimeError("cannot load the model: weights are broken")
    print("model loaded:", model, flush=True)
def run(raw_data):
    data = json.loads(raw_data)
    return {"model": model, "doubled": [2 * x for x in data["x"]], "pid": os.getpid(), "greeting": os.environ.get("GREETING")}
`;

const PROBE = { initialDelayMs: 0, periodMs: 10_000, timeoutMs: 10_000, failureThreshold: 3, successThreshold: 1 };

describe('Ray Serve engine', { skip: !ray }, () => {
  let tmp: string;
  let engine: RayServeEngine;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-ray-serve-'));
    engine = new RayServeEngine({
      dashboardUrl: ray!.dashboard,
      workerSource: WORKER_PY,
      httpPort: Number(process.env.ATELIER_TEST_RAY_SERVE_PORT ?? 28300),
      replicaCpus: 0.1,
      pollMs: 200,
      startTimeoutMs: 120_000,
      // The broken model fails on its first load instead of Serve's three.
      constructorRetries: 1,
    });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function spec(name: string, weights: string, extra: Partial<DeploymentSpec> = {}): DeploymentSpec {
    const modelDir = path.join(tmp, name, 'model');
    fs.mkdirSync(modelDir, { recursive: true });
    fs.writeFileSync(path.join(modelDir, 'weights.txt'), weights);
    const codeDir = path.join(tmp, name, 'code');
    fs.mkdirSync(path.join(codeDir, 'src'), { recursive: true });
    fs.writeFileSync(path.join(codeDir, 'src', 'score.py'), SCORE_PY);
    return {
      deploymentId: `/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e/deployments/${name}`,
      mode: 'score',
      modelDir,
      codeDir,
      scoringScript: 'src/score.py',
      modelName: 'm',
      modelVersion: '1',
      pythonPath: '',
      pipRequirements: [],
      environmentVariables: { GREETING: 'bonjour' },
      instanceCount: 2,
      maxConcurrentPerInstance: 2,
      livenessProbe: PROBE,
      readinessProbe: PROBE,
      ...extra,
    };
  }

  async function score(rt: DeploymentRuntime, body: unknown) {
    const [u] = rt.ready();
    assert.ok(u, 'a ready upstream');
    const res = await request(`${u.origin}${u.pathPrefix ?? ''}/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }

  test('a deployment runs as Serve replicas; requests reach the worker with its model and variables; stop removes it', async () => {
    const logFile = path.join(tmp, 'blue.log');
    const rt = await engine.start(spec('blue', 'w-blue'), { logFile });
    try {
      const [u] = rt.ready();
      assert.equal(u!.concurrency, 4, '2 replicas × 2 requests each');
      const pids = new Set<unknown>();
      for (let i = 0; i < 12; i++) {
        const r = await score(rt, { x: [i, 10] });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.deepEqual(
          { model: r.body.model, doubled: r.body.doubled, greeting: r.body.greeting },
          { model: 'w-blue', doubled: [2 * i, 20], greeting: 'bonjour' },
        );
        pids.add(r.body.pid);
      }
      assert.equal(pids.size, 2, 'both replicas served requests');
      const logs = await rt.logs(500);
      assert.match(logs, /Serve application atelier-[0-9a-f]+: RUNNING/);
      assert.match(logs, /\[replica-\w+\] .*worker: model loaded: w-blue/);
      assert.match(logs, /\[replica-\w+\] .*scoring script .*score\.py initialised/);
    } finally {
      await rt.stop();
    }
    assert.deepEqual(rt.ready(), []);
    const d = await engine.client.details();
    assert.equal(d.applications[engine.appName(spec('blue', 'w-blue').deploymentId)], undefined);
  });

  test("a model that fails to load fails the start with the worker's own lines, and leaves no application", async () => {
    const s = spec('broken', 'broken', { instanceCount: 1 });
    await assert.rejects(engine.start(s, { logFile: path.join(tmp, 'broken.log') }), (e: Error) => {
      assert.match(e.message, /failed to start on Ray Serve/);
      assert.match(e.message, /weights are broken/);
      return true;
    });
    const d = await engine.client.details();
    assert.equal(d.applications[engine.appName(s.deploymentId)], undefined);
  });
});
