import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import type { WorkspaceInfo } from '../../resources/workspace-info.js';
import { W, workspaceFor } from '../arm/assets/common.js';
import { WORKSPACE_SCOPE_CLAIM } from '../../identity/token-scopes.js';
import { NotFound, Unauthenticated } from '../../errors.js';
import { resolveWorkspace } from '../../resources/workspaces.js';
import type { JobRow } from '../../jobs/tables.js';
import { defaultOutputUri } from '../../jobs/jobs.js';
import { LOG_CLAIM } from '../../v1-execution/run-details.js';

/** Prefix of Azure ML's run history service (the discovery document's `history`/`api` is this server). */
const H = `/history/v1.0${W}`;
const RunParams = Type.Object({
  subscriptionId: Type.String(),
  resourceGroupName: Type.String(),
  workspaceName: Type.String(),
  runId: Type.String({ maxLength: 255 }),
});

/** Asset id of a job's output in rundata: `azureml://workspaces/{workspace GUID}/jobs/{job}/outputs/{output}`. */
const OUTPUT_ASSET_ID = /^azureml:\/\/workspaces\/([^/]+)\/jobs\/([^/]+)\/outputs\/([^/]+)$/;
const DATA_OUTPUTS = ['uri_folder', 'uri_file', 'mltable'];

/**
 * The data outputs of a completed job as run history lists them (`{name: {assetId, type}}`), with
 * the datastore URI each went to (`uri`, which batchGetResolvedUris answers). Model outputs are
 * left out: azure-ai-ml finds them by their default path when asked for by name.
 */
function outputsOf(ws: WorkspaceInfo, r: JobRow): Record<string, unknown> {
  if (r.status !== 'Completed' || r.job_type !== 'Command') return {};
  const spec = JSON.parse(r.spec) as { outputs?: Record<string, { jobOutputType?: string; uri?: string }> };
  const out: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.outputs ?? {})) {
    const type = o.jobOutputType ?? 'uri_folder';
    if (!DATA_OUTPUTS.includes(type)) continue;
    out[name] = {
      assetId: `azureml://workspaces/${ws.workspaceId}/jobs/${encodeURIComponent(r.name)}/outputs/${encodeURIComponent(name)}`,
      type,
      uri: o.uri ?? defaultOutputUri(r.name, name),
    };
  }
  return out;
}

/**
 * Run history v1, as far as Azure ML clients need it for jobs: `runs/{id}/details` (status, times,
 * error and signed `logFiles` URLs: v1-execution/run-details.ts), the log files behind those URLs,
 * and `rundata` (run metadata). `jobs.stream()` polls details and prints new log lines.
 */
