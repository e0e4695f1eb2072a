import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AtelierError, isErrorCode, type ErrorCode, type ErrorKind, type RecordedError } from '../../errors.js';
import { HTTP_STATUS, setRetryAfter } from '../error-status.js';

export interface ArmError {
  code: string;
  message: string;
  target?: string;
  details?: ArmError[];
}

export interface ArmErrorBody {
  error: ArmError;
}

/** Each kind of domain error → ARM `error.code`, unless `ARM_CODES` names the code. */
export const ARM_DEFAULT_CODES: Readonly<Record<ErrorKind, string>> = {
  invalid: 'InvalidRequestContent',
  unauthenticated: 'AuthenticationFailed',
  forbidden: 'AuthorizationFailed',
  not_found: 'ResourceNotFound',
  conflict: 'Conflict',
  precondition: 'PreconditionFailed',
  too_large: 'RequestEntityTooLarge',
  too_many: 'TooManyRequests',
  not_implemented: 'NotImplemented',
  internal: 'InternalServerError',
};

/** Domain code → ARM `error.code` (the status comes from the error's kind: http/error-status.ts). */
export const ARM_CODES: Readonly<Partial<Record<ErrorCode, string>>> = {
  // the generic codes (as each kind's default, so a code recorded without its kind maps alike)
  INVALID_INPUT: 'InvalidRequestContent',
  UNAUTHENTICATED: 'AuthenticationFailed',
  FORBIDDEN: 'AuthorizationFailed',
  NOT_FOUND: 'ResourceNotFound',
  CONFLICT: 'Conflict',
  PRECONDITION_FAILED: 'PreconditionFailed',
  PAYLOAD_TOO_LARGE: 'RequestEntityTooLarge',
  TOO_MANY_REQUESTS: 'TooManyRequests',
  NOT_IMPLEMENTED: 'NotImplemented',
  INTERNAL: 'InternalServerError',
  // blob/: the blob stores of storage accounts and datastores
  BLOB_PATH_TOO_LONG: 'PathTooLong',
  BLOB_STORE_UNAVAILABLE: 'StorageUnavailable',
  BLOB_STORE_CREDENTIALS_REJECTED: 'StorageCredentialsRejected',
  BLOB_BUCKET_NOT_FOUND: 'BucketNotFound',
  // http edge and identity
  AUTHENTICATION_REQUIRED: 'AuthenticationFailed',
  WRONG_CREDENTIALS: 'AuthenticationFailed',
  INVALID_TOKEN: 'InvalidAuthenticationToken',
  TOO_MANY_SIGN_IN_ATTEMPTS: 'too_many_attempts',
  CANNOT_CHANGE_SELF: 'CannotChangeSelf',
  PRINCIPAL_EXISTS: 'PrincipalExists',
  PRINCIPAL_NOT_FOUND: 'PrincipalNotFound',
  MANAGED_IDENTITY_CREDENTIAL: 'ManagedIdentityCredential',
  ROLE_NOT_FOUND: 'RoleDefinitionDoesNotExist',
  ROLE_ASSIGNMENT_EXISTS: 'RoleAssignmentExists',
  ROLE_ASSIGNMENT_NOT_FOUND: 'RoleAssignmentNotFound',
  ROLE_ASSIGNMENT_IMMUTABLE: 'RoleAssignmentUpdateNotPermitted',
  INVALID_ROLE_ASSIGNMENT_ID: 'InvalidRoleAssignmentId',
  INVALID_SCOPE: 'InvalidScope',
  LAST_OWNER: 'LastOwner',
  // ARM request shape (http/arm)
  API_VERSION_MISSING: 'MissingApiVersionParameter',
  INVALID_API_VERSION: 'InvalidApiVersionParameter',
  INVALID_QUERY_PARAMETER: 'InvalidQueryParameterValue',
  INVALID_FILTER: 'InvalidFilterInQueryString',
  UNKNOWN_RESOURCE_NAMESPACE: 'InvalidResourceNamespace',
  // resources/: subscriptions, groups, workspaces, dependents, the engine, templates
  SUBSCRIPTION_NOT_FOUND: 'SubscriptionNotFound',
  INVALID_SUBSCRIPTION_ID: 'InvalidSubscriptionId',
  RESOURCE_GROUP_NOT_FOUND: 'ResourceGroupNotFound',
  INVALID_RESOURCE_GROUP_NAME: 'InvalidResourceGroupName',
  RESOURCE_GROUP_BEING_DELETED: 'ResourceGroupBeingDeleted',
  RESOURCE_GROUP_LOCATION_MISMATCH: 'InvalidResourceGroupLocation',
  LOCATION_REQUIRED: 'LocationRequired',
  INVALID_RESOURCE_ID: 'InvalidResourceId',
  INVALID_RESOURCE_NAME: 'InvalidResourceName',
  INVALID_RESOURCE_TYPE: 'InvalidResourceType',
  PARENT_RESOURCE_NOT_FOUND: 'ParentResourceNotFound',
  IMMUTABLE_PROPERTY: 'CannotChangeImmutableProperty',
  CONCURRENT_UPDATE: 'ConcurrentUpdate',
  WORKSPACE_NOT_FOUND: 'ResourceNotFound',
  INVALID_WORKSPACE_NAME: 'InvalidWorkspaceName',
  WORKSPACE_BUSY: 'Conflict',
  WORKSPACE_CREATION_FAILED: 'WorkspaceCreationFailed',
  DEPENDENT_RESOURCE_NOT_FOUND: 'ResourceNotFound',
  RESOURCE_NAME_TAKEN: 'AlreadyExists',
  STORAGE_ACCOUNT_NOT_FOUND: 'StorageAccountNotFound',
  STORAGE_ACCOUNT_PROVISIONING_FAILED: 'StorageAccountProvisioningFailed',
  STORAGE_ACCOUNT_HAS_NO_KEYS: 'UserError',
  LINKED_AUTHORIZATION_FAILED: 'LinkedAuthorizationFailed',
  OPERATION_NOT_FOUND: 'OperationNotFound',
  OPERATION_INTERRUPTED: 'OperationInterrupted',
  INVALID_TEMPLATE: 'InvalidTemplate',
  INVALID_DEPLOYMENT_NAME: 'InvalidDeploymentName',
  DEPLOYMENT_NOT_FOUND: 'DeploymentNotFound',
  DEPLOYMENT_ACTIVE: 'DeploymentActive',
  DEPLOYMENT_FAILED: 'DeploymentFailed',
  DEPLOYMENT_INTERRUPTED: 'DeploymentInterrupted',
  // encryption, key vaults, keys, secrets
  KEY_VAULT_NOT_FOUND: 'VaultNotFound',
  KEY_VAULT_IN_USE: 'KeyVaultInUse',
  KEY_VAULT_MISSING: 'KeyVaultMissing',
  INVALID_KEY_VAULT_REQUEST: 'BadParameter',
  SECRET_NOT_FOUND: 'SecretNotFound',
  SECRET_DISABLED: 'Forbidden',
  KEY_NOT_FOUND: 'KeyNotFound',
  KEY_DISABLED: 'KeyDisabled',
  KEY_OPERATION_NOT_ALLOWED: 'KeyOperationNotAllowed',
  INVALID_KEY_IDENTIFIER: 'InvalidKeyIdentifier',
  CUSTOMER_KEY_NOT_FOUND: 'CustomerManagedKeyNotFound',
  CUSTOMER_KEY_DISABLED: 'CustomerManagedKeyDisabled',
  CUSTOMER_KEY_OPERATION_NOT_ALLOWED: 'CustomerManagedKeyOperationNotAllowed',
  // assets/: datastores, data, environments, connections, private endpoints, SAS
  DATASTORE_NOT_FOUND: 'UserError',
  NO_DEFAULT_DATASTORE: 'UserError',
  DATASTORE_PROTECTED: 'UserError',
  DATASTORE_HAS_NO_SECRETS: 'UserError',
  DATASTORE_SECRETS_MISSING: 'UserError',
  DATASTORE_UNAVAILABLE: 'DatastoreUnavailable',
  DATASTORE_CANNOT_BE_DEFAULT: 'UserError',
  DATASTORE_NOT_FILES: 'UserError',
  DATASTORE_CREDENTIALS_REJECTED: 'DatastoreCredentialsRejected',
  INVALID_DATASTORE_NAME: 'InvalidDatastoreName',
  S3_BUCKET_NOT_FOUND: 'BucketNotFound',
  FILE_NOT_FOUND: 'FileNotFound',
  FILE_EXISTS: 'FileExists',
  PATH_IS_FILE: 'PathIsFile',
  PATH_IS_FOLDER: 'PathIsFolder',
  INVALID_PATH: 'InvalidPath',
  LENGTH_REQUIRED: 'LengthRequired',
  CONNECTION_NOT_FOUND: 'UserError',
  CONNECTION_SECRETS_MISSING: 'UserError',
  INVALID_CONNECTION_NAME: 'InvalidConnectionName',
  ASSET_NOT_FOUND: 'UserError',
  ASSET_CURATED: 'UserError',
  ASSET_IN_USE: 'ResourceInUse',
  ASSET_VERSION_IMMUTABLE: 'UserError',
  ASSET_CONTAINER_MISMATCH: 'UserError',
  INVALID_ASSET_NAME: 'InvalidAssetName',
  INVALID_ASSET_VERSION: 'InvalidAssetVersion',
  RESERVED_NAME: 'ReservedName',
  // compute/
  COMPUTE_NOT_FOUND: 'ResourceNotFound',
  INVALID_COMPUTE_NAME: 'InvalidComputeName',
  UNKNOWN_VM_SIZE: 'InvalidVmSize',
  COMPUTE_BUSY: 'Conflict',
  COMPUTE_STOPPED: 'ComputeStopped',
  COMPUTE_UNREACHABLE: 'ComputeUnreachable',
  INVALID_PRIVATE_ENDPOINT_CONNECTION_STATE: 'InvalidPrivateEndpointConnectionState',
  PRIVATE_ENDPOINT_NETWORKS_CHANGED: 'PrivateEndpointNetworksChanged',
  PUBLIC_NETWORK_ACCESS_DISABLED: 'PublicNetworkAccessDisabled',
  INVALID_SAS_TOKEN: 'InvalidSasToken',
  SAS_SIGNATURE_MISMATCH: 'SasSignatureMismatch',
  SAS_EXPIRED: 'SasExpired',
  SAS_NOT_YET_VALID: 'SasNotYetValid',
  SAS_PERMISSION_MISMATCH: 'SasPermissionMismatch',
  BLOB_NOT_FOUND: 'BlobNotFound',
  BLOB_EXISTS: 'BlobAlreadyExists',
  INVALID_BLOB_REQUEST: 'InvalidInput',
  CONTENT_MD5_MISMATCH: 'Md5Mismatch',
  INVALID_CODE_URI: 'UserError',
  UNSAFE_CODE_CONTENT: 'UserError',
  ENVIRONMENT_NEEDS_CONTAINER: 'EnvironmentNeedsContainer',
  CONDA_PACKAGE_UNSUPPORTED: 'CondaPackageUnsupported',
  ENVIRONMENT_BUILD_FAILED: 'EnvironmentBuildFailed',
  SERVER_FOLDER_OF_ANOTHER_WORKSPACE: 'ServerFolderOfAnotherWorkspace',
  KEY_IN_USE: 'KeyInUse',
  KEY_CHANGED: 'KeyChanged',
  DEPENDENCY_ALREADY_SET: 'DependencyAlreadySet',
  SUBNET_RANGES_OVERLAP: 'NetcfgSubnetRangesOverlap',
  SUBNET_OUTSIDE_ADDRESS_SPACE: 'NetcfgSubnetRangeOutsideVnet',
  NETWORK_IN_USE: 'ResourceInUse',
};

