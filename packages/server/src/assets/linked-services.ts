import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import { toArmBody, type ResourceEngine, type ResourceDefinition, type StoredResource } from '../resources/engine.js';
import { WORKSPACE, type WorkspaceInfo } from '../resources/workspaces.js';
import { parseResourceId, sameType } from '../resources/resource-ids.js';
import { InvalidInput, NotFound } from '../errors.js';
import { invalid, obj, onlyKeys, str } from './validate.js';

export const LINKED_SERVICE_TYPE = 'Microsoft.MachineLearningServices/workspaces/linkedServices';

export const linkedServiceDefinition: ResourceDefinition = {
  type: LINKED_SERVICE_TYPE,
  checkName(name: string) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$/.test(name))
      throw new InvalidInput(
        `linked service name '${name}' is invalid: use letters, digits, '-' and '_', starting with a letter or digit`,
        { code: 'INVALID_RESOURCE_NAME', target: 'name' },
      );
  },
  immutable: ['linkedServiceResourceId'],
};

/** Linked services `W/linkedServices/{name}`: records of external workspaces (Synapse, other ML workspaces) linked to this one. */
export class LinkedServiceService {
  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
  ) {}

  idOf(ws: WorkspaceInfo, name: string): string {
    return `${ws.id}/linkedServices/${name}`;
  }

  async put(
    ws: WorkspaceInfo,
    name: string,
    body: Record<string, unknown>,
    by: Principal,
  ): Promise<{ resource: StoredResource; created: boolean }> {
    linkedServiceDefinition.checkName(name);
    const p = obj(body.properties, 'properties')!;
    onlyKeys(p, ['linkedServiceResourceId', 'linkType', 'createdTime'], 'properties');
    const target = str(p, 'linkedServiceResourceId', 'properties', { required: true, max: 800 })!;
    const parsed = parseResourceId(target, 'properties.linkedServiceResourceId');
    const linkType =
      str(p, 'linkType', 'properties', { oneOf: ['Synapse', 'MachineLearning'] }) ??
      (sameType(parsed.type, WORKSPACE) ? 'MachineLearning' : 'Synapse');
    if (linkType === 'Synapse' && !sameType(parsed.type, 'Microsoft.Synapse/workspaces'))
      throw invalid(
        'properties.linkedServiceResourceId',
        'a Synapse link must point at a Microsoft.Synapse/workspaces id',
      );
    if (linkType === 'MachineLearning') {
      if (!sameType(parsed.type, WORKSPACE))
        throw invalid(
          'properties.linkedServiceResourceId',
          'a MachineLearning link must point at a Microsoft.MachineLearningServices/workspaces id',
        );
      if (target.toLowerCase() === ws.id.toLowerCase())
        throw invalid('properties.linkedServiceResourceId', 'a workspace cannot be linked to itself');
      // Linking another workspace of this server needs the caller to be able to see it.
      if (!(await this.engine.get(target)) || !(await this.ctx.access.canSee(by.id, target)))
        throw invalid('properties.linkedServiceResourceId', `workspace '${target}' could not be found`);
    }
    const existing = await this.engine.get(this.idOf(ws, name));
    const identity = obj(body.identity, 'identity', false);
    const location = typeof body.location === 'string' ? body.location : ws.location;
    return this.engine.put(
      linkedServiceDefinition,
      this.idOf(ws, name),
      {
        location,
        identity: identity ?? { type: 'SystemAssigned', principalId: by.id, tenantId: this.ctx.tenantId },
        properties: {
          linkedServiceResourceId: target,
          linkType,
          createdTime: existing?.properties.createdTime ?? new Date().toISOString(),
        },
      },
      by,
    );
  }

  async get(ws: WorkspaceInfo, name: string): Promise<StoredResource> {
    const r = await this.engine.get(this.idOf(ws, name));
    if (!r)
      throw new NotFound(`linked service '${name}' could not be found in workspace '${ws.name}'`, {
        code: 'NOT_FOUND',
      });
    return r;
  }

  async list(ws: WorkspaceInfo, page: { after?: string; top: number }) {
    return this.engine.list({ type: LINKED_SERVICE_TYPE, parentId: ws.id, after: page.after, top: page.top });
  }

  async delete(ws: WorkspaceInfo, name: string): Promise<boolean> {
    return this.engine.delete(this.idOf(ws, name));
  }

  toBody(r: StoredResource): Record<string, unknown> {
    const b = toArmBody(r);
    delete b.tags;
    return b;
  }
}
