import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { AppContext } from '../context.js';

export async function healthRoutes(app: FastifyInstance, opts: { ctx: AppContext }): Promise<void> {
  app.get('/health', { config: { public: true }, schema: { hide: true } as object }, async (_req, reply) => {
    try {
      await sql`select 1`.execute(opts.ctx.db);
      return { status: 'ok', database: opts.ctx.database.dialect };
    } catch (e) {
      return reply.status(503).send({ status: 'unavailable', reason: `database: ${(e as Error).message}` });
    }
  });
}
