import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { InvalidInput } from '../../errors.js';
import type { Services } from '../../services.js';
import type { AuditRow } from '../../identity/tables.js';
import { checkApiVersion } from '../arm/api-version.js';
import { ApiVersionQuery } from '@atelier/contracts';
import { nextLink, pageParams } from '../arm/paging.js';

const OPERATION: Record<string, string> = { PUT: 'write', PATCH: 'write', DELETE: 'delete', POST: 'action' };

/** Parses the activity log's $filter: eventTimestamp ge/le, resourceUri eq, resourceGroupName eq, caller eq, joined by 'and'. */
function parseFilter(
  filter: string,
  subscriptionId?: string,
): { from?: number; to?: number; targetPrefix?: string; caller?: string } {
  const out: { from?: number; to?: number; targetPrefix?: string; caller?: string } = {};
  for (const clause of filter.trim() ? filter.trim().split(/\s+and\s+/i) : []) {
    let m: RegExpExecArray | null;
    if ((m = /^eventTimestamp\s+(ge|le)\s+'([^']+)'$/i.exec(clause))) {
      const t = Date.parse(m[2]!);
      if (Number.isNaN(t))
        throw new InvalidInput(`'${m[2]}' in $filter is not a date; use ISO 8601 like 2026-01-31T00:00:00Z`, {
          code: 'INVALID_FILTER',
          target: '$filter',
        });
      if (m[1]!.toLowerCase() === 'ge') out.from = t;
      else out.to = t;
    } else if (
      (m = /^resourceUri\s+eq\s+'([^']+)'$/i.exec(clause)) ||
      (m = /^resourceId\s+eq\s+'([^']+)'$/i.exec(clause))
    ) {
      out.targetPrefix = m[1];
    } else if ((m = /^resourceGroupName\s+eq\s+'([^']+)'$/i.exec(clause))) {
      if (!subscriptionId)
        throw new InvalidInput(
          'resourceGroupName needs a subscription: query /subscriptions/{id}/providers/Microsoft.Insights/eventtypes/management/values',
          { code: 'INVALID_FILTER', target: '$filter' },
        );
      out.targetPrefix = `/subscriptions/${subscriptionId}/resourceGroups/${m[1]}`;
    } else if ((m = /^caller\s+eq\s+'([^']+)'$/i.exec(clause))) {
      out.caller = m[1];
    } else {
      throw new InvalidInput(
        `$filter clause '${clause}' is not supported; use eventTimestamp ge '…', eventTimestamp le '…', resourceUri eq '…', resourceGroupName eq '…' or caller eq '…', joined by 'and'`,
        { code: 'INVALID_FILTER', target: '$filter' },
      );
    }
  }
  return out;
}

/**
 * The audit log, in the shape of Azure's activity log
 * (`GET /subscriptions/{id}/providers/Microsoft.Insights/eventtypes/management/values`, and at
 * the root for changes outside subscriptions, e.g. users). Owners of the scope only.
 */
export async function auditRoutes(app: FastifyInstance, opts: { ctx: AppContext; services: Services }): Promise<void> {
  const { ctx } = opts;
  const audit = opts.services.identity.audit;

  const event = (r: AuditRow) => {
    const ts = new Date(r.at).toISOString();
    const provider = /\/providers\/([^/]+)\/([^/]+)/i.exec(r.target);
    const group = /\/resourceGroups\/([^/]+)/i.exec(r.target)?.[1];
    const resourceType = provider
      ? `${provider[1]}/${provider[2]}`
      : r.target.startsWith('/identity')
        ? 'Atelier.Identity/principals'
        : group
          ? 'Microsoft.Resources/resourceGroups'
          : 'Microsoft.Resources/subscriptions';
    const operation = `${resourceType}/${OPERATION[r.method] ?? 'action'}`;
    return {
      authorization: { action: operation, scope: r.target },
      caller: r.principal_name,
      channels: 'Operation',
      claims: { oid: r.principal_id, idtyp: r.principal_kind === 'user' ? 'user' : 'app' },
      correlationId: r.request_id,
      description: '',
      eventDataId: r.id,
      eventName: { value: 'EndRequest', localizedValue: 'End request' },
      category: { value: 'Administrative', localizedValue: 'Administrative' },
      eventTimestamp: ts,
      id: `${r.target}/events/${r.id}/ticks/${r.at * 10000 + 621355968000000000}`,
      level: 'Informational',
      operationId: r.request_id,
      operationName: { value: operation, localizedValue: `${r.method} ${r.route}` },
      resourceGroupName: group ?? null,
      resourceProviderName: {
        value: provider?.[1] ?? (r.target.startsWith('/identity') ? 'Atelier.Identity' : 'Microsoft.Resources'),
        localizedValue: provider?.[1] ?? 'Atelier',
      },
      resourceType: { value: resourceType, localizedValue: resourceType },
      resourceId: r.target,
      status: { value: 'Succeeded', localizedValue: 'Succeeded' },
      subStatus: { value: String(r.status), localizedValue: String(r.status) },
      submissionTimestamp: ts,
      subscriptionId: r.subscription_id,
      tenantId: ctx.tenantId,
      httpRequest: { clientRequestId: r.request_id, clientIpAddress: r.client_address, method: r.method, uri: r.path },
      properties: { statusCode: String(r.status), principalId: r.principal_id, principalType: r.principal_kind },
    };
  };

  const handler = async (req: FastifyRequest<{ Params: { subscriptionId?: string } }>) => {
    checkApiVersion(req);
    const sub = req.params.subscriptionId?.toLowerCase();
    const scope = sub ? `/subscriptions/${sub}` : '/';
    await ctx.access.require(
      req.principal.id,
      scope,
      'access/write',
      sub ? `subscription '${sub}' could not be found` : 'not found',
    );
    const q = req.query as Record<string, string>;
    const f = parseFilter(q.$filter ?? '', sub);
    let principalId: string | undefined;
    if (f.caller) principalId = (await ctx.principals.find(f.caller))?.id ?? '00000000-0000-0000-0000-000000000000';
    const { after, top } = pageParams(req);
    const before = after ? Number(after.slice(1)) : undefined;
    if (before !== undefined && !Number.isFinite(before))
      throw new InvalidInput('$skipToken is not valid; use the nextLink as it is', { target: '$skipToken' });
    const rows = await audit.query({
      subscriptionId: sub,
      from: f.from,
      to: f.to,
      principalId,
      targetPrefix: f.targetPrefix,
      before,
      top,
    });
    const page = rows.slice(0, top);
    return {
      value: page.map(event),
      nextLink: nextLink(
        ctx.config.publicUrl,
        req,
        page.length ? `/${page.at(-1)!.seq}` : undefined,
        rows.length > top,
      ),
    };
  };

  app.get(
    '/providers/Microsoft.Insights/eventtypes/management/values',
    { schema: { tags: ['Audit'], querystring: ApiVersionQuery } },
    handler,
  );
  app.get(
    '/subscriptions/:subscriptionId/providers/Microsoft.Insights/eventtypes/management/values',
    { schema: { tags: ['Audit'], querystring: ApiVersionQuery } },
    handler,
  );
}
