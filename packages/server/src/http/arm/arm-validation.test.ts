import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { V, createWorkspace, groupPath, rowCounts, wsPath } from './arm-test-helpers.js';

/**
 * Issue 2 item 10: every malformed request gets a 4xx ARM error body and changes nothing in the
 * store (row counts of every control-plane table compared before and after).
 */
for (const dialect of testDialects()) {
  describe(`control-plane input validation (${dialect})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(dialect, { bodyLimit: 64 * 1024 });
      await createWorkspace(t, 'val', 'ws-existing');
    });
    after(async () => {
      await t?.close();
    });

    const ws = (name: string, query = V) => `${wsPath(t, 'val', name)}${query ? `?${query}` : ''}`;

    it('refuses bad workspace names, bodies, types, sizes and api-versions without changing the store', async () => {
      const before = await rowCounts(t);
      const good = { location: 'local' };
      const cases: [string, string, unknown, number, string?][] = [
        // bad names
        ['PUT', ws('a'), good, 400, 'InvalidWorkspaceName'],
        ['PUT', ws('x'.repeat(33)), good, 400, 'InvalidWorkspaceName'],
        ['PUT', ws('-leading'), good, 400, 'InvalidWorkspaceName'],
        ['PUT', ws('_leading'), good, 400, 'InvalidWorkspaceName'],
        ['PUT', ws('has%20space'), good, 400, 'InvalidWorkspaceName'],
        ['PUT', ws('w%C3%B6rk'), good, 400, 'InvalidWorkspaceName'],
        ['PUT', ws('..%2Fescape'), good, 400],
        ['PUT', ws('dot.name'), good, 400, 'InvalidWorkspaceName'],
        ['PUT', `${groupPath(t, 'val')}/providers/Microsoft.MachineLearningServices/workspaces/?${V}`, good, 404],
        ['GET', ws('a'), undefined, 400, 'InvalidWorkspaceName'],
        ['DELETE', ws('x'.repeat(40)), undefined, 400, 'InvalidWorkspaceName'],
        [
          'PUT',
          `${groupPath(t, 'bad group!')}/providers/Microsoft.MachineLearningServices/workspaces/ok-name?${V}`,
          good,
          400,
        ],
        [
          'PUT',
          `/subscriptions/not-a-guid/resourceGroups/val/providers/Microsoft.MachineLearningServices/workspaces/ok-name?${V}`,
          good,
          400,
        ],
        // malformed JSON, wrong types, unknown properties
        ['PUT', ws('ok-name'), '{not json', 400],
        ['PUT', ws('ok-name'), '[]', 400],
        ['PUT', ws('ok-name'), { location: 5 }, 400],
        ['PUT', ws('ok-name'), { location: 'local', tags: { a: 1 } }, 400],
        ['PUT', ws('ok-name'), { location: 'local', tags: 'a=b' }, 400],
        ['PUT', ws('ok-name'), { location: 'local', properties: { hbiWorkspace: 'yes' } }, 400],
        ['PUT', ws('ok-name'), { location: 'local', properties: { friendlyName: 7 } }, 400],
        ['PUT', ws('ok-name'), { location: 'local', properties: { publicNetworkAccess: 'Sometimes' } }, 400],
        ['PUT', ws('ok-name'), { location: 'local', properties: { systemDatastoresAuthMode: 'password' } }, 400],
        ['PUT', ws('ok-name'), { location: 'local', properties: { storageAccount: 'not-an-id' } }, 400],
        ['PUT', ws('ok-name'), { location: 'local', identity: { type: 'Everything' } }, 400],
        ['PUT', ws('ok-name'), { location: 'local', kind: 'Mystery' }, 400],
        ['PUT', ws('ok-name'), { location: 'not a location!' }, 400],
        ['PUT', ws('ok-name'), { location: 'local', unknownField: true }, 400],
        ['PUT', ws('ok-name'), { location: 'local', properties: { unknownProperty: true } }, 400],
        ['PUT', ws('ok-name'), { location: 'local', properties: { encryption: { status: 'Enabled' } } }, 400],
        [
          'PUT',
          ws('ok-name'),
          {
            location: 'local',
            properties: {
              encryption: { status: 'Enabled', keyVaultProperties: { keyVaultArmId: 'not-an-id', keyIdentifier: 'x' } },
            },
          },
          400,
        ],
        ['PATCH', ws('ws-existing'), { properties: { unknownProperty: true } }, 400],
        ['PATCH', ws('ws-existing'), { properties: { hbiWorkspace: true } }, 400, 'CannotChangeImmutableProperty'],
        ['PATCH', ws('ws-existing'), { location: 'elsewhere' }, 400],
        ['PATCH', ws('ws-existing'), '{"tags":', 400],
        ['DELETE', ws('ws-existing', `${V}&deleteDependentResources=perhaps`), undefined, 400],
        // oversized body (the limit of this server is 64 KiB)
        ['PUT', ws('ok-name'), { location: 'local', properties: { description: 'x'.repeat(100 * 1024) } }, 413],
        // api-version
        ['PUT', ws('ok-name', ''), good, 400, 'MissingApiVersionParameter'],
        ['PUT', ws('ok-name', 'api-version=yesterday'), good, 400, 'InvalidApiVersionParameter'],
        ['GET', ws('ws-existing', 'api-version='), undefined, 400, 'MissingApiVersionParameter'],
        ['DELETE', ws('ws-existing', 'api-version=2025'), undefined, 400, 'InvalidApiVersionParameter'],
        ['POST', `${wsPath(t, 'val', 'ws-existing')}/listKeys`, undefined, 400, 'MissingApiVersionParameter'],
        // dependent resource types
        ['PUT', `${groupPath(t, 'val')}/providers/Microsoft.Storage/storageAccounts/Upper?${V}`, {}, 400],
        ['PUT', `${groupPath(t, 'val')}/providers/Microsoft.Storage/storageAccounts/ab?${V}`, {}, 400],
        ['PUT', `${groupPath(t, 'val')}/providers/Microsoft.KeyVault/vaults/1vault?${V}`, {}, 400],
        ['PUT', `${groupPath(t, 'val')}/providers/Microsoft.ContainerRegistry/registries/a-b-c?${V}`, {}, 400],
        ['PUT', `${groupPath(t, 'val')}/providers/Microsoft.Storage/storageAccounts/goodname1?${V}`, { bogus: 1 }, 400],
        ['PUT', `${groupPath(t, 'nosuchgroup')}/providers/Microsoft.Storage/storageAccounts/goodname1?${V}`, {}, 404],
        [
          'PUT',
          `${groupPath(t, 'nosuchgroup')}/providers/Microsoft.MachineLearningServices/workspaces/ok-name?${V}`,
          good,
          404,
        ],
      ];
      for (const [method, url, body, status, code] of cases) {
        const r = await t.request(method, url, body);
        assert.equal(
          r.status,
          status,
          `${method} ${url} ${typeof body === 'string' ? body : JSON.stringify(body)?.slice(0, 80)} → ${r.status} ${r.text.slice(0, 300)}`,
        );
        assert.equal(
          typeof r.body?.error?.code,
          'string',
          `${method} ${url}: ARM error body, got ${r.text.slice(0, 200)}`,
        );
        assert.equal(typeof r.body.error.message, 'string');
        if (code) assert.equal(r.body.error.code, code, `${method} ${url}: ${r.text}`);
      }
      const r = await t.request('PUT', ws('ok-name'), 'location=local', { headers: { 'content-type': 'text/plain' } });
      assert.ok(r.status === 415 || r.status === 400, `${r.status} ${r.text}`);
      assert.deepEqual(await rowCounts(t), before);
    });

    it('names the rule in a bad-name error', async () => {
      const r = await t.request('PUT', ws('a'), { location: 'local' });
      assert.match(r.body.error.message, /2–32 characters/);
      assert.equal(r.body.error.target, 'workspaceName');
    });
  });
}
