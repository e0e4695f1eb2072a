import { AZURE_REGIONS } from '../../resources/locations.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import type { Services } from '../../services.js';
import { NotFound } from '../../errors.js';

/**
 * Resource-provider registration (always registered): `GET /subscriptions/{id}/providers/{namespace}`
 * and its `register` action list the namespaces and types of the resource-type registry. Template
 * deployments (`Microsoft.Resources/deployments`) are a registry type (resources/templates/deployment-type.ts)
 * served by the generic ARM router.
 */
export async function resourceProviderRoutes(
  app: FastifyInstance,
  opts: { ctx: AppContext; services: Services },
): Promise<void> {
  const { ctx } = opts;
  // Resource providers (GET /subscriptions/{id}/providers/{namespace}): clients check that a
  // namespace is registered before using it; here every namespace Atelier serves always is (the
  // namespaces and types of the resource-type registry).
  const namespaces = opts.services.types.namespaces();
  const provider = async (req: FastifyRequest<{ Params: { subscriptionId: string; namespace: string } }>) => {
    const sub = req.params.subscriptionId.toLowerCase();
    const exists = await ctx.db
      .selectFrom('subscriptions')
      .select('subscription_id')
      .where('subscription_id', '=', sub)
      .executeTakeFirst();
    if (!exists || !(await ctx.access.canSee(req.principal.id, `/subscriptions/${sub}`)))
      throw new NotFound(`subscription '${req.params.subscriptionId}' could not be found`, {
        code: 'SUBSCRIPTION_NOT_FOUND',
      });
    const ns = Object.keys(namespaces).find((n) => n.toLowerCase() === req.params.namespace.toLowerCase());
    if (!ns)
      throw new NotFound(
        `the resource provider namespace '${req.params.namespace}' is not served here; namespaces: ${Object.keys(namespaces).join(', ')}`,
        { code: 'UNKNOWN_RESOURCE_NAMESPACE' },
      );
    // Atelier takes any location name; it reports 'local', Azure's regions (clients check a location
    // against this list before creating anything) and those its resource groups use.
    const used = await ctx.db
      .selectFrom('resource_groups')
      .select('location')
      .distinct()
      .where('subscription_id', '=', sub)
      .execute();
    const locations = [...new Set(['local', ...AZURE_REGIONS, ...used.map((r) => r.location)])].sort();
    return {
      id: `/subscriptions/${sub}/providers/${ns}`,
      namespace: ns,
      registrationState: 'Registered',
      registrationPolicy: 'RegistrationRequired',
      resourceTypes: namespaces[ns]!.map((t) => ({ resourceType: t, locations, apiVersions: ['2025-09-01'] })),
    };
  };
  app.get('/subscriptions/:subscriptionId/providers/:namespace', { schema: { hide: true } as object }, provider);
  app.post(
    '/subscriptions/:subscriptionId/providers/:namespace/register',
    { schema: { hide: true } as object },
    provider,
  );
}
