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
  PRECONDITION_FAILED: "A condition of the request (If-Match, If-None-Match) does not hold.",
  PAYLOAD_TOO_LARGE: 'The request carries more data than allowed.',
  TOO_MANY_REQUESTS: 'Too many requests; try again later.',
  NOT_IMPLEMENTED: 'This server does not do this (yet).',
  INTERNAL: 'The server failed.',
  MISSING_PARAMETER: 'A required parameter of the request is missing.',

  // tracking/: experiments, runs, metrics, registry, logged models, artifacts
  EXPERIMENT_NOT_FOUND: 'No experiment with this id or name in the workspace.',
  EXPERIMENT_NOT_ACTIVE: 'The experiment is deleted; restore it first.',
  EXPERIMENT_EXISTS: 'An experiment with this name exists already.',
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
  BLOB_STORE_UNAVAILABLE: 'The blob store (an S3 bucket) could not be reached or failed.',
  BLOB_STORE_CREDENTIALS_REJECTED: "The blob store (an S3 bucket) refused the server's credentials.",
  BLOB_BUCKET_NOT_FOUND: 'The S3 bucket of the blob store does not exist.',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

export interface ErrorDetail {
  code: string;
  message: string;
  target?: string;
}

/** Transitional: a protocol code not yet replaced by a domain code (edges pass it through). */
export type UnconvertedCode = string & { readonly unconverted?: never };

export interface ErrorOptions {
  code?: ErrorCode | UnconvertedCode;
  /** The input (field, parameter) at fault, or for TooManyRequests the seconds to wait. */
  target?: string;
  details?: ErrorDetail[];
}

/** A domain error: a kind (the class), a code and a message for people. */
export class AtelierError extends Error {
  readonly kind: ErrorKind = 'internal';
  readonly code: ErrorCode | UnconvertedCode;
  readonly target?: string;
  readonly details?: ErrorDetail[];
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message);
    this.name = new.target.name;
    this.code = opts.code ?? new.target.defaultCode;
    this.target = opts.target;
    this.details = opts.details;
  }
  static defaultCode: ErrorCode = 'INTERNAL';
  /** @deprecated Transitional, for operations/ and templates/ until they record `kind`; edges use http/error-status.ts. */
  get status(): number {
    return TRANSITIONAL_STATUS[this.kind];
  }
}

const TRANSITIONAL_STATUS: Record<ErrorKind, number> = { invalid: 400, unauthenticated: 401, forbidden: 403, not_found: 404, conflict: 409, precondition: 412, too_large: 413, too_many: 429, not_implemented: 501, internal: 500 };

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
