/**
 * Compute targets in the SDK: the seed's `azureml.core.compute` (`ComputeTarget`, `AmlCompute`) over
 * `W/computes/{name}`. Only web APIs are used here: the browser entry reaches this module through
 * `Workspace.create({defaultCpuComputeTarget})`.
 */
import type * as C from '@atelier/contracts';
import type { ArmClient, ArmResponse, OperationProgress } from '../http/client.js';
import { NotFoundError, OperationFailedError, ValidationError } from '../errors.js';
import { host } from '../host.js';

export type ComputeResource = C.Compute;
export type ComputeNode = C.ComputeNodeInformation;
export type NodeStateCounts = C.NodeStateCounts;

/** What compute objects need of their workspace (a `Workspace` has it). */
export interface ComputeWorkspace {
  readonly id: string;
  readonly name: string;
  readonly serviceContext: { client: ArmClient };
}

/** `AmlCompute.provisioningConfiguration(…)`: what `ComputeTarget.create` sends for a cluster. */
export interface AmlComputeProvisioningConfiguration {
  readonly computeType: 'AmlCompute';
  /** A node shape of the server (`Standard_DS3_v2`, `local-2c-4g`, …; any case). Default: the server's. */
  readonly vmSize?: string;
  /** `dedicated` (default) or `lowpriority`. */
  readonly vmPriority?: string;
  readonly minNodes: number;
  readonly maxNodes?: number;
  /** How long an idle node stays before it leaves (default: the server's, 120 s). */
  readonly idleSecondsBeforeScaledown?: number;
  readonly description?: string;
  readonly tags?: Record<string, string>;
  readonly location?: string;
}

/** `RayCompute.attachConfiguration(…)`: an existing Ray cluster, attached by address. */
export interface RayAttachConfiguration {
  readonly computeType: 'Ray';
  /** The cluster's Jobs API (dashboard) address, `http://host:8265`. */
  readonly dashboardUrl: string;
  /** The cluster's GCS address `host:port`, when known. */
  readonly address?: string;
  readonly description?: string;
  readonly tags?: Record<string, string>;
}

export type ComputeConfiguration = AmlComputeProvisioningConfiguration | RayAttachConfiguration;

/** The status of a compute as the seed's `AmlComputeStatus` reports it (camelCase). */
export interface ComputeStatus {
  provisioningState: string | undefined;
  allocationState: string | undefined;
  currentNodeCount: number | undefined;
  targetNodeCount: number | undefined;
  nodeStateCounts: NodeStateCounts | undefined;
  /** Running | Stopping | Stopped. */
  state: string | undefined;
  vmSize: string | undefined;
  scaleSettings: C.ScaleSettings | undefined;
  modifiedOn: string | undefined;
}

const V = { 'api-version': '2025-09-01' };
const TERMINAL = ['succeeded', 'failed', 'canceled'];
const seg = encodeURIComponent;

function count(v: unknown, what: string, min: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new ValidationError(`${what} must be a whole number of at least ${min}, got ${JSON.stringify(v)}`, {
      target: what,
    });
  return v;
}

function checkTags(tags: unknown): Record<string, string> | undefined {
  if (tags === undefined || tags === null) return undefined;
  if (typeof tags !== 'object' || Array.isArray(tags) || Object.values(tags).some((v) => typeof v !== 'string'))
    throw new ValidationError('tags must be an object of string values', { target: 'tags' });
  return tags as Record<string, string>;
}

