import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects } from '../../testing/harness.js';
import { makeWorkspace } from './testing.js';
import { parseJsonLenient, toMlflowError } from './common.js';
import {
  AtelierError,
  Conflict,
  InvalidInput,
  NotFound,
  NotImplemented,
  PreconditionFailed,
  TooManyRequests,
} from '../../errors.js';
import { MLFLOW_CODES, MLFLOW_STATUS } from './errors.js';

test('parseJsonLenient takes the NaN and Infinity tokens Python writes, not inside strings', () => {
  assert.deepEqual(parseJsonLenient('{"a": NaN, "b": -Infinity, "c": "NaN Infinity", "d": [Infinity]}'), {
    a: NaN,
    b: -Infinity,
    c: 'NaN Infinity',
    d: [Infinity],
  });
  assert.deepEqual(parseJsonLenient(''), {});
  assert.throws(() => parseJsonLenient('{"a": nope}'));
});

test('business errors map to MLflow error codes and statuses', () => {
  assert.deepEqual(toMlflowError(new Conflict('x')), {
    status: 400,
    body: { error_code: 'RESOURCE_ALREADY_EXISTS', message: 'x' },
  });
  assert.deepEqual(toMlflowError(new NotFound('y')), {
    status: 404,
    body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'y' },
  });
  assert.deepEqual(toMlflowError(new InvalidInput('z')), {
    status: 400,
    body: { error_code: 'INVALID_PARAMETER_VALUE', message: 'z' },
  });
  // a wrong state: MLflow's INVALID_STATE, answered as a bad request
  assert.deepEqual(toMlflowError(new PreconditionFailed('p')), {
    status: 400,
    body: { error_code: 'INVALID_STATE', message: 'p' },
  });
});

test('domain codes map to the MLflow error codes clients tell apart (http/mlflow/errors.ts)', () => {
  assert.deepEqual(toMlflowError(new Conflict('e', { code: 'EXPERIMENT_EXISTS' })), {
    status: 400,
    body: { error_code: 'RESOURCE_ALREADY_EXISTS', message: 'e' },
  });
  assert.deepEqual(toMlflowError(new NotFound('r', { code: 'RUN_NOT_FOUND' })), {
    status: 404,
    body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'r' },
  });
  assert.deepEqual(toMlflowError(new InvalidInput('m', { code: 'MISSING_PARAMETER' })), {
    status: 400,
    body: { error_code: 'BAD_REQUEST', message: 'm' },
  });
  assert.deepEqual(toMlflowError(new TooManyRequests('t')), {
    status: 429,
    body: { error_code: 'REQUEST_LIMIT_EXCEEDED', message: 't' },
  });
  assert.deepEqual(toMlflowError(new NotImplemented('n')), {
    status: 501,
    body: { error_code: 'NOT_IMPLEMENTED', message: 'n' },
  });
  assert.deepEqual(toMlflowError(new AtelierError('i')), {
    status: 500,
    body: { error_code: 'INTERNAL_ERROR', message: 'i' },
  });
  // every domain code MLflow names maps to a code MLflow knows
  for (const [code, mlflow] of Object.entries(MLFLOW_CODES))
    assert.ok(Object.hasOwn(MLFLOW_STATUS, mlflow!), `${code} → ${mlflow}`);
});

for (const dialect of testDialects()) {
  test(`MLflow mount: auth, unknown workspace, unknown and unbuilt endpoints (${dialect})`, async () => {
    const t = await startTestServer(dialect);
    try {
      const ws = await makeWorkspace(t);
      const anon = await t.request('GET', `${ws.api}/experiments/get?experiment_id=0`, undefined, { token: null });
      assert.equal(anon.status, 401);
      assert.equal(anon.body.error_code, 'UNAUTHENTICATED');
      const missing = await t.request(
        'GET',
        `${t.url}/mlflow/v1.0/subscriptions/${t.subscriptionId}/resourceGroups/tracking-rg/providers/Microsoft.MachineLearningServices/workspaces/nope/api/2.0/mlflow/experiments/get?experiment_id=0`,
      );
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error_code, 'RESOURCE_DOES_NOT_EXIST');
      const unknown = await t.request('GET', `${ws.api}/no-such-thing`);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error_code, 'ENDPOINT_NOT_FOUND');
      // A route that exists, asked with a method it does not take (found by fuzzing: it was a 501).
      for (const [method, p, allow] of [
        ['GET', '/api/2.0/mlflow/model-versions/set-tag', 'POST'],
        ['POST', '/ajax-api/2.0/mlflow/registered-models/get?name=x', 'GET'],
        ['DELETE', '/api/2.0/mlflow-artifacts/artifacts?path=', 'GET'],
        ['PATCH', '/api/2.0/mlflow-artifacts/artifacts/0/x.txt', 'DELETE, GET, PUT'],
        ['OPTIONS', '/api/2.0/mlflow/logged-models/m-0?model_id=0', 'DELETE, GET, PATCH'],
      ] as const) {
        const wrong = await t.request(method, `${ws.trackingUri}${p}`);
        assert.equal(wrong.status, 405, `${method} ${p}: ${wrong.text}`);
        assert.equal(wrong.body.error_code, 'BAD_REQUEST');
        assert.equal(wrong.headers.get('allow'), allow, `${method} ${p}`);
        assert.match(wrong.body.message, new RegExp(`${method} is not allowed on `));
      }
      const basic = await t.request('GET', `${ws.api}/no-such-thing`, undefined, {
        token: null,
        headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` },
      });
      assert.equal(basic.status, 401);
      assert.equal(basic.body.error_code, 'UNAUTHENTICATED');
    } finally {
      await t.close();
    }
  });
}
