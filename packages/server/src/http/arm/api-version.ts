import type { FastifyRequest } from 'fastify';
import { InvalidInput } from '../../errors.js';

/**
 * ARM requires `api-version`. Any well-formed version is accepted (bodies follow 2025-09-01);
 * a missing or malformed one is refused as ARM does.
 */
const VERSION = /^\d{4}-\d{2}-\d{2}(-preview|-alpha|-beta|-privatepreview)?$/i;

export function checkApiVersion(req: FastifyRequest): void {
  const q = req.query as Record<string, unknown> | undefined;
  const v = q?.['api-version'];
  if (v === undefined || v === '') {
    throw new InvalidInput(
      'The api-version query parameter (?api-version=) is required for all requests; use e.g. api-version=2025-09-01.',
      { code: 'API_VERSION_MISSING' },
    );
  }
  if (typeof v !== 'string' || !VERSION.test(v)) {
    throw new InvalidInput(
      `The api-version '${String(v)}' is invalid. The supported versions are dates like '2025-09-01' (optionally with '-preview').`,
      { code: 'INVALID_API_VERSION' },
    );
  }
}
