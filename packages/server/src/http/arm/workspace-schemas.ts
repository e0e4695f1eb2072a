import { Type } from '@sinclair/typebox';
import { ApiVersionQuery, Tags } from './schemas.js';

/** TypeBox schemas of the workspace routes (2025-09-01 shapes; read-only fields accepted and ignored). */
const Str = (max: number) => Type.String({ maxLength: max });
const IdOrNull = Type.Union([Type.String({ maxLength: 800 }), Type.Null()]);
const AnyObject = Type.Object({}, { additionalProperties: true });

export const WorkspaceParams = Type.Object({ subscriptionId: Type.String(), resourceGroupName: Type.String(), workspaceName: Type.String() });
export const GroupParams = Type.Object({ subscriptionId: Type.String(), resourceGroupName: Type.String() });
export const SubParams = Type.Object({ subscriptionId: Type.String() });

export const Sku = Type.Object(
  { name: Type.Optional(Str(100)), tier: Type.Optional(Str(100)), size: Type.Optional(Str(100)), family: Type.Optional(Str(100)), capacity: Type.Optional(Type.Integer()) },
  { additionalProperties: false, description: 'accepted and ignored; reported as Basic' },
);

export const Identity = Type.Object(
  {
    type: Type.String({ description: 'SystemAssigned | UserAssigned | SystemAssigned,UserAssigned | None' }),
    principalId: Type.Optional(Type.String()),
    tenantId: Type.Optional(Type.String()),
    userAssignedIdentities: Type.Optional(Type.Record(Type.String(), Type.Union([AnyObject, Type.Null()]))),
  },
  { additionalProperties: false },
);

export const Encryption = Type.Object(
  {
    status: Type.Optional(Type.String({ description: 'Enabled (customer-managed keys: keyVaultProperties {keyVaultArmId, keyIdentifier} required; set at creation, keyIdentifier may be PATCHed to rotate) | Disabled' })),
    keyVaultProperties: Type.Optional(AnyObject),
    identity: Type.Optional(AnyObject),
    cosmosDbResourceId: Type.Optional(Type.String()),
    searchAccountResourceId: Type.Optional(Type.String()),
    storageAccountResourceId: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const settable = {
  friendlyName: Type.Optional(Str(256)),
  description: Type.Optional(Str(4096)),
  imageBuildCompute: Type.Optional(Type.Union([Str(260), Type.Null()])),
  applicationInsights: Type.Optional(IdOrNull),
  containerRegistry: Type.Optional(IdOrNull),
  systemDatastoresAuthMode: Type.Optional(Type.String({ description: 'AccessKey | Identity | UserDelegationSAS' })),
  publicNetworkAccess: Type.Optional(Type.String({ description: 'Enabled | Disabled' })),
  allowPublicAccessWhenBehindVnet: Type.Optional(Type.Boolean()),
  v1LegacyMode: Type.Optional(Type.Boolean()),
  primaryUserAssignedIdentity: Type.Optional(Type.Union([Str(800), Type.Null()])),
  encryption: Type.Optional(Encryption),
  serviceManagedResourcesSettings: Type.Optional(AnyObject),
  serverlessComputeSettings: Type.Optional(AnyObject),
  featureStoreSettings: Type.Optional(AnyObject),
  managedNetwork: Type.Optional(AnyObject),
  enableDataIsolation: Type.Optional(Type.Boolean()),
};

export const WorkspaceProperties = Type.Object(
  {
    ...settable,
    storageAccount: Type.Optional(IdOrNull),
    keyVault: Type.Optional(IdOrNull),
    hbiWorkspace: Type.Optional(Type.Boolean({ description: 'fixed at creation' })),
    enableServiceSideCMKEncryption: Type.Optional(Type.Boolean()),
    hubResourceId: Type.Optional(Type.String()),
    associatedWorkspaces: Type.Optional(Type.Array(Type.String())),
    workspaceHubConfig: Type.Optional(AnyObject),
    sharedPrivateLinkResources: Type.Optional(Type.Array(AnyObject)),
    provisionNetworkNow: Type.Optional(Type.Boolean()),
    // Read-only: accepted (clients send back what GET returned) and ignored.
    workspaceId: Type.Optional(Type.String()),
    provisioningState: Type.Optional(Type.String()),
    discoveryUrl: Type.Optional(Type.String()),
    mlFlowTrackingUri: Type.Optional(Type.String()),
    creationTime: Type.Optional(Type.String()),
    tenantId: Type.Optional(Type.String()),
    storageHnsEnabled: Type.Optional(Type.Boolean()),
    privateLinkCount: Type.Optional(Type.Integer()),
    notebookInfo: Type.Optional(AnyObject),
    serviceProvisionedResourceGroup: Type.Optional(Type.String()),
    privateEndpointConnections: Type.Optional(Type.Array(AnyObject)),
  },
  { additionalProperties: false },
);

export const WorkspaceBody = Type.Object(
  {
    location: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    tags: Type.Optional(Tags),
    sku: Type.Optional(Sku),
    kind: Type.Optional(Type.String({ maxLength: 40, description: 'Default | Hub | Project | FeatureStore' })),
    identity: Type.Optional(Identity),
    properties: Type.Optional(WorkspaceProperties),
    id: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    type: Type.Optional(Type.String()),
    etag: Type.Optional(Type.String()),
    systemData: Type.Optional(AnyObject),
  },
  { additionalProperties: false },
);

/** PATCH body: WorkspaceUpdateParameters. Fixed fields are listed so the answer can name them. */
export const WorkspacePatchBody = Type.Object(
  {
    tags: Type.Optional(Tags),
    sku: Type.Optional(Sku),
    identity: Type.Optional(Identity),
    properties: Type.Optional(
      Type.Object(
        {
          ...settable,
          storageAccount: Type.Optional(IdOrNull),
          keyVault: Type.Optional(IdOrNull),
          hbiWorkspace: Type.Optional(Type.Boolean({ description: 'cannot change: answered 400' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const WorkspaceQuery = Type.Object({ ...ApiVersionQuery.properties }, { additionalProperties: true });
export const PatchQuery = Type.Object({ ...ApiVersionQuery.properties, force: Type.Optional(Type.String({ description: 'true: replace a containerRegistry / applicationInsights that still exists (updateDependencies force)' })) }, { additionalProperties: true });
export const DeleteQuery = Type.Object(
  {
    ...ApiVersionQuery.properties,
    deleteDependentResources: Type.Optional(Type.String({ description: 'true: also delete the storage account, key vault, application insights and container registry (with their blobs and secrets)' })),
    forceToPurge: Type.Optional(Type.String({ description: 'accepted (2025-09-01); deletion here is always a purge (no soft delete)' })),
  },
  { additionalProperties: true },
);
