import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { JobService } from '../../jobs/jobs.js';
import type { V1Submissions } from '../../v1-execution/submissions.js';
import { NotImplemented } from '../../errors.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const X = `/execution/v1.0${V1_WORKSPACE}/experiments/:experimentName`;
const HIDE = { schema: { hide: true } as object };
type P = { experimentName: string; runId?: string };

/**
 * azureml-core's execution service (`/execution/v1.0/…`, azureml/_execution/_commands.py):
 * `snapshotrun` (`Experiment.submit(ScriptRunConfig)` on a compute: a command job, v1-execution/) and
 * the `cancelUri` its runs carry (`run.cancel()`). Submitting and canceling need `data/write`, as jobs.
 */
export async function executionRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; submissions: V1Submissions; jobs: JobService },
) {
  const { ctx, submissions, jobs } = opts;
  app.post<{ Params: P; Querystring: { runId?: string } }>(`${X}/snapshotrun`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'data/write');
    const r = await submissions.submit(w, req.params.experimentName, req.query.runId, req.body, req.principal);
    return { runId: r.name, runUuid: r.run_id, status: r.status };
  });
  app.post<{ Params: P }>(`${X}/runId/:runId/cancel`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'data/write');
    const r = await jobs.cancel(w, req.params.runId!);
    return { runId: r.name, status: r.status };
  });
  // compute_target='local': azureml-core posts the project's aml_config.zip and runs the
  // azureml-setup/Invocation.sh of the zip the service answers on the caller's own machine.
  // (Answered in onRequest: the body is multipart, which no parser here reads.)
  for (const what of ['localrun', 'localprepare'])
    app.post(
      `${X}/${what}`,
      {
        ...HIDE,
        onRequest: async (req) => {
          await workspaceFor(ctx, req, 'data/write');
          throw new NotImplemented(
            `compute_target='local' runs the script on the calling machine (azureml-core's ${what} answers an invocation script it runs there); this server does not write that script: name a compute of the workspace (ScriptRunConfig(compute_target=…)), where the run becomes a command job`,
            { code: 'NOT_IMPLEMENTED' },
          );
        },
      },
      async () => undefined,
    );
}
