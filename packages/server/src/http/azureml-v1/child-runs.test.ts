import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { createWorkspace, wsPath } from '../arm/arm-test-helpers.js';

// Child runs of the v1 run history (azureml-core's run.child_run(), get_children(), get_runs' filters)
// over the MLflow store: what is refused, and that a refusal writes nothing.
for (const dialect of testDialects()) {
  describe(`v1 run history: child runs and runs:query filters (${dialect})`, () => {
    let t: TestServer;
    let H: string;
    const patch = (exp: string, id: string, body: unknown) =>
      t.request('PATCH', `${H}/experiments/${exp}/runs/${id}`, body);
    before(async () => {
      t = await startTestServer(dialect);
      await createWorkspace(t, 'kids-rg', 'kids');
      H = `/history/v1.0${wsPath(t, 'kids-rg', 'kids')}`;
      assert.equal((await patch('e1', 'top', { status: 'Running' })).status, 200);
      assert.equal((await patch('e2', 'elsewhere', { status: 'Running' })).status, 200);
    });
    after(async () => t?.close());

    it('a child keeps its parent and root; the parent lists it; get_runs leaves it out', async () => {
      const kid = await patch('e1', 'kid', { parentRunId: 'top', status: 'Running' });
      assert.equal(kid.status, 200, kid.text);
      assert.equal(kid.body.parentRunId, 'top');
      assert.equal(kid.body.rootRunId, 'top');
      const grand = await patch('e1', 'grand', { parentRunId: 'kid' });
      assert.equal(grand.body.rootRunId, 'top');
      const children = await t.request('GET', `${H}/experiments/e1/runs/top/children`);
      assert.equal(children.status, 200, children.text);
      assert.deepEqual(
        children.body.value.map((r: { runId: string }) => r.runId),
        ['kid'],
      );
      const q = (filter?: string) => t.request('POST', `${H}/experiments/e1/runs:query`, filter ? { filter } : {});
      assert.deepEqual(
        (await q('(ParentRunId eq null)')).body.value.map((r: { runId: string }) => r.runId),
        ['top'],
      );
      assert.deepEqual(
        (await q('(RootRunId eq top and RunId ne top)')).body.value.map((r: { runId: string }) => r.runId).sort(),
        ['grand', 'kid'],
      );
      assert.equal((await q()).body.value.length, 3);
    });

    it('a missing parent, one in another experiment, or a changed parent is a 400 and writes nothing', async () => {
      for (const [exp, id, parent] of [
        ['e1', 'orphan', 'nosuchrun'],
        ['e1', 'crossed', 'elsewhere'],
      ] as const) {
        const r = await patch(exp, id, { parentRunId: parent, status: 'Running' });
        assert.equal(r.status, 400, r.text);
        assert.match(r.body.error.message, new RegExp(`parent run '${parent}' could not be found in experiment 'e1'`));
        assert.deepEqual(r.body.error.details, []);
        assert.equal((await t.request('GET', `${H}/experiments/${exp}/runs/${id}`)).status, 404);
      }
      const moved = await patch('e1', 'kid', { parentRunId: 'grand' });
      assert.equal(moved.status, 400, moved.text);
      assert.match(moved.body.error.message, /parent cannot change/);
      assert.equal((await t.request('GET', `${H}/experiments/e1/runs/kid`)).body.parentRunId, 'top');
      assert.equal((await patch('e1', 'typed', { parentRunId: 7 })).status, 400);
    });

    it('a filter clause run history does not take is a 501 naming it', async () => {
      const r = await t.request('POST', `${H}/experiments/e1/runs:query`, { filter: '(CreatedUtc ge 2024-01-01)' });
      assert.equal(r.status, 501, r.text);
      assert.match(r.body.error.message, /CreatedUtc ge 2024-01-01/);
      assert.deepEqual(r.body.error.details, []);
    });
  });
}
