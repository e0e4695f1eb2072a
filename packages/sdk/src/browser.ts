/**
 * @atelier/sdk/browser: the part of the SDK that needs only web APIs (`fetch`, `URL`, `crypto`),
 * for browsers (the studio) and other runtimes without Node's modules. Workspaces, resource groups,
 * ARM requests and every way of signing in; the endpoint and `auth` are always given (there is no
 * environment, profile or config file here). Nothing reachable from this module imports `node:*`.
 * The Node entry (`@atelier/sdk`) exports all of this too, plus config files, the `atelier login`
 * profile, assets and tracking.
 */
export {
  Workspace,
  ServiceContext,
  type CreateWorkspaceOptions,
  type GetWorkspaceOptions,
  type UpdateWorkspaceOptions,
  type WorkspaceLookupOptions,
  type OutputSink,
} from './workspace/workspace.js';
export {
  DETAIL_KEYS,
  toDetails,
  type WorkspaceDetails,
  type WorkspaceKeys,
  type WorkspaceResource,
  type WorkspaceProperties,
} from './workspace/types.js';
export {
  checkWorkspaceName,
  parseWorkspaceId,
  workspacePath,
  groupPath,
  subscriptionPath,
  WORKSPACE_NAME,
} from './workspace/arm-ids.js';
export type { WorkspaceConfig } from './workspace/config-file.js';
export * from './constants.js';
export * from './compute/index.js';
export {
  createAccessToken,
  listAccessTokens,
  revokeAccessToken,
  type AccessTokenInfo,
  type NewAccessToken,
  type CreateAccessTokenOptions,
} from './identity/access-tokens.js';
export * from './errors.js';
export {
  ArmClient,
  API_VERSION,
  SDK_VERSION,
  retryAfterMs,
  type ArmResponse,
  type OperationProgress,
  type PollOptions,
  type RequestOptions,
} from './http/client.js';
export { normaliseEndpoint } from './http/fetch.js';
export { resolveConnection, type ConnectionOptions, type ResolvedConnection } from './connection.js';
export {
  TokenAuthentication,
  MANAGEMENT_AUDIENCE,
  jwtClaims,
  jwtExpiry,
  type AccessToken,
  type Authentication,
  type GetTokenOptions,
  type TokenCallback,
} from './auth/authentication.js';
export { requestToken, passwordGrant, refreshGrant, DEFAULT_SCOPE, type TokenGrant } from './auth/oauth.js';
export {
  ServicePrincipalAuthentication,
  needsRenewal,
  type ServicePrincipalOptions,
} from './auth/service-principal.js';
export {
  InteractiveLoginAuthentication,
  deviceCodeGrant,
  type DeviceCodePrompt,
  type DeviceCodeOptions,
  type InteractiveLoginOptions,
} from './auth/interactive-login.js';
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
export type { Env, SdkHost } from './host.js';
