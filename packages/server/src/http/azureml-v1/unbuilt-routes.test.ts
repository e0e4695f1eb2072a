import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../testing/harness.js';
import { unbuiltV1Route } from './common.js';

// A path below a v1 data-plane service prefix that no route serves answers 501 in the v1 error
// shape (with `details`, which azureml-core's ServiceException reads), naming the service and route.
// Edge-only behaviour (no store access), so one dialect.
describe('v1 data-plane routes that are not built answer 501 in the v1 shape', () => {
  let t: TestServer;
  let W: string;
  before(async () => {
    t = await startTestServer('sqlite');
    W = `/subscriptions/${t.subscriptionId}/resourceGroups/v1rg/providers/Microsoft.MachineLearningServices/workspaces/v1ws`;
  });
  after(async () => t?.close());

  for (const [method, prefix, rest, service] of [
    ['POST', '/execution/v1.0', '/experiments/e/snapshotprepare', 'execution'],
    ['DELETE', '/history/v1.0', '/experiments/e/runs/r1', 'history'],
    ['GET', '/jasmine/v1.0', '/experiment/e/run/r1', 'jasmine'],
    ['POST', '/datacache/v1.0', '/datacaches', 'datacache'],
    ['PUT', '/rp/workspaces', '/computes/c', 'rp'],
  ] as const)
    it(`${method} ${prefix}{W}${rest} → 501 naming the '${service}' service`, async () => {
      const r = await t.request(
        method,
        `${prefix}${W}${rest}?top=5`,
        ['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined,
      );
      assert.equal(r.status, 501, r.text);
      assert.equal(r.body.error.code, 'NotImplemented');
      assert.deepEqual(r.body.error.details, []);
      assert.ok(r.body.correlation?.operation, r.text);
      assert.equal(
        r.body.error.message,
        `Atelier does not serve ${method} ${prefix}/{workspace}${rest} of the azureml v1 '${service}' service (not built; see docs/clients.md)`,
      );
    });

  it('other unknown paths and methods keep the plain 404; unauthenticated requests still get 401', async () => {
    for (const p of [`/nothing/v1.0${W}/x`, `/historyx/v1.0${W}/x`, `/history/latest${W}/x`]) {
      const r = await t.request('GET', p);
      assert.equal(r.status, 404, `${p}: ${r.text}`);
    }
    // A method no v1 client sends names no operation to build: 404, never a 5xx.
    // (fetch cannot send TRACE, so the rule itself is asked.)
    assert.equal(unbuiltV1Route('TRACE', `/history/v1.0${W}/runs/r1`), undefined);
    assert.ok(unbuiltV1Route('PATCH', `/history/v1.0${W}/runs/r1`));
    const anon = await t.request(
      'PATCH',
      `/history/v1.0${W}/experimentids/1`,
      {},
      {
        token: null,
      },
    );
    assert.equal(anon.status, 401, anon.text);
  });
});
