import type { FastifyInstance } from 'fastify';
import * as C from '@atelier/contracts';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { checkApiVersion } from './api-version.js';
import { NotFound } from '../../errors.js';
import { armErrorOf, armStatusOf } from './errors.js';
import { ARM_ERROR_WORDS } from './resource-router.js';
import { W, workspaceFor } from './assets/common.js';

/**
 * Status of long-running operations, the way ARM's Azure-AsyncOperation and Location URLs answer,
 * and the result of a workspace diagnosis (`POST W/diagnose`'s Location).
 */
export async function operationRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx, services } = opts;
  app.addHook('preHandler', async (req) => checkApiVersion(req));

  app.get<{ Params: C.OperationStatusParams; Querystring: C.OperationStatusQuery }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.MachineLearningServices/locations/:location/workspaceOperationsStatus/:operationId',
    {
      schema: {
        params: C.OperationStatusParams,
        querystring: C.OperationStatusQuery,
        response: {
          200: {
            description: 'The status; with type=location, the resource once done',
            anyOf: [C.OperationStatus, C.Workspace],
          },
          ...C.ArmErrorResponses,
        },
        tags: ['Operations'],
        summary: 'Status of a long-running operation',
      },
    },
    async (req, reply) => {
      const p = req.params;
      const op = await services.operations.get(p.operationId);
      const missing = () =>
        new NotFound(`operation '${p.operationId}' could not be found`, { code: 'OPERATION_NOT_FOUND' });
      if (!op || op.subscriptionId !== p.subscriptionId.toLowerCase()) throw missing();
      if (op.requestedBy !== req.principal.id && !(await ctx.access.canSee(req.principal.id, op.resourceId)))
        throw missing();
      const id = `/subscriptions/${op.subscriptionId}/providers/Microsoft.MachineLearningServices/locations/${op.location}/workspaceOperationsStatus/${op.id}`;
      if (req.query.type?.toLowerCase() === 'location') {
        if (op.status === 'InProgress')
          return reply
            .status(202)
            .header('Location', `${ctx.config.publicUrl}${req.url}`)
            .header('Retry-After', '1')
            .send();
        if (op.status === 'Failed')
          return reply.status(armStatusOf(op.error)).send({ error: op.error && armErrorOf(op.error) });
        if (/\.(delete|resyncKeys|cancel)$/.test(op.kind)) return reply.status(204).send();
        const r = await services.resources.get(op.resourceId);
        if (!r) throw new NotFound(`the resource of this operation no longer exists`, { code: 'NOT_FOUND' });
        // A type served by the generic router answers its own body (a workspace: as its lists show it).
        const t = services.types.get(r.type);
        if (t?.handlers) {
          const scope = { subscriptionId: r.subscriptionId, resourceGroup: r.resourceGroup, parents: [] };
          return reply.status(200).send(await t.handlers.toBody(r, { scope, secrets: false, errors: ARM_ERROR_WORDS }));
        }
        return reply.status(200).send(services.workspaces.toArm(r));
      }
      // Azure's pollers wait 30 s between polls unless told otherwise.
      if (op.status === 'InProgress') void reply.header('Retry-After', '1');
      const body: Record<string, unknown> = { id, name: op.id, status: op.status, startTime: op.startTime };
      if (op.endTime) body.endTime = op.endTime;
      if (op.error) body.error = armErrorOf(op.error);
      // msrestazure's AzureOperationPoller (azureml-core's diagnose_workspace) takes a POST's result from
      // this status body, not from Location: a finished diagnosis carries its report here as well.
      if (op.kind === 'workspaces.diagnose' && op.status === 'Succeeded')
        body.value = (await services.operations.journalOf(op.id))?.diagnose;
      return body;
    },
  );

  app.get<{ Params: C.DiagnoseResultParams }>(
    `${W}/diagnoseResults/:operationId`,
    {
      schema: {
        params: C.DiagnoseResultParams,
        querystring: C.ApiVersionQuery,
        response: { 200: C.DiagnoseResponse, ...C.ArmErrorResponses },
        tags: ['Diagnostics'],
        summary: 'The report of a workspace diagnosis (202 while it runs)',
      },
    },
    async (req, reply) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      const op = /^[0-9a-f-]{36}$/i.test(req.params.operationId)
        ? await services.operations.get(req.params.operationId.toLowerCase())
        : undefined;
      if (!op || op.kind !== 'workspaces.diagnose' || op.resourceId.toLowerCase() !== ws.id.toLowerCase())
        throw new NotFound(`diagnosis '${req.params.operationId}' could not be found`, { code: 'OPERATION_NOT_FOUND' });
      if (op.status === 'InProgress')
        return reply
          .status(202)
          .header('Location', `${ctx.config.publicUrl}${req.url}`)
          .header('Retry-After', '1')
          .send();
      if (op.status !== 'Succeeded')
        return reply.status(500).send({
          error: op.error ? armErrorOf(op.error) : { code: 'InternalServerError', message: 'the diagnosis failed' },
        });
      return { value: (await services.operations.journalOf(op.id))?.diagnose };
    },
  );
}
