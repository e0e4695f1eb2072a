import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects } from '../../testing/harness.js';
import { makeWorkspace } from './testing.js';
import { parseJsonLenient, toMlflowError } from './common.js';
import { Conflict, InvalidInput, NotFound } from '../../errors.js';

test('parseJsonLenient takes the NaN and Infinity tokens Python writes, not inside strings', () => {
  assert.deepEqual(parseJsonLenient('{"a": NaN, "b": -Infinity, "c": "NaN Infinity", "d": [Infinity]}'), { a: NaN, b: -Infinity, c: 'NaN Infinity', d: [Infinity] });
  assert.deepEqual(parseJsonLenient(''), {});
  assert.throws(() => parseJsonLenient('{"a": nope}'));
});

test('business errors map to MLflow error codes and statuses', () => {
  assert.deepEqual(toMlflowError(new Conflict('x')), { status: 400, body: { error_code: 'RESOURCE_ALREADY_EXISTS', message: 'x' } });
  assert.deepEqual(toMlflowError(new NotFound('y')), { status: 404, body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'y' } });
  assert.deepEqual(toMlflowError(new InvalidInput('z')), { status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message: 'z' } });
  assert.equal(toMlflowError(new InvalidInput('s', { code: 'INVALID_STATE' })).status, 500);
});

for (const dialect of testDialects()) {
  test(`MLflow mount: auth, unknown workspace, unknown and unbuilt endpoints (${dialect})`, async () => {
    const t = await startTestServer(dialect);
    try {
      const ws = await makeWorkspace(t);
      const anon = await t.request('GET', `${ws.api}/experiments/get?experiment_id=0`, undefined, { token: null });
      assert.equal(anon.status, 401);
      assert.equal(anon.body.error_code, 'UNAUTHENTICATED');
      const missing = await t.request('GET', `${t.url}/mlflow/v1.0/subscriptions/${t.subscriptionId}/resourceGroups/tracking-rg/providers/Microsoft.MachineLearningServices/workspaces/nope/api/2.0/mlflow/experiments/get?experiment_id=0`);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error_code, 'RESOURCE_DOES_NOT_EXIST');
      const unknown = await t.request('GET', `${ws.api}/no-such-thing`);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error_code, 'ENDPOINT_NOT_FOUND');
      const basic = await t.request('GET', `${ws.api}/no-such-thing`, undefined, { token: null, headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` } });
      assert.equal(basic.status, 401);
      assert.equal(basic.body.error_code, 'UNAUTHENTICATED');
    } finally {
      await t.close();
    }
  });
}
