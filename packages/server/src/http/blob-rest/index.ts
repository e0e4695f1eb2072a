import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { blobRestRoutes } from './routes.js';

/** The Azure Blob REST subset (`/blob/{account}/{container}/{blob}`, SAS-authenticated), for code uploads and SAS clients. */
export async function blobRestFeature(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  await app.register(blobRestRoutes, { ctx: opts.ctx, blobs: opts.services.codes.blobs });
}
