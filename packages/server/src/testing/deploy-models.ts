import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPython } from '../../test/mlflow-client/python.js';
import type { TestServer } from './harness.js';

/**
 * Test and benchmark support of the deployments module: registers real MLflow models (logged by
 * the Python MLflow client into a workspace of a test server) that the deployment tests serve.
 *
 * - `doubler`: predicts 2·x for a DataFrame with a column x; x = 666 makes the worker process exit
 *   (a crash), x = -1 makes it sleep one second (a slow request), x = -2 five seconds (a request
 *   still in flight, even on a loaded machine, when another one crashes the worker).
 * - `broken`: fails to load (its load_context raises).
 */
const MAKE_MODELS = String.raw`
import os, sys, time
import mlflow
import pandas as pd

class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        x = pd.DataFrame(model_input)["x"].astype(float)
        if (x == 666).any():
            os._exit(17)
        if (x == -1).any():
            time.sleep(1)
        if (x == -2).any():
            time.sleep(5)
        factor = float((params or {}).get("factor", 2))
        return (x * factor).tolist()

class Broken(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        raise RuntimeError("this model cannot load: its weights are missing")
    def predict(self, context, model_input, params=None):
        return model_input

from mlflow.models import ModelSignature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
sig = ModelSignature(inputs=Schema([ColSpec("double", "x")]), outputs=Schema([ColSpec("double")]),
                     params=ParamSchema([ParamSpec("factor", "double", 2.0)]))
with mlflow.start_run():
    mlflow.pyfunc.log_model(name="doubler", python_model=Doubler(), signature=sig,
                            pip_requirements=["mlflow", "pandas"], registered_model_name="doubler")
    mlflow.pyfunc.log_model(name="broken", python_model=Broken(), signature=sig,
                            pip_requirements=["mlflow"], registered_model_name="broken")
print("RESULT {\"passed\": [\"models\"], \"failed\": {}, \"blocked\": {}}")
`;

/** Logs and registers `doubler` v1 and `broken` v1 in the workspace whose tracking URI is given. */
export async function registerTestModels(python: string, trackingUri: string, t: TestServer): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-deploy-models-'));
  const script = path.join(dir, 'make_models.py');
  fs.writeFileSync(script, MAKE_MODELS);
  try {
    const r = await runPython(python, [script], trackingUri, { token: t.adminToken }, 180_000);
    if (r.code !== 0) throw new Error(`registering the test models failed (${r.code}):\n${r.stderr.slice(-3000)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls an Azure-AsyncOperation URL until the operation ends. */
export async function waitOperation(t: TestServer, url: string, timeoutMs = 120_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await t.request('GET', url);
    if (r.status !== 200) throw new Error(`operation status: ${r.status} ${r.text}`);
    if (r.body.status !== 'InProgress') return r.body;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`operation ${url} did not end in ${timeoutMs} ms`);
}

/** Polls `check` every `everyMs` until it gives a truthy value, which it returns; throws naming `what` after `ms`. */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 30_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