/**
 * The ARM `error.code` of a domain code (of an error of this kind). A code that is not a domain
 * code (recorded by a server before domain codes) is passed through as it is.
 */
export function armCode(code: string, kind: ErrorKind = 'internal'): string {
  return isErrorCode(code) ? (ARM_CODES[code] ?? ARM_DEFAULT_CODES[kind]) : code;
}

/** A domain error (thrown, or recorded by an operation or deployment) as ARM's `error` object. */
export function armErrorOf(e: RecordedError): ArmErrorBody['error'] {
  const out: ArmErrorBody['error'] = { code: armCode(e.code, e.kind), message: e.message };
  if (e.target) out.target = e.target;
  if (e.details) out.details = e.details.map((d) => armErrorOf(d));
  return out;
}

/** The status of a recorded error: its kind's; an unexpected failure (no kind) is 500. */
export function armStatusOf(e: RecordedError | undefined): number {
  return HTTP_STATUS[e?.kind ?? 'internal'];
}

/** Maps any error to ARM's `{error:{code,message,target,details}}` body and its status. */
export function toArmError(err: unknown): { status: number; body: ArmErrorBody } {
  if (err instanceof AtelierError) return { status: HTTP_STATUS[err.kind], body: { error: armErrorOf(err) } };
  const fe = err as FastifyError & { validationContext?: string };
  if (fe?.validation) {
    const details = fe.validation.map((v) => {
      const where = `${fe.validationContext ?? 'body'}${v.instancePath ? v.instancePath.replace(/\//g, '.') : ''}`;
      let message = v.message ?? 'is invalid';
      if (v.keyword === 'additionalProperties')
        message = `unknown property '${(v.params as { additionalProperty?: string }).additionalProperty}'; remove it`;
      if (v.keyword === 'enum')
        message = `must be one of: ${((v.params as { allowedValues?: unknown[] }).allowedValues ?? []).join(', ')}`;
      return { code: 'InvalidRequestContent', message: `${where}: ${message}`, target: where };
    });
    return {
      status: 400,
      body: {
        error: {
          code: 'InvalidRequestContent',
          message: `The request is not valid: ${details.map((d) => d.message).join('; ')}`,
          target: details[0]?.target,
          details,
        },
      },
    };
  }
  const status =
    typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 600 ? fe.statusCode : 500;
  if (fe?.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return {
      status: 413,
      body: { error: { code: 'RequestEntityTooLarge', message: 'The request body is too large.' } },
    };
  if (fe?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return {
      status: 415,
      body: { error: { code: 'UnsupportedMediaType', message: 'Send the body as application/json.' } },
    };
  if (fe?.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
    return {
      status: 400,
      body: { error: { code: 'InvalidRequestContent', message: 'The request body is empty; send a JSON object.' } },
    };
  if (status < 500) {
    const message =
      fe instanceof SyntaxError || /JSON/.test(fe?.message ?? '')
        ? `The request body is not valid JSON: ${fe.message}`
        : fe.message;
    return { status, body: { error: { code: status === 400 ? 'InvalidRequestContent' : 'BadRequest', message } } };
  }
  return {
    status: 500,
    body: { error: { code: 'InternalServerError', message: 'The server had an internal error; see its log.' } },
  };
}

export function armErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toArmError(err);
  if (status >= 500) req.log.error({ err }, 'request failed');
  setRetryAfter(reply, err);
  void reply
    .status(status)
    .header('x-ms-failure-cause', status >= 500 ? 'service' : 'gateway')
    .send(body);
}
