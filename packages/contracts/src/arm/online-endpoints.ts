import { Type, type Static } from '@sinclair/typebox';
import { Paged, ReadOnlyEnvelope, Resource } from './common.js';

/**
 * Online endpoints (`W/onlineEndpoints/{e}`) and their deployments (`…/deployments/{d}`), as
 * azure-ai-ml and the REST API (2025-09-01 shapes) send and read them. The server checks a PUT's
 * `properties` field by field with messages naming the field; the request schemas only require
 * what routes the request.
 */

const OptStr = Type.Optional(Type.String());
const Percents = Type.Record(Type.String(), Type.Integer({ minimum: 0, maximum: 100 }));

export const OnlineEndpointProperties = Type.Object(
  {
    authMode: Type.String({ description: 'Key | AMLToken' }),
    description: OptStr,
    traffic: Type.Optional(Percents),
    mirrorTraffic: Type.Optional(Percents),
    publicNetworkAccess: OptStr,
    compute: Type.Optional(
      Type.String({
        description:
          'ARM id of an attached Ray compute of the workspace: its Ray Serve runs the deployments (Kubernetes type); absent = this machine',
      }),
    ),
    properties: Type.Optional(Type.Record(Type.String(), Type.String())),
    provisioningState: OptStr,
    scoringUri: OptStr,
    swaggerUri: OptStr,
    keys: Type.Optional(Type.Null()),
  },
  { additionalProperties: true },
);
export const OnlineEndpointBody = Type.Object(
  {
    location: OptStr,
    tags: Type.Optional(Type.Record(Type.String(), Type.String())),
    identity: Type.Optional(Type.Object({ type: Type.String() }, { additionalProperties: true })),
    kind: OptStr,
    sku: Type.Optional(Type.Object({}, { additionalProperties: true })),
    properties: Type.Object({ authMode: Type.String() }, { additionalProperties: true }),
    ...ReadOnlyEnvelope,
  },
  { additionalProperties: false },
);
export const OnlineEndpoint = Resource(OnlineEndpointProperties);
export type OnlineEndpoint = Static<typeof OnlineEndpoint>;
export const OnlineEndpointList = Paged(OnlineEndpoint);
export const OnlineEndpointPatch = Type.Object(
  {
    tags: Type.Optional(Type.Record(Type.String(), Type.String())),
    identity: Type.Optional(Type.Object({}, { additionalProperties: true })),
    properties: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: false },
);

const Probe = Type.Object(
  {
    initialDelay: OptStr,
    period: OptStr,
    timeout: OptStr,
    failureThreshold: Type.Optional(Type.Integer()),
    successThreshold: Type.Optional(Type.Integer()),
  },
  { additionalProperties: true },
);

export const OnlineDeploymentProperties = Type.Object(
  {
    endpointComputeType: Type.String({
      description: 'Managed (this machine) or Kubernetes (the endpoint’s attached Ray compute)',
    }),
    model: OptStr,
    codeConfiguration: Type.Optional(Type.Object({ codeId: Type.String(), scoringScript: Type.String() })),
    environmentId: OptStr,
    environmentVariables: Type.Optional(Type.Record(Type.String(), Type.String())),
    instanceType: OptStr,
    containerResourceRequirements: Type.Optional(
      Type.Object(
        {
          containerResourceRequests: Type.Optional(
            Type.Object({ cpu: OptStr, memory: OptStr, gpu: OptStr }, { additionalProperties: true }),
          ),
        },
        { additionalProperties: true },
      ),
    ),
    description: OptStr,
    scaleSettings: Type.Object({ scaleType: Type.String() }, { additionalProperties: true }),
    requestSettings: Type.Optional(
      Type.Object(
        {
          maxConcurrentRequestsPerInstance: Type.Optional(Type.Integer()),
          requestTimeout: OptStr,
          maxQueueWait: OptStr,
        },
        { additionalProperties: true },
      ),
    ),
    livenessProbe: Type.Optional(Probe),
    readinessProbe: Type.Optional(Probe),
    provisioningState: OptStr,
  },
  { additionalProperties: true },
);
export const OnlineDeploymentBody = Type.Object(
  {
    location: OptStr,
    tags: Type.Optional(Type.Record(Type.String(), Type.String())),
    identity: Type.Optional(Type.Object({}, { additionalProperties: true })),
    kind: OptStr,
    sku: Type.Optional(Type.Object({ capacity: Type.Optional(Type.Integer()) }, { additionalProperties: true })),
    properties: Type.Object({}, { additionalProperties: true }),
    ...ReadOnlyEnvelope,
  },
  { additionalProperties: false },
);
export const OnlineDeployment = Resource(OnlineDeploymentProperties);
export type OnlineDeployment = Static<typeof OnlineDeployment>;
export const OnlineDeploymentList = Paged(OnlineDeployment);
export const OnlineDeploymentPatch = Type.Object(
  {
    tags: Type.Optional(Type.Record(Type.String(), Type.String())),
    sku: Type.Optional(Type.Object({ capacity: Type.Optional(Type.Integer()) }, { additionalProperties: true })),
    properties: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: false },
);

export const EndpointKeys = Type.Object({ primaryKey: Type.String(), secondaryKey: Type.String() });
export type EndpointKeys = Static<typeof EndpointKeys>;
export const EndpointAuthToken = Type.Object({
  accessToken: Type.String(),
  tokenType: Type.String(),
  expiryTimeUtc: Type.Integer({ description: 'seconds since 1970' }),
  refreshAfterTimeUtc: Type.Integer({ description: 'seconds since 1970' }),
});
export type EndpointAuthToken = Static<typeof EndpointAuthToken>;
export const RegenerateEndpointKeysBody = Type.Object(
  {
    keyType: Type.String({ description: 'Primary or Secondary' }),
    keyValue: Type.Optional(Type.String({ description: 'the new key; a random one when absent' })),
  },
  { additionalProperties: false },
);
export const DeploymentLogsBody = Type.Object(
  {
    tail: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
    containerType: Type.Optional(
      Type.String({
        description:
          'InferenceServer (the instances’ lines) or StorageInitializer (the provisioning lines); absent = both',
      }),
    ),
    instance: Type.Optional(
      Type.String({ description: 'one instance’s lines: instance-0, instance-1… (replica-… on Ray Serve)' }),
    ),
  },
  { additionalProperties: false },
);
export const DeploymentLogs = Type.Object({ content: Type.String() });
export type DeploymentLogs = Static<typeof DeploymentLogs>;
