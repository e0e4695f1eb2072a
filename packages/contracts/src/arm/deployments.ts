import { Type, type Static } from '@sinclair/typebox';
import { Paged, Resource, Tags } from './common.js';

/** ARM template deployments (`Microsoft.Resources/deployments`) at resource-group scope. */

export const DeploymentParams = Type.Object({
  subscriptionId: Type.String(),
  resourceGroupName: Type.String(),
  deploymentName: Type.String(),
});
export type DeploymentParams = Static<typeof DeploymentParams>;

/** PUT and validate body. The template itself is checked by the server (messages name the template's part). */
export const DeploymentBody = Type.Object(
  {
    location: Type.Optional(Type.String({ maxLength: 100 })),
    tags: Type.Optional(Tags),
    properties: Type.Object(
      {
        template: Type.Optional(Type.Object({}, { additionalProperties: true })),
        templateLink: Type.Optional(Type.Unknown()),
        parameters: Type.Optional(Type.Object({}, { additionalProperties: true })),
        parametersLink: Type.Optional(Type.Unknown()),
        mode: Type.Optional(Type.String()),
        debugSetting: Type.Optional(Type.Unknown()),
        onErrorDeployment: Type.Optional(Type.Unknown()),
        expressionEvaluationOptions: Type.Optional(Type.Unknown()),
        validationLevel: Type.Optional(Type.Unknown()),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type DeploymentBody = Static<typeof DeploymentBody>;

export const DeploymentProperties = Type.Object(
  {
    provisioningState: Type.String({ description: 'Accepted | Running | Succeeded | Failed' }),
    mode: Type.Optional(Type.String()),
    parameters: Type.Optional(Type.Object({}, { additionalProperties: true })),
    outputs: Type.Optional(Type.Object({}, { additionalProperties: true })),
    outputResources: Type.Optional(Type.Array(Type.Object({ id: Type.String() }))),
    validatedResources: Type.Optional(Type.Array(Type.Object({ id: Type.String() }))),
    error: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);
export type DeploymentProperties = Static<typeof DeploymentProperties>;
export const Deployment = Resource(DeploymentProperties);
export type Deployment = Static<typeof Deployment>;
export const DeploymentList = Paged(Deployment);
export type DeploymentList = Static<typeof DeploymentList>;
export const DeploymentOperationList = Type.Object({
  value: Type.Array(Type.Object({}, { additionalProperties: true })),
});
export type DeploymentOperationList = Static<typeof DeploymentOperationList>;
/** Status of a deployment (its Azure-AsyncOperation URL). */
export const DeploymentOperationStatus = Type.Object({
  status: Type.String({ description: 'Running | Succeeded | Failed' }),
  error: Type.Optional(Type.Unknown()),
});
export type DeploymentOperationStatus = Static<typeof DeploymentOperationStatus>;
