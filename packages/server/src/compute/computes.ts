import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import type { Operation, OperationService } from '../operations/operations.js';
import { toArmBody, type ResourceDefinition, type ResourceEngine, type StoredResource } from '../resources/engine.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';
import { resolveWorkspaceById } from '../resources/workspaces.js';
import { parseResourceId } from '../resources/resource-ids.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';
import type { Tx } from '../store/database.js';
import { bool, invalid, obj, onlyKeys, str, type Obj } from '../assets/validate.js';
import { NODE_SHAPES, findShape, machineResources } from './shapes.js';
import { NodePool, type NodeView } from './nodes.js';
import { checkRayDashboard, checkRayGcsAddress, listRayNodes, rayDashboards } from './ray.js';

export const COMPUTE_TYPE = 'Microsoft.MachineLearningServices/workspaces/computes';

/** Azure's rule for compute names: 2–16 letters, digits and hyphens, starting with a letter, not ending with a hyphen. */
const NAME = /^[a-zA-Z][a-zA-Z0-9-]{0,14}[a-zA-Z0-9]$/;

export const computeDefinition: ResourceDefinition = {
  type: COMPUTE_TYPE,
  checkName(name: string) {
    if (!NAME.test(name))
      throw new InvalidInput(
        `compute name '${name}' is invalid: use 2–16 letters, digits and hyphens, starting with a letter and not ending with a hyphen`,
        { code: 'INVALID_COMPUTE_NAME', target: 'name' },
      );
  },
  immutable: ['computeType'],
};

/** The compute types served: clusters of this machine, and Ray clusters attached by address. */
export const COMPUTE_TYPES = ['AmlCompute', 'Ray'] as const;
export type ComputeType = (typeof COMPUTE_TYPES)[number];

/**
 * What runs on a compute now, in nodes (a job with `instanceCount: 2` occupies two): the jobs
 * module registers the source (`setUsageSource`) at the composition root.
 */
export interface ComputeUsage {
  running: number;
  preparing: number;
  /** Jobs waiting for room on the compute (not on a node yet): they keep a delete away too. */
  queued?: number;
  /** The jobs on the running nodes, one entry per node, when known (listNodes shows them as runId). */
  runIds?: string[];
}
export interface ComputeUsageSource {
  /** In `tx` when given: the in-use check of a delete reads inside the delete's transaction. */
  usage(workspaceId: string, computeName: string, tx?: Pick<Tx, 'db'>): Promise<ComputeUsage>;
}

/**
 * Another module's use of a compute that keeps it from being deleted (an online endpoint that
 * serves on it): what uses it, read inside the delete's transaction. Registered at the
 * composition root; a module that comes to use a compute holds it (`ComputeService.hold`).
 */
export type ComputeUsers = (tx: Pick<Tx, 'db'>, computeId: string) => Promise<string[]>;

/** What a compute offers to whoever schedules work on it (the jobs module). */
export interface ComputeCapacity {
  computeType: ComputeType;
  /** ARM id of the compute. */
  id: string;
  name: string;
  maxNodeCount: number;
  minNodeCount: number;
  /** Per node (its shape); 0 for a Ray cluster, where Ray itself places work. */
  coresPerNode: number;
  memoryGiB: number;
  gpusPerNode: number;
  /** A stopped compute takes no new work (what runs finishes). */
  stopped: boolean;
  /** Ray: the cluster's Jobs API (dashboard) address, as Ray's own RAY_ADDRESS names it: `http://127.0.0.1:8265`. */
  rayAddress?: string;
  /** Ray: the cluster's GCS address (`host:port`), when the compute names one. */
  rayGcsAddress?: string;
}

const NO_USAGE: ComputeUsageSource = { usage: async () => ({ running: 0, preparing: 0 }) };

/** Azure's default idle time before a cluster's node leaves (120 s). */
const DEFAULT_IDLE = 'PT120S';
const DEFAULT_VM_SIZE = 'Standard_DS3_v2';

