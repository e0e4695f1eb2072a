import { Type, type Static } from '@sinclair/typebox';
import { Paged, ReadOnlyEnvelope, Resource, Tags } from './common.js';

/**
 * Workspace child assets (`W/datastores`, `W/connections`, `W/environments`, `W/data`,
 * `W/privateEndpointConnections`) and `Microsoft.Network/privateEndpoints`.
 *
 * Each type has `<Type>Properties` (its `properties` as the server answers them) and
 * `<Type>Body` (the PUT request). A PUT's `properties` are checked field by field by the server,
 * with messages that name the field (`properties.containerName must be …`), so the request
 * schemas here only require what routes the request; the answer schemas describe every field.
 */

const Str = Type.String();
const OptStr = Type.Optional(Type.String());
const StringMap = Type.Record(Type.String(), Type.String());

// ---- datastores ----

export const DatastoreCredentials = Type.Object(
  {
    credentialsType: Type.String({
      description:
        'AccountKey | Sas | AccessKey (S3) | ServicePrincipal | SqlAdmin | KerberosPassword | KerberosKeytab | None',
    }),
    accessKeyId: OptStr,
    // ServicePrincipal
    tenantId: OptStr,
    clientId: OptStr,
    authorityUrl: OptStr,
    resourceUrl: OptStr,
    // SqlAdmin
    userId: OptStr,
    // KerberosPassword / KerberosKeytab
    kerberosRealm: OptStr,
    kerberosKdcAddress: OptStr,
    kerberosPrincipal: OptStr,
  },
  { additionalProperties: true },
);
export type DatastoreCredentials = Static<typeof DatastoreCredentials>;

/** A datastore's properties: common fields, then those of its `datastoreType`. */
export const DatastoreProperties = Type.Object(
  {
    datastoreType: Type.String({
      description:
        'AzureBlob | AzureFile | AzureDataLakeGen2 | S3 | ServerFolder | AzureDataLakeGen1 | AzureSqlDatabase | AzurePostgreSql | AzureMySql | Dbfs | Hdfs',
    }),
    isDefault: Type.Optional(Type.Boolean()),
    description: OptStr,
    tags: Type.Optional(StringMap),
    properties: Type.Optional(StringMap),
    credentials: DatastoreCredentials,
    provisioningState: OptStr,
    serviceDataAccessAuthIdentity: OptStr,
    // AzureBlob / AzureFile / AzureDataLakeGen2: a container (file share, filesystem) of a storage account.
    accountName: OptStr,
    containerName: OptStr,
    fileShareName: OptStr,
    filesystem: OptStr,
    endpoint: OptStr,
    protocol: OptStr,
    subscriptionId: OptStr,
    resourceGroup: OptStr,
    // S3: a bucket (and prefix) at an allow-listed endpoint.
    bucket: OptStr,
    prefix: OptStr,
    region: OptStr,
    // ServerFolder: a folder of the server, inside its allowed roots.
    path: OptStr,
    // Registrations of services outside the server (their data is not read through it):
    // AzureDataLakeGen1
    storeName: OptStr,
    // AzureSqlDatabase / AzurePostgreSql / AzureMySql (and endpoint: the DNS suffix)
    serverName: OptStr,
    databaseName: OptStr,
    portNumber: Type.Optional(Type.Integer()),
    enableSSL: Type.Optional(Type.Boolean()),
    // Hdfs (and protocol)
    nameNodeAddress: OptStr,
    hdfsServerCertificate: OptStr,
  },
  { additionalProperties: true },
);
export type DatastoreProperties = Static<typeof DatastoreProperties>;

export const DatastoreBody = Type.Object(
  { properties: Type.Object({ datastoreType: Str }, { additionalProperties: true }), ...ReadOnlyEnvelope },
  { additionalProperties: false },
);
export type DatastoreBody = Static<typeof DatastoreBody>;
export const Datastore = Resource(DatastoreProperties);
export type Datastore = Static<typeof Datastore>;
export const DatastoreList = Paged(Datastore);
export type DatastoreList = Static<typeof DatastoreList>;
/** `POST W/datastores/{name}/listSecrets`: the secret of its credentials. */
export const DatastoreSecrets = Type.Object({ secretsType: Str }, { additionalProperties: true });
export type DatastoreSecrets = Static<typeof DatastoreSecrets>;

// ---- connections ----

