import { Type, type Static } from '@sinclair/typebox';
import { ApiVersionQuery, ManagedServiceIdentity, Paged, Resource, Sku, Tags } from './common.js';

/**
 * `Microsoft.MachineLearningServices/workspaces` (2025-09-01 shapes). Requests accept the
 * read-only fields a client sends back from a GET (ignored); unknown fields are refused.
 */

const Str = (max: number) => Type.String({ maxLength: max });
const IdOrNull = Type.Union([Type.String({ maxLength: 800 }), Type.Null()]);
const AnyObject = Type.Object({}, { additionalProperties: true });

export const KeyVaultProperties = Type.Object({
  keyVaultArmId: Type.Optional(Type.String()),
  keyIdentifier: Type.Optional(Type.String()),
  identityClientId: Type.Optional(Type.String()),
});
export type KeyVaultProperties = Static<typeof KeyVaultProperties>;

export const WorkspaceEncryption = Type.Object(
  {
    status: Type.Optional(
      Type.String({
        description:
          'Enabled (customer-managed keys: keyVaultProperties {keyVaultArmId, keyIdentifier} required; set at creation, keyIdentifier may be PATCHed to rotate) | Disabled',
      }),
    ),
    keyVaultProperties: Type.Optional(
      Type.Object({ ...KeyVaultProperties.properties }, { additionalProperties: true }),
    ),
    identity: Type.Optional(
      Type.Object({ userAssignedIdentity: Type.Optional(Type.String()) }, { additionalProperties: true }),
    ),
    cosmosDbResourceId: Type.Optional(Type.String()),
    searchAccountResourceId: Type.Optional(Type.String()),
    storageAccountResourceId: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type WorkspaceEncryption = Static<typeof WorkspaceEncryption>;

const settable = {
  friendlyName: Type.Optional(
    Type.String({
      maxLength: 256,
      pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]*$',
      description: 'no control characters',
    }),
  ),
  description: Type.Optional(Str(4096)),
  imageBuildCompute: Type.Optional(Type.Union([Str(260), Type.Null()])),
  applicationInsights: Type.Optional(IdOrNull),
  containerRegistry: Type.Optional(IdOrNull),
  systemDatastoresAuthMode: Type.Optional(Type.String({ description: 'AccessKey | Identity | UserDelegationSAS' })),
  publicNetworkAccess: Type.Optional(Type.String({ description: 'Enabled | Disabled' })),
  allowPublicAccessWhenBehindVnet: Type.Optional(Type.Boolean()),
  v1LegacyMode: Type.Optional(Type.Boolean()),
  primaryUserAssignedIdentity: Type.Optional(Type.Union([Str(800), Type.Null()])),
  encryption: Type.Optional(WorkspaceEncryption),
  serviceManagedResourcesSettings: Type.Optional(AnyObject),
  serverlessComputeSettings: Type.Optional(AnyObject),
  featureStoreSettings: Type.Optional(AnyObject),
  managedNetwork: Type.Optional(AnyObject),
  enableDataIsolation: Type.Optional(Type.Boolean()),
};

/** A workspace's `properties`: what a PUT may set, and what GET answers (read-only fields too). */
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
export type WorkspaceProperties = Static<typeof WorkspaceProperties>;

/** PUT body (Workspace). */
export const WorkspaceBody = Type.Object(
  {
    location: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    tags: Type.Optional(Tags),
    sku: Type.Optional(Sku),
    kind: Type.Optional(Type.String({ maxLength: 40, description: 'Default | Hub | Project | FeatureStore' })),
    identity: Type.Optional(ManagedServiceIdentity),
    properties: Type.Optional(WorkspaceProperties),
    id: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    type: Type.Optional(Type.String()),
    etag: Type.Optional(Type.String()),
    systemData: Type.Optional(AnyObject),
  },
  { additionalProperties: false },
);
export type WorkspaceBody = Static<typeof WorkspaceBody>;

/** PATCH body: WorkspaceUpdateParameters. Fixed fields are listed so the answer can name them. */
export const WorkspacePatchBody = Type.Object(
  {
    tags: Type.Optional(Tags),
    sku: Type.Optional(Sku),
    identity: Type.Optional(ManagedServiceIdentity),
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
export type WorkspacePatchBody = Static<typeof WorkspacePatchBody>;

/** A workspace as GET, PUT and PATCH answer it. */
export const Workspace = Type.Object({ ...Resource(WorkspaceProperties).properties, location: Type.String() });
export type Workspace = Static<typeof Workspace>;
export const WorkspaceList = Paged(Workspace);
export type WorkspaceList = Static<typeof WorkspaceList>;

export const WorkspaceQuery = Type.Object({ ...ApiVersionQuery.properties }, { additionalProperties: true });
export type WorkspaceQuery = Static<typeof WorkspaceQuery>;
export const WorkspacePatchQuery = Type.Object(
  {
    ...ApiVersionQuery.properties,
    force: Type.Optional(
      Type.String({
        description:
          'true: replace a containerRegistry / applicationInsights that still exists (updateDependencies force)',
      }),
    ),
  },
  { additionalProperties: true },
);
export type WorkspacePatchQuery = Static<typeof WorkspacePatchQuery>;
export const WorkspaceDeleteQuery = Type.Object(
  {
    ...ApiVersionQuery.properties,
    deleteDependentResources: Type.Optional(
      Type.String({
        description:
          'true: also delete the storage account, key vault, application insights and container registry (with their blobs and secrets)',
      }),
    ),
    forceToPurge: Type.Optional(
      Type.String({ description: 'accepted (2025-09-01); deletion here is always a purge (no soft delete)' }),
    ),
  },
  { additionalProperties: true },
);
export type WorkspaceDeleteQuery = Static<typeof WorkspaceDeleteQuery>;

/** `POST W/listNotebookKeys`. */
export const NotebookAccessKeys = Type.Object({
  primaryAccessKey: Type.Optional(Type.String()),
  secondaryAccessKey: Type.Optional(Type.String()),
});
export type NotebookAccessKeys = Static<typeof NotebookAccessKeys>;

/** `POST W/listKeys` (ListWorkspaceKeysResult). */
export const WorkspaceKeys = Type.Object(
  {
    userStorageKey: Type.Optional(Type.String()),
    userStorageResourceId: Type.Optional(Type.String()),
    appInsightsInstrumentationKey: Type.Optional(Type.String()),
    containerRegistryCredentials: Type.Optional(
      Type.Object({
        location: Type.Optional(Type.String()),
        username: Type.Optional(Type.String()),
        passwords: Type.Optional(
          Type.Array(Type.Object({ name: Type.Optional(Type.String()), value: Type.Optional(Type.String()) })),
        ),
      }),
    ),
    notebookAccessKeys: Type.Optional(NotebookAccessKeys),
  },
  { additionalProperties: true },
);
export type WorkspaceKeys = Static<typeof WorkspaceKeys>;
