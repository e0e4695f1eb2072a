import { Type } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import { workspaceOf, type ResourceTypeDeclaration, type ResourceTypeRegistry } from '../resources/registry.js';
import { WORKSPACE } from '../resources/workspaces.js';
import type { OperationService } from '../operations/operations.js';
import { JOB_TYPE, type JobService } from './jobs.js';
import { CANCEL_GRACE_MS } from './scheduler.js';

const ws = workspaceOf;

/**
 * `W/jobs/{name}`: PUT submits (201) or changes display name, description and tags (200); GET;
 * DELETE (cancels first); list (newest first; `jobType`, `tag`, `listViewType`, `parentJobName`);
 * `POST …/cancel` (202 and an operation that ends when the job has). Submitting and canceling need `data/write` (as logging runs does); reading `control/read`.
 */
export function registerJobTypes(types: ResourceTypeRegistry, jobs: JobService, operations: OperationService): void {
  const declaration: ResourceTypeDeclaration = {
    type: JOB_TYPE,
    parent: WORKSPACE,
    param: 'id',
    nameSchema: Type.String({ maxLength: 255 }),
    label: 'job',
    tag: 'Jobs',
    checkName: (name) => jobs.checkName(name),
    access: { read: 'control/read', write: 'data/write', delete: 'data/write' },
    schema: { put: C.JobBody, one: C.Job, list: C.JobList },
    summaries: {
      put: 'Submit a job (command, sweep or pipeline), or change its display name, description and tags',
      get: 'Get a job and its status',
      delete: 'Delete a job (a running one is canceled first)',
      list: 'List the jobs of a workspace, newest first (paged; filters jobType, tag, parentJobName)',
    },
    handlers: {
      list: (scope, page) => jobs.list(ws(scope), page),
      get: async (scope, name) => jobs.stored(await jobs.require(ws(scope), name)),
      put: async (scope, name, body, by) => {
        const { row, created } = await jobs.put(ws(scope), name, body, by);
        return { resource: jobs.stored(row), created };
      },
      delete: (scope, name) => jobs.delete(ws(scope), name),
      toBody: (r, { scope }) => jobs.toBody(ws(scope), jobs.rowOf(r)),
    },
    actions: [
      {
        name: 'cancel',
        access: ['data/write'],
        summary:
          'Cancel a job (202): a queued one at once, a running one by SIGTERM, a grace period, then SIGKILL; the operation ends when the job has',
        loads: false,
        accepted: true,
        run: async (scope, name, _body, by) => {
          const w = ws(scope);
          const r = await jobs.cancel(w, name);
          return operations.start(
            'jobs.cancel',
            { id: `${w.id}/jobs/${r.name}`, subscriptionId: w.subscriptionId, location: w.location },
            by.id,
            async () => {
              // The grace period, then the kill and the job's finalisation; a minute is ample.
              await jobs.waitEnded(r.job_key, CANCEL_GRACE_MS + 60_000);
            },
          );
        },
      },
    ],
  };
  types.register(declaration);
}
