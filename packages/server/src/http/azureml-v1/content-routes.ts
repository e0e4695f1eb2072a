import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { V1Snapshots } from '../../v1-execution/snapshots.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const C = `/content/v2.0${V1_WORKSPACE}/snapshots`;
/** A snapshot's tree of 2,000 files (azureml-core's limit) with long paths stays well below this. */
const OPTS = { schema: { hide: true } as object, bodyLimit: 16 * 1024 * 1024 };

/**
 * azureml-core's content service (`/content/v2.0/…/snapshots`, its `SnapshotsClient.create_snapshot`):
 * `snapshots/latest/metadata` (the tree it diffs against), `getblob` (upload URIs for the changed files) and `snapshots/{id}` (the snapshot, registered as a
 * code asset version: v1-execution/snapshots.ts). Both need `assets/write`, as `W/codes` through ARM.
 */
const C1 = `/content/v1.0${V1_WORKSPACE}/snapshots`;

export async function contentRoutes(app: FastifyInstance, opts: { ctx: AppContext; snapshots: V1Snapshots }) {
  const { ctx, snapshots } = opts;
  app.get(`${C1}/latest/metadata`, OPTS, async (req) => {
    const w = await workspaceFor(ctx, req, 'control/read');
    return snapshots.latest(w, req.principal);
  });
  app.post(`${C}/getblob`, OPTS, async (req) => {
    const w = await workspaceFor(ctx, req, 'assets/write');
    return snapshots.uploadUris(w, req.body);
  });
  app.post<{ Params: { snapshotId: string } }>(`${C}/:snapshotId`, OPTS, async (req) => {
    const w = await workspaceFor(ctx, req, 'assets/write');
    return snapshots.create(w, req.params.snapshotId, req.body, req.principal);
  });
}
