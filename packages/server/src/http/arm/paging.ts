import type { FastifyRequest } from 'fastify';
import { InvalidInput } from '../../errors.js';

export const DEFAULT_PAGE_SIZE = 100;

/**
 * ARM list paging: `{ value: [...], nextLink }`. The continuation is an opaque `$skipToken`
 * carrying the last id seen (keyset paging: stable while resources are added or removed);
 * `$top` sets the page size (1..1000).
 */
export function pageParams(req: FastifyRequest): { after?: string; top: number } {
  const q = req.query as Record<string, string | undefined>;
  let top = DEFAULT_PAGE_SIZE;
  if (q.$top !== undefined) {
    if (!/^\d+$/.test(q.$top) || Number(q.$top) < 1 || Number(q.$top) > 1000)
      throw new InvalidInput(`$top must be a whole number from 1 to 1000, got '${q.$top}'`, {
        code: 'INVALID_QUERY_PARAMETER',
        target: '$top',
      });
    top = Number(q.$top);
  }
  const token = q.$skipToken ?? q.$skiptoken;
  let after: string | undefined;
  if (token !== undefined) {
    try {
      after = Buffer.from(token, 'base64url').toString('utf8');
    } catch {
      after = undefined;
    }
    if (!after || !after.startsWith('/'))
      throw new InvalidInput('$skipToken is not valid; use the nextLink of the previous page as it is', {
        code: 'INVALID_QUERY_PARAMETER',
        target: '$skipToken',
      });
  }
  return { after, top };
}

/** The nextLink for a page that ended at `lastKey`, or undefined when the page was the last. */
export function nextLink(
  publicUrl: string,
  req: FastifyRequest,
  lastKey: string | undefined,
  hasMore: boolean,
): string | undefined {
  if (!hasMore || !lastKey) return undefined;
  const u = new URL(req.url, publicUrl);
  u.searchParams.delete('$skiptoken');
  u.searchParams.set('$skipToken', Buffer.from(lastKey, 'utf8').toString('base64url'));
  return `${publicUrl}${u.pathname}${u.search}`;
}