/** Parses an ISO 8601 duration (`PT5M`, `PT1800S`, `P1DT2H`); throws naming `target`. */
export function parseIsoDuration(v: string, target: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(v);
  if (!m || v.toUpperCase() === 'P' || /T$/i.test(v))
    throw invalid(target, `must be an ISO 8601 duration such as PT5M or PT120S; got '${v}'`);
  const [, d, h, mi, s] = m;
  const ms = ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(mi ?? 0)) * 60_000 + Number(s ?? 0) * 1000;
  if (ms > 30 * 86_400_000) throw invalid(target, `must be at most 30 days; got '${v}'`);
  return Math.round(ms);
}

function int(o: Obj, key: string, target: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalid(`${target}.${key}`, `must be a whole number from ${min} to ${max}; got ${JSON.stringify(v)}`);
  return v;
}

/** Fields of an ARM compute that GET answers and a client may send back: accepted, ignored. */
const READ_ONLY_TOP = ['provisioningState', 'provisioningErrors', 'createdOn', 'modifiedOn', 'isAttachedCompute'];
const READ_ONLY_AML = [
  'allocationState',
  'allocationStateTransitionTime',
  'currentNodeCount',
  'targetNodeCount',
  'nodeStateCounts',
  'errors',
  'state',
  'shape',
];

interface ComputeSpec {
  computeType: ComputeType;
  description?: string;
  disableLocalAuth: boolean;
  /** `properties.properties` as stored. */
  inner: Obj;
}

/**
 * Compute targets `W/computes/{name}`: `AmlCompute` clusters whose nodes are slots of this machine
 * (the node shape comes from `vmSize`, see shapes.ts), and existing Ray clusters attached by
 * address. Creating is a long-running operation (crash-safe: a half-made compute is removed);
 * GET answers truthful node counts from the usage source; stop/start gate new work.
 */
