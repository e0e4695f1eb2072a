import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness.js';
import { makeWorkspace } from './testing.js';

/** Issue 13.21: an MLflow client pointed at the server root is told where a workspace's tracking URI is. */
describe('MLflow requests at the server root', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('sqlite');
  });
  after(async () => t?.close());

  for (const [method, p] of [
    ['GET', '/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default'],
    ['POST', '/api/2.0/mlflow/experiments/search'],
    ['POST', '/ajax-api/2.0/mlflow/runs/create'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/0/x.txt'],
    ['POST', '/api/3.0/mlflow/logged-models/search'],
  ] as const) {
    it(`${method} ${p.split('?')[0]} answers MLflow's 404 naming the tracking URI form, with or without a token`, async () => {
      for (const token of [undefined, null]) {
        const r = await t.request(method, p, method === 'POST' ? {} : undefined, { token });
        assert.equal(r.status, 404, r.text);
        assert.equal(r.body.error_code, 'ENDPOINT_NOT_FOUND');
        assert.ok(
          r.body.message.includes(
            `${t.url}/mlflow/v1.0/subscriptions/<subscriptionId>/resourceGroups/<resourceGroup>/providers/Microsoft.MachineLearningServices/workspaces/<name>`,
          ),
          r.body.message,
        );
        assert.match(r.body.message, /MLFLOW_TRACKING_URI/);
        assert.match(r.body.message, /getMlflowTrackingUri\(\)/);
        assert.match(r.body.message, /atelier mlflow env -w <name> -g <resourceGroup>/);
        assert.match(r.body.message, /properties\.mlFlowTrackingUri/);
      }
    });
  }

  it('the hint is right: the URL it tells to read gives the tracking URI, which serves MLflow', async () => {
    const { trackingUri } = await makeWorkspace(t, 'hint-ws', 'hint-rg');
    const ws = await t.request(
      'GET',
      `/subscriptions/${t.subscriptionId}/resourceGroups/hint-rg/providers/Microsoft.MachineLearningServices/workspaces/hint-ws?api-version=2025-09-01`,
    );
    assert.equal(ws.status, 200, ws.text);
    assert.equal(ws.body.properties.mlFlowTrackingUri, trackingUri);
    const r = await t.request('GET', `${trackingUri}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.experiment.experiment_id, '0');
  });

  it('other unknown root paths keep the ARM not-found body', async () => {
    const r = await t.request('GET', '/api/2.0/nothing-here');
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'NotFound');
  });
});
