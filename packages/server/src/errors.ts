/**
 * Domain errors and their codes (one module, as Fastify's error codes).
 *
 * Domain code throws one of the classes below with a code from `ERROR_CODES`: the class says what
 * kind of failure it is (`kind`), the code says which one, in the domain's own words. Neither is a
 * protocol's: there is no HTTP status and no ARM, MLflow or OAuth code here. Each protocol edge
 * (http/arm/errors.ts, http/mlflow/errors.ts, http/identity/oauth-errors.ts) has one table from
 * kind and code to its status and its own error code.
 *
 * To add a code: add it to `ERROR_CODES` with what it means, throw it, and map it in each edge's
 * table where the edge must answer with something other than the kind's default.
 */

/** What kind of failure: each edge turns this into its status (and its default error code). */
export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'precondition'
  | 'too_large'
  | 'too_many'
  | 'not_implemented'
  | 'internal';

/** Every domain error code, declared once with its meaning. */
export const ERROR_CODES = {
  // One per kind, for a throw that needs nothing more specific (each class's default).
  INVALID_INPUT: 'The request is not valid.',
  UNAUTHENTICATED: 'The caller is not signed in, or its credentials are not valid.',
  FORBIDDEN: 'The caller may not do this.',
  NOT_FOUND: 'What the request names does not exist (or the caller may not see it).',
  CONFLICT: 'The request conflicts with the current state.',
  PRECONDITION_FAILED: 'A condition of the request (If-Match, If-None-Match) does not hold.',
  PAYLOAD_TOO_LARGE: 'The request carries more data than allowed.',
  TOO_MANY_REQUESTS: 'Too many requests; try again later.',
  NOT_IMPLEMENTED: 'This server does not do this (yet).',
  INTERNAL: 'The server failed.',
  MISSING_PARAMETER: 'A required parameter of the request is missing.',

  // tracking/: experiments, runs, metrics, registry, logged models, artifacts
  EXPERIMENT_NOT_FOUND: 'No experiment with this id or name in the workspace.',
  EXPERIMENT_NOT_ACTIVE: 'The experiment is deleted; restore it first.',
  EXPERIMENT_EXISTS: 'An experiment with this name exists already.',
  EXPERIMENT_HAS_ACTIVE_RUNS: 'The experiment has runs or jobs that have not ended; it cannot be deleted yet.',
  RUN_NOT_FOUND: 'No run with this id in the workspace.',
  RUN_NOT_ACTIVE: 'The run is deleted; restore it first.',
  TAG_NOT_FOUND: 'The run or experiment has no tag with this key.',
  INVALID_METRIC_VALUE: 'A metric value or timestamp is missing or not a number.',
  PARAM_CHANGED: 'A param was logged before with another value; params cannot change.',
  INVALID_SEARCH_FILTER: 'A search filter or order_by clause is not valid.',
  INVALID_PAGE_TOKEN: 'A page token is not one this server gave.',
  REGISTERED_MODEL_NOT_FOUND: 'No registered model with this name.',
  REGISTERED_MODEL_EXISTS: 'A registered model with this name exists already.',
  MODEL_VERSION_NOT_FOUND: 'The registered model has no such version.',
  MODEL_VERSION_BUSY: 'Too many concurrent creations of versions of one model; try again.',
  MODEL_VERSION_EXISTS: 'The registered model has a version with this number already.',
  INVALID_MODEL_REGISTRY_INPUT: 'A registered model, version, alias or tag input is not valid.',
  LOGGED_MODEL_NOT_FOUND: 'No logged model with this id.',
  LOGGED_MODEL_TAG_NOT_FOUND: 'The logged model has no tag with this key.',
  ARTIFACT_NOT_FOUND: 'No artifact at this path.',
  ARTIFACT_PATH_TAKEN: 'The artifact path is taken by a file or folder of the same name.',
  MULTIPART_UPLOAD_NOT_FOUND: 'No such multipart upload (or it expired, or its token is wrong).',
  INVALID_MULTIPART_UPLOAD: 'A multipart upload request (parts, part numbers, etags) is not valid.',

  // blob/: the blob stores of storage accounts and datastores (folders or an S3 bucket)
  BLOB_PATH_TAKEN: 'A write would make a name both a file and a folder (a file below a file, a file over a folder).',
  BLOB_PATH_TOO_LONG: 'A path is longer than blob stores allow (255 bytes a name, 1024 in all).',
  BLOB_FOLDER_REMOVED:
    'The folder a file was being written to was removed meanwhile (its workspace or storage account was deleted).',
  BLOB_STORE_UNAVAILABLE: 'The blob store (an S3 bucket) could not be reached or failed.',
  BLOB_STORE_CREDENTIALS_REJECTED: "The blob store (an S3 bucket) refused the server's credentials.",
  BLOB_BUCKET_NOT_FOUND: 'The S3 bucket of the blob store does not exist.',

  // http edge and identity
  AUTHENTICATION_REQUIRED: 'No usable credentials: send a bearer token or Basic user:password.',
  WRONG_CREDENTIALS: 'The user name or password is wrong.',
  INVALID_TOKEN: 'The token is not valid, or its principal is disabled or deleted.',
  TOO_MANY_SIGN_IN_ATTEMPTS: 'Too many failed sign-ins from this address or for this user; wait.',
  UNKNOWN_TENANT: "The tenant named in the request is not this server's.",
  CANNOT_CHANGE_SELF: 'An administrator cannot disable or delete itself.',
  PRINCIPAL_EXISTS: 'A principal with this name exists already.',
  PRINCIPAL_NOT_FOUND: 'No principal with this id.',
  MANAGED_IDENTITY_CREDENTIAL:
    "The principal is a managed identity's: it has no secrets and never signs in with one (it gets tokens from the managed identity endpoint only).",
  ROLE_NOT_FOUND: 'No role (definition) with this name or id.',
  ROLE_ASSIGNMENT_EXISTS: 'The principal has this role at this scope already.',
  ROLE_ASSIGNMENT_NOT_FOUND: 'No role assignment with this name at this scope.',
  ROLE_ASSIGNMENT_IMMUTABLE: 'A role assignment cannot change; delete it and assign again.',
  INVALID_ROLE_ASSIGNMENT_ID: 'A role assignment name must be a GUID.',
  INVALID_SCOPE: 'The scope is not a subscription, resource group or resource id.',
  LAST_OWNER: 'The last Owner of the server cannot be removed.',
  REFRESH_TOKEN_INVALID: "The refresh token is unknown, revoked, expired, reused or another client's.",
  DEVICE_CODE_INVALID: "The device code is unknown, used, or another client's.",
  DEVICE_CODE_EXPIRED: 'The device code has expired; start the sign-in again.',
  SIGN_IN_DECLINED: 'The user declined the device sign-in.',
  SIGN_IN_PENDING: 'The user has not yet approved the device sign-in.',
  POLLING_TOO_FAST: 'The device polls for its token more often than allowed.',
  AUTHORIZATION_CODE_INVALID:
    "The authorization code is unknown, expired, used, another client's or redirect URI's, or its PKCE verifier is wrong.",
  PKCE_REQUIRED: 'The authorization-code flow needs PKCE with code_challenge_method=S256 and a well-formed verifier.',
  UNKNOWN_CLIENT: 'No OAuth2 client with this client_id may use the authorization-code flow.',
  REDIRECT_URI_NOT_ALLOWED: "The redirect_uri is not one of the client's registered redirect URIs.",

  // ARM request shape (http/arm)
  API_VERSION_MISSING: 'The api-version query parameter is missing.',
  INVALID_API_VERSION: 'The api-version is not a date version.',
  INVALID_QUERY_PARAMETER: 'A query parameter ($top, $skipToken, a flag) is not valid.',
  INVALID_FILTER: 'A $filter is not one this server supports.',
  UNKNOWN_RESOURCE_NAMESPACE: 'The resource provider namespace is not served here.',

  // resources/: subscriptions, groups, workspaces, dependents, the engine, templates
  SUBSCRIPTION_NOT_FOUND: 'No subscription with this id (or the caller may not see it).',
  INVALID_SUBSCRIPTION_ID: 'A subscription id must be a GUID.',
  RESOURCE_GROUP_NOT_FOUND: 'No resource group with this name (or the caller may not see it).',
  INVALID_RESOURCE_GROUP_NAME: 'The resource group name is not valid.',
  RESOURCE_GROUP_BEING_DELETED: 'The resource group is being deleted.',
  RESOURCE_GROUP_LOCATION_MISMATCH: "A resource group's location cannot change.",
  LOCATION_REQUIRED: 'A location is required.',
  INVALID_RESOURCE_ID: 'The text is not an ARM resource id.',
  INVALID_RESOURCE_NAME: 'The resource name is not valid for its type.',
  INVALID_RESOURCE_TYPE: 'The resource type is not one this place takes.',
  PARENT_RESOURCE_NOT_FOUND: 'The parent of the resource does not exist.',
  IMMUTABLE_PROPERTY: 'A property that is fixed at creation was given another value.',
  CONCURRENT_UPDATE: 'Another request changed the resource at the same time; read it and try again.',
  WORKSPACE_NOT_FOUND: 'No workspace with this name or id (or it is not ready).',
  INVALID_WORKSPACE_NAME: 'The workspace name is not valid.',
  WORKSPACE_BUSY: 'The workspace is being created, changed or deleted by another operation.',
  WORKSPACE_CREATION_FAILED: 'The workspace could not be created.',
  DEPENDENT_RESOURCE_NOT_FOUND: 'A dependent resource named by id (storage account, key vault, …) does not exist.',
  RESOURCE_NAME_TAKEN: 'The name is taken (names of some resource types are unique on the server).',
  STORAGE_ACCOUNT_NOT_FOUND: 'No storage account with this name or id.',
  STORAGE_ACCOUNT_PROVISIONING_FAILED: "The storage account's folder could not be made.",
  STORAGE_ACCOUNT_HAS_NO_KEYS: 'The storage account has no keys.',
  LINKED_AUTHORIZATION_FAILED: 'The caller may not use a resource the request links to.',
  OPERATION_NOT_FOUND: 'No long-running operation with this id.',
  OPERATION_INTERRUPTED: 'The server running the operation stopped; what it made was undone.',
  INVALID_TEMPLATE: 'The template (or a template expression) is not valid.',
  INVALID_DEPLOYMENT_NAME: 'The deployment name is not valid.',
  DEPLOYMENT_NOT_FOUND: 'No template deployment with this name.',
  DEPLOYMENT_ACTIVE: 'The deployment is still running.',
  DEPLOYMENT_FAILED: 'A resource of the deployment failed; what it made was removed.',
  DEPLOYMENT_INTERRUPTED: 'The server stopped while the deployment ran; what it made was removed.',

  // encryption, key vaults, keys, secrets
  KEY_VAULT_NOT_FOUND: 'No key vault with this name.',
  KEY_VAULT_IN_USE:
    'The key vault is in use by a workspace: another workspace with customer-managed keys, or a workspace that names it as its keyVault (its secrets live there).',
  KEY_VAULT_MISSING: 'The workspace has no key vault to keep the secrets in.',
  INVALID_KEY_VAULT_REQUEST: 'A key vault key or secret request is not valid.',
  SECRET_NOT_FOUND: 'No secret with this name (or version).',
  SECRET_DISABLED: 'The secret is disabled.',
  KEY_NOT_FOUND: 'No key with this name (or version) in the key vault.',
  KEY_DISABLED: 'The key is disabled.',
  KEY_OPERATION_NOT_ALLOWED: 'The key does not allow this operation (wrapKey, unwrapKey, …).',
  INVALID_KEY_IDENTIFIER: 'The key identifier is not a key URL of the key vault.',
  CUSTOMER_KEY_NOT_FOUND: 'The customer-managed key that encrypts the data is gone.',
  CUSTOMER_KEY_DISABLED: 'The customer-managed key that encrypts the data is disabled.',
  CUSTOMER_KEY_OPERATION_NOT_ALLOWED: 'The customer-managed key does not allow wrapping or unwrapping.',

  // assets/: datastores, data, environments, connections, private endpoints, SAS
  DATASTORE_NOT_FOUND: 'No datastore with this name in the workspace.',
  NO_DEFAULT_DATASTORE: 'The workspace has no default datastore.',
  DATASTORE_PROTECTED: 'A system or default datastore cannot be deleted.',
  DATASTORE_HAS_NO_SECRETS: "The datastore uses the caller's identity and keeps no secrets.",
  DATASTORE_SECRETS_MISSING: "The datastore's secrets are missing from the workspace's key vault.",
  DATASTORE_UNAVAILABLE: "The datastore's storage cannot be reached or no longer exists.",
  DATASTORE_CANNOT_BE_DEFAULT:
    'The datastore is of a kind (a database, DBFS, HDFS, Data Lake Gen1) that cannot be the default datastore.',
  DATASTORE_NOT_FILES:
    "The datastore's data is not files this server reads or writes (a database, or a service the server does not host).",
  DATASTORE_CREDENTIALS_REJECTED: "The datastore's storage rejected its credentials.",
  INVALID_DATASTORE_NAME: 'The datastore name is not valid.',
  S3_BUCKET_NOT_FOUND: 'The S3 bucket of the datastore does not exist.',

  // jobs/executors/ray, deployments/engines/ray-serve: a Ray cluster spoken to over its HTTP APIs
  RAY_CLUSTER_UNAVAILABLE: "The Ray cluster's dashboard (Jobs API) could not be reached or failed.",
  RAY_REQUEST_REJECTED: 'The Ray cluster refused a request (its answer says why).',
  RAY_PACKAGE_TOO_LARGE:
    'A folder sent to a Ray cluster (code, model) is larger than it takes as one package (512 MiB zipped).',
  FILE_NOT_FOUND: 'No file or folder at this path of the datastore.',
  FILE_EXISTS: 'A file exists at this path already.',
  PATH_IS_FILE: 'A path lies below a file (a name cannot be a file and a folder).',
  PATH_IS_FOLDER: 'The path is a folder, not a file.',
  INVALID_PATH: "The path is not valid (encoding, '..', NUL, …).",
  LENGTH_REQUIRED: 'An upload must say its length.',
  CONNECTION_NOT_FOUND: 'No connection with this name in the workspace.',
  CONNECTION_SECRETS_MISSING: "The connection's secrets are missing from the workspace's key vault.",
  INVALID_CONNECTION_NAME: 'The connection name is not valid.',
  ASSET_NOT_FOUND: 'No asset (data, environment, …) or version with this name.',
  ASSET_CURATED: 'A curated asset cannot be deleted.',
  ASSET_IN_USE: 'The asset version is used by a queued or running job or by a deployment.',
  ASSET_VERSION_IMMUTABLE: 'An asset version exists already and versions cannot change.',
  ASSET_CONTAINER_MISMATCH: 'The asset version does not fit the asset it belongs to.',
  INVALID_ASSET_NAME: 'The asset name is not valid.',
  INVALID_ASSET_VERSION: 'The asset version is not valid.',
  RESERVED_NAME: 'The name is reserved.',
  INVALID_PRIVATE_ENDPOINT_CONNECTION_STATE: 'The private endpoint connection cannot move to this state.',
  PRIVATE_ENDPOINT_NETWORKS_CHANGED: "The private endpoint's networks changed since the connection was looked at.",
  PUBLIC_NETWORK_ACCESS_DISABLED: 'The workspace takes no requests from the public network.',
  INVALID_SAS_TOKEN: 'The SAS token is malformed.',
  SAS_SIGNATURE_MISMATCH: "The SAS token's signature does not match.",
  SAS_EXPIRED: 'The SAS token has expired.',
  SAS_NOT_YET_VALID: 'The SAS token is not valid yet.',
  SAS_PERMISSION_MISMATCH: 'The SAS token does not allow this operation.',
  SERVER_FOLDER_OF_ANOTHER_WORKSPACE: "The server folder belongs to another workspace's datastores.",
  KEY_IN_USE: "The key protects a workspace's data and cannot be disabled or deleted.",
  KEY_CHANGED: 'The customer-managed key was deleted or disabled while data was being put under it.',
  DEPENDENCY_ALREADY_SET: 'The workspace already uses a dependent resource of this type that still exists.',

  // network/: virtual networks, subnets, private DNS zones
  SUBNET_RANGES_OVERLAP: "A subnet's address range overlaps another subnet of its virtual network.",
  SUBNET_OUTSIDE_ADDRESS_SPACE: "A subnet's address range is not inside its virtual network's address space.",
  NETWORK_IN_USE: 'The virtual network, subnet or private DNS zone is used by another resource.',

  // deployments/: online endpoints, their deployments, the scoring proxy
  ONLINE_ENDPOINT_NOT_FOUND: 'No online endpoint with this name in the workspace.',
  ONLINE_DEPLOYMENT_NOT_FOUND: 'The online endpoint has no deployment with this name.',
  INVALID_ENDPOINT_NAME: 'The online endpoint or deployment name is not valid.',
  INVALID_TRAFFIC: 'A traffic or mirror traffic split is not valid (unknown deployment, not summing to 100).',
  ONLINE_DEPLOYMENT_BUSY: 'The deployment (or its endpoint) is being created, updated or deleted by another operation.',
  ONLINE_DEPLOYMENT_FAILED: 'The deployment could not start: its model or scoring script failed to load.',
  ONLINE_DEPLOYMENT_NOT_READY: 'The deployment has no instance ready to take requests.',
  NO_DEPLOYMENT_TO_ROUTE_TO: 'The endpoint has no deployment with traffic and the request named none.',
  SCORING_TIMEOUT: 'The deployment did not answer within its request timeout.',
  SCORING_QUEUE_FULL: "The deployment's instances are busy and the request waited longer than allowed.",
  SCORING_UPSTREAM_FAILED: 'The instance serving the request failed (it crashed or closed the connection).',
  MODEL_SOURCE_UNAVAILABLE: "The deployment's model could not be read from the artifact store.",
  ENVIRONMENT_BUILDS_UNAVAILABLE: 'Environment builds or code snapshots are not available on this server.',

  // blob-service/ (the Azure Blob REST subset), codes/ (code assets), environment-builds/
  BLOB_NOT_FOUND: 'No blob with this name in the container.',
  BLOB_EXISTS: 'A blob with this name exists already (If-None-Match: *).',
  INVALID_BLOB_REQUEST: 'A Blob REST request (block id, block list, range, header) is not valid.',
  CONTENT_MD5_MISMATCH: 'The bytes received do not match the Content-MD5 the request gave.',
  INVALID_CODE_URI: 'The codeUri of a code asset does not name a folder this workspace can read.',
  UNSAFE_CODE_CONTENT:
    'A code snapshot holds an entry that would escape its folder (.., absolute path, symlink, device file).',
  ENVIRONMENT_NEEDS_CONTAINER: 'The environment is only a container image, and this server has no container runtime.',
  CONDA_PACKAGE_UNSUPPORTED:
    'A conda file names a conda-only package; without a conda solver only python and pip packages can be installed.',
  ENVIRONMENT_BUILD_FAILED: 'Building the Python environment failed; its log says why.',
  // compute/: compute targets (clusters of this machine, attached Ray clusters)
  COMPUTE_NOT_FOUND: 'No compute with this name in the workspace.',
  INVALID_COMPUTE_NAME: 'The compute name is not valid.',
  UNKNOWN_VM_SIZE: 'The vmSize names no node shape of this server.',
  COMPUTE_BUSY: 'The compute is being created, or runs jobs, and cannot be changed or deleted now.',
  COMPUTE_STOPPED: 'The compute is stopped and takes no new work; start it.',
  COMPUTE_UNREACHABLE: 'The attached cluster of the compute could not be reached.',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

export interface ErrorOptions {
  code?: ErrorCode;
  /** The input (field, parameter) at fault, or for TooManyRequests the seconds to wait. */
  target?: string;
  details?: RecordedError[];
}

/**
 * A domain error as it is kept for later (a failed operation or deployment): the edge that serves
 * it maps `code` and `kind` as it maps a thrown error. `kind` is absent for an unexpected failure
 * (not a domain error); rows written before domain codes hold the edge's code and no kind.
 */
export interface RecordedError {
  code: string;
  kind?: ErrorKind;
  message: string;
  target?: string;
  details?: RecordedError[];
}

/** `e` as a `RecordedError` (without details); anything but a domain error is INTERNAL, with `unexpected` before its message. */
export function recordError(e: unknown, unexpected: string, target?: string): RecordedError {
  if (e instanceof AtelierError) {
    const at = e.target ?? target;
    return { code: e.code, kind: e.kind, message: e.message, ...(at ? { target: at } : {}) };
  }
  return {
    code: 'INTERNAL',
    message: `${unexpected}${(e as Error)?.message ?? String(e)}`,
    ...(target ? { target } : {}),
  };
}

/** A domain error: a kind (the class), a code and a message for people. */
export class AtelierError extends Error {
  readonly kind: ErrorKind = 'internal';
  readonly code: ErrorCode;
  readonly target?: string;
  readonly details?: RecordedError[];
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message);
    this.name = new.target.name;
    this.code = opts.code ?? new.target.defaultCode;
    this.target = opts.target;
    this.details = opts.details;
  }
  static defaultCode: ErrorCode = 'INTERNAL';
}

