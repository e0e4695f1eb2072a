import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import type { AppContext } from '../../../context.js';
import type { Services } from '../../../services.js';
import { checkApiVersion } from '../api-version.js';
import { setLroHeaders } from '../lro.js';
import { NotFound } from '../../../errors.js';
import { toOperation } from '../../../operations/operations.js';
import { armErrorOf } from '../errors.js';
import type { WorkspaceDiagnostics } from '../../../assets/diagnostics.js';
import type { LinkedServiceService } from '../../../assets/linked-services.js';
import { W, WNameParams, WParams, workspaceFor } from './common.js';

const LINKED = { 200: C.LinkedService, ...C.ArmErrorResponses };

interface P {
  subscriptionId: string;
  resourceGroupName: string;
  workspaceName: string;
  name: string;
  operationId: string;
}

/**
 * `POST W/diagnose` (LRO: 202; Azure-AsyncOperation gives the status, Location —
 * `W/diagnoseResults/{operationId}` — the report when done) and `W/linkedServices/{name}`.
 */
export async function workspaceActionRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services; diagnostics: WorkspaceDiagnostics; linked: LinkedServiceService },
): Promise<void> {
  const { ctx, services, diagnostics, linked } = opts;
  app.addHook('preHandler', async (req) => checkApiVersion(req));

  app.post(
    `${W}/diagnose`,
    {
      schema: {
        params: WParams,
        querystring: C.ApiVersionQuery,
        body: Type.Optional(C.DiagnoseBody),
        response: {
          202: Type.Null({ description: 'Accepted: Azure-AsyncOperation gives the status, Location the report' }),
          ...C.ArmErrorResponses,
        },
        tags: ['Diagnostics'],
      },
    },
    async (req, reply) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      const op = await services.operations.start(
        'workspaces.diagnose',
        { id: ws.id, subscriptionId: ws.subscriptionId, location: ws.location },
        req.principal.id,
        async (journal) => {
          await journal.record({ diagnose: await diagnostics.run(ws) });
        },
      );
      setLroHeaders(reply, ctx.config.publicUrl, op, req);
      const v = String((req.query as Record<string, unknown>)['api-version']);
      reply.header(
        'Location',
        `${ctx.config.publicUrl}${ws.id}/diagnoseResults/${op.id}?api-version=${encodeURIComponent(v)}`,
      );
      return reply.status(202).send();
    },
  );

  app.get<{ Params: P }>(
    `${W}/diagnoseResults/:operationId`,
    {
      schema: {
        params: C.DiagnoseResultParams,
        querystring: C.ApiVersionQuery,
        response: { 200: C.DiagnoseResponse, ...C.ArmErrorResponses },
        tags: ['Diagnostics'],
      },
    },
    async (req, reply) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      const row = /^[0-9a-f-]{36}$/i.test(req.params.operationId)
        ? await ctx.db
            .selectFrom('operations')
            .selectAll()
            .where('id', '=', req.params.operationId.toLowerCase())
            .executeTakeFirst()
        : undefined;
      if (!row || row.kind !== 'workspaces.diagnose' || row.resource_id.toLowerCase() !== ws.id.toLowerCase())
        throw new NotFound(`diagnosis '${req.params.operationId}' could not be found`, { code: 'OPERATION_NOT_FOUND' });
      if (row.status === 'InProgress')
        return reply
          .status(202)
          .header('Location', `${ctx.config.publicUrl}${req.url}`)
          .header('Retry-After', '1')
          .send();
      if (row.status !== 'Succeeded')
        return reply.status(500).send({
          error: row.error
            ? armErrorOf(toOperation(row).error!)
            : { code: 'InternalServerError', message: 'the diagnosis failed' },
        });
      return { value: (JSON.parse(row.result ?? '{}') as { diagnose?: unknown }).diagnose };
    },
  );

  const tags = ['Linked services'];
  app.get(
    `${W}/linkedServices`,
    {
      schema: {
        params: WParams,
        querystring: C.ApiVersionQuery,
        response: { 200: C.LinkedServiceList, ...C.ArmErrorResponses },
        tags,
      },
    },
    async (req) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      return { value: (await linked.list(ws)).map((r) => linked.toBody(r)) };
    },
  );
  app.get<{ Params: P }>(
    `${W}/linkedServices/:name`,
    { schema: { params: WNameParams, querystring: C.ApiVersionQuery, response: LINKED, tags } },
    async (req) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      return linked.toBody(await linked.get(ws, req.params.name));
    },
  );
  app.put<{ Params: P; Body: C.LinkedServiceBody }>(
    `${W}/linkedServices/:name`,
    {
      schema: {
        params: WNameParams,
        querystring: C.ApiVersionQuery,
        body: C.LinkedServiceBody,
        response: { ...LINKED, 201: C.LinkedService },
        tags,
      },
    },
    async (req, reply) => {
      const ws = await workspaceFor(ctx, req, 'control/write');
      const { resource, created } = await linked.put(ws, req.params.name, req.body, req.principal);
      return reply.status(created ? 201 : 200).send(linked.toBody(resource));
    },
  );
  app.delete<{ Params: P }>(
    `${W}/linkedServices/:name`,
    { schema: { params: WNameParams, querystring: C.ApiVersionQuery, response: C.ArmErrorResponses, tags } },
    async (req, reply) => {
      const ws = await workspaceFor(ctx, req, 'control/write');
      return reply.status((await linked.delete(ws, req.params.name)) ? 200 : 204).send();
    },
  );
}
