import type { ErrorKind } from '../errors.js';

/**
 * The HTTP status of each kind of domain error, shared by the edges (ARM, the device page, and as
 * the starting point of MLflow's and OAuth's own tables).
 */
export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  precondition: 412,
  too_large: 413,
  too_many: 429,
  not_implemented: 501,
  internal: 500,
};
