/**
 * Typed errors of the SDK. Every error the server answers (ARM `{error:{code,message,target,details}}`
 * or OAuth2 `{error,error_description}`) becomes one of these classes, chosen by HTTP status, so
 * callers can `catch (e) { if (e instanceof NotFoundError) … }` and still read the server's `code`.
 */
export interface ErrorDetail {
  code: string;
  message: string;
  target?: string;
}

export interface AtelierErrorOptions {
  code?: string;
  status?: number;
  target?: string;
  details?: ErrorDetail[];
  requestId?: string;
  cause?: unknown;
}

export class AtelierError extends Error {
  /** Machine-readable reason, e.g. `ResourceNotFound`, `WorkspaceAlreadyExists`. */
  readonly code: string;
  /** HTTP status of the answer; 0 when the error was found on the client side. */
  readonly status: number;
  readonly target?: string;
  readonly details?: ErrorDetail[];
  /** The server's `x-ms-request-id`, to find the request in its log. */
  readonly requestId?: string;
  constructor(message: string, opts: AtelierErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code ?? (new.target as unknown as { defaultCode: string }).defaultCode ?? 'Error';
    this.status = opts.status ?? 0;
    if (opts.target !== undefined) this.target = opts.target;
    if (opts.details !== undefined) this.details = opts.details;
    if (opts.requestId !== undefined) this.requestId = opts.requestId;
  }
  static defaultCode = 'Error';
}

/** The request (or a value given to the SDK) is not valid: 400, 413, or found before sending. */
export class ValidationError extends AtelierError {
  static override defaultCode = 'InvalidRequestContent';
}
/** Not signed in, or the token is expired/invalid: 401. */
export class AuthenticationError extends AtelierError {
  static override defaultCode = 'AuthenticationFailed';
}
/** Signed in, but not allowed: 403. */
export class AuthorizationError extends AtelierError {
  static override defaultCode = 'AuthorizationFailed';
}
/** The subscription, resource group, workspace or other resource does not exist (or is not visible): 404. */
export class NotFoundError extends AtelierError {
  static override defaultCode = 'ResourceNotFound';
}
/** It exists already, or its state does not allow this: 409. */
export class ConflictError extends AtelierError {
  static override defaultCode = 'Conflict';
}
/** An `If-Match`/etag precondition failed: 412. */
export class PreconditionFailedError extends AtelierError {
  static override defaultCode = 'PreconditionFailed';
}
/** Too many requests: 429 (after the SDK's own retries). */
export class ThrottledError extends AtelierError {
  static override defaultCode = 'TooManyRequests';
}
/** The server does not implement this yet: 501. */
export class NotImplementedError extends AtelierError {
  static override defaultCode = 'NotImplemented';
}
/** The server failed (5xx), or answered something that is not what the protocol says. */
export class ServiceError extends AtelierError {
  static override defaultCode = 'InternalServerError';
}
/** The server could not be reached. */
export class ConnectionError extends AtelierError {
  static override defaultCode = 'ConnectionFailed';
}
/** A long-running operation ended `Failed` or `Canceled`; `code`/`message` are the operation's error. */
export class OperationFailedError extends AtelierError {
  static override defaultCode = 'OperationFailed';
}
/** Client-side set-up is missing or wrong: no server endpoint, no config file, unreadable profile. */
export class ConfigurationError extends AtelierError {
  static override defaultCode = 'ConfigurationError';
}

/** Picks the class for an HTTP status. */
export function errorClassForStatus(status: number): typeof AtelierError {
  if (status === 400 || status === 413 || status === 415 || status === 422) return ValidationError;
  if (status === 401) return AuthenticationError;
  if (status === 403) return AuthorizationError;
  if (status === 404) return NotFoundError;
  if (status === 409) return ConflictError;
  if (status === 412) return PreconditionFailedError;
  if (status === 429) return ThrottledError;
  if (status === 501) return NotImplementedError;
  return ServiceError;
}

/**
 * Builds the typed error for a failed answer. Understands ARM bodies, OAuth2 bodies and MLflow
 * bodies (`{error_code,message}`); anything else keeps the status and a short excerpt of the text.
 */
export function errorFromResponse(
  status: number,
  body: unknown,
  text: string,
  requestId?: string,
  what?: string,
): AtelierError {
  const Cls = errorClassForStatus(status);
  const b = body as Record<string, unknown> | undefined;
  const prefix = what ? `${what}: ` : '';
  if (b && typeof b === 'object') {
    const e = b.error;
    if (e && typeof e === 'object') {
      const err = e as { code?: unknown; message?: unknown; target?: unknown; details?: unknown };
      const details = Array.isArray(err.details)
        ? (err.details as Record<string, unknown>[])
            .filter((d) => d && typeof d === 'object')
            .map((d) => ({
              code: String(d.code ?? ''),
              message: String(d.message ?? ''),
              ...(d.target ? { target: String(d.target) } : {}),
            }))
        : undefined;
      return new Cls(prefix + String(err.message ?? `HTTP ${status}`), {
        status,
        code: typeof err.code === 'string' ? err.code : undefined,
        target: typeof err.target === 'string' ? err.target : undefined,
        details,
        requestId,
      });
    }
    if (typeof e === 'string') {
      // OAuth2 (RFC 6749 §5.2): invalid_grant and invalid_client mean "who you are is not accepted".
      const C = e === 'invalid_grant' || e === 'invalid_client' ? AuthenticationError : Cls;
      return new C(prefix + String(b.error_description ?? e), { status, code: e, requestId });
    }
    if (typeof b.error_code === 'string')
      return new Cls(prefix + String(b.message ?? b.error_code), { status, code: b.error_code, requestId });
  }
  const excerpt = text.trim().slice(0, 200);
  return new Cls(`${prefix}the server answered HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`, { status, requestId });
}
