import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import type { BuildRecord } from '../../environment-builds/environment-builds.js';
import type { PackageRecord } from '../../deployments/packages.js';
import { W, WParams, workspaceFor, type WParamsT } from '../arm/assets/common.js';

/**
 * The build records of the workspace's Python environments and deployment packages, as the seed's
 * images (read-only):
 *   GET W/images          newest first (`$top`, default 100)
 *   GET W/images/{id}     one, with its build log
 */
export async function imagesFeature(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx, services } = opts;
  const tags = ['Images (environment builds)'];
  const toBody = (wsId: string, r: BuildRecord, log: boolean) => ({
    id: `${wsId}/images/${r.id}`,
    name: r.id,
    type: 'Microsoft.MachineLearningServices/workspaces/images',
    properties: {
      kind: 'environment',
      digest: r.digest,
      status: r.status,
      environmentId: r.environmentId,
      tool: r.tool,
      sizeBytes: r.sizeBytes,
      createdTime: new Date(r.createdAt).toISOString(),
      finishedTime: r.finishedAt ? new Date(r.finishedAt).toISOString() : null,
      pythonVersion: r.spec.python ?? null,
      pipRequirements: r.spec.requirements ?? [],
      ...(log ? { log: r.log } : {}),
    },
  });
  const packageBody = (wsId: string, r: PackageRecord, log: boolean) => ({
    id: `${wsId}/images/${r.id}`,
    name: r.id,
    type: 'Microsoft.MachineLearningServices/workspaces/images',
    properties: {
      kind: 'deployment',
      digest: r.digest,
      status: r.status,
      environmentId: r.contents.environmentId ?? '',
      tool: r.engine,
      deploymentId: r.deploymentId,
      modelId: r.contents.model ?? null,
      codeId: r.contents.codeId ?? null,
      environmentDigest: r.contents.environmentDigest ?? null,
      sizeBytes: null,
      createdTime: new Date(r.createdAt).toISOString(),
      finishedTime: r.finishedAt ? new Date(r.finishedAt).toISOString() : null,
      pythonVersion: null,
      pipRequirements: r.contents.pipRequirements ?? [],
      ...(log ? { log: r.log } : {}),
    },
  });
  app.get<{ Params: WParamsT; Querystring: { $top?: string } }>(
    `${W}/images`,
    { schema: { params: WParams, response: { 200: C.ImageList, ...C.ArmErrorResponses }, tags } },
    async (req) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      const top = Math.min(Math.max(Number(req.query.$top ?? 100) || 100, 1), 1000);
      const [builds, packages] = await Promise.all([
        services.environmentBuilds.list(ws, top),
        services.serving.packages.list(ws, top),
      ]);
      const all = [
        ...builds.map((r) => ({ at: r.createdAt, body: toBody(ws.id, r, false) })),
        ...packages.map((r) => ({ at: r.createdAt, body: packageBody(ws.id, r, false) })),
      ];
      return {
        value: all
          .sort((a, b) => b.at - a.at)
          .slice(0, top)
          .map((x) => x.body),
      };
    },
  );
  app.get<{ Params: WParamsT & { id: string } }>(
    `${W}/images/:id`,
    {
      schema: {
        params: Type.Object({ ...WParams.properties, id: Type.String({ maxLength: 64 }) }),
        response: { 200: C.ImageRecord, ...C.ArmErrorResponses },
        tags,
      },
    },
    async (req) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      const pkg = await services.serving.packages.find(ws, req.params.id);
      if (pkg) return packageBody(ws.id, pkg, true);
      return toBody(ws.id, await services.environmentBuilds.get(ws, req.params.id), true);
    },
  );
}
