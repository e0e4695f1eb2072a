import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { trackingClient, type TrackingClient } from './tracking-helpers.js';
import { makeWorkspace } from './testing.js';

const V = 'api-version=2025-09-01';
const ROLE = {
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  'AzureML Data Scientist': 'f6c7c914-8db3-469d-8ca1-694a8f32e121',
};

for (const dialect of testDialects()) {
  describe(`MLflow runs/create and the request's access checks (${dialect})`, () => {
    let t: TestServer;
    let c: TrackingClient;
    before(async () => {
      t = await startTestServer(dialect);
      c = await trackingClient(t);
    });
    after(async () => {
      await t?.close();
    });

    test('the answer is what runs/get answers; ids are uuid4 hex; tags one per key, the last wins', async () => {
      const exp = await c.createExperiment('create-shape');
      const tags = [
        { key: 'z', value: '1' },
        { key: 'a', value: 'first' },
        { key: 'a', value: 'second' },
        { key: 'mlflow.user', value: 'someone' },
      ];
      const created = (
        await c.ok('POST', '/runs/create', {
          experiment_id: exp,
          user_id: 'u1',
          start_time: 5,
          run_name: 'shape',
          tags,
        })
      ).run;
      assert.match(created.info.run_id, /^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
      assert.deepEqual(created.data.tags, [
        { key: 'a', value: 'second' },
        { key: 'mlflow.runName', value: 'shape' },
        { key: 'mlflow.user', value: 'someone' },
        { key: 'z', value: '1' },
      ]);
      const got = (await c.ok('GET', `/runs/get?run_id=${created.info.run_id}`)).run;
      assert.deepEqual(created, got);
      assert.equal(got.info.user_id, 'u1');
      assert.equal(got.info.start_time, 5);
      assert.deepEqual(got.inputs, {});
      // Only the new run's rows are there; the run is searchable by its tags at once.
      const found = (await c.ok('POST', '/runs/search', { experiment_ids: [exp], filter: "tags.a = 'second'" })).runs;
      assert.deepEqual(
        found.map((r: any) => r.info.run_id),
        [created.info.run_id],
      );
    });

    test('many tags go in whole (more than one statement takes on PostgreSQL)', async () => {
      const exp = await c.createExperiment('create-many-tags');
      const tags = Array.from({ length: 1200 }, (_, i) => ({ key: `k${String(i).padStart(4, '0')}`, value: `v${i}` }));
      const created = (await c.ok('POST', '/runs/create', { experiment_id: exp, tags })).run;
      assert.equal(created.data.tags.length, 1201);
      const got = (await c.ok('GET', `/runs/get?run_id=${created.info.run_id}`)).run;
      assert.deepEqual(got.data.tags, created.data.tags);
    });

    test('an experiment that is missing, deleted or in another workspace takes no run, and nothing is left behind', async () => {
      const exp = await c.createExperiment('create-deleted');
      await c.ok('POST', '/experiments/delete', { experiment_id: exp });
      await c.fails(
        'POST',
        '/runs/create',
        { experiment_id: exp, tags: [{ key: 'k', value: 'v' }] },
        400,
        'INVALID_PARAMETER_VALUE',
        new RegExp(`experiment ${exp} must be in the 'active' state. Current state is deleted`),
      );
      await c.fails(
        'POST',
        '/runs/create',
        { experiment_id: '424242' },
        404,
        'RESOURCE_DOES_NOT_EXIST',
        /No Experiment with id=424242/,
      );
      await c.fails('POST', '/runs/create', { experiment_id: 'abc' }, 404, 'RESOURCE_DOES_NOT_EXIST');
      await c.fails('POST', '/runs/create', { experiment_id: '1.5' }, 400, 'INVALID_PARAMETER_VALUE');
      const other = await trackingClient(t, await makeWorkspace(t));
      let theirs = '';
      for (let i = 0; i < 8; i++) theirs = await other.createExperiment(`theirs-${i}`);
      await c.fails('GET', `/experiments/get?experiment_id=${theirs}`, undefined, 404, 'RESOURCE_DOES_NOT_EXIST');
      await c.fails('POST', '/runs/create', { experiment_id: theirs }, 404, 'RESOURCE_DOES_NOT_EXIST');
      await c.ok('POST', '/experiments/restore', { experiment_id: exp });
      const runs = (await c.ok('POST', '/runs/search', { experiment_ids: [exp], run_view_type: 'ALL' })).runs ?? [];
      assert.deepEqual(runs, []);
      const rows = await t.server.ctx.db
        .selectFrom('tracking_tags')
        .select('run_uuid')
        .where('workspace_id', '=', c.ws.workspaceId)
        .where('experiment_id', '=', Number(exp))
        .execute();
      assert.deepEqual(rows, []);
    });

    test('create-runs arriving together are all written (SQLite: one group commit); a bad one fails alone', async () => {
      const good = await c.createExperiment('create-together');
      const gone = await c.createExperiment('create-together-deleted');
      await c.ok('POST', '/experiments/delete', { experiment_id: gone });
      const answers = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          c.call('POST', '/runs/create', {
            experiment_id: i % 10 === 3 ? gone : i % 10 === 7 ? '987654' : good,
            run_name: `together-${i}`,
            tags: [{ key: 'i', value: String(i) }],
          }),
        ),
      );
      const made = new Set<string>();
      answers.forEach((a, i) => {
        if (i % 10 === 3) assert.equal(a.status, 400, a.text);
        else if (i % 10 === 7) assert.equal(a.status, 404, a.text);
        else {
          assert.equal(a.status, 200, a.text);
          assert.equal(a.body.run.info.run_name, `together-${i}`);
          assert.deepEqual(a.body.run.data.tags, [
            { key: 'i', value: String(i) },
            { key: 'mlflow.runName', value: `together-${i}` },
          ]);
          made.add(a.body.run.info.run_id);
        }
      });
      assert.equal(made.size, 48);
      const found = (await c.ok('POST', '/runs/search', { experiment_ids: [good], max_results: 100 })).runs;
      assert.deepEqual(new Set(found.map((r: any) => r.info.run_id)), made);
      for (const r of found)
        assert.equal(r.data.tags.find((t: any) => t.key === 'mlflow.runName').value, r.info.run_name);
      assert.deepEqual(
        (await c.ok('POST', '/runs/search', { experiment_ids: [gone], run_view_type: 'ALL' })).runs ?? [],
        [],
      );
    });

    test('a new workspace gets its Default experiment from the first runs/create', async () => {
      const fresh = await trackingClient(t, await makeWorkspace(t));
      const run = (await fresh.ok('POST', '/runs/create', { start_time: 1 })).run;
      assert.equal(run.info.experiment_id, '0');
      assert.equal(run.info.artifact_uri, `mlflow-artifacts:/0/${run.info.run_id}/artifacts`);
      assert.match(run.info.run_name, /^[a-z]+-[a-z]+-\d+$/);
    });

    test('role and principal changes apply to the very next request (cached lookups are dropped)', async () => {
      const name = `cache${dialect}`;
      const user = await t.server.ctx.principals.createUser(name, 'cache-password-1');
      const basic = {
        token: null,
        headers: { authorization: `Basic ${Buffer.from(`${name}:cache-password-1`).toString('base64')}` },
      };
      const create = () => c.call('POST', '/runs/create', { experiment_id: '0' }, basic);
      const assignment = (role: keyof typeof ROLE) => ({
        properties: {
          roleDefinitionId: `/subscriptions/${t.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${ROLE[role]}`,
          principalId: user.id,
        },
      });
      const path = (id: string) => `${c.ws.armId}/providers/Microsoft.Authorization/roleAssignments/${id}?${V}`;

      assert.equal((await create()).status, 404);
      const writer = crypto.randomUUID();
      assert.equal((await t.request('PUT', path(writer), assignment('AzureML Data Scientist'))).status, 201);
      const made = await create();
      assert.equal(made.status, 200, made.text);
      assert.equal(made.body.run.info.user_id, name);
      assert.equal((await t.request('DELETE', path(writer))).status, 200);
      assert.equal((await create()).status, 404);
      const reader = crypto.randomUUID();
      assert.equal((await t.request('PUT', path(reader), assignment('Reader'))).status, 201);
      const denied = await create();
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error_code, 'PERMISSION_DENIED');
      assert.equal(
        (await c.call('GET', `/runs/get?run_id=${made.body.run.info.run_id}`, undefined, basic)).status,
        200,
      );

      assert.equal((await t.request('PATCH', `/identity/users/${name}`, { enabled: false })).status, 200);
      assert.equal(
        (await c.call('GET', `/runs/get?run_id=${made.body.run.info.run_id}`, undefined, basic)).status,
        401,
      );
      assert.equal((await t.request('PATCH', `/identity/users/${name}`, { enabled: true })).status, 200);
      assert.equal(
        (await c.call('GET', `/runs/get?run_id=${made.body.run.info.run_id}`, undefined, basic)).status,
        200,
      );
      assert.equal((await t.request('DELETE', `/identity/users/${name}`)).status, 204);
      assert.equal(
        (await c.call('GET', `/runs/get?run_id=${made.body.run.info.run_id}`, undefined, basic)).status,
        401,
      );
    });

    test('a principal read that began before a change does not refill the cache with the old state', async () => {
      const { principals } = t.server.ctx;
      const user = await principals.createUser(`race${dialect}`, 'race-password-1');
      assert.ok(await principals.get(user.id));
      await principals.update(user.id, { enabled: true }); // drops the cached entry
      const inFlight = principals.get(user.id);
      await principals.update(user.id, { enabled: false });
      await inFlight;
      assert.equal(await principals.get(user.id), undefined);
      assert.equal(await principals.isEnabled(user.id), false);
    });
  });
}