export const ConnectionProperties = Type.Object(
  {
    category: Type.String({ description: 'e.g. PythonFeed, ContainerRegistry, Git, S3, CustomKeys, ApiKey' }),
    target: Str,
    authType: Type.String({ description: 'None | PAT | UsernamePassword | ApiKey | CustomKeys | AccessKey | …' }),
    credentials: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    metadata: Type.Optional(StringMap),
    value: OptStr,
    valueFormat: OptStr,
    isSharedToAll: Type.Optional(Type.Boolean()),
    expiryTime: OptStr,
  },
  { additionalProperties: true },
);
export type ConnectionProperties = Static<typeof ConnectionProperties>;
export const ConnectionBody = Type.Object(
  {
    properties: Type.Object({ authType: Str, category: Str, target: Str }, { additionalProperties: true }),
    ...ReadOnlyEnvelope,
  },
  { additionalProperties: false },
);
export type ConnectionBody = Static<typeof ConnectionBody>;
export const Connection = Resource(ConnectionProperties);
export type Connection = Static<typeof Connection>;
export const ConnectionList = Paged(Connection);
export type ConnectionList = Static<typeof ConnectionList>;

// ---- versioned assets: environments and data ----

/** `W/environments/{name}` and `W/data/{name}`: the container of an asset's versions. */
export const AssetContainerProperties = Type.Object(
  {
    description: OptStr,
    tags: Type.Optional(StringMap),
    properties: Type.Optional(StringMap),
    isArchived: Type.Optional(Type.Boolean()),
    latestVersion: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    nextVersion: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    dataType: Type.Optional(Type.String({ description: 'data only: uri_file | uri_folder | mltable' })),
  },
  { additionalProperties: true },
);
export type AssetContainerProperties = Static<typeof AssetContainerProperties>;

const versionCommon = {
  description: OptStr,
  tags: Type.Optional(StringMap),
  properties: Type.Optional(StringMap),
  isArchived: Type.Optional(Type.Boolean()),
  isAnonymous: Type.Optional(Type.Boolean()),
  provisioningState: OptStr,
  stage: OptStr,
  intellectualProperty: Type.Optional(Type.Object({}, { additionalProperties: true })),
};
/** `W/environments/{name}/versions/{version}`. */
export const EnvironmentVersionProperties = Type.Object(
  {
    ...versionCommon,
    image: OptStr,
    condaFile: OptStr,
    build: Type.Optional(Type.Object({ contextUri: OptStr, dockerfilePath: OptStr }, { additionalProperties: true })),
    osType: OptStr,
    environmentType: OptStr,
    inferenceConfig: Type.Optional(Type.Object({}, { additionalProperties: true })),
    autoRebuild: OptStr,
    environmentVariables: Type.Optional(StringMap),
    pipRequirements: OptStr,
  },
  { additionalProperties: true },
);
export type EnvironmentVersionProperties = Static<typeof EnvironmentVersionProperties>;
/** `W/data/{name}/versions/{version}`. */
export const DataVersionProperties = Type.Object(
  {
    ...versionCommon,
    dataType: Type.String({ description: 'uri_file | uri_folder | mltable' }),
    dataUri: Str,
    referencedUris: Type.Optional(Type.Array(Str)),
  },
  { additionalProperties: true },
);
export type DataVersionProperties = Static<typeof DataVersionProperties>;

/** `W/codes/{name}/versions/{version}`: an immutable, content-hashed code snapshot. */
export const CodeVersionProperties = Type.Object(
  {
    ...versionCommon,
    codeUri: Str,
    contentHash: Type.Optional(
      Type.String({ description: "sha256 over the snapshot's file paths and bytes (read-only, set by the server)" }),
    ),
  },
  { additionalProperties: true },
);
export type CodeVersionProperties = Static<typeof CodeVersionProperties>;

