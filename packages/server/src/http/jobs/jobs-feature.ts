import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { W, workspaceFor } from '../arm/assets/common.js';
import { historyRoutes } from '../azureml-v1/history-routes.js';

const Query = Type.Object({ 'api-version': Type.Optional(Type.String()) });
const JobParams = Type.Object({
  subscriptionId: Type.String(),
  resourceGroupName: Type.String(),
  workspaceName: Type.String(),
  id: Type.String({ maxLength: 255 }),
});

/**
 * The jobs feature: a job's logs (listed, read, and followed live as server-sent events), the run
 * history routes Azure ML clients read (http/azureml-v1/history-routes.ts), and the scheduler (it
 * starts with the HTTP server and stops with it). The `W/jobs` resource type itself is served by the
 * generic ARM router from its declaration (jobs/types.ts).
 */
export async function jobsFeature(app: FastifyInstance, opts: { ctx: AppContext; services: Services }): Promise<void> {
  const { ctx, services } = opts;
  const { jobs, logs, scheduler } = services.jobs;

  app.get(
    `${W}/jobs/:id/logs`,
    {
      schema: {
        params: JobParams,
        querystring: Query,
        response: { 200: C.JobLogFiles, ...C.ArmErrorResponses },
        tags: ['Jobs'],
        summary: "A job's log files (user_logs/std_log.txt, …; the run's artifacts once its folder is gone)",
      },
    },
    async (req) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      const r = await jobs.require(ws, (req.params as { id: string }).id);
      return { files: await logs.list(ws, r) };
    },
  );

  app.get(
    `${W}/jobs/:id/logs/files/*`,
    {
      schema: {
        params: Type.Object({ ...JobParams.properties, '*': Type.String({ maxLength: 500 }) }),
        querystring: Query,
        tags: ['Jobs'],
        summary: 'One log file of a job, as text',
      },
    },
    async (req, reply) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      const p = req.params as { id: string; '*': string };
      const r = await jobs.require(ws, p.id);
      return reply.type('text/plain; charset=utf-8').send(await logs.read(ws, r, p['*']));
    },
  );

  app.get(
    `${W}/jobs/:id/logs/stream`,
    {
      schema: {
        params: JobParams,
        querystring: Query,
        tags: ['Jobs'],
        summary:
          "Follow a job's user logs live (text/event-stream): events `status` {status}, `line` {file, line}, and `end` {status, error?} once it has ended",
      },
    },
    async (req, reply) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      const r = await jobs.require(ws, (req.params as { id: string }).id);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write(': following the logs of job ' + r.name + '\n\n');
      const abort = new AbortController();
      req.raw.on('close', () => abort.abort());
      const send = (event: string, data: Record<string, unknown>) => {
        if (!raw.writableEnded) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const keepAlive = setInterval(() => !raw.writableEnded && raw.write(': keep-alive\n\n'), 15_000);
      try {
        await logs.follow(ws, r, send, abort.signal);
      } catch (e) {
        send('error', { message: (e as Error).message });
      } finally {
        clearInterval(keepAlive);
        raw.end();
      }
    },
  );

  await app.register(historyRoutes, opts);

  // The queue runs while the server serves (a CLI that only builds services runs no jobs).
  await scheduler.start();
  app.addHook('onClose', async () => scheduler.stop());
}
