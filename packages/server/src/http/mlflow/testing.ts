import crypto from 'node:crypto';
import type { TestServer } from '../../testing/harness.js';
import { workspaceArmId } from './common.js';

export interface TestWorkspace {
  name: string;
  armId: string;
  workspaceId: string;
  /** The tracking URI: `${t.url}/mlflow/v1.0${armId}`. */
  trackingUri: string;
  /** `${trackingUri}/api/2.0/mlflow` */
  api: string;
}

/** A workspace to track into, made through the ARM API (waits until it is provisioned). */
export async function makeWorkspace(
  t: TestServer,
  name = `ws${crypto.randomBytes(4).toString('hex')}`,
  group = 'tracking-rg',
): Promise<TestWorkspace> {
  const sub = t.subscriptionId;
  const rg = await t.request('PUT', `/subscriptions/${sub}/resourcegroups/${group}?api-version=2025-09-01`, {
    location: 'local',
  });
  if (rg.status >= 300) throw new Error(`cannot make resource group: ${rg.status} ${rg.text}`);
  const armId = workspaceArmId(sub, group, name);
  let workspaceId: string | undefined;
  const put = await t.request('PUT', `${armId}?api-version=2025-09-01`, { location: 'local', properties: {} });
  if (put.status >= 200 && put.status < 300) {
    for (let i = 0; i < 200 && !workspaceId; i++) {
      const got = await t.request('GET', `${armId}?api-version=2025-09-01`);
      if (
        got.status === 200 &&
        got.body?.properties?.workspaceId &&
        got.body.properties.provisioningState !== 'Creating'
      )
        workspaceId = got.body.properties.workspaceId;
      else await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (!workspaceId) throw new Error(`workspace '${name}' was not provisioned: PUT answered ${put.status} ${put.text}`);
  const trackingUri = `${t.url}/mlflow/v1.0${armId}`;
  return { name, armId, workspaceId, trackingUri, api: `${trackingUri}/api/2.0/mlflow` };
}
