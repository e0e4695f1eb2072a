import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../testing/harness.js';
import { findPython, makeWorkspace, runPython } from '../../test/mlflow-client/python.js';
import { waitOperation } from '../testing/deploy-models.js';
import { uvForTests } from '../testing/uv.js';

/**
 * An MLflow model deployed without an environmentId on a server without ATELIER_SERVING_PYTHON:
 * its workers run in an environment uv builds from the model's own requirements.txt (here
 * mlflow-skinny and pandas, pinned to the client's versions so uv's cache serves them), and the
 * model answers from that environment. One store: the path under test is the environment, not the
 * records (deployments.test.ts covers those on both).
 */
const uv = uvForTests();
const { python, skip } = findPython();
const V = 'api-version=2025-09-01';

const MAKE_MODEL = String.raw`
import sys
import mlflow, pandas as pd

class Where(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        import pandas
        return [sys.prefix + "|" + pandas.__version__ for _ in range(len(model_input))]

with mlflow.start_run():
    mlflow.pyfunc.log_model(
        name="where", python_model=Where(), registered_model_name="where",
        pip_requirements=["mlflow-skinny==" + mlflow.__version__, "pandas==" + pd.__version__])
print("pandas", pd.__version__)
`;

describe(
  'an MLflow model served in an environment built from its own requirements',
  { skip: skip ?? (uv ? undefined : 'uv is not installed') },
  () => {
    let t: TestServer;
    const saved = process.env.ATELIER_UV;

    before(async () => {
      process.env.ATELIER_UV = uv;
      t = await startTestServer('sqlite', { servingPython: undefined });
    });
    after(async () => {
      if (saved === undefined) delete process.env.ATELIER_UV;
      else process.env.ATELIER_UV = saved;
      await t?.close();
    });

    it("builds the model's requirements.txt with uv and runs the workers in it", async () => {
      const ws = await makeWorkspace(t, 'req-rg', 'req-ws');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-model-req-'));
      fs.writeFileSync(path.join(dir, 'make_model.py'), MAKE_MODEL);
      const made = await runPython(python!, [path.join(dir, 'make_model.py')], ws.trackingUri, { token: t.adminToken });
      fs.rmSync(dir, { recursive: true, force: true });
      assert.equal(made.code, 0, made.stderr.slice(-3000));
      const pandasVersion = /pandas (\S+)/.exec(made.stdout)![1]!;

      const E = `${ws.armId}/onlineEndpoints/ep-req`;
      const ep = await t.request('PUT', `${E}?${V}`, { location: 'local', properties: { authMode: 'Key' } });
      assert.equal(ep.status, 201, ep.text);
      const put = await t.request('PUT', `${E}/deployments/blue?${V}`, {
        location: 'local',
        sku: { capacity: 1 },
        properties: { model: 'azureml:where:1' },
      });
      assert.equal(put.status, 201, put.text);
      const op = await waitOperation(t, put.headers.get('azure-asyncoperation')!, 600_000);
      assert.equal(op.status, 'Succeeded', JSON.stringify(op));
      await t.request('PATCH', `${E}?${V}`, { properties: { traffic: { blue: 100 } } });
      const key = (await t.request('POST', `${E}/listKeys?${V}`)).body.primaryKey as string;
      const r = await fetch(ep.body.properties.scoringUri, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ dataframe_records: [{ x: 1 }] }),
      });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      const [prefix, version] = (JSON.parse(text).predictions[0] as string).split('|');
      assert.ok(
        prefix!.startsWith(path.join(t.home, 'environments')),
        `the worker runs in the built environment, not ${prefix}`,
      );
      assert.equal(version, pandasVersion);
      // The build is in the deployment's provisioning lines.
      const logs = await t.request('POST', `${E}/deployments/blue/getLogs?${V}`, {
        containerType: 'StorageInitializer',
      });
      assert.match(logs.body.content, /pandas==|reused the environment/);
    });
  },
);
