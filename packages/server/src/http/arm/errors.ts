import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AtelierError } from '../../errors.js';

export interface ArmErrorBody {
  error: { code: string; message: string; target?: string; details?: { code: string; message: string; target?: string }[] };
}

/** Maps any error to ARM's `{error:{code,message,target,details}}` body and its status. */
export function toArmError(err: unknown): { status: number; body: ArmErrorBody } {
  if (err instanceof AtelierError) {
    const body: ArmErrorBody = { error: { code: err.code, message: err.message } };
    if (err.target) body.error.target = err.target;
    if (err.details) body.error.details = err.details;
    return { status: err.status, body };
  }
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