export class ComputeService {
  private source: ComputeUsageSource = NO_USAGE;
  readonly nodes: NodePool;
  /** Other modules' uses of a compute that refuse its delete (see ComputeUsers). */
  readonly users: ComputeUsers[] = [];
  /** Test-only: called inside a delete's transaction after the in-use check, before the record goes. */
  testHooks: { inUseChecked?: () => Promise<void> } = {};
  private readonly rayAllowed: string[];

  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
    private readonly operations: OperationService,
    rayAllowed: string[] = rayDashboards(),
  ) {
    this.nodes = new NodePool(ctx);
    this.rayAllowed = rayAllowed;
  }

  /** The jobs module tells the computes what runs on them (registered once, at the composition root). */
  setUsageSource(source: ComputeUsageSource): void {
    this.source = source;
  }

  /**
   * Optional push from the jobs module when a job starts or ends on a compute: its nodes are
   * brought up to date at once (the sweeper does it every few seconds anyway).
   */
  async usageChanged(workspace: Pick<WorkspaceInfo, 'id' | 'workspaceId'>, computeName: string): Promise<void> {
    const r = await this.engine.get(this.idOf(workspace, computeName));
    if (r && r.properties.computeType === 'AmlCompute') await this.reconcile(workspace, r);
  }

  idOf(ws: Pick<WorkspaceInfo, 'id'>, name: string): string {
    return `${ws.id}/computes/${name}`;
  }

  /**
   * The compute a job names: its name, `azureml:name`, or its ARM id (which must be in this
   * workspace). Throws InvalidInput for a malformed reference.
   */
  nameOf(ws: Pick<WorkspaceInfo, 'id' | 'name'>, ref: string, target = 'computeId'): string {
    let name = ref.trim();
    if (/^azureml:/i.test(name)) name = name.slice('azureml:'.length);
    if (name.startsWith('/')) {
      const p = parseResourceId(name, target);
      if (p.type.toLowerCase() !== COMPUTE_TYPE.toLowerCase() || p.parentId?.toLowerCase() !== ws.id.toLowerCase())
        throw invalid(target, `'${ref}' is not a compute of workspace '${ws.name}'`);
      name = p.name;
    }
    computeDefinition.checkName(name);
    return name;
  }

  private missing(ws: Pick<WorkspaceInfo, 'name'>, name: string): NotFound {
    return new NotFound(`compute '${name}' could not be found in workspace '${ws.name}'`, {
      code: 'COMPUTE_NOT_FOUND',
      target: 'computeName',
    });
  }

  async get(ws: Pick<WorkspaceInfo, 'id' | 'name'>, name: string): Promise<StoredResource> {
    const r = await this.engine.get(this.idOf(ws, name));
    if (!r) throw this.missing(ws, name);
    return r;
  }

  async list(
    ws: WorkspaceInfo,
    page: { after?: string; top: number },
  ): Promise<{ value: StoredResource[]; hasMore: boolean; lastKey?: string }> {
    return this.engine.list({ type: COMPUTE_TYPE, parentId: ws.id, after: page.after, top: page.top });
  }

  /** Checks a PUT body; returns what to store. Throws InvalidInput naming the field. */
  private parse(body: Obj, existing?: StoredResource): ComputeSpec {
    const T = 'properties';
    const p = obj(body.properties, T)!;
    onlyKeys(
      p,
      [
        'computeType',
        'computeLocation',
        'description',
        'resourceId',
        'disableLocalAuth',
        'properties',
        ...READ_ONLY_TOP,
      ],
      T,
    );
    const computeType = str(p, 'computeType', T, { required: true, oneOf: COMPUTE_TYPES }) as ComputeType;
    if (existing && existing.properties.computeType !== computeType)
      throw invalid(
        `${T}.computeType`,
        `cannot change after the compute is created (it is ${String(existing.properties.computeType)}); delete and create it again`,
      );
    const description = str(p, 'description', T, { max: 5000 });
    if (p.resourceId !== undefined && p.resourceId !== null)
      throw invalid(`${T}.resourceId`, 'must be left out: computes here are not backed by an Azure resource');
    const disableLocalAuth = bool(p, 'disableLocalAuth', T) ?? false;
    const inner = obj(p.properties, `${T}.properties`, computeType === 'Ray') ?? {};
    const spec: ComputeSpec = {
      computeType,
      disableLocalAuth,
      inner: computeType === 'AmlCompute' ? this.parseAml(inner, existing) : this.parseRay(inner),
    };
    if (description !== undefined) spec.description = description;
    return spec;
  }

  private parseAml(inner: Obj, existing?: StoredResource): Obj {
    const T = 'properties.properties';
    onlyKeys(
      inner,
      [
        'vmSize',
        'vmPriority',
        'osType',
        'scaleSettings',
        'remoteLoginPortPublicAccess',
        'enableNodePublicIp',
        'isolatedNetwork',
        'subnet',
        'userAccountCredentials',
        'virtualMachineImage',
        'propertyBag',
        ...READ_ONLY_AML,
      ],
      T,
    );
    const vmSize = str(inner, 'vmSize', T) ?? DEFAULT_VM_SIZE;
    const shape = findShape(vmSize);
    if (!shape)
      throw new InvalidInput(
        `${T}.vmSize: '${vmSize}' is not a node shape of this server; use one of ${NODE_SHAPES.map((s) => s.name).join(', ')}`,
        { code: 'UNKNOWN_VM_SIZE', target: `${T}.vmSize` },
      );
    const before = existing?.properties.properties as Obj | undefined;
    if (before && String(before.vmSize).toLowerCase() !== shape.name.toLowerCase())
      throw new InvalidInput(
        `${T}.vmSize cannot change after the compute is created (it is ${String(before.vmSize)}); delete and create it again`,
        { code: 'IMMUTABLE_PROPERTY', target: `${T}.vmSize` },
      );
    const vmPriority = str(inner, 'vmPriority', T, { oneOf: ['Dedicated', 'LowPriority'] }) ?? 'Dedicated';
    const osType = str(inner, 'osType', T, { oneOf: ['Linux', 'Windows'] }) ?? 'Linux';
    if (osType === 'Windows') throw invalid(`${T}.osType`, 'must be Linux: nodes are slots of this Linux server');
    for (const k of ['subnet', 'userAccountCredentials', 'virtualMachineImage']) {
      if (inner[k] !== undefined && inner[k] !== null)
        throw invalid(
          `${T}.${k}`,
          k === 'userAccountCredentials'
            ? 'must be left out: nodes here take no SSH logins'
            : k === 'subnet'
              ? 'must be left out: nodes here are not in a virtual network'
              : 'must be left out: nodes here run this server’s own Python environments, not VM images',
        );
    }
    const remote =
      str(inner, 'remoteLoginPortPublicAccess', T, { oneOf: ['Enabled', 'Disabled', 'NotSpecified'] }) ??
      'NotSpecified';
    const scale = obj(inner.scaleSettings, `${T}.scaleSettings`, false) ?? {};
    const S = `${T}.scaleSettings`;
    onlyKeys(scale, ['minNodeCount', 'maxNodeCount', 'nodeIdleTimeBeforeScaleDown'], S);
    const maxNodeCount = int(scale, 'maxNodeCount', S, 0, 1000) ?? 1;
    const minNodeCount = int(scale, 'minNodeCount', S, 0, 1000) ?? 0;
    if (minNodeCount > maxNodeCount)
      throw invalid(`${S}.minNodeCount`, `must not exceed maxNodeCount (${maxNodeCount}); got ${minNodeCount}`);
    const idle = str(scale, 'nodeIdleTimeBeforeScaleDown', S) ?? DEFAULT_IDLE;
    parseIsoDuration(idle, `${S}.nodeIdleTimeBeforeScaleDown`);
    const out: Obj = {
      vmSize: shape.name,
      vmPriority,
      osType,
      scaleSettings: { minNodeCount, maxNodeCount, nodeIdleTimeBeforeScaleDown: idle.toUpperCase() },
      remoteLoginPortPublicAccess: remote,
      enableNodePublicIp: bool(inner, 'enableNodePublicIp', T) ?? true,
      isolatedNetwork: bool(inner, 'isolatedNetwork', T) ?? false,
      state: (before?.state as string) ?? 'Running',
    };
    const bag = inner.propertyBag;
    if (bag !== undefined && bag !== null) {
      if (typeof bag !== 'object' || Array.isArray(bag) || JSON.stringify(bag).length > 10_000)
        throw invalid(`${T}.propertyBag`, 'must be an object (at most 10,000 characters as JSON)');
      out.propertyBag = bag;
    }
    return out;
  }

  private parseRay(inner: Obj): Obj {
    const T = 'properties.properties';
    onlyKeys(inner, ['dashboardUrl', 'address', 'state'], T);
    const dashboardUrl = checkRayDashboard(
      str(inner, 'dashboardUrl', T, { required: true, max: 300 })!,
      `${T}.dashboardUrl`,
      this.rayAllowed,
    );
    const out: Obj = { dashboardUrl, state: 'Running' };
    const address = str(inner, 'address', T, { max: 300 });
    if (address) out.address = checkRayGcsAddress(address, `${T}.address`);
    return out;
  }

  async put(
    ws: WorkspaceInfo,
    name: string,
    body: Obj,
    by: Principal,
  ): Promise<{ resource: StoredResource; created: boolean; operation?: Operation }> {
    computeDefinition.checkName(name);
    const id = this.idOf(ws, name);
    const existing = await this.engine.get(id);
    if (existing && existing.properties.provisioningState !== 'Succeeded')
      throw new Conflict(
        `compute '${name}' is ${String(existing.properties.provisioningState).toLowerCase()}; wait for it to finish`,
        { code: 'COMPUTE_BUSY' },
      );
    const spec = this.parse(body, existing);
    if (existing) {
      // Keep the state (stopped or not) and the dates; replace the rest.
      const inner = { ...spec.inner, state: (existing.properties.properties as Obj).state ?? 'Running' };
      const resource = (
        await this.engine.put(
          computeDefinition,
          id,
          {
            location: existing.location,
            tags: (body.tags as Record<string, string> | undefined) ?? existing.tags,
            properties: {
              ...existing.properties,
              description: spec.description ?? existing.properties.description,
              disableLocalAuth: spec.disableLocalAuth,
              modifiedOn: new Date().toISOString(),
              properties: inner,
            },
          },
          by,
        )
      ).resource;
      if (spec.computeType === 'AmlCompute') await this.reconcile(ws, resource);
      return { resource, created: false };
    }
    const now = new Date().toISOString();
    const location = typeof body.location === 'string' && body.location ? body.location : ws.location;
    const { resource } = await this.engine.put(
      computeDefinition,
      id,
      {
        location,
        tags: (body.tags as Record<string, string> | undefined) ?? {},
        properties: {
          computeType: spec.computeType,
          computeLocation: location,
          ...(spec.description !== undefined ? { description: spec.description } : {}),
          provisioningState: 'Creating',
          createdOn: now,
          modifiedOn: now,
          isAttachedCompute: spec.computeType === 'Ray',
          disableLocalAuth: spec.disableLocalAuth,
          properties: spec.inner,
        },
      },
      by,
    );
    const operation = await this.operations.start(
      'compute.create',
      { id: resource.id, subscriptionId: ws.subscriptionId, location },
      by.id,
      async (journal) => {
        await journal.record({ computeId: resource.id });
        if (spec.computeType === 'AmlCompute') await this.reconcile(ws, resource);
        await this.engine.setProperties(resource.id, { provisioningState: 'Succeeded' });
      },
    );
    return { resource, created: true, operation };
  }

  /** Undoes a create that a crashed server left half-made. */
  async recoverCreate(journal: Record<string, unknown>): Promise<void> {
    const id = journal.computeId as string | undefined;
    if (!id) return;
    const r = await this.engine.get(id);
    if (r && r.properties.provisioningState === 'Creating') {
      await this.nodes.forget(id);
      await this.engine.delete(id);
    }
  }

  /** PATCH: `properties.properties.scaleSettings` (Azure's ClusterUpdateParameters), description, tags. */
  async patch(ws: WorkspaceInfo, r: StoredResource, body: Obj, by: Principal): Promise<StoredResource> {
    const p = obj(body.properties, 'properties', false);
    const inner = r.properties.properties as Obj;
    const merged: Obj = { computeType: r.properties.computeType, properties: { ...inner } };
    if (p) {
      onlyKeys(p, ['properties', 'description'], 'properties');
      if (p.description !== undefined) merged.description = p.description;
      const pi = obj(p.properties, 'properties.properties', false);
      if (pi) {
        onlyKeys(pi, ['scaleSettings'], 'properties.properties');
        if (r.properties.computeType !== 'AmlCompute')
          throw invalid('properties.properties.scaleSettings', 'only AmlCompute clusters have scale settings');
        merged.properties = {
          ...inner,
          scaleSettings: {
            ...(inner.scaleSettings as Obj),
            ...(obj(pi.scaleSettings, 'properties.properties.scaleSettings') ?? {}),
          },
        };
      }
    }
    const { resource } = await this.put(
      ws,
      r.name,
      { tags: (body.tags as Record<string, string>) ?? r.tags, properties: merged },
      by,
    );
    return resource;
  }

  /**
   * Deletes a compute; refused while jobs run or wait on it (cancel them or wait) or another module
   * uses it. The check and the delete are one write transaction holding the compute's row (FOR UPDATE
   * on PostgreSQL); whatever binds work to a compute holds that row too (`hold`), so of a delete and a
   * concurrent job claim or submit one always loses. Returns false when there was none, else the
   * operation Azure answers a compute delete with (ARM's 202: azureml-core reads its
   * Azure-AsyncOperation header); the record and its nodes are gone when this returns.
   */
  async delete(ws: WorkspaceInfo, name: string, by: Principal): Promise<false | Operation> {
    const id = this.idOf(ws, name);
    const r = await this.engine.get(id);
    if (!r) return false;
    const gone = await this.ctx.database.write(async (tx) => {
      const held = await this.engine.lock(tx, id, 'update');
      if (!held) return false;
      if (held.properties.provisioningState === 'Creating')
        throw new Conflict(`compute '${name}' is being created; wait for it to finish`, { code: 'COMPUTE_BUSY' });
      const u = await this.usage(ws, name, tx);
      const busy = u.running + u.preparing;
      if (busy + (u.queued ?? 0) > 0)
        throw new Conflict(
          `compute '${name}' ${busy ? `runs jobs on ${busy} node(s)` : ''}${busy && u.queued ? ' and ' : ''}${u.queued ? `has ${u.queued} job(s) queued for it` : ''}; cancel them or wait for them to end, then delete it`,
          { code: 'COMPUTE_BUSY' },
        );
      const users: string[] = [];
      for (const of of this.users) users.push(...(await of(tx, held.id)));
      if (users.length)
        throw new Conflict(
          `compute '${name}' is used by ${users.join(', ')}; delete ${users.length === 1 ? 'it' : 'them'} (or move ${users.length === 1 ? 'it' : 'them'} to another compute) first`,
          { code: 'COMPUTE_BUSY' },
        );
      await this.testHooks.inUseChecked?.();
      await this.nodes.forget(id, true, tx);
      return this.engine.deleteIn(tx, id);
    });
    if (!gone) return false;
    return this.operations.start(
      'compute.delete',
      { id, subscriptionId: ws.subscriptionId, location: r.location ?? '' },
      by.id,
      // Nothing is left to do: the transaction above removed the record and its nodes.
      async () => undefined,
    );
  }

  /**
   * Holds a compute in a write transaction that binds work to it (a job claimed or submitted onto
   * it, an endpoint that will serve on it): its row locked FOR SHARE until the transaction ends, so
   * a delete waits for that transaction and then sees the work (or this waits for the delete and
   * then finds the compute gone). Throws when it is missing or not ready.
   */
  async hold(tx: Tx, ws: Pick<WorkspaceInfo, 'id' | 'name'>, computeRef: string): Promise<StoredResource> {
    const name = this.nameOf(ws, computeRef);
    const r = await this.engine.lock(tx, this.idOf(ws, name), 'share');
    if (!r) throw this.missing(ws, name);
    if (r.properties.provisioningState !== 'Succeeded')
      throw new Conflict(
        `compute '${name}' is ${String(r.properties.provisioningState).toLowerCase()}; try again when it is ready`,
        { code: 'COMPUTE_BUSY' },
      );
    return r;
  }

  /** Removes a compute's record (a resource-group delete: what ran there is gone with it). */
  async removeRecord(id: string): Promise<boolean> {
    return this.engine.delete(id);
  }

  private async usage(
    ws: Pick<WorkspaceInfo, 'workspaceId'>,
    name: string,
    tx?: Pick<Tx, 'db'>,
  ): Promise<ComputeUsage> {
    const u = await this.source.usage(ws.workspaceId, name, tx);
    return {
      running: Math.max(0, Math.floor(u.running || 0)),
      preparing: Math.max(0, Math.floor(u.preparing || 0)),
      queued: Math.max(0, Math.floor(u.queued || 0)),
      ...(u.runIds ? { runIds: u.runIds } : {}),
    };
  }

  private scale(r: StoredResource): { min: number; max: number; idleMs: number } {
    const s = ((r.properties.properties as Obj).scaleSettings ?? {}) as Obj;
    return {
      min: Number(s.minNodeCount ?? 0),
      max: Number(s.maxNodeCount ?? 1),
      idleMs: parseIsoDuration(String(s.nodeIdleTimeBeforeScaleDown ?? DEFAULT_IDLE), 'nodeIdleTimeBeforeScaleDown'),
    };
  }

  private stoppedOf(r: StoredResource): boolean {
    return (r.properties.properties as Obj | undefined)?.state === 'Stopped';
  }

  /** Brings a cluster's nodes up to date with what runs on it; returns them (busy first). */
  async reconcile(
    ws: Pick<WorkspaceInfo, 'workspaceId'>,
    r: StoredResource,
  ): Promise<{ nodes: NodeView[]; usage: ComputeUsage }> {
    const usage = await this.usage(ws, r.name);
    const { min, max, idleMs } = this.scale(r);
    const nodes = await this.nodes.reconcile(r.id, {
      ...usage,
      minNodeCount: min,
      maxNodeCount: max,
      idleMs,
      stopped: this.stoppedOf(r),
    });
    return { nodes, usage };
  }

  /** The contract the jobs module schedules by (shared with the ray executor). */
  async capacity(ws: Pick<WorkspaceInfo, 'id' | 'name'>, computeRef: string): Promise<ComputeCapacity> {
    const name = this.nameOf(ws, computeRef);
    const r = await this.get(ws, name);
    if (r.properties.provisioningState !== 'Succeeded')
      throw new Conflict(
        `compute '${name}' is ${String(r.properties.provisioningState).toLowerCase()}; try again when it is ready`,
        {
          code: 'COMPUTE_BUSY',
        },
      );
    const inner = r.properties.properties as Obj;
    const stopped = this.stoppedOf(r);
    if (r.properties.computeType === 'Ray') {
      return {
        computeType: 'Ray',
        id: r.id,
        name: r.name,
        maxNodeCount: 0,
        minNodeCount: 0,
        coresPerNode: 0,
        memoryGiB: 0,
        gpusPerNode: 0,
        stopped,
        rayAddress: inner.dashboardUrl as string,
        ...(inner.address ? { rayGcsAddress: inner.address as string } : {}),
      };
    }
    const shape = findShape(String(inner.vmSize))!;
    const { min, max } = this.scale(r);
    return {
      computeType: 'AmlCompute',
      id: r.id,
      name: r.name,
      maxNodeCount: max,
      minNodeCount: min,
      coresPerNode: shape.cores,
      memoryGiB: shape.memoryGiB,
      gpusPerNode: shape.gpus,
      stopped,
    };
  }

  /** POST …/stop and …/start: a stopped compute takes no new work; what runs finishes, then its nodes leave. */
  async setStopped(ws: WorkspaceInfo, r: StoredResource, stopped: boolean): Promise<Obj> {
    if (r.properties.provisioningState !== 'Succeeded')
      throw new Conflict(
        `compute '${r.name}' is ${String(r.properties.provisioningState).toLowerCase()}; wait for it to finish`,
        {
          code: 'COMPUTE_BUSY',
        },
      );
    const inner = { ...(r.properties.properties as Obj), state: stopped ? 'Stopped' : 'Running' };
    const updated = await this.engine.setProperties(r.id, { properties: inner, modifiedOn: new Date().toISOString() });
    if (!updated) throw this.missing(ws, r.name);
    return this.toBody(updated, ws);
  }

  /** POST …/listNodes. */
  async listNodes(ws: WorkspaceInfo, r: StoredResource): Promise<{ nodes: Obj[]; nextLink: null }> {
    if (r.properties.computeType !== 'AmlCompute') {
      const usage = await this.usage(ws, r.name);
      return {
        nodes: await listRayNodes((r.properties.properties as Obj).dashboardUrl as string, usage),
        nextLink: null,
      };
    }
    const { nodes } = await this.reconcile(ws, r);
    return {
      nodes: nodes.map((n) => ({
        nodeId: n.nodeId,
        // Every node is a slot of this server: its address is the server's loopback; no SSH port.
        privateIpAddress: '127.0.0.1',
        publicIpAddress: null,
        port: null,
        nodeState: n.nodeState,
        runId: n.runId ?? null,
      })),
      nextLink: null,
    };
  }

  /** The ARM body, with node counts brought up to date. */
  async toBody(r: StoredResource, ws?: WorkspaceInfo): Promise<Obj> {
    const props = { ...r.properties };
    const inner = { ...((props.properties as Obj) ?? {}) };
    props.provisioningErrors = null;
    props.resourceId = null;
    // Azure always sends a description (null when unset); azureml-core reads the key unguarded.
    props.description ??= null;
    if (props.computeType === 'AmlCompute') {
      const w = ws ?? (await resolveWorkspaceById(this.ctx, r.parentId!));
      const { nodes, usage } =
        props.provisioningState === 'Succeeded'
          ? await this.reconcile(w, r)
          : { nodes: [] as NodeView[], usage: { running: 0, preparing: 0 } };
      const count = (s: NodeView['nodeState']) => nodes.filter((n) => n.nodeState === s).length;
      const busy = usage.running + usage.preparing;
      // Nodes are allocated the moment a job needs one, so the cluster is never between sizes;
      // with more work than nodes, the surplus waits in the jobs queue, not in a resize.
      inner.allocationState = 'Steady';
      inner.currentNodeCount = nodes.length;
      inner.targetNodeCount = nodes.length;
      inner.nodeStateCounts = {
        idleNodeCount: count('idle'),
        runningNodeCount: count('running'),
        preparingNodeCount: count('preparing'),
        unusableNodeCount: 0,
        leavingNodeCount: 0,
        preemptedNodeCount: 0,
      };
      inner.errors = null;
      // As Azure's bodies: no subnet is a null subnet (azureml-core reads the key unguarded).
      inner.subnet ??= null;
      if (inner.state === 'Stopped' && busy > 0) inner.state = 'Stopping';
      const shape = findShape(String(inner.vmSize));
      if (shape)
        inner.shape = {
          cores: shape.cores,
          memoryGiB: shape.memoryGiB,
          gpus: shape.gpus,
          machine: machineResources(),
        };
    }
    props.properties = inner;
    return toArmBody(r, props);
  }
}
