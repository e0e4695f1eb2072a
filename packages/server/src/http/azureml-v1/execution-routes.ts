import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { JobService } from '../../jobs/jobs.js';
import type { V1Submissions } from '../../v1-execution/submissions.js';
import type { Response } from 'undici';
import { InvalidInput, NotImplemented } from '../../errors.js';
import type { V1LocalRuns } from '../../v1-execution/local-runs.js';
import type { V1Snapshots } from '../../v1-execution/snapshots.js';
import { workspaceFor } from '../arm/assets/common.js';
import { V1_WORKSPACE } from './common.js';

const X = `/execution/v1.0${V1_WORKSPACE}/experiments/:experimentName`;
const HIDE = { schema: { hide: true } as object };
type P = { experimentName: string; runId?: string };
/** The largest bodies read: a startrun's project zip (azureml-core's snapshot limit, 300 MB), a localrun's aml_config.zip (its 25 MB check), and room for the definition. */
const STARTRUN_LIMIT = 301 * 1024 * 1024;
const LOCALRUN_LIMIT = 26 * 1024 * 1024;

/**
 * The file parts of a multipart/form-data body by file name (undici's form-data parser: the one
 * fetch uses), as azureml-core's `requests.post(files=[…])` sends them. undici is loaded on the first
 * such request, not with the server (loading it costs ~0.2–0.4 s of CPU at every start).
 */
async function multipartFiles(contentType: string | undefined, body: unknown): Promise<Map<string, Buffer>> {
  if (!contentType?.toLowerCase().startsWith('multipart/form-data') || !Buffer.isBuffer(body))
    throw new InvalidInput('the request must be multipart/form-data (the run definition and its files)', {
      target: 'body',
    });
  let form: Awaited<ReturnType<Response['formData']>>;
  try {
    const { Response: UndiciResponse } = await import('undici');
    form = await new UndiciResponse(body, { headers: { 'content-type': contentType } }).formData();
  } catch (e) {
    throw new InvalidInput(`the multipart body could not be read: ${(e as Error).message}`, { target: 'body' });
  }
  const out = new Map<string, Buffer>();
  for (const [, v] of form.entries()) if (typeof v !== 'string') out.set(v.name, Buffer.from(await v.arrayBuffer()));
  return out;
}

/** The run definition part (definition.json) of a multipart body. */
function definitionOf(files: Map<string, Buffer>): unknown {
  const definition = files.get('definition.json');
  if (!definition)
    throw new InvalidInput('the request has no definition.json part (the run definition)', {
      target: 'definition.json',
    });
  try {
    return JSON.parse(definition.toString('utf8'));
  } catch {
    throw new InvalidInput('definition.json is not JSON', { target: 'definition.json' });
  }
}

/**
 * azureml-core's execution service (`/execution/v1.0/…`, azureml/_execution/_commands.py):
 * `snapshotrun` (`Experiment.submit(ScriptRunConfig)` on a compute: a command job, v1-execution/),
 * `startrun` (the same with the project as a zip, `AML_FORCE_EXECUTE_WITH_ZIP`), `localrun` (compute_target='local': the invocation zip the client runs, v1-execution/local-runs.ts)
 * and the `cancelUri` its runs carry (`run.cancel()`). Submitting and canceling need `data/write`, as jobs.
 */
export async function executionRoutes(
  app: FastifyInstance,
  opts: {
    ctx: AppContext;
    submissions: V1Submissions;
    snapshots: V1Snapshots;
    localRuns: V1LocalRuns;
    jobs: JobService;
  },
) {
  const { ctx, submissions, snapshots, localRuns, jobs } = opts;
  app.post<{ Params: P; Querystring: { runId?: string } }>(`${X}/snapshotrun`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'data/write');
    const r = await submissions.submit(w, req.params.experimentName, req.query.runId, req.body, req.principal);
    return { runId: r.name, runUuid: r.run_id, status: r.status };
  });
  // startrun (AML_FORCE_EXECUTE_WITH_ZIP): the same submission, the source directory as a project zip.
  app.post<{ Params: P; Querystring: { runId?: string } }>(
    `${X}/startrun`,
    { ...HIDE, bodyLimit: STARTRUN_LIMIT, onRequest: async (req) => void (await workspaceFor(ctx, req, 'data/write')) },
    async (req) => {
      const w = await workspaceFor(ctx, req, 'data/write');
      const files = await multipartFiles(req.headers['content-type'], req.body);
      const zip = files.get('project.zip');
      if (!zip)
        throw new InvalidInput('the request has no project.zip part (the source directory)', {
          target: 'projectZipFile',
        });
      const r = await submissions.submit(
        w,
        req.params.experimentName,
        req.query.runId,
        definitionOf(files),
        req.principal,
        () => snapshots.fromZip(w, zip, req.principal),
      );
      return { runId: r.name, runUuid: r.run_id, status: r.status };
    },
  );
  app.post<{ Params: P }>(`${X}/runId/:runId/cancel`, HIDE, async (req) => {
    const w = await workspaceFor(ctx, req, 'data/write');
    const r = await jobs.cancel(w, req.params.runId!);
    return { runId: r.name, status: r.status };
  });
  // startrun and localrun bodies are multipart (the run definition and a zip), read whole, within each route's bodyLimit.
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  // compute_target='local' (localrun): the answer is the invocation zip azureml-core runs on the caller's machine.
  app.post<{ Params: P; Querystring: { runId?: string } }>(
    `${X}/localrun`,
    // The caller's rights are checked before its body is read.
    { ...HIDE, bodyLimit: LOCALRUN_LIMIT, onRequest: async (req) => void (await workspaceFor(ctx, req, 'data/write')) },
    async (req, reply) => {
      const w = await workspaceFor(ctx, req, 'data/write');
      const files = await multipartFiles(req.headers['content-type'], req.body);
      const zip = await localRuns.start(
        w,
        req.params.experimentName,
        req.query.runId,
        definitionOf(files),
        req.principal,
      );
      return reply.type('application/zip').send(zip);
    },
  );
  // localprepare (`prepare_compute_target` for 'local'): azureml-core runs the answered script to
  // make the run's environment ahead of a run; a local run makes it itself when it is missing.
  app.post(
    `${X}/localprepare`,
    {
      ...HIDE,
      onRequest: async (req) => {
        await workspaceFor(ctx, req, 'data/write');
        throw new NotImplemented(
          "localprepare (preparing compute_target='local' ahead of a run) is not served: submit the run (Experiment.submit(ScriptRunConfig(…, compute_target='local'))), whose invocation script makes the run's environment on your machine when it is missing",
          { code: 'NOT_IMPLEMENTED' },
        );
      },
    },
    async () => undefined,
  );
}