/** AmlCompute: a cluster of nodes of the server's machine (azureml-core `AmlCompute`). */
export const AmlCompute = {
  /**
   * A cluster's provisioning configuration (azureml-core
   * `AmlCompute.provisioning_configuration(vm_size, vm_priority, min_nodes, max_nodes,
   * idle_seconds_before_scaledown, description, tags)`). Checked here, before anything is sent.
   */
  provisioningConfiguration(
    opts: {
      vmSize?: string;
      vmPriority?: 'dedicated' | 'lowpriority' | string;
      minNodes?: number;
      maxNodes?: number;
      idleSecondsBeforeScaledown?: number;
      description?: string;
      tags?: Record<string, string>;
      location?: string;
    } = {},
  ): AmlComputeProvisioningConfiguration {
    if (!opts || typeof opts !== 'object')
      throw new ValidationError('provisioningConfiguration needs an options object');
    const minNodes = count(opts.minNodes, 'minNodes', 0) ?? 0;
    const maxNodes = count(opts.maxNodes, 'maxNodes', 1);
    if (maxNodes !== undefined && minNodes > maxNodes)
      throw new ValidationError(`minNodes (${minNodes}) must not exceed maxNodes (${maxNodes})`, {
        target: 'minNodes',
      });
    const idle = count(opts.idleSecondsBeforeScaledown, 'idleSecondsBeforeScaledown', 0);
    if (opts.vmSize !== undefined && (typeof opts.vmSize !== 'string' || !opts.vmSize.trim()))
      throw new ValidationError('vmSize must be a node shape name such as Standard_DS3_v2', { target: 'vmSize' });
    let vmPriority: string | undefined;
    if (opts.vmPriority !== undefined) {
      const p = String(opts.vmPriority).toLowerCase();
      if (p !== 'dedicated' && p !== 'lowpriority')
        throw new ValidationError(`vmPriority must be 'dedicated' or 'lowpriority', got '${opts.vmPriority}'`, {
          target: 'vmPriority',
        });
      vmPriority = p;
    }
    return Object.freeze({
      computeType: 'AmlCompute' as const,
      minNodes,
      ...(opts.vmSize !== undefined ? { vmSize: opts.vmSize } : {}),
      ...(vmPriority !== undefined ? { vmPriority } : {}),
      ...(maxNodes !== undefined ? { maxNodes } : {}),
      ...(idle !== undefined ? { idleSecondsBeforeScaledown: idle } : {}),
      ...(opts.description !== undefined ? { description: String(opts.description) } : {}),
      ...(opts.tags !== undefined ? { tags: checkTags(opts.tags)! } : {}),
      ...(opts.location !== undefined ? { location: String(opts.location) } : {}),
    });
  },
};

