import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../../../server/src/testing/harness.js';
import { registerTestModels } from '../../../server/src/testing/deploy-models.js';
import { uploadCode } from '../../../server/src/testing/code-upload.js';
import { uvForTests } from '../../../server/src/testing/uv.js';
import { findPython } from '../../../server/test/mlflow-client/python.js';
import { Workspace, TokenAuthentication, Model, ServiceError } from '../index.js';

// The seed's `Model.deploy` with an inference config (entry script + code + environment, built by
// uv) and with token authentication, against a real server (SQLite: the server's suites cover both
// dialects). MLflow models without code run in ATELIER_TEST_PYTHON; the entry script runs in its
// environment's Python.
const { python, skip } = findPython();
const uv = uvForTests();

const SCORE_PY = `import json, os
import six

def init():
    global files
    files = sorted(os.listdir(os.environ["AZUREML_MODEL_DIR"]))

def run(raw_data):
    data = json.loads(raw_data)
    return {"modelFiles": "MLmodel" in files, "six": six.__version__, "tripled": [3 * x for x in data["x"]]}
`;

/** Needs nothing but the standard library: it runs in the server's serving Python. */
const PLAIN_PY = `import json, os

def init():
    global files
    files = sorted(os.listdir(os.environ["AZUREML_MODEL_DIR"]))

def run(raw_data):
    return {"modelFiles": "MLmodel" in files, "negated": [-x for x in json.loads(raw_data)["x"]]}
`;

describe(
  'Model.deploy with an inference config and token auth (SDK)',
  { skip: skip ?? (uv ? undefined : 'uv is not installed') },
  () => {
    let t: TestServer;
    let ws: Workspace;
    let W: string;
    let tmp: string;
    const saved = process.env.ATELIER_UV;
    before(async () => {
      process.env.ATELIER_UV = uv;
      t = await startTestServer('sqlite', { servingPython: python });
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-inference-'));
      ws = await Workspace.create({
        name: 'sdk-inference',
        subscriptionId: t.subscriptionId,
        resourceGroup: 'sdk-inference-rg',
        location: 'local',
        showOutput: false,
        endpoint: t.url,
        auth: new TokenAuthentication(t.adminToken),
        env: { ATELIER_CONFIG_DIR: path.join(tmp, 'profile') },
      });
      W = `/subscriptions/${t.subscriptionId}/resourceGroups/sdk-inference-rg/providers/Microsoft.MachineLearningServices/workspaces/sdk-inference`;
      await registerTestModels(python!, ws.getMlflowTrackingUri(), t);
      const env = await t.request('PUT', `${W}/environments/sdk-scorer/versions/1?api-version=2025-09-01`, {
        properties: { image: 'python:3.11-slim', pipRequirements: 'six==1.17.0\n' },
      });
      assert.equal(env.status, 201, env.text);
      await uploadCode(t, W, 'sdk-score', '1', { 'score.py': SCORE_PY });
      await uploadCode(t, W, 'sdk-plain', '1', { 'plain.py': PLAIN_PY });
    });
    after(async () => {
      if (saved === undefined) delete process.env.ATELIER_UV;
      else process.env.ATELIER_UV = saved;
      await t?.close();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('runs the entry script of its code in its environment, with the model in AZUREML_MODEL_DIR', async () => {
      const doubler = (await ws.models()).get('doubler')!;
      const inferenceConfig = {
        entryScript: 'score.py',
        codeId: `${W}/codes/sdk-score/versions/1`,
        environmentId: 'azureml:sdk-scorer:1',
      };
      const svc = await Model.deploy(ws, 'sdk-scored', [doubler], inferenceConfig, { instanceCount: 1 });
      assert.equal(svc.state, 'Succeeded');
      assert.equal(svc.authMode, 'Key');
      const expected = { modelFiles: true, six: '1.17.0', tripled: [3, 6] };
      assert.deepEqual(await svc.run({ x: [1, 2] }), expected);
      const d = await t.request('GET', `${svc.id}/deployments/default?api-version=2025-09-01`);
      assert.deepEqual(d.body.properties.codeConfiguration, {
        codeId: inferenceConfig.codeId,
        scoringScript: 'score.py',
      });
      assert.equal(d.body.properties.environmentId, 'azureml:sdk-scorer:1');
      // An update that changes only the deployment config keeps the entry script and environment.
      await svc.update({ deploymentConfig: { maxConcurrentRequestsPerInstance: 2 } });
      assert.equal(svc.state, 'Succeeded');
      assert.deepEqual(await svc.run({ x: [1, 2] }), expected);
      // A failing script call is the service's answer, not a hang.
      await assert.rejects(
        svc.run('not json'),
        (e: Error) => e instanceof ServiceError && /answered 500/.test(e.message),
      );
    });

    it("without environmentId, runs the entry script in the server's serving Python (an MLflow model)", async () => {
      const doubler = (await ws.models()).get('doubler')!;
      const inferenceConfig = { entryScript: 'plain.py', codeId: `${W}/codes/sdk-plain/versions/1` };
      const svc = await Model.deploy(ws, 'sdk-plain', [doubler], inferenceConfig);
      assert.equal(svc.state, 'Succeeded');
      assert.deepEqual(await svc.run({ x: [1, 2] }), { modelFiles: true, negated: [-1, -2] });
      const d = await t.request('GET', `${svc.id}/deployments/default?api-version=2025-09-01`);
      assert.equal(d.body.properties.environmentId, undefined);
      assert.equal(d.body.properties.codeConfiguration.scoringScript, 'plain.py');
      await svc.delete();
    });

    it('serves a tokenAuthEnabled service with tokens only (AMLToken): keys are refused', async () => {
      const doubler = (await ws.models()).get('doubler')!;
      const svc = await Model.deploy(ws, 'sdk-token', [doubler], undefined, { tokenAuthEnabled: true });
      assert.equal(svc.state, 'Succeeded');
      assert.equal(svc.authMode, 'AMLToken');
      assert.deepEqual(await svc.run({ dataframe_records: [{ x: 4 }] }), { predictions: [8] });
      await assert.rejects(svc.getKeys(), /token/i);
      const [token, refreshAfter] = await svc.getToken();
      assert.ok(refreshAfter.getTime() > Date.now());
      const call = (credential: string) =>
        fetch(svc.scoringUri, {
          method: 'POST',
          headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
          body: JSON.stringify({ dataframe_records: [{ x: 1 }] }),
        });
      assert.equal((await call(token)).status, 200);
      // A key — of the Key service, the only kind of key there is — is refused here.
      const [key] = await (await ws.webservices()).get('sdk-scored')!.getKeys();
      assert.equal((await call(key)).status, 401);
      assert.equal((await call(token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA'))).status, 401);
      await svc.delete();
    });
  },
);
