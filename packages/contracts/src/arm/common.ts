import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * Pieces every ARM body shares (api-version 2025-09-01 shapes): the error body, paging, the
 * resource envelope, systemData, tags, long-running operation status, path parameters.
 */

export const ApiVersionQuery = Type.Object(
  {
    'api-version': Type.Optional(
      Type.String({ description: 'ARM api-version, e.g. 2025-09-01 (any date-shaped version is accepted)' }),
    ),
    $top: Type.Optional(Type.String()),
    $skipToken: Type.Optional(Type.String()),
    $skiptoken: Type.Optional(Type.String()),
    $filter: Type.Optional(Type.String()),
    $expand: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
export type ApiVersionQuery = Static<typeof ApiVersionQuery>;

export const Tags = Type.Record(Type.String({ maxLength: 512 }), Type.String({ maxLength: 256 }), {
  maxProperties: 50,
});
export type Tags = Static<typeof Tags>;

export const ArmErrorDetail = Type.Object({
  code: Type.String(),
  message: Type.String(),
  target: Type.Optional(Type.String()),
});
export type ArmErrorDetail = Static<typeof ArmErrorDetail>;
export const ArmError = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    target: Type.Optional(Type.String()),
    details: Type.Optional(Type.Array(ArmErrorDetail)),
  }),
});
export type ArmError = Static<typeof ArmError>;
/** Error answers of the control plane. */
export const ArmErrorResponses = { 400: ArmError, 401: ArmError, 403: ArmError, 404: ArmError, 409: ArmError } as const;

/** A page of a list: `nextLink` (absolute URL) when there is more. */
export const Paged = <T extends TSchema>(item: T) =>
  Type.Object({ value: Type.Array(item), nextLink: Type.Optional(Type.String()) });
export interface Page<T> {
  value: T[];
  nextLink?: string;
}

export const SystemData = Type.Object({
  createdBy: Type.Optional(Type.String()),
  createdByType: Type.Optional(Type.String({ description: 'User | Application | ManagedIdentity | Key' })),
  createdAt: Type.Optional(Type.String()),
  lastModifiedBy: Type.Optional(Type.String()),
  lastModifiedByType: Type.Optional(Type.String()),
  lastModifiedAt: Type.Optional(Type.String()),
});
export type SystemData = Static<typeof SystemData>;

export const Sku = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 100 })),
    tier: Type.Optional(Type.String({ maxLength: 100 })),
    size: Type.Optional(Type.String({ maxLength: 100 })),
    family: Type.Optional(Type.String({ maxLength: 100 })),
    capacity: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false, description: 'accepted and ignored; reported as Basic' },
);
export type Sku = Static<typeof Sku>;

const AnyObject = Type.Object({}, { additionalProperties: true });
export const ManagedServiceIdentity = Type.Object(
  {
    type: Type.String({ description: 'SystemAssigned | UserAssigned | SystemAssigned,UserAssigned | None' }),
    principalId: Type.Optional(Type.String()),
    tenantId: Type.Optional(Type.String()),
    userAssignedIdentities: Type.Optional(Type.Record(Type.String(), Type.Union([AnyObject, Type.Null()]))),
  },
  { additionalProperties: false },
);
export type ManagedServiceIdentity = Static<typeof ManagedServiceIdentity>;

/**
 * An ARM resource as the server answers it, with `properties` of its type. `location`, `kind`,
 * `sku`, `identity` only where the type has them.
 */
export const Resource = <P extends TSchema>(properties: P) =>
  Type.Object({
    id: Type.String(),
    name: Type.String(),
    type: Type.String(),
    location: Type.Optional(Type.String()),
    kind: Type.Optional(Type.String()),
    tags: Type.Optional(Type.Record(Type.String(), Type.String())),
    sku: Type.Optional(
      Type.Object(
        { name: Type.Optional(Type.String()), tier: Type.Optional(Type.String()) },
        { additionalProperties: true },
      ),
    ),
    identity: Type.Optional(
      Type.Object(
        {
          type: Type.String(),
          principalId: Type.Optional(Type.String()),
          tenantId: Type.Optional(Type.String()),
          userAssignedIdentities: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
        },
        { additionalProperties: true },
      ),
    ),
    etag: Type.Optional(Type.String()),
    systemData: Type.Optional(SystemData),
    properties,
  });
/** The read-only envelope fields a client may send back as GET answered them (accepted, ignored). */
export const ReadOnlyEnvelope = {
  id: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  type: Type.Optional(Type.String()),
  systemData: Type.Optional(Type.Unknown()),
};

/** Status of a long-running operation (the `Azure-AsyncOperation` URL's answer). */
export const OperationStatus = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: Type.String({ description: 'InProgress | Succeeded | Failed | Canceled' }),
  startTime: Type.String(),
  endTime: Type.Optional(Type.String()),
  error: Type.Optional(ArmError.properties.error),
});
export type OperationStatus = Static<typeof OperationStatus>;
export const OperationStatusParams = Type.Object({
  subscriptionId: Type.String(),
  location: Type.String(),
  operationId: Type.String(),
});
export type OperationStatusParams = Static<typeof OperationStatusParams>;
export const OperationStatusQuery = Type.Object(
  {
    ...ApiVersionQuery.properties,
    type: Type.Optional(
      Type.String({ description: "'location': answer as the Location URL (202 while running, then the result)" }),
    ),
  },
  { additionalProperties: true },
);
export type OperationStatusQuery = Static<typeof OperationStatusQuery>;

// ---- path parameters ----

export const SubscriptionParams = Type.Object({ subscriptionId: Type.String() });
export type SubscriptionParams = Static<typeof SubscriptionParams>;
export const ResourceGroupParams = Type.Object({ subscriptionId: Type.String(), resourceGroupName: Type.String() });
export type ResourceGroupParams = Static<typeof ResourceGroupParams>;
/** A resource of a resource group by `name` (storage accounts, vaults, …). */
export const GroupResourceParams = Type.Object({
  subscriptionId: Type.String(),
  resourceGroupName: Type.String(),
  name: Type.String(),
});
export type GroupResourceParams = Static<typeof GroupResourceParams>;
export const WorkspaceParams = Type.Object({
  subscriptionId: Type.String(),
  resourceGroupName: Type.String(),
  workspaceName: Type.String(),
});
export type WorkspaceParams = Static<typeof WorkspaceParams>;
/** A child of a workspace by name (datastores, connections, environments, data, …). */
export const WorkspaceChildParams = Type.Object({
  ...WorkspaceParams.properties,
  name: Type.String({ maxLength: 260 }),
});
export type WorkspaceChildParams = Static<typeof WorkspaceChildParams>;
/** A version of a workspace asset (environments/{name}/versions/{version}, data/…). */
export const WorkspaceVersionParams = Type.Object({
  ...WorkspaceParams.properties,
  name: Type.String({ maxLength: 260 }),
  version: Type.String({ maxLength: 100 }),
});
export type WorkspaceVersionParams = Static<typeof WorkspaceVersionParams>;