/** A Ray cluster that runs elsewhere, attached to the workspace by address. */
export const RayCompute = {
  attachConfiguration(opts: {
    dashboardUrl: string;
    address?: string;
    description?: string;
    tags?: Record<string, string>;
  }): RayAttachConfiguration {
    if (!opts || typeof opts.dashboardUrl !== 'string' || !/^https?:\/\//i.test(opts.dashboardUrl))
      throw new ValidationError(
        "attachConfiguration needs dashboardUrl, the Ray Jobs API address ('http://host:8265')",
        {
          target: 'dashboardUrl',
        },
      );
    return Object.freeze({
      computeType: 'Ray' as const,
      dashboardUrl: opts.dashboardUrl,
      ...(opts.address !== undefined ? { address: String(opts.address) } : {}),
      ...(opts.description !== undefined ? { description: String(opts.description) } : {}),
      ...(opts.tags !== undefined ? { tags: checkTags(opts.tags)! } : {}),
    });
  },
};

/** The ARM body of `PUT W/computes/{name}` for a configuration. */
export interface ComputeRequestBody {
  location?: string;
  tags?: Record<string, string>;
  properties: { computeType: string; description?: string; properties: Record<string, unknown> };
}
export function computeBody(config: ComputeConfiguration): ComputeRequestBody {
  if (!config || typeof config !== 'object' || !('computeType' in config))
    throw new ValidationError(
      'give a configuration made by AmlCompute.provisioningConfiguration(…) or RayCompute.attachConfiguration(…)',
      { target: 'configuration' },
    );
  if (config.computeType === 'Ray') {
    return {
      ...(config.tags ? { tags: config.tags } : {}),
      properties: {
        computeType: 'Ray',
        ...(config.description !== undefined ? { description: config.description } : {}),
        properties: { dashboardUrl: config.dashboardUrl, ...(config.address ? { address: config.address } : {}) },
      },
    };
  }
  if ((config as { computeType: string }).computeType !== 'AmlCompute')
    throw new ValidationError(
      `computeType must be AmlCompute or Ray, got '${String((config as { computeType: string }).computeType)}'`,
      {
        target: 'computeType',
      },
    );
  const scaleSettings: Record<string, unknown> = { minNodeCount: config.minNodes ?? 0 };
  scaleSettings.maxNodeCount = config.maxNodes ?? Math.max(1, config.minNodes ?? 0);
  if (config.idleSecondsBeforeScaledown !== undefined)
    scaleSettings.nodeIdleTimeBeforeScaleDown = `PT${config.idleSecondsBeforeScaledown}S`;
  return {
    ...(config.location ? { location: config.location } : {}),
    ...(config.tags ? { tags: config.tags } : {}),
    properties: {
      computeType: 'AmlCompute',
      ...(config.description !== undefined ? { description: config.description } : {}),
      properties: {
        ...(config.vmSize ? { vmSize: config.vmSize } : {}),
        ...(config.vmPriority ? { vmPriority: config.vmPriority === 'lowpriority' ? 'LowPriority' : 'Dedicated' } : {}),
        scaleSettings,
      },
    },
  };
}

/**
 * A compute target of a workspace (azureml-core `ComputeTarget`): `ComputeTarget.get(ws, name)`,
 * `ComputeTarget.list(ws)`, `ComputeTarget.create(ws, name, config)` then `waitForCompletion()`.
 */
export class ComputeTarget {
  private pending: ArmResponse | undefined;
  private constructor(
    readonly workspace: ComputeWorkspace,
    private resource: ComputeResource,
  ) {}

  get name(): string {
    return this.resource.name;
  }
  get id(): string {
    return this.resource.id;
  }
  /** `AmlCompute` or `Ray`. */
  get type(): string {
    return this.resource.properties.computeType;
  }
  get provisioningState(): string | undefined {
    return this.resource.properties.provisioningState;
  }
  get description(): string | undefined {
    return this.resource.properties.description;
  }
  get tags(): Record<string, string> {
    return { ...(this.resource.tags ?? {}) };
  }
  /** The status as last read from the server (`getStatus()` reads it again). */
  get status(): ComputeStatus {
    const p = this.resource.properties;
    const inner = p.properties ?? {};
    return {
      provisioningState: p.provisioningState,
      allocationState: inner.allocationState,
      currentNodeCount: inner.currentNodeCount,
      targetNodeCount: inner.targetNodeCount,
      nodeStateCounts: inner.nodeStateCounts,
      state: inner.state,
      vmSize: inner.vmSize,
      scaleSettings: inner.scaleSettings,
      modifiedOn: p.modifiedOn,
    };
  }
  /** The last ARM body read from the server (a copy). */
  get armResource(): ComputeResource {
    return structuredClone(this.resource);
  }
  /** A plain summary, as `atelier compute show` prints it. */
  serialize(): ComputeResource {
    return this.armResource;
  }

  private static client(ws: ComputeWorkspace): ArmClient {
    return ws.serviceContext.client;
  }
  private static path(ws: ComputeWorkspace, name: string): string {
    if (typeof name !== 'string' || !name) throw new ValidationError('a compute needs a name', { target: 'name' });
    return `${ws.id}/computes/${seg(name)}`;
  }

  /** The compute `name` of the workspace (azureml-core `ComputeTarget(workspace, name)`). */
  static async get(ws: ComputeWorkspace, name: string): Promise<ComputeTarget> {
    const r = await ComputeTarget.client(ws)
      .request<ComputeResource>('GET', ComputeTarget.path(ws, name), {
        query: V,
        what: `get compute '${name}'`,
      })
      .catch((e: unknown) => {
        if (e instanceof NotFoundError)
          throw new NotFoundError(`compute '${name}' does not exist in workspace '${ws.name}'`, {
            status: 404,
            code: e.code,
            requestId: e.requestId,
            target: 'name',
          });
        throw e;
      });
    return new ComputeTarget(ws, r.body);
  }

  /** Every compute of the workspace. */
  static async list(ws: ComputeWorkspace): Promise<ComputeTarget[]> {
    const out: ComputeTarget[] = [];
    for await (const r of ComputeTarget.client(ws).list<ComputeResource>(`${ws.id}/computes`, {
      query: V,
      what: `list the computes of workspace '${ws.name}'`,
    }))
      out.push(new ComputeTarget(ws, r));
    return out;
  }

  /**
   * Creates (or updates) a compute and returns at once, as azureml-core does; call
   * `waitForCompletion()` to wait until it is provisioned.
   */
  static async create(ws: ComputeWorkspace, name: string, config: ComputeConfiguration): Promise<ComputeTarget> {
    const body = computeBody(config);
    const r = await ComputeTarget.client(ws).request<ComputeResource>('PUT', ComputeTarget.path(ws, name), {
      body,
      query: V,
      what: `create compute '${name}'`,
    });
    const t = new ComputeTarget(ws, r.body);
    t.pending = r;
    return t;
  }

  /** Attaches an existing Ray cluster (azureml-core `ComputeTarget.attach`). */
  static attach(ws: ComputeWorkspace, name: string, config: RayAttachConfiguration): Promise<ComputeTarget> {
    return ComputeTarget.create(ws, name, config);
  }

  /** Reads the compute again; returns its status. */
  async getStatus(): Promise<ComputeStatus> {
    await this.refresh();
    return this.status;
  }

  async refresh(): Promise<this> {
    const r = await ComputeTarget.client(this.workspace).request<ComputeResource>(
      'GET',
      ComputeTarget.path(this.workspace, this.name),
      { query: V, what: `get compute '${this.name}'` },
    );
    this.resource = r.body;
    return this;
  }

  /**
   * Waits until the compute is provisioned (and, with `minNodeCount`, has that many nodes).
   * With `showOutput` prints each state change. A failed provisioning throws OperationFailedError.
   */
  async waitForCompletion(
    opts: {
      showOutput?: boolean;
      minNodeCount?: number;
      timeoutInMinutes?: number;
      output?: (line: string) => void;
      onProgress?: (p: OperationProgress) => void;
    } = {},
  ): Promise<ComputeStatus> {
    const say = opts.showOutput ? (opts.output ?? ((l: string) => host().print(l))) : () => undefined;
    const timeoutMs = (opts.timeoutInMinutes ?? 20) * 60_000;
    const started = Date.now();
    const client = ComputeTarget.client(this.workspace);
    const path = ComputeTarget.path(this.workspace, this.name);
    let last = '';
    const report = (s: string) => {
      if (s !== last) say(`${this.name}: ${(last = s)}`);
    };
    if (this.pending) {
      const initial = this.pending;
      this.pending = undefined;
      await client.waitFor(initial, 'PUT', path, {
        what: `create compute '${this.name}'`,
        timeoutMs,
        onProgress: (p) => {
          opts.onProgress?.(p);
          report(p.status);
        },
      });
    }
    let delay = 50;
    for (;;) {
      await this.refresh();
      const s = this.status;
      report(
        `${s.provisioningState ?? 'Unknown'}${s.currentNodeCount !== undefined ? `, ${s.currentNodeCount} nodes` : ''}`,
      );
      const state = (s.provisioningState ?? '').toLowerCase();
      if (state === 'failed' || state === 'canceled')
        throw new OperationFailedError(`compute '${this.name}' provisioning ended ${s.provisioningState}`, {
          code: `Provisioning${s.provisioningState}`,
        });
      if (
        TERMINAL.includes(state) &&
        (opts.minNodeCount === undefined || (s.currentNodeCount ?? 0) >= opts.minNodeCount)
      )
        return s;
      if (Date.now() - started > timeoutMs)
        throw new OperationFailedError(
          `compute '${this.name}' was not ready within ${opts.timeoutInMinutes ?? 20} minutes (${s.provisioningState}, ${s.currentNodeCount ?? 0} nodes)`,
          { code: 'OperationTimedOut' },
        );
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }

  /** The nodes: state, and the job each runs (azureml-core `AmlCompute.list_nodes`). */
  async listNodes(): Promise<ComputeNode[]> {
    const r = await ComputeTarget.client(this.workspace).request<C.ComputeNodes>(
      'POST',
      `${ComputeTarget.path(this.workspace, this.name)}/listNodes`,
      { query: V, what: `list the nodes of compute '${this.name}'` },
    );
    return r.body.nodes;
  }

  /** Stops the compute: it takes no new work; what runs finishes, then its nodes leave. */
  async stop(): Promise<ComputeStatus> {
    return this.action('stop');
  }
  /** Starts a stopped compute. */
  async start(): Promise<ComputeStatus> {
    return this.action('start');
  }
  private async action(verb: 'stop' | 'start'): Promise<ComputeStatus> {
    const r = await ComputeTarget.client(this.workspace).request<ComputeResource>(
      'POST',
      `${ComputeTarget.path(this.workspace, this.name)}/${verb}`,
      { query: V, what: `${verb} compute '${this.name}'` },
    );
    if (r.body && typeof r.body === 'object' && r.body.properties) this.resource = r.body;
    else await this.refresh();
    return this.status;
  }

  /** Changes the scale settings (azureml-core `AmlCompute.update(min_nodes, max_nodes, idle_seconds_before_scaledown)`). */
  async update(opts: { minNodes?: number; maxNodes?: number; idleSecondsBeforeScaledown?: number }): Promise<this> {
    const current = this.status.scaleSettings;
    const minNodeCount = count(opts.minNodes, 'minNodes', 0) ?? current?.minNodeCount ?? 0;
    const maxNodeCount = count(opts.maxNodes, 'maxNodes', 1) ?? current?.maxNodeCount ?? 1;
    const idle = count(opts.idleSecondsBeforeScaledown, 'idleSecondsBeforeScaledown', 0);
    if (opts.minNodes === undefined && opts.maxNodes === undefined && idle === undefined)
      throw new ValidationError(
        'update was given nothing to change: pass minNodes, maxNodes or idleSecondsBeforeScaledown',
      );
    const scaleSettings: Record<string, unknown> = { minNodeCount, maxNodeCount };
    scaleSettings.nodeIdleTimeBeforeScaleDown =
      idle !== undefined ? `PT${idle}S` : (current?.nodeIdleTimeBeforeScaleDown ?? 'PT120S');
    const client = ComputeTarget.client(this.workspace);
    const path = ComputeTarget.path(this.workspace, this.name);
    const initial = await client.request<ComputeResource>('PATCH', path, {
      body: { properties: { properties: { scaleSettings } } },
      query: V,
      what: `update compute '${this.name}'`,
    });
    await client.waitFor(initial, 'PATCH', path, { what: `update compute '${this.name}'` });
    return this.refresh();
  }

  /** Deletes the compute (refused while jobs run on it) and waits until it is gone. */
  async delete(): Promise<void> {
    const client = ComputeTarget.client(this.workspace);
    const path = ComputeTarget.path(this.workspace, this.name);
    const r = await client.request('DELETE', path, { query: V, what: `delete compute '${this.name}'` });
    if (r.status !== 204) await client.waitFor(r, 'DELETE', path, { what: `delete compute '${this.name}'` });
  }
}