export class InvalidInput extends AtelierError {
  override readonly kind = 'invalid';
  static override defaultCode: ErrorCode = 'INVALID_INPUT';
}
export class Unauthenticated extends AtelierError {
  override readonly kind = 'unauthenticated';
  static override defaultCode: ErrorCode = 'UNAUTHENTICATED';
}
export class Forbidden extends AtelierError {
  override readonly kind = 'forbidden';
  static override defaultCode: ErrorCode = 'FORBIDDEN';
}
export class NotFound extends AtelierError {
  override readonly kind = 'not_found';
  static override defaultCode: ErrorCode = 'NOT_FOUND';
}
export class Conflict extends AtelierError {
  override readonly kind = 'conflict';
  static override defaultCode: ErrorCode = 'CONFLICT';
}
export class PreconditionFailed extends AtelierError {
  override readonly kind = 'precondition';
  static override defaultCode: ErrorCode = 'PRECONDITION_FAILED';
}
export class PayloadTooLarge extends AtelierError {
  override readonly kind = 'too_large';
  static override defaultCode: ErrorCode = 'PAYLOAD_TOO_LARGE';
}
export class TooManyRequests extends AtelierError {
  override readonly kind = 'too_many';
  static override defaultCode: ErrorCode = 'TOO_MANY_REQUESTS';
}
/** A feature that is not built yet: says so instead of pretending. */
export class NotImplemented extends AtelierError {
  override readonly kind = 'not_implemented';
  static override defaultCode: ErrorCode = 'NOT_IMPLEMENTED';
}
