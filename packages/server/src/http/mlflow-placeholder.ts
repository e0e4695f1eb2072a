import type { FastifyInstance } from 'fastify';

/** Until tracking lands, the tracking URI says so plainly instead of pretending. */
export async function trackingPlaceholder(app: FastifyInstance): Promise<void> {
  app.all('/mlflow/*', { schema: { hide: true } as object }, async (_req, reply) => {
    return reply.status(501).send({ error_code: 'NOT_IMPLEMENTED', message: 'MLflow tracking is not available on this server yet.' });
  });
}