export async function historyRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx, services } = opts;
  const { jobs, logs } = services.jobs;

  const jobFor = async (ws: WorkspaceInfo, runId: string): Promise<JobRow> => {
    const r = await jobs.byRunId(ws, runId);
    if (!r)
      throw new NotFound(`run '${runId}' could not be found in workspace '${ws.name}'`, { code: 'RUN_NOT_FOUND' });
    return r;
  };

  const details = (ws: WorkspaceInfo, r: JobRow) => services.v1Execution.runDetails.details(ws, r);

  app.get(
    `${H}/runs/:runId/details`,
    {
      schema: {
        params: RunParams,
        tags: ['Run history'],
        summary: 'Details of a job’s run: status, times, error, log file URLs',
      },
    },
    async (req) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      return details(ws, await jobFor(ws, (req.params as { runId: string }).runId));
    },
  );

  app.get(
    `${H}/experimentids/:experimentId/runs/:runId/details`,
    {
      schema: {
        params: Type.Object({ ...RunParams.properties, experimentId: Type.String() }),
        tags: ['Run history'],
        summary: 'Details of a job’s run (by experiment id)',
      },
    },
    async (req) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      return details(ws, await jobFor(ws, (req.params as { runId: string }).runId));
    },
  );

  // The runs of a sweep's trials or a pipeline's steps (azure-ai-ml's jobs.list(parent_job_name=…)).
  app.get(
    `${H}/runs/:runId/children`,
    {
      schema: {
        params: RunParams,
        querystring: Type.Object({ $top: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) }),
        tags: ['Run history'],
        summary: 'The child runs of a job (a sweep’s trials, a pipeline’s steps), oldest first',
      },
    },
    async (req) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      const parent = await jobFor(ws, (req.params as { runId: string }).runId);
      const top = (req.query as { $top?: number }).$top;
      const kids = await jobs.children(ws.workspaceId, parent.name);
      const value = [];
      for (const r of top ? kids.slice(0, top) : kids) {
        const d = await details(ws, r);
        value.push({
          ...d,
          displayName: d.runDefinition.displayName,
          experimentId: String(r.experiment_id ?? ''),
          createdUtc: d.createdTimeUtc,
          compute: { target: d.target },
        });
      }
      return { value, continuationToken: null, nextLink: null };
    },
  );

  app.post(
    `${H}/rundata`,
    {
      schema: {
        params: Type.Object({
          subscriptionId: Type.String(),
          resourceGroupName: Type.String(),
          workspaceName: Type.String(),
        }),
        body: Type.Object({ runId: Type.String({ maxLength: 255 }) }, { additionalProperties: true }),
        tags: ['Run history'],
        summary: 'Run metadata of a job (status, times, outputs)',
      },
    },
    async (req) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      const r = await jobFor(ws, (req.body as { runId: string }).runId);
      const d = await details(ws, r);
      return {
        runMetadata: { ...d, outputs: outputsOf(ws, r), inputs: {} },
        runDefinition: d.runDefinition,
        jobSpecification: null,
      };
    },
  );

  // azure-ai-ml's jobs.download resolves rundata's output asset ids here (dataset data plane).
  app.post(
    `/data/v1.0${W}/dataversion/batchGetResolvedUris`,
    {
      schema: {
        params: Type.Object({
          subscriptionId: Type.String(),
          resourceGroupName: Type.String(),
          workspaceName: Type.String(),
        }),
        body: Type.Object(
          { values: Type.Array(Type.String({ maxLength: 2000 }), { maxItems: 1000 }) },
          { additionalProperties: true },
        ),
        tags: ['Run history'],
        summary: 'Datastore URIs of job outputs named by the asset ids of rundata',
      },
    },
    async (req) => {
      const ws = await workspaceFor(ctx, req, 'control/read');
      const values: Record<string, { uri: string; type: string }> = {};
      for (const id of (req.body as { values: string[] }).values) {
        const m = OUTPUT_ASSET_ID.exec(id);
        if (!m || m[1]!.toLowerCase() !== ws.workspaceId.toLowerCase())
          throw new NotFound(`data asset '${id.slice(0, 300)}' could not be found in workspace '${ws.name}'`, {
            code: 'NOT_FOUND',
          });
        const r = await jobFor(ws, decodeURIComponent(m[2]!));
        const out = (outputsOf(ws, r) as Record<string, { assetId: string; type: string; uri: string }>)[
          decodeURIComponent(m[3]!)
        ];
        if (!out || out.assetId !== id)
          throw new NotFound(`job '${r.name}' has no output '${decodeURIComponent(m[3]!)}'`, { code: 'NOT_FOUND' });
        values[id] = { uri: out.uri, type: out.type };
      }
      return { values };
    },
  );

  // A log file behind a URL of `details`: the signature in the URL is the credential (no Authorization).
  app.get(
    `${H}/runs/:runId/logfiles/*`,
    {
      config: { public: true },
      schema: {
        params: Type.Object({ ...RunParams.properties, '*': Type.String() }),
        querystring: Type.Object({ sig: Type.String({ maxLength: 4000 }) }),
        tags: ['Run history'],
        summary: 'A log file of a job’s run (URL from runs/{id}/details, signed)',
        security: [],
      },
    },
    async (req, reply) => {
      const p = req.params as {
        subscriptionId: string;
        resourceGroupName: string;
        workspaceName: string;
        runId: string;
        '*': string;
      };
      const claims = await ctx.tokens.verify((req.query as { sig: string }).sig).catch(() => {
        throw new Unauthenticated(
          'the signature of this log URL is not valid or has expired; get a new URL from the run details',
          {
            code: 'INVALID_TOKEN',
          },
        );
      });
      const ws = await resolveWorkspace(ctx, p.subscriptionId, p.resourceGroupName, p.workspaceName);
      const r = await jobs.byRunId(ws, p.runId);
      if (!r || claims[LOG_CLAIM] !== r.job_key || claims[WORKSPACE_SCOPE_CLAIM] !== ws.id)
        throw new Unauthenticated('this log URL was signed for another run; get a new URL from the run details', {
          code: 'INVALID_TOKEN',
        });
      return reply.type('text/plain; charset=utf-8').send(await logs.read(ws, r, p['*']));
    },
  );
}
