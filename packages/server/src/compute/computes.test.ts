import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { V, createWorkspace, rowCounts, userWithRole, waitForOperation, wsPath } from '../http/arm/arm-test-helpers.js';
import type { ComputeUsage } from './computes.js';

/** A usage source the test sets by hand (the jobs module registers the real one). */
class HandUsage {
  readonly now = new Map<string, ComputeUsage>();
  async usage(_workspaceId: string, computeName: string): Promise<ComputeUsage> {
    return this.now.get(computeName) ?? { running: 0, preparing: 0 };
  }
}

const aml = (vmSize: string, scale: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  location: 'local',
  properties: { computeType: 'AmlCompute', properties: { vmSize, scaleSettings: scale, ...extra } },
});

for (const dialect of testDialects()) {
  describe(`computes (${dialect})`, () => {
    let t: TestServer;
    let W: string;
    let wsInfo: { id: string; name: string; workspaceId: string };
    const usage = new HandUsage();
    before(async () => {
      process.env.ATELIER_RAY_ADDRESSES = 'http://127.0.0.1:8265';
      t = await startTestServer(dialect);
      delete process.env.ATELIER_RAY_ADDRESSES;
      const body = await createWorkspace(t, 'cmp-rg', 'cmp-ws');
      W = wsPath(t, 'cmp-rg', 'cmp-ws');
      wsInfo = { id: body.id, name: body.name, workspaceId: body.properties.workspaceId };
      t.server.services.computes.setUsageSource(usage);
    });
    after(async () => t?.close());

    const create = async (name: string, body: unknown) => {
      const put = await t.request('PUT', `${W}/computes/${name}?api-version=2023-08-01-preview`, body);
      assert.equal(put.status, 201, put.text);
      assert.equal(put.headers.get('retry-after'), '1');
      const op = await waitForOperation(t, put.headers.get('azure-asyncoperation')!);
      assert.equal(op.status, 'Succeeded', JSON.stringify(op));
      return put;
    };

    it('creates an AmlCompute cluster as a long-running operation; GET answers its shape and nodes', async () => {
      const put = await create(
        'cpu-cluster',
        aml('STANDARD_DS3_V2', { minNodeCount: 1, maxNodeCount: 3, nodeIdleTimeBeforeScaleDown: 'PT5M' }),
      );
      assert.equal(put.body.properties.provisioningState, 'Creating');
      const got = await t.request('GET', `${W}/computes/cpu-cluster?${V}`);
      assert.equal(got.status, 200, got.text);
      const p = got.body.properties;
      assert.equal(p.computeType, 'AmlCompute');
      assert.equal(p.provisioningState, 'Succeeded');
      assert.equal(p.properties.vmSize, 'Standard_DS3_v2');
      assert.deepEqual(p.properties.scaleSettings, {
        minNodeCount: 1,
        maxNodeCount: 3,
        nodeIdleTimeBeforeScaleDown: 'PT5M',
      });
      assert.equal(p.properties.allocationState, 'Steady');
      // minNodeCount 1: one node is kept, idle.
      assert.equal(p.properties.currentNodeCount, 1);
      assert.equal(p.properties.nodeStateCounts.idleNodeCount, 1);
      assert.equal(p.properties.nodeStateCounts.runningNodeCount, 0);
      assert.deepEqual(
        { cores: p.properties.shape.cores, memoryGiB: p.properties.shape.memoryGiB, gpus: p.properties.shape.gpus },
        { cores: 4, memoryGiB: 14, gpus: 0 },
      );
      const cap = await t.server.services.computes.capacity(wsInfo, 'cpu-cluster');
      assert.deepEqual(
        { ...cap, id: undefined },
        {
          computeType: 'AmlCompute',
          id: undefined,
          name: 'cpu-cluster',
          maxNodeCount: 3,
          minNodeCount: 1,
          coresPerNode: 4,
          memoryGiB: 14,
          gpusPerNode: 0,
          stopped: false,
        },
      );
      // A job names its compute by name, azureml:name or ARM id.
      assert.equal((await t.server.services.computes.capacity(wsInfo, `azureml:cpu-cluster`)).name, 'cpu-cluster');
      assert.equal((await t.server.services.computes.capacity(wsInfo, got.body.id)).name, 'cpu-cluster');
      const list = await t.request('GET', `${W}/computes?${V}`);
      assert.deepEqual(
        list.body.value.map((c: any) => c.name),
        ['cpu-cluster'],
      );
    });

    it('node counts and listNodes follow what runs; idle nodes leave after the idle time', async () => {
      await create(
        'busy',
        aml('local-2c-4g', { minNodeCount: 0, maxNodeCount: 4, nodeIdleTimeBeforeScaleDown: 'PT0S' }),
      );
      usage.now.set('busy', { running: 2, preparing: 1, runIds: ['job-a', 'job-b'] });
      const got = await t.request('GET', `${W}/computes/busy?${V}`);
      const p = got.body.properties.properties;
      assert.equal(p.currentNodeCount, 3);
      assert.equal(p.targetNodeCount, 3);
      assert.deepEqual(p.nodeStateCounts, {
        idleNodeCount: 0,
        runningNodeCount: 2,
        preparingNodeCount: 1,
        unusableNodeCount: 0,
        leavingNodeCount: 0,
        preemptedNodeCount: 0,
      });
      const nodes = await t.request('POST', `${W}/computes/busy/listNodes?${V}`);
      assert.equal(nodes.status, 200, nodes.text);
      assert.deepEqual(
        nodes.body.nodes.map((n: any) => [n.nodeState, n.runId]),
        [
          ['running', 'job-a'],
          ['running', 'job-b'],
          ['preparing', null],
        ],
      );
      assert.equal(nodes.body.nodes[0].privateIpAddress, '127.0.0.1');
      // More work than maxNodeCount: the cluster holds maxNodeCount nodes, the rest waits in the queue.
      usage.now.set('busy', { running: 9, preparing: 0 });
      assert.equal((await t.request('GET', `${W}/computes/busy?${V}`)).body.properties.properties.currentNodeCount, 4);
      // Work ends: with an idle time of 0 the nodes leave at once.
      usage.now.set('busy', { running: 0, preparing: 0 });
      const after = (await t.request('GET', `${W}/computes/busy?${V}`)).body.properties.properties;
      assert.equal(after.currentNodeCount, 0);
      assert.equal((await t.request('POST', `${W}/computes/busy/listNodes?${V}`)).body.nodes.length, 0);
    });

    it('an idle node stays for nodeIdleTimeBeforeScaleDown after its last job, then leaves', async () => {
      const pool = t.server.services.computes.nodes;
      const key = `${W}/computes/pool-test`;
      const demand = { minNodeCount: 1, maxNodeCount: 3, idleMs: 60_000, stopped: false };
      const t0 = 1_000_000;
      let nodes = await pool.reconcile(key, { ...demand, running: 3, preparing: 0 }, t0);
      assert.deepEqual(
        nodes.map((n) => n.nodeState),
        ['running', 'running', 'running'],
      );
      nodes = await pool.reconcile(key, { ...demand, running: 1, preparing: 0 }, t0 + 1000);
      assert.deepEqual(
        nodes.map((n) => n.nodeState),
        ['running', 'idle', 'idle'],
      );
      // 59 s idle: still there.
      nodes = await pool.reconcile(key, { ...demand, running: 0, preparing: 0 }, t0 + 60_000);
      assert.equal(nodes.length, 3);
      // 60 s after they became idle the two leave; the one that just stopped stays, and min 1 is kept anyway.
      nodes = await pool.reconcile(key, { ...demand, running: 0, preparing: 0 }, t0 + 61_000);
      assert.equal(nodes.length, 1);
      nodes = await pool.reconcile(key, { ...demand, running: 0, preparing: 0 }, t0 + 10 * 60_000);
      assert.deepEqual(
        nodes.map((n) => n.nodeState),
        ['idle'],
      );
      // Stopped: no idle node is kept, not even minNodeCount.
      nodes = await pool.reconcile(key, { ...demand, stopped: true, running: 0, preparing: 0 }, t0 + 10 * 60_000);
      assert.equal(nodes.length, 0);
      await pool.forget(key);
    });

    it('stop refuses new work (capacity().stopped), lets running jobs finish, start resumes', async () => {
      await create('stopper', aml('Standard_NC6', { minNodeCount: 1, maxNodeCount: 2 }));
      usage.now.set('stopper', { running: 1, preparing: 0 });
      const stop = await t.request('POST', `${W}/computes/stopper/stop?${V}`);
      assert.equal(stop.status, 200, stop.text);
      let p = (await t.request('GET', `${W}/computes/stopper?${V}`)).body.properties.properties;
      assert.equal(p.state, 'Stopping');
      assert.equal(p.nodeStateCounts.runningNodeCount, 1);
      assert.equal(p.nodeStateCounts.idleNodeCount, 0);
      const cap = await t.server.services.computes.capacity(wsInfo, 'stopper');
      assert.equal(cap.stopped, true);
      assert.equal(cap.gpusPerNode, 1);
      usage.now.set('stopper', { running: 0, preparing: 0 });
      p = (await t.request('GET', `${W}/computes/stopper?${V}`)).body.properties.properties;
      assert.equal(p.state, 'Stopped');
      assert.equal(p.currentNodeCount, 0);
      assert.equal((await t.request('POST', `${W}/computes/stopper/start?${V}`)).status, 200);
      p = (await t.request('GET', `${W}/computes/stopper?${V}`)).body.properties.properties;
      assert.equal(p.state, 'Running');
      assert.equal(p.currentNodeCount, 1);
      assert.equal((await t.server.services.computes.capacity(wsInfo, 'stopper')).stopped, false);
    });

    it('updates scale settings (PUT and PATCH); vmSize and computeType are fixed', async () => {
      await create('grow', aml('local-1c-2g', { maxNodeCount: 1 }));
      const put = await t.request('PUT', `${W}/computes/grow?${V}`, aml('LOCAL-1C-2G', { maxNodeCount: 2 }));
      assert.equal(put.status, 200, put.text);
      assert.equal(put.body.properties.properties.scaleSettings.maxNodeCount, 2);
      const patch = await t.request('PATCH', `${W}/computes/grow?${V}`, {
        properties: { properties: { scaleSettings: { maxNodeCount: 5, minNodeCount: 1 } } },
      });
      assert.equal(patch.status, 200, patch.text);
      assert.deepEqual(patch.body.properties.properties.scaleSettings, {
        minNodeCount: 1,
        maxNodeCount: 5,
        nodeIdleTimeBeforeScaleDown: 'PT120S',
      });
      const size = await t.request('PUT', `${W}/computes/grow?${V}`, aml('local-2c-4g', { maxNodeCount: 2 }));
      assert.equal(size.status, 400);
      assert.equal(size.body.error.target, 'properties.properties.vmSize');
      const type = await t.request('PUT', `${W}/computes/grow?${V}`, {
        properties: { computeType: 'Ray', properties: { dashboardUrl: 'http://127.0.0.1:8265' } },
      });
      assert.equal(type.status, 400);
      assert.match(type.body.error.message, /computeType/);
    });

    it('refuses bad input with a 400 naming the field, and changes nothing', async () => {
      const before = await rowCounts(t);
      const cases: [unknown, RegExp][] = [
        [aml('Standard_XYZ_v9', { maxNodeCount: 1 }), /vmSize.*local-2c-4g.*Standard_DS3_v2/],
        [aml('local-1c-2g', { minNodeCount: 3, maxNodeCount: 2 }), /minNodeCount/],
        [
          aml('local-1c-2g', { maxNodeCount: 1, nodeIdleTimeBeforeScaleDown: '5 minutes' }),
          /nodeIdleTimeBeforeScaleDown/,
        ],
        [aml('local-1c-2g', { maxNodeCount: -1 }), /maxNodeCount/],
        [aml('local-1c-2g', { maxNodeCount: 1.5 }), /maxNodeCount/],
        [aml('local-1c-2g', { maxNodeCount: 1 }, { osType: 'Windows' }), /osType/],
        [
          aml(
            'local-1c-2g',
            { maxNodeCount: 1 },
            { userAccountCredentials: { adminUserName: 'a', adminUserPassword: 'p' } },
          ),
          /userAccountCredentials/,
        ],
        [aml('local-1c-2g', { maxNodeCount: 1 }, { gpuDriver: 'x' }), /gpuDriver/],
        [{ properties: { computeType: 'Databricks' } }, /computeType.*AmlCompute, Ray/],
        [{ properties: { computeType: 'Ray', properties: { dashboardUrl: 'not a url' } } }, /dashboardUrl/],
        [
          { properties: { computeType: 'Ray', properties: { dashboardUrl: 'http://10.1.2.3:8265' } } },
          /ATELIER_RAY_ADDRESSES/,
        ],
        [
          {
            properties: {
              computeType: 'Ray',
              properties: { dashboardUrl: 'http://127.0.0.1:8265', address: 'nohost' },
            },
          },
          /address/,
        ],
      ];
      for (const [body, message] of cases) {
        const r = await t.request('PUT', `${W}/computes/bad?${V}`, body);
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
        assert.match(r.body.error.message, message);
      }
      for (const name of ['1abc', 'a', 'has_underscore', 'way-too-long-cluster-name', 'ends-']) {
        const r = await t.request('PUT', `${W}/computes/${name}?${V}`, aml('local-1c-2g', { maxNodeCount: 1 }));
        assert.equal(r.status, 400, `${name}: ${r.text}`);
        assert.equal(r.body.error.code, 'InvalidComputeName');
      }
      assert.deepEqual(await rowCounts(t), before);
      const missing = await t.request('GET', `${W}/computes/nosuch?${V}`);
      assert.equal(missing.status, 404);
      assert.match(missing.body.error.message, /compute 'nosuch'/);
      assert.equal((await t.request('POST', `${W}/computes/nosuch/listNodes?${V}`)).status, 404);
      await assert.rejects(
        t.server.services.computes.capacity(wsInfo, 'nosuch'),
        /compute 'nosuch' could not be found/,
      );
    });

    it('attaches a Ray cluster by address (allowed by ATELIER_RAY_ADDRESSES)', async () => {
      const put = await create('ray', {
        properties: {
          computeType: 'Ray',
          description: 'the team cluster',
          properties: { dashboardUrl: 'http://127.0.0.1:8265/', address: '127.0.0.1:6379' },
        },
      });
      assert.equal(put.body.properties.isAttachedCompute, true);
      const got = await t.request('GET', `${W}/computes/ray?${V}`);
      assert.equal(got.body.properties.properties.dashboardUrl, 'http://127.0.0.1:8265');
      const cap = await t.server.services.computes.capacity(wsInfo, 'ray');
      assert.equal(cap.computeType, 'Ray');
      assert.equal(cap.rayAddress, 'http://127.0.0.1:8265');
      assert.equal(cap.rayGcsAddress, '127.0.0.1:6379');
    });

    it('deletes a compute, refused while jobs run on it; access follows the roles', async () => {
      await create('gone', aml('local-1c-2g', { maxNodeCount: 1 }));
      usage.now.set('gone', { running: 1, preparing: 0 });
      const refused = await t.request('DELETE', `${W}/computes/gone?${V}`);
      assert.equal(refused.status, 409);
      assert.match(refused.body.error.message, /runs jobs/);
      const ds = await userWithRole(t, `cmp-ds-${dialect}`, 'AzureML Data Scientist', W);
      assert.equal((await t.request('GET', `${W}/computes/gone?${V}`, undefined, { token: ds.token })).status, 200);
      assert.equal((await t.request('DELETE', `${W}/computes/gone?${V}`, undefined, { token: ds.token })).status, 403);
      assert.equal(
        (
          await t.request('PUT', `${W}/computes/other?${V}`, aml('local-1c-2g', { maxNodeCount: 1 }), {
            token: ds.token,
          })
        ).status,
        403,
      );
      const stranger = await userWithRole(t, `cmp-none-${dialect}`, null);
      assert.equal(
        (await t.request('GET', `${W}/computes/gone?${V}`, undefined, { token: stranger.token })).status,
        404,
      );
      usage.now.set('gone', { running: 0, preparing: 0 });
      // Long-running, as Azure's: 202 with the operation azureml-core's delete() reads.
      const del = await t.request('DELETE', `${W}/computes/gone?${V}`);
      assert.equal(del.status, 202);
      assert.ok(del.headers.get('location'));
      assert.equal((await waitForOperation(t, del.headers.get('azure-asyncoperation')!)).status, 'Succeeded');
      assert.equal((await t.request('GET', `${W}/computes/gone?${V}`)).status, 404);
      assert.equal((await t.request('DELETE', `${W}/computes/gone?${V}`)).status, 204);
      const rows = await t.server.ctx.db
        .selectFrom('compute_nodes')
        .selectAll()
        .where('compute_key', 'like', '%/gone')
        .execute();
      assert.equal(rows.length, 0);
    });

    it('a create that a crashed server left half-made is undone', async () => {
      const computes = t.server.services.computes;
      const id = `${wsInfo.id}/computes/halfmade`;
      await t.server.services.resources.put(
        { type: 'Microsoft.MachineLearningServices/workspaces/computes', checkName: () => {} },
        id,
        { location: 'local', properties: { computeType: 'AmlCompute', provisioningState: 'Creating', properties: {} } },
        'system',
      );
      assert.equal(
        (await t.request('GET', `${W}/computes/halfmade?${V}`)).body.properties.provisioningState,
        'Creating',
      );
      await computes.recoverCreate({ computeId: id });
      assert.equal((await t.request('GET', `${W}/computes/halfmade?${V}`)).status, 404);
    });
  });
}
