import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { ResourceEngine, toArmBody, type ResourceDefinition } from './engine.js';
import { parseResourceId } from './resource-ids.js';

const parentDef: ResourceDefinition = {
  type: 'Microsoft.Test/things',
  checkName: (n) => assert.match(n, /^[\w-]+$/),
  immutable: ['fixed'],
};
const childDef: ResourceDefinition = { type: 'Microsoft.Test/things/parts', checkName: () => {} };

for (const dialect of testDialects()) {
  describe(`resource engine (${dialect})`, () => {
    let t: TestServer;
    let engine: ResourceEngine;
    let g: string;
    before(async () => {
      t = await startTestServer(dialect);
      engine = new ResourceEngine(t.server.ctx);
      g = `/subscriptions/${t.subscriptionId}/resourceGroups/Engine`;
      assert.equal((await t.request('PUT', `${g}?api-version=2025-09-01`, { location: 'local' })).status, 201);
    });
    after(async () => {
      await t?.close();
    });

    it('puts, gets, patches with etags and preconditions, keeps immutable properties', async () => {
      const id = `${g.replace('Engine', 'engine')}/providers/Microsoft.Test/things/a_b`;
      const { resource, created } = await engine.put(
        parentDef,
        id,
        { location: 'local', tags: { x: '1' }, properties: { fixed: 1, free: 'a' } },
        'user:admin',
        { ifNoneMatch: '*' },
      );
      assert.equal(created, true);
      assert.equal(resource.id, `${g}/providers/Microsoft.Test/things/a_b`, 'the group keeps its own casing');
      await assert.rejects(engine.put(parentDef, id, { properties: {} }, 'user:admin', { ifNoneMatch: '*' }), {
        kind: 'precondition',
        code: 'PRECONDITION_FAILED',
      });
      await assert.rejects(engine.put(parentDef, id, { properties: { fixed: 2 } }, 'user:admin'), {
        kind: 'invalid',
        code: 'IMMUTABLE_PROPERTY',
      });
      const again = await engine.put(parentDef, id, { properties: { free: 'b' } }, 'user:admin', {
        ifMatch: resource.etag,
      });
      assert.equal(again.created, false);
      assert.equal(again.resource.properties.fixed, 1);
      assert.notEqual(again.resource.etag, resource.etag);
      await assert.rejects(engine.patch(parentDef, id, { tags: {} }, 'user:admin', { ifMatch: resource.etag }), {
        kind: 'precondition',
        code: 'PRECONDITION_FAILED',
      });
      const patched = await engine.patch(
        parentDef,
        id,
        { properties: { free: null, more: true } },
        'servicePrincipal:app1',
        { ifMatch: again.resource.etag },
      );
      assert.deepEqual(patched.properties, { fixed: 1, more: true });
      const body = toArmBody(patched);
      assert.equal((body.systemData as Record<string, string>).lastModifiedBy, 'app1');
      assert.equal((body.systemData as Record<string, string>).lastModifiedByType, 'Application');
      assert.equal((body.systemData as Record<string, string>).createdBy, 'admin');
    });

    it('stores child resources below a parent, lists them with paging and a visibility filter, deletes them with the parent', async () => {
      const parent = `${g}/providers/Microsoft.Test/things/p_1`;
      const lookalike = `${g}/providers/Microsoft.Test/things/pX1`;
      await engine.put(parentDef, parent, { properties: {} }, 'user:admin');
      await engine.put(parentDef, lookalike, { properties: {} }, 'user:admin');
      await assert.rejects(
        engine.put(childDef, `${g}/providers/Microsoft.Test/things/none/parts/c`, { properties: {} }, 'user:admin'),
        { kind: 'not_found', code: 'PARENT_RESOURCE_NOT_FOUND' },
      );
      for (let i = 0; i < 5; i++)
        await engine.put(childDef, `${parent}/parts/c${i}`, { properties: { i } }, 'user:admin');
      await engine.put(childDef, `${lookalike}/parts/keep`, { properties: {} }, 'user:admin');
      assert.equal(parseResourceId(`${parent}/parts/c1`).parentId, parent);
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await engine.list({
          type: childDef.type,
          parentId: parent,
          after,
          top: 2,
          visible: (r) => r.name !== 'c3',
        });
        seen.push(...page.value.map((r) => r.name));
        if (!page.hasMore) break;
        after = page.lastKey;
      }
      assert.deepEqual(seen, ['c0', 'c1', 'c2', 'c4']);
      assert.equal(await engine.delete(parent), true);
      assert.equal((await engine.list({ type: childDef.type, parentId: parent, top: 10 })).value.length, 0);
      assert.ok(await engine.get(`${lookalike}/parts/keep`), "LIKE's '_' must not delete a look-alike's children");
      assert.equal(await engine.delete(parent), false);
    });

    it('refuses resources in a missing group and ids that are not ARM ids', async () => {
      await assert.rejects(
        engine.put(
          parentDef,
          `/subscriptions/${t.subscriptionId}/resourceGroups/nope/providers/Microsoft.Test/things/x`,
          { properties: {} },
          'user:admin',
        ),
        { kind: 'not_found', code: 'RESOURCE_GROUP_NOT_FOUND' },
      );
      assert.throws(() => parseResourceId('/subscriptions/x/resourceGroups/g/providers/A/b/c'), {
        kind: 'invalid',
        code: 'INVALID_RESOURCE_ID',
      });
      assert.throws(() => parseResourceId(`/subscriptions/${t.subscriptionId}/resourceGroups/g/providers/A/b`), {
        kind: 'invalid',
        code: 'INVALID_RESOURCE_ID',
      });
    });
  });
}
