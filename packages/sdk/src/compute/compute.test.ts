import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../../../server/src/testing/harness.js';
import { AmlCompute, ComputeTarget, NotFoundError, TokenAuthentication, ValidationError, Workspace } from '../index.js';

// ComputeTarget / AmlCompute / ws.computeTargets() / defaults at Workspace.create, against a real server (SQLite).
describe('compute targets (SDK) against a real server', () => {
  let t: TestServer;
  let conn: { endpoint: string; auth: TokenAuthentication; env: NodeJS.ProcessEnv };
  let tmp: string;
  let ws: Workspace;
  before(async () => {
    t = await startTestServer('sqlite');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-sdk-compute-'));
    conn = {
      endpoint: t.url,
      auth: new TokenAuthentication(t.adminToken),
      env: { ATELIER_CONFIG_DIR: path.join(tmp, 'profile') },
    };
    ws = await Workspace.create({ ...conn, name: 'compute-ws', resourceGroup: 'compute-rg', showOutput: false });
  });
  after(async () => {
    await t?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('creates a cluster from a provisioning configuration, waits, lists, stops, starts, updates and deletes it', async () => {
    const config = AmlCompute.provisioningConfiguration({
      vmSize: 'STANDARD_DS3_V2',
      minNodes: 0,
      maxNodes: 3,
      idleSecondsBeforeScaledown: 300,
      tags: { team: 'a' },
    });
    const target = await ComputeTarget.create(ws, 'train-cluster', config);
    const lines: string[] = [];
    const status = await target.waitForCompletion({ showOutput: true, output: (l) => lines.push(l) });
    assert.equal(status.provisioningState, 'Succeeded');
    assert.equal(status.vmSize, 'Standard_DS3_v2');
    assert.deepEqual(status.scaleSettings, { minNodeCount: 0, maxNodeCount: 3, nodeIdleTimeBeforeScaleDown: 'PT300S' });
    assert.equal(status.allocationState, 'Steady');
    assert.equal(status.currentNodeCount, 0);
    assert.equal(status.nodeStateCounts?.runningNodeCount, 0);
    assert.ok(
      lines.some((l) => /train-cluster: Succeeded/.test(l)),
      lines.join('\n'),
    );
    assert.equal(target.type, 'AmlCompute');
    assert.deepEqual(target.tags, { team: 'a' });

    const got = await ComputeTarget.get(ws, 'train-cluster');
    assert.equal(got.id, target.id);
    const map = await ws.computeTargets();
    assert.deepEqual([...map.keys()], ['train-cluster']);
    assert.ok(map.get('train-cluster') instanceof ComputeTarget);
    assert.deepEqual(await got.listNodes(), []);

    assert.equal((await got.stop()).state, 'Stopped');
    assert.equal((await got.getStatus()).state, 'Stopped');
    assert.equal((await got.start()).state, 'Running');

    await got.update({ maxNodes: 5 });
    assert.equal(got.status.scaleSettings?.maxNodeCount, 5);
    assert.equal(got.status.scaleSettings?.nodeIdleTimeBeforeScaleDown, 'PT300S');

    await got.delete();
    await assert.rejects(ComputeTarget.get(ws, 'train-cluster'), (e: unknown) => {
      assert.ok(e instanceof NotFoundError);
      assert.match(e.message, /compute 'train-cluster' does not exist in workspace 'compute-ws'/);
      return true;
    });
    assert.equal((await ws.computeTargets()).size, 0);
  });

  it('refuses bad configurations before sending, and names the server’s refusal', () => {
    assert.throws(
      () => AmlCompute.provisioningConfiguration({ minNodes: 3, maxNodes: 2 }),
      /minNodes \(3\) must not exceed maxNodes \(2\)/,
    );
    assert.throws(() => AmlCompute.provisioningConfiguration({ maxNodes: 0 }), ValidationError);
    assert.throws(() => AmlCompute.provisioningConfiguration({ vmPriority: 'cheap' }), /vmPriority/);
    return assert.rejects(
      ComputeTarget.create(ws, 'bad', AmlCompute.provisioningConfiguration({ vmSize: 'Standard_Nope' })),
      (e: unknown) => {
        assert.ok(e instanceof ValidationError);
        assert.match(e.message, /'Standard_Nope' is not a node shape of this server/);
        return true;
      },
    );
  });

  it('Workspace.create makes the default clusters; getDefaultComputeTarget finds them (undefined when absent)', async () => {
    const lines: string[] = [];
    const made = await Workspace.create({
      ...conn,
      name: 'defaults-ws',
      resourceGroup: 'defaults-rg',
      defaultCpuComputeTarget: Workspace.DEFAULT_CPU_CLUSTER_CONFIGURATION,
      defaultGpuComputeTarget: AmlCompute.provisioningConfiguration({ vmSize: 'Standard_NC6', maxNodes: 1 }),
      output: (l) => lines.push(l),
    });
    assert.ok(
      lines.some((l) => /Creating compute 'cpu-cluster'/.test(l)),
      lines.join('\n'),
    );
    const cpu = await made.getDefaultComputeTarget('CPU');
    assert.equal(cpu?.name, 'cpu-cluster');
    assert.equal(cpu?.status.vmSize, 'Standard_DS2_v2');
    assert.equal(cpu?.status.scaleSettings?.maxNodeCount, 2);
    const gpu = await made.getDefaultComputeTarget('GPU');
    assert.equal(gpu?.status.vmSize, 'Standard_NC6');
    assert.equal(gpu?.status.provisioningState, 'Succeeded');
    assert.deepEqual([...(await made.computeTargets()).keys()].sort(), ['cpu-cluster', 'gpu-cluster']);
    assert.equal(await ws.getDefaultComputeTarget('CPU'), undefined);
    await assert.rejects(made.getDefaultComputeTarget('TPU' as 'CPU'), /'CPU' or 'GPU'/);
  });

  it('a bad default cluster is refused before anything is made', async () => {
    await assert.rejects(
      Workspace.create({
        ...conn,
        name: 'bad-defaults',
        resourceGroup: 'bad-defaults-rg',
        defaultCpuComputeTarget: { vmSize: 'Standard_DS2_v2', minNodes: 4, maxNodes: 1 } as never,
        showOutput: false,
      }),
      /defaultCpuComputeTarget: minNodes \(4\) must not exceed maxNodes \(1\)/,
    );
    await assert.rejects(Workspace.get('bad-defaults', { ...conn, resourceGroup: 'bad-defaults-rg' }), NotFoundError);
  });

  it('a default cluster the server refuses takes the new workspace and its group with it', async () => {
    await assert.rejects(
      Workspace.create({
        ...conn,
        name: 'refused-defaults',
        resourceGroup: 'refused-defaults-rg',
        defaultCpuComputeTarget: AmlCompute.provisioningConfiguration({ vmSize: 'Standard_Nope' }),
        showOutput: false,
      }),
      /'Standard_Nope' is not a node shape/,
    );
    await assert.rejects(
      Workspace.get('refused-defaults', { ...conn, resourceGroup: 'refused-defaults-rg' }),
      NotFoundError,
    );
    const groups = await conn.auth.getToken({ endpoint: t.url, audience: '' });
    const r = await fetch(
      `${t.url}/subscriptions/${t.subscriptionId}/resourcegroups/refused-defaults-rg?api-version=2025-09-01`,
      {
        headers: { authorization: `Bearer ${groups.token}` },
      },
    );
    assert.equal(r.status, 404);
  });
});
