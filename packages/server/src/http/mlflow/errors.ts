import { AtelierError, type ErrorCode, type ErrorKind } from '../../errors.js';

/** MLflow `error_code` → HTTP status, as MLflow's server answers (mlflow/exceptions.py). */
export const MLFLOW_STATUS = {
  INTERNAL_ERROR: 500,
  INVALID_STATE: 500,
  DATA_LOSS: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  REQUEST_LIMIT_EXCEEDED: 429,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  ABORTED: 409,
  RESOURCE_CONFLICT: 409,
  ALREADY_EXISTS: 409,
  NOT_FOUND: 404,
  ENDPOINT_NOT_FOUND: 404,
  RESOURCE_DOES_NOT_EXIST: 404,
  PERMISSION_DENIED: 403,
  CUSTOMER_UNAUTHORIZED: 401,
  UNAUTHENTICATED: 401,
  BAD_REQUEST: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  INVALID_PARAMETER_VALUE: 400,
} as const satisfies Record<string, number>;

export type MlflowErrorCode = keyof typeof MLFLOW_STATUS;

/** Each kind of domain error → MLflow `error_code` and status, unless `BY_CODE` names the code. */
const BY_KIND: Readonly<Record<ErrorKind, { error_code: MlflowErrorCode; status: number }>> = {
  invalid: { error_code: 'INVALID_PARAMETER_VALUE', status: 400 },
  unauthenticated: { error_code: 'UNAUTHENTICATED', status: 401 },
  forbidden: { error_code: 'PERMISSION_DENIED', status: 403 },
  not_found: { error_code: 'RESOURCE_DOES_NOT_EXIST', status: 404 },
  // MLflow answers "already exists" with 400, and a wrong state as a bad parameter (400).
  conflict: { error_code: 'RESOURCE_ALREADY_EXISTS', status: 400 },
  precondition: { error_code: 'INVALID_STATE', status: 400 },
  too_large: { error_code: 'INVALID_PARAMETER_VALUE', status: 413 },
  too_many: { error_code: 'REQUEST_LIMIT_EXCEEDED', status: 429 },
  not_implemented: { error_code: 'NOT_IMPLEMENTED', status: 501 },
  internal: { error_code: 'INTERNAL_ERROR', status: 500 },
};

/**
 * Domain codes MLflow clients tell apart → MLflow `error_code` (status from `MLFLOW_STATUS`). A code
 * not listed gets its kind's entry in `BY_KIND`.
 */
export const MLFLOW_CODES: Readonly<Partial<Record<ErrorCode, MlflowErrorCode>>> = {
  EXPERIMENT_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  EXPERIMENT_NOT_ACTIVE: 'INVALID_PARAMETER_VALUE',
  EXPERIMENT_EXISTS: 'RESOURCE_ALREADY_EXISTS',
  RUN_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  RUN_NOT_ACTIVE: 'INVALID_PARAMETER_VALUE',
  TAG_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  INVALID_METRIC_VALUE: 'INVALID_PARAMETER_VALUE',
  PARAM_CHANGED: 'INVALID_PARAMETER_VALUE',
  INVALID_SEARCH_FILTER: 'INVALID_PARAMETER_VALUE',
  INVALID_PAGE_TOKEN: 'INVALID_PARAMETER_VALUE',
  REGISTERED_MODEL_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  REGISTERED_MODEL_EXISTS: 'RESOURCE_ALREADY_EXISTS',
  MODEL_VERSION_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  MODEL_VERSION_BUSY: 'RESOURCE_ALREADY_EXISTS',
  MODEL_VERSION_EXISTS: 'RESOURCE_ALREADY_EXISTS',
  ASSET_IN_USE: 'RESOURCE_CONFLICT',
  INVALID_MODEL_REGISTRY_INPUT: 'INVALID_PARAMETER_VALUE',
  LOGGED_MODEL_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  LOGGED_MODEL_TAG_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  ARTIFACT_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  ARTIFACT_PATH_TAKEN: 'RESOURCE_ALREADY_EXISTS',
  MULTIPART_UPLOAD_NOT_FOUND: 'RESOURCE_DOES_NOT_EXIST',
  INVALID_MULTIPART_UPLOAD: 'INVALID_PARAMETER_VALUE',
  MISSING_PARAMETER: 'BAD_REQUEST',
};

/** A domain error as MLflow's `{error_code, message}` and status. */
export function mlflowErrorOf(err: AtelierError): { status: number; body: { error_code: string; message: string } } {
  const named = MLFLOW_CODES[err.code];
  if (named) return { status: MLFLOW_STATUS[named], body: { error_code: named, message: err.message } };
  const { error_code, status } = BY_KIND[err.kind];
  return { status, body: { error_code, message: err.message } };
}
