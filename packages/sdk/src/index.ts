/** @atelier/sdk: the TypeScript SDK of Atelier (the seed's `azureml.core.Workspace`, and more as it lands). */
export { Workspace, ServiceContext, type CreateWorkspaceOptions, type GetWorkspaceOptions, type UpdateWorkspaceOptions, type WorkspaceLookupOptions, type OutputSink } from './workspace/workspace.js';
export { DETAIL_KEYS, toDetails, type WorkspaceDetails, type WorkspaceKeys, type WorkspaceResource, type WorkspaceProperties } from './workspace/types.js';
export { findConfigFile, loadWorkspaceConfig, readConfigFile, writeWorkspaceConfig, CONFIG_FILE_NAMES, CONFIG_FOLDERS, type WorkspaceConfig } from './workspace/config-file.js';
export { checkWorkspaceName, parseWorkspaceId, workspacePath, groupPath, subscriptionPath, WORKSPACE_NAME } from './workspace/arm-ids.js';
export * from './constants.js';
export * from './errors.js';
export { ArmClient, API_VERSION, SDK_VERSION, retryAfterMs, type ArmResponse, type OperationProgress, type PollOptions, type RequestOptions } from './http/client.js';
export { normaliseEndpoint } from './http/fetch.js';
export { resolveConnection, type ConnectionOptions, type ResolvedConnection } from './connection.js';
export { TokenAuthentication, MANAGEMENT_AUDIENCE, jwtClaims, jwtExpiry, type AccessToken, type Authentication, type GetTokenOptions, type TokenCallback } from './auth/authentication.js';
export { ProfileAuthentication, saveLogin, configDir, profilePath, readProfile, writeProfile, deleteProfile, loginWithPassword, type Profile, type PasswordLoginOptions } from './auth/profile.js';
export { requestToken, passwordGrant, refreshGrant, DEFAULT_SCOPE, type TokenGrant } from './auth/oauth.js';
export { ServicePrincipalAuthentication, needsRenewal, type ServicePrincipalOptions } from './auth/service-principal.js';
export { InteractiveLoginAuthentication, deviceCodeGrant, loginWithDeviceCode, type DeviceCodePrompt, type DeviceCodeOptions, type InteractiveLoginOptions } from './auth/interactive-login.js';
export {
  createClient,
  listSubscriptions,
  resolveSubscription,
  getResourceGroup,
  createResourceGroup,
  listResourceGroups,
  deleteResourceGroup,
  type Subscription,
  type ResourceGroup,
} from './resource-groups.js';
export * from './assets/index.js';
export * from './tracking/index.js';
