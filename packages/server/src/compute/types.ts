import { Type } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import { workspaceOf, type ResourceTypeDeclaration } from '../resources/registry.js';
import { WORKSPACE } from '../resources/workspaces.js';
import { computeDefinition, type ComputeService } from './computes.js';

/** The workspace a request reached (the generic router resolves it and checks access). */
const ws = workspaceOf;

/**
 * `W/computes/{name}` for the generic ARM router. Creating, changing, stopping and deleting a
 * compute is `control/write` (the AzureML Data Scientist role may use computes, not manage them).
 */
export function computeType(computes: ComputeService): ResourceTypeDeclaration {
  return {
    ...computeDefinition,
    parent: WORKSPACE,
    param: 'name',
    nameSchema: Type.String({ maxLength: 260 }),
    label: 'compute',
    tag: 'Computes',
    access: { read: 'control/read', write: 'control/write', delete: 'control/write' },
    longRunning: true,
    longRunningDelete: true,
    schema: { put: C.ComputeBody, patch: C.ComputePatchBody, one: C.Compute, list: C.ComputeList },
    summaries: {
      put: 'Create (long-running) or update a compute: an AmlCompute cluster of this machine or an attached Ray cluster',
      get: 'Get a compute, with its current node counts',
      patch: 'Change the scale settings, description or tags of a compute',
      delete: 'Delete a compute (long-running; refused while jobs run on it)',
      list: 'List the computes of a workspace (paged)',
    },
    handlers: {
      list: (scope, page) => computes.list(ws(scope), { after: page.after, top: page.top }),
      get: (scope, name) => computes.get(ws(scope), name),
      put: (scope, name, body, by) => computes.put(ws(scope), name, body, by),
      patch: (scope, r, body, by) => computes.patch(ws(scope), r, body, by),
      delete: (scope, name, by) => computes.delete(ws(scope), name, by),
      toBody: (r, { scope }) => computes.toBody(r, scope.workspace),
    },
    actions: [
      {
        name: 'listNodes',
        access: ['control/read'],
        response: C.ComputeNodes,
        summary: 'The nodes of a compute: state and the job each runs',
        run: (scope, _name, _body, _by, r) => computes.listNodes(ws(scope), r!),
      },
      {
        name: 'stop',
        access: ['control/write'],
        response: C.Compute,
        summary: 'Stop a compute: it takes no new work; what runs finishes, then its nodes leave (answers the compute)',
        run: (scope, _name, _body, _by, r) => computes.setStopped(ws(scope), r!, true),
      },
      {
        name: 'start',
        access: ['control/write'],
        response: C.Compute,
        summary: 'Start a stopped compute (answers the compute)',
        run: (scope, _name, _body, _by, r) => computes.setStopped(ws(scope), r!, false),
      },
    ],
    remove: async (id) => {
      await computes.nodes.forget(id);
      return computes.removeRecord(id);
    },
  };
}