/** `W/models/{name}/versions/{version}`: a version of the one model registry (MLflow's); versions are whole numbers. */
export const ModelVersionProperties = Type.Object(
  {
    ...versionCommon,
    modelType: Type.Optional(Type.String({ description: 'custom_model | mlflow_model | triton_model' })),
    modelUri: Type.Optional(
      Type.String({
        description:
          'where the files are: azureml://datastores/{name}/paths/{path} (copied into the artifact store), runs:/…, models:/…, mlflow-artifacts:/…, azureml://jobs/{job}/outputs/artifacts/paths/{path}',
      }),
    ),
    flavors: Type.Optional(Type.Unknown()),
    jobName: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
export type ModelVersionProperties = Static<typeof ModelVersionProperties>;

/** `POST W/codes/{name}/versions/{version}/startPendingUpload`: where to upload a code snapshot. */
export const PendingUploadRequest = Type.Object(
  {
    pendingUploadId: Type.Optional(Type.String({ maxLength: 100 })),
    pendingUploadType: Type.Optional(Type.String({ description: 'TemporaryBlobReference (or None)' })),
  },
  { additionalProperties: true },
);
export type PendingUploadRequest = Static<typeof PendingUploadRequest>;
export const PendingUploadResponse = Type.Object({
  pendingUploadId: Str,
  pendingUploadType: Str,
  blobReferenceForConsumption: Type.Object({
    blobUri: Str,
    storageAccountArmId: Str,
    credential: Type.Object({ credentialType: Str, sasUri: Str }),
  }),
});
export type PendingUploadResponse = Static<typeof PendingUploadResponse>;

/**
 * `W/images/{id}`: the seed's images — a build record of a Python environment (kind `environment`,
 * digest = spec hash) or of a deployment package (kind `deployment`: what one provisioning of an
 * online deployment assembled; digest = hash of its model, code, environment and engine).
 */
export const ImageRecord = Type.Object({
  id: Str,
  name: Str,
  type: Str,
  properties: Type.Object({
    kind: Type.String({ description: 'environment | deployment' }),
    digest: Str,
    status: Type.String({ description: 'Running | Succeeded | Failed' }),
    environmentId: Str,
    tool: Type.String({
      description:
        'environment: uv | venv | cache (reused from another workspace or environment); deployment: the serving engine (local | ray-serve)',
    }),
    deploymentId: Type.Optional(Str),
    modelId: Type.Optional(Type.Union([Str, Type.Null()])),
    codeId: Type.Optional(Type.Union([Str, Type.Null()])),
    environmentDigest: Type.Optional(Type.Union([Str, Type.Null()])),
    sizeBytes: Type.Union([Type.Number(), Type.Null()]),
    createdTime: Str,
    finishedTime: Type.Union([Str, Type.Null()]),
    pythonVersion: Type.Union([Str, Type.Null()]),
    pipRequirements: Type.Array(Str),
    log: Type.Optional(Type.String({ description: 'the build log (GET of one image only)' })),
  }),
});
export type ImageRecord = Static<typeof ImageRecord>;
export const ImageList = Type.Object({ value: Type.Array(ImageRecord) });
export type ImageList = Static<typeof ImageList>;

/** PUT of a container or a version: `properties` checked by the server (unknown keys named in the answer). */
export const AssetBody = Type.Object(
  { properties: Type.Object({}, { additionalProperties: true }), ...ReadOnlyEnvelope },
  { additionalProperties: false },
);
export type AssetBody = Static<typeof AssetBody>;
export const AssetContainer = Resource(AssetContainerProperties);
export type AssetContainer = Static<typeof AssetContainer>;
export const EnvironmentVersion = Resource(EnvironmentVersionProperties);
export type EnvironmentVersion = Static<typeof EnvironmentVersion>;
export const DataVersion = Resource(DataVersionProperties);
export type DataVersion = Static<typeof DataVersion>;
export const CodeVersion = Resource(CodeVersionProperties);
export type CodeVersion = Static<typeof CodeVersion>;
export const ArmModelVersion = Resource(ModelVersionProperties);
export type ArmModelVersion = Static<typeof ArmModelVersion>;

// ---- private endpoints ----

/** `Microsoft.Network/privateEndpoints/{name}`: the networks it admits are its subnet's address prefixes. */
export const PrivateEndpointProperties = Type.Object(
  {
    subnet: Type.Optional(
      Type.Object(
        {
          id: OptStr,
          properties: Type.Optional(
            Type.Object({ addressPrefixes: Type.Optional(Type.Array(Str)) }, { additionalProperties: true }),
          ),
        },
        { additionalProperties: true },
      ),
    ),
    privateLinkServiceConnections: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
    manualPrivateLinkServiceConnections: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
    provisioningState: OptStr,
  },
  { additionalProperties: true },
);
export type PrivateEndpointProperties = Static<typeof PrivateEndpointProperties>;
export const PrivateEndpointBody = Type.Object(
  {
    location: Type.Optional(Type.String({ maxLength: 100 })),
    tags: Type.Optional(Tags),
    properties: Type.Object({}, { additionalProperties: true }),
    id: OptStr,
    name: OptStr,
    type: OptStr,
    etag: OptStr,
  },
  { additionalProperties: false },
);
export type PrivateEndpointBody = Static<typeof PrivateEndpointBody>;
export const PrivateEndpoint = Resource(PrivateEndpointProperties);
export type PrivateEndpoint = Static<typeof PrivateEndpoint>;

/** `W/privateEndpointConnections/{name}`. */
export const PrivateEndpointConnectionProperties = Type.Object(
  {
    privateEndpoint: Type.Optional(Type.Object({ id: OptStr }, { additionalProperties: true })),
    privateLinkServiceConnectionState: Type.Optional(
      Type.Object(
        {
          status: Type.Optional(Type.String({ description: 'Approved | Pending | Rejected | Disconnected' })),
          description: OptStr,
          actionsRequired: OptStr,
        },
        { additionalProperties: true },
      ),
    ),
    provisioningState: OptStr,
  },
  { additionalProperties: true },
);
export type PrivateEndpointConnectionProperties = Static<typeof PrivateEndpointConnectionProperties>;
export const PrivateEndpointConnectionBody = Type.Object(
  { properties: Type.Object({}, { additionalProperties: true }), ...ReadOnlyEnvelope },
  { additionalProperties: false },
);
export type PrivateEndpointConnectionBody = Static<typeof PrivateEndpointConnectionBody>;
export const PrivateEndpointConnection = Resource(PrivateEndpointConnectionProperties);
export type PrivateEndpointConnection = Static<typeof PrivateEndpointConnection>;

/** `GET W/datastores/{name}/files?path=&recursive=`: the files below a path of a datastore. */
export const DatastoreFile = Type.Object({ path: Str, size: Type.Integer(), isDir: Type.Boolean(), modified: Str });
export type DatastoreFile = Static<typeof DatastoreFile>;
export const DatastoreFileList = Type.Object({ value: Type.Array(DatastoreFile) });
export type DatastoreFileList = Static<typeof DatastoreFileList>;

/** Path of a private endpoint: `…/providers/Microsoft.Network/privateEndpoints/{name}`. */
export const PrivateEndpointParams = Type.Object({
  subscriptionId: Str,
  resourceGroupName: Str,
  name: Type.String({ maxLength: 80 }),
});
export type PrivateEndpointParams = Static<typeof PrivateEndpointParams>;

// ---- diagnostics and linked services ----

/** `POST W/diagnose` body: per-category parameters (accepted; every check runs). */
export const DiagnoseBody = Type.Object(
  { value: Type.Optional(Type.Object({}, { additionalProperties: Type.Object({}, { additionalProperties: true }) })) },
  { additionalProperties: false },
);
export type DiagnoseBody = Static<typeof DiagnoseBody>;
export const DiagnoseResult = Type.Object({
  code: Str,
  level: Type.Union([Type.Literal('Information'), Type.Literal('Warning'), Type.Literal('Error')]),
  message: Str,
});
export type DiagnoseResult = Static<typeof DiagnoseResult>;
const Results = Type.Array(DiagnoseResult);
/** 2025-09-01 `DiagnoseResponseResultValue`: one list per category. */
export const DiagnoseReport = Type.Object({
  userDefinedRouteResults: Results,
  networkSecurityRuleResults: Results,
  resourceLockResults: Results,
  dnsResolutionResults: Results,
  storageAccountResults: Results,
  keyVaultResults: Results,
  containerRegistryResults: Results,
  applicationInsightsResults: Results,
  otherResults: Results,
});
export type DiagnoseReport = Static<typeof DiagnoseReport>;
/** `GET W/diagnoseResults/{operationId}` once the diagnosis is done. */
export const DiagnoseResponse = Type.Object({ value: DiagnoseReport });
export type DiagnoseResponse = Static<typeof DiagnoseResponse>;
export const DiagnoseResultParams = Type.Object({
  subscriptionId: Str,
  resourceGroupName: Str,
  workspaceName: Str,
  operationId: Type.String({ maxLength: 64 }),
});
export type DiagnoseResultParams = Static<typeof DiagnoseResultParams>;

/** `W/linkedServices/{name}`: a link to another resource (e.g. a Synapse workspace). */
export const LinkedServiceProperties = Type.Object(
  {
    linkedServiceResourceId: Str,
    linkType: Type.String({ description: 'Synapse | MachineLearning' }),
    createdTime: Str,
  },
  { additionalProperties: true },
);
export type LinkedServiceProperties = Static<typeof LinkedServiceProperties>;
export const LinkedServiceBody = Type.Object(
  {
    properties: Type.Object({}, { additionalProperties: true }),
    location: Type.Optional(Type.String({ maxLength: 100 })),
    identity: Type.Optional(Type.Object({}, { additionalProperties: true })),
    id: OptStr,
    name: OptStr,
    type: OptStr,
  },
  { additionalProperties: false },
);
export type LinkedServiceBody = Static<typeof LinkedServiceBody>;
export const LinkedService = Resource(LinkedServiceProperties);
export type LinkedService = Static<typeof LinkedService>;
export const LinkedServiceList = Type.Object({ value: Type.Array(LinkedService) });
export type LinkedServiceList = Static<typeof LinkedServiceList>;
