import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { createWorkspace, wsPath } from '../arm/arm-test-helpers.js';
import { gate, startBehind } from '../../testing/write-race.js';

// Child runs of the v1 run history (azureml-core's run.child_run(), get_children(), get_runs' filters)
// over the MLflow store: what is refused, and that a refusal writes nothing. Also a metrics batch:
// numbers, artifact pointers and text points are one write, and a name holds one kind under races.
for (const dialect of testDialects()) {
  describe(`v1 run history: child runs and runs:query filters (${dialect})`, () => {
    let t: TestServer;
    let H: string;
    let M: string;
    const patch = (exp: string, id: string, body: unknown) =>
      t.request('PATCH', `${H}/experiments/${exp}/runs/${id}`, body);
    before(async () => {
      t = await startTestServer(dialect);
      await createWorkspace(t, 'kids-rg', 'kids');
      H = `/history/v1.0${wsPath(t, 'kids-rg', 'kids')}`;
      M = `/mlflow/v1.0${wsPath(t, 'kids-rg', 'kids')}/api/2.0/mlflow`;
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

    const logMetrics = (id: string, cells: Record<string, unknown>) =>
      t.request('POST', `${H}/experiments/e1/runs/${id}/batch/metrics`, {
        values: Object.entries(cells).map(([name, v]) => ({ name, cells: [{ [name]: v }] })),
      });
    const numbers = async (id: string, key: string) =>
      ((await t.request('GET', `${M}/metrics/get-history?run_id=${id}&metric_key=${key}`)).body.metrics ?? []).map(
        (m: { value: number }) => m.value,
      );
    const texts = async (id: string) =>
      (
        await t.server.ctx.db
          .selectFrom('run_text_metrics')
          .select(['name', 'value'])
          .where('run_uuid', '=', id)
          .orderBy('name')
          .execute()
      ).map((r) => `${r.name}=${r.value}`);

    it('a metrics batch is one write: a failure after its numbers were written keeps none of it', async () => {
      assert.equal((await patch('e1', 'half', { status: 'Running' })).status, 200);
      const history = t.server.services.runHistory;
      history.testHooks.metricsWritten = async () => {
        throw new Error('injected failure between the numbers and the text points');
      };
      try {
        const failed = await logMetrics('half', {
          acc: 0.5,
          label: 'cat',
          img: 'aml://artifactId/ExperimentRun/x.png',
        });
        assert.equal(failed.status, 500, failed.text);
      } finally {
        history.testHooks.metricsWritten = undefined;
      }
      assert.deepEqual(await numbers('half', 'acc'), []);
      assert.deepEqual(await texts('half'), []);
      const run = await t.request('GET', `${M}/runs/get?run_id=half`);
      assert.ok(!run.body.run.data.tags?.some((g: { key: string }) => g.key === 'azureml.metric.img'), run.text);
      const again = await logMetrics('half', { acc: 0.5, label: 'cat' });
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(await numbers('half', 'acc'), [0.5]);
      assert.deepEqual(await texts('half'), ['label=cat']);
    });

    for (const [first, second] of [
      ['numbers', 'text'],
      ['text', 'numbers'],
    ] as const)
      it(`one name logged as ${first} and as ${second} at once: the request behind the first is refused and keeps nothing`, async () => {
        const id = `both-${first}`;
        assert.equal((await patch('e1', id, { status: 'Running' })).status, 200);
        const value = (kind: string) => (kind === 'numbers' ? 1 : 'one');
        const history = t.server.services.runHistory;
        const g = gate();
        history.testHooks.metricsWritten = g.hook;
        const ahead = logMetrics(id, { x: value(first) });
        await g.reached;
        history.testHooks.metricsWritten = undefined;
        const { outcome } = await startBehind(t.server.ctx.database, () => logMetrics(id, { x: value(second) }));
        g.open();
        assert.equal((await ahead).status, 200);
        const behind = await outcome;
        assert.ok(behind.ok);
        assert.equal(behind.value.status, 400, behind.value.text);
        assert.match(behind.value.body.error.message, new RegExp(`metric 'x' of run '${id}' holds ${first}`));
        assert.deepEqual(await numbers(id, 'x'), first === 'numbers' ? [1] : []);
        assert.deepEqual(await texts(id), first === 'text' ? ['x=one'] : []);
      });

    it('a filter clause run history does not take is a 501 naming it', async () => {
      const r = await t.request('POST', `${H}/experiments/e1/runs:query`, { filter: '(CreatedUtc ge 2024-01-01)' });
      assert.equal(r.status, 501, r.text);
      assert.match(r.body.error.message, /CreatedUtc ge 2024-01-01/);
      assert.deepEqual(r.body.error.details, []);
    });
  });
}
