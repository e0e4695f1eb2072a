/**
 * Business errors. Domain code throws these; each protocol edge (ARM, MLflow, OAuth2) maps them once
 * to its own error body and status. `code` is a protocol-neutral hint (e.g. ARM's error code).
 */
export class AtelierError extends Error {
  readonly status: number = 500;
  readonly code: string;
  readonly target?: string;
  readonly details?: { code: string; message: string; target?: string }[];
  constructor(message: string, opts: { code?: string; target?: string; details?: { code: string; message: string; target?: string }[] } = {}) {
    super(message);
    this.name = new.target.name;
    this.code = opts.code ?? new.target.defaultCode;
    this.target = opts.target;
    this.details = opts.details;
  }
  static defaultCode = 'InternalServerError';
}

export class InvalidInput extends AtelierError {
  override readonly status = 400;
  static override defaultCode = 'InvalidRequestContent';
}
export class Unauthenticated extends AtelierError {
  override readonly status = 401;
  static override defaultCode = 'AuthenticationFailed';
}
export class Forbidden extends AtelierError {
  override readonly status = 403;
  static override defaultCode = 'AuthorizationFailed';
}
export class NotFound extends AtelierError {
  override readonly status = 404;
  static override defaultCode = 'ResourceNotFound';
}
export class Conflict extends AtelierError {
  override readonly status = 409;
  static override defaultCode = 'Conflict';
}
export class PreconditionFailed extends AtelierError {
  override readonly status = 412;
  static override defaultCode = 'PreconditionFailed';
}
export class PayloadTooLarge extends AtelierError {
  override readonly status = 413;
  static override defaultCode = 'RequestEntityTooLarge';
}
export class TooManyRequests extends AtelierError {
  override readonly status = 429;
  static override defaultCode = 'TooManyRequests';
}
/** A feature that is not built yet: says so instead of pretending (HTTP 501). */
export class NotImplemented extends AtelierError {
  override readonly status = 501;
  static override defaultCode = 'NotImplemented';
}
