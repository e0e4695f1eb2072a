import crypto from 'node:crypto';
import type { TestServer } from '../../testing/harness.js';
import { workspaceArmId, invalidateWorkspaceCache } from './common.js';

export interface TestWorkspace {
  name: string;
  armId: string;
  workspaceId: string;
  /** The tracking URI: `${t.url}/mlflow/v1.0${armId}`. */
  trackingUri: string;
  /** `${trackingUri}/api/2.0/mlflow` */
  api: string;
}

/**
 * A workspace to track into. Made through the ARM API when the server has it; until the workspace
 * resource type lands, the `resources` row a workspace has is written directly.
 */
export async function makeWorkspace(t: TestServer, name = `ws${crypto.randomBytes(4).toString('hex')}`, group = 'tracking-rg'): Promise<TestWorkspace> {
  const sub = t.subscriptionId;
  const rg = await t.request('PUT', `/subscriptions/${sub}/resourcegroups/${group}?api-version=2025-09-01`, { location: 'local' });
  if (rg.status >= 300) throw new Error(`cannot make resource group: ${rg.status} ${rg.text}`);
  const armId = workspaceArmId(sub, group, name);
  let workspaceId: string | undefined;
  const put = await t.request('PUT', `${armId}?api-version=2025-09-01`, { location: 'local', properties: {} });
  if (put.status >= 200 && put.status < 300) {
    for (let i = 0; i < 200 && !workspaceId; i++) {
      const got = await t.request('GET', `${armId}?api-version=2025-09-01`);
      if (got.status === 200 && got.body?.properties?.workspaceId && got.body.properties.provisioningState !== 'Creating') workspaceId = got.body.properties.workspaceId;
      else await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (!workspaceId) {
    workspaceId = crypto.randomUUID();
    const now = Date.now();
    await t.server.ctx.db
      .insertInto('resources')
      .values({
        id_key: armId.toLowerCase(), id: armId, subscription_id: sub, group_key: `/subscriptions/${sub}/resourcegroups/${group}`.toLowerCase(),
        parent_key: null, type: 'Microsoft.MachineLearningServices/workspaces', type_key: 'microsoft.machinelearningservices/workspaces',
        name, location: 'local', kind: 'Default', tags: '{}', sku: null, identity: null,
        properties: JSON.stringify({ workspaceId, provisioningState: 'Succeeded' }), etag: crypto.randomUUID(),
        created_at: now, created_by: null, updated_at: now, updated_by: null,
      })
      .execute();
    invalidateWorkspaceCache(t.server.ctx, armId);
  }
  const trackingUri = `${t.url}/mlflow/v1.0${armId}`;
  return { name, armId, workspaceId, trackingUri, api: `${trackingUri}/api/2.0/mlflow` };
}
