import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context.js';
import { NotFound, NotImplemented } from '../../errors.js';

const MESSAGE =
  'ARM template deployments (Microsoft.Resources/deployments) are not available on this server yet, so clients that create ' +
  "workspaces through a template (azureml-core's Workspace.create, azure-ai-ml's workspaces.begin_create) cannot create them here. " +
  'Create the workspace with PUT …/providers/Microsoft.MachineLearningServices/workspaces/{name} instead: `atelier workspace create`, ' +
  'the Atelier SDK, @azure/arm-machinelearning or azure-mgmt-machinelearningservices; then get it with any client.';

/**
 * Resource-provider registration (always registered), and `Microsoft.Resources/deployments` at
 * resource-group and subscription scope: answered 501 with
 * what to use instead (ARM templates need an expression evaluator and nested deployments that
 * Atelier does not have). Authenticated like every route.
 */
export async function templateDeploymentRoutes(app: FastifyInstance, opts: { ctx: AppContext }): Promise<void> {
  const { ctx } = opts;
  // Resource providers (GET /subscriptions/{id}/providers/{namespace}): clients check that a
  // namespace is registered before using it; here every namespace Atelier serves always is.
  const NAMESPACES: Record<string, string[]> = {
    'Microsoft.MachineLearningServices': ['workspaces', 'workspaces/computes', 'workspaces/datastores', 'workspaces/connections', 'locations/workspaceOperationsStatus'],
    'Microsoft.Storage': ['storageAccounts'],
    'Microsoft.KeyVault': ['vaults'],
    'Microsoft.Insights': ['components', 'eventtypes'],
    'Microsoft.ContainerRegistry': ['registries'],
    'Microsoft.Authorization': ['roleAssignments', 'roleDefinitions'],
    'Microsoft.Resources': ['resourceGroups', 'deployments'],
  };
  const provider = async (req: FastifyRequest<{ Params: { subscriptionId: string; namespace: string } }>) => {
    const sub = req.params.subscriptionId.toLowerCase();
    const exists = await ctx.db.selectFrom('subscriptions').select('subscription_id').where('subscription_id', '=', sub).executeTakeFirst();
    if (!exists || !(await ctx.access.canSee(req.principal.id, `/subscriptions/${sub}`))) throw new NotFound(`subscription '${req.params.subscriptionId}' could not be found`, { code: 'SubscriptionNotFound' });
    const ns = Object.keys(NAMESPACES).find((n) => n.toLowerCase() === req.params.namespace.toLowerCase());
    if (!ns) throw new NotFound(`the resource provider namespace '${req.params.namespace}' is not served here; namespaces: ${Object.keys(NAMESPACES).join(', ')}`, { code: 'InvalidResourceNamespace' });
    // Atelier takes any location name; it reports 'local' and those its resource groups use.
    const used = await ctx.db.selectFrom('resource_groups').select('location').distinct().where('subscription_id', '=', sub).execute();
    const locations = [...new Set(['local', ...used.map((r) => r.location)])].sort();
    return {
      id: `/subscriptions/${sub}/providers/${ns}`,
      namespace: ns,
      registrationState: 'Registered',
      registrationPolicy: 'RegistrationRequired',
      resourceTypes: NAMESPACES[ns]!.map((t) => ({ resourceType: t, locations, apiVersions: ['2025-09-01'] })),
    };
  };
  app.get('/subscriptions/:subscriptionId/providers/:namespace', { schema: { hide: true } as object }, provider);
  app.post('/subscriptions/:subscriptionId/providers/:namespace/register', { schema: { hide: true } as object }, provider);

  const paths = [
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName/providers/Microsoft.Resources/deployments/:deploymentName',
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName/providers/Microsoft.Resources/deployments/:deploymentName/validate',
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName/providers/Microsoft.Resources/deployments/:deploymentName/operations',
    '/subscriptions/:subscriptionId/providers/Microsoft.Resources/deployments/:deploymentName',
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName/providers/Microsoft.Resources/deployments',
    '/subscriptions/:subscriptionId/providers/Microsoft.Resources/deployments',
  ];
  const refuse = async () => {
    throw new NotImplemented(MESSAGE, { code: 'NotImplemented' });
  };
  for (const p of paths) {
    app.put(p, { schema: { hide: true } as object }, refuse);
    app.post(p, { schema: { hide: true } as object }, refuse);
    app.get(p, { schema: { hide: true } as object }, refuse);
  }
}
