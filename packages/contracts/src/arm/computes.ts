import { Type, type Static } from '@sinclair/typebox';
import { Paged, ReadOnlyEnvelope, Resource, Tags } from './common.js';

/**
 * Compute targets `W/computes/{name}` (ARM 2025-09-01 shapes): `AmlCompute` clusters whose nodes
 * are slots of the server (`vmSize` names a node shape of its catalogue), and `Ray` clusters
 * attached by address. The server checks `properties` field by field (messages name the field);
 * the schemas here route the request and document the answers.
 */

const OptStr = Type.Optional(Type.String());

export const ScaleSettings = Type.Object(
  {
    minNodeCount: Type.Optional(Type.Integer({ description: 'nodes kept even when idle; default 0' })),
    maxNodeCount: Type.Integer({ description: 'most nodes (jobs × instanceCount) at once' }),
    nodeIdleTimeBeforeScaleDown: Type.Optional(
      Type.String({ description: 'ISO 8601 duration an idle node stays before it leaves; default PT120S' }),
    ),
  },
  { additionalProperties: true },
);
export type ScaleSettings = Static<typeof ScaleSettings>;

export const NodeStateCounts = Type.Object({
  idleNodeCount: Type.Integer(),
  runningNodeCount: Type.Integer(),
  preparingNodeCount: Type.Integer(),
  unusableNodeCount: Type.Integer(),
  leavingNodeCount: Type.Integer(),
  preemptedNodeCount: Type.Integer(),
});
export type NodeStateCounts = Static<typeof NodeStateCounts>;

/** `properties.properties` of a compute: an AmlCompute's or a Ray cluster's. */
export const ComputeInnerProperties = Type.Object(
  {
    vmSize: Type.Optional(Type.String({ description: 'AmlCompute: a node shape (Standard_DS3_v2, local-2c-4g, …)' })),
    vmPriority: OptStr,
    osType: OptStr,
    scaleSettings: Type.Optional(ScaleSettings),
    allocationState: Type.Optional(Type.String({ description: 'Steady | Resizing' })),
    currentNodeCount: Type.Optional(Type.Integer()),
    targetNodeCount: Type.Optional(Type.Integer()),
    nodeStateCounts: Type.Optional(NodeStateCounts),
    state: Type.Optional(Type.String({ description: 'Running | Stopping | Stopped' })),
    dashboardUrl: Type.Optional(
      Type.String({ description: 'Ray: the dashboard (Jobs API) address, http://host:8265' }),
    ),
    address: Type.Optional(Type.String({ description: 'Ray: the GCS address host:port' })),
  },
  { additionalProperties: true },
);
export type ComputeInnerProperties = Static<typeof ComputeInnerProperties>;

export const ComputeProperties = Type.Object(
  {
    computeType: Type.String({ description: 'AmlCompute | Ray' }),
    computeLocation: OptStr,
    description: OptStr,
    provisioningState: OptStr,
    createdOn: OptStr,
    modifiedOn: OptStr,
    isAttachedCompute: Type.Optional(Type.Boolean()),
    disableLocalAuth: Type.Optional(Type.Boolean()),
    properties: Type.Optional(ComputeInnerProperties),
  },
  { additionalProperties: true },
);
export type ComputeProperties = Static<typeof ComputeProperties>;

export const ComputeBody = Type.Object(
  {
    location: OptStr,
    tags: Type.Optional(Tags),
    identity: Type.Optional(Type.Unknown()),
    sku: Type.Optional(Type.Unknown()),
    properties: Type.Object({ computeType: Type.String() }, { additionalProperties: true }),
    ...ReadOnlyEnvelope,
  },
  { additionalProperties: false },
);
export type ComputeBody = Static<typeof ComputeBody>;

export const ComputePatchBody = Type.Object(
  {
    tags: Type.Optional(Tags),
    properties: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: false },
);
export type ComputePatchBody = Static<typeof ComputePatchBody>;

export const Compute = Resource(ComputeProperties);
export type Compute = Static<typeof Compute>;
export const ComputeList = Paged(Compute);
export type ComputeList = Static<typeof ComputeList>;

/** `POST W/computes/{name}/listNodes`. */
export const ComputeNodeInformation = Type.Object({
  nodeId: Type.String(),
  privateIpAddress: Type.Union([Type.String(), Type.Null()]),
  publicIpAddress: Type.Union([Type.String(), Type.Null()]),
  port: Type.Union([Type.Integer(), Type.Null()]),
  nodeState: Type.String({ description: 'idle | running | preparing | unusable | leaving | preempted' }),
  runId: Type.Union([Type.String(), Type.Null()]),
});
export type ComputeNodeInformation = Static<typeof ComputeNodeInformation>;
export const ComputeNodes = Type.Object({
  nodes: Type.Array(ComputeNodeInformation),
  nextLink: Type.Union([Type.String(), Type.Null()]),
});
export type ComputeNodes = Static<typeof ComputeNodes>;
