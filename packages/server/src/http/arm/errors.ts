import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AtelierError, isErrorCode, type ErrorCode, type ErrorKind } from '../../errors.js';
import { HTTP_STATUS } from '../error-status.js';

export interface ArmErrorBody {
  error: { code: string; message: string; target?: string; details?: { code: string; message: string; target?: string }[] };
}

/** Each kind of domain error → ARM `error.code`, unless `ARM_CODES` names the code. */
const BY_KIND: Readonly<Record<ErrorKind, string>> = {
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
};

/**
 * The ARM `error.code` of a domain code (of an error of this kind). A code that is not a domain
 * code (one recorded before domain codes, or not yet converted) is passed through as it is.
 */
export function armCode(code: string, kind: ErrorKind): string {
  return isErrorCode(code) ? (ARM_CODES[code] ?? BY_KIND[kind]) : code;
}

/** `{code, message, target?, details?}` of a domain error (or one recorded from it) in ARM's codes. */
export function armErrorOf(e: { code: string; message: string; target?: string; details?: { code: string; message: string; target?: string }[] }, kind: ErrorKind): ArmErrorBody['error'] {
  const out: ArmErrorBody['error'] = { code: armCode(e.code, kind), message: e.message };
  if (e.target) out.target = e.target;
  if (e.details) out.details = e.details.map((d) => ({ ...d, code: armCode(d.code, 'internal') }));
  return out;
}

/** Maps any error to ARM's `{error:{code,message,target,details}}` body and its status. */
export function toArmError(err: unknown): { status: number; body: ArmErrorBody } {
  if (err instanceof AtelierError) return { status: HTTP_STATUS[err.kind], body: { error: armErrorOf(err, err.kind) } };
  const fe = err as FastifyError & { validationContext?: string };
  if (fe?.validation) {
    const details = fe.validation.map((v) => {
      const where = `${fe.validationContext ?? 'body'}${v.instancePath ? v.instancePath.replace(/\//g, '.') : ''}`;
      let message = v.message ?? 'is invalid';
      if (v.keyword === 'additionalProperties') message = `unknown property '${(v.params as { additionalProperty?: string }).additionalProperty}'; remove it`;
      if (v.keyword === 'enum') message = `must be one of: ${((v.params as { allowedValues?: unknown[] }).allowedValues ?? []).join(', ')}`;
      return { code: 'InvalidRequestContent', message: `${where}: ${message}`, target: where };
    });
    return {
      status: 400,
      body: { error: { code: 'InvalidRequestContent', message: `The request is not valid: ${details.map((d) => d.message).join('; ')}`, target: details[0]?.target, details } },
    };
  }
  const status = typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 600 ? fe.statusCode : 500;
  if (fe?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, body: { error: { code: 'RequestEntityTooLarge', message: 'The request body is too large.' } } };
  if (fe?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, body: { error: { code: 'UnsupportedMediaType', message: 'Send the body as application/json.' } } };
  if (fe?.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return { status: 400, body: { error: { code: 'InvalidRequestContent', message: 'The request body is empty; send a JSON object.' } } };
  if (status < 500) {
    const message = fe instanceof SyntaxError || /JSON/.test(fe?.message ?? '') ? `The request body is not valid JSON: ${fe.message}` : fe.message;
    return { status, body: { error: { code: status === 400 ? 'InvalidRequestContent' : 'BadRequest', message } } };
  }
  return { status: 500, body: { error: { code: 'InternalServerError', message: 'The server had an internal error; see its log.' } } };
}

export function armErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toArmError(err);
  if (status >= 500) req.log.error({ err }, 'request failed');
  void reply.status(status).header('x-ms-failure-cause', status >= 500 ? 'service' : 'gateway').send(body);
}
