import { NotImplemented } from '../../errors.js';

/**
 * The resource families and actions of Azure Machine Learning's REST API (2025-09-01) below a
 * workspace. Those Atelier serves have their own routes, which win over the fallback below; a
 * request that reaches the fallback for one of these names is a family (or an operation of it)
 * that is not built here (`unbuiltFamily`).
 */
const WORKSPACE_FAMILIES = new Set(
  [
    'batchEndpoints',
    'capabilityHosts',
    'codes',
    'components',
    'computes',
    'connections',
    'data',
    'datastores',
    'endpoints',
    'environments',
    'featuresets',
    'featurestoreEntities',
    'inferencePools',
    'jobs',
    'labelingJobs',
    'linkedServices',
    'listNotebookAccessToken',
    'managedNetworks',
    'marketplaceSubscriptions',
    'models',
    'onlineEndpoints',
    'outboundNetworkDependenciesEndpoints',
    'outboundRules',
    'prepareNotebook',
    'privateEndpointConnections',
    'privateLinkResources',
    'provisionManagedNetwork',
    'schedules',
    'serverlessEndpoints',
  ].map((f) => f.toLowerCase()),
);

/** Families of the namespace outside workspaces (registries, per-location usages and sizes, …). */
const NAMESPACE_FAMILIES = new Set(['registries'].map((f) => f.toLowerCase()));
const LOCATION_FAMILIES = new Set(
  [
    'usages',
    'vmSizes',
    'quotas',
    'updateQuotas',
    'computeOperationsStatus',
    'mfeOperationResults',
    'mfeOperationsStatus',
  ].map((f) => f.toLowerCase()),
);

const SEGMENT = '([^/?#]+)';
const PATTERNS: [RegExp, Set<string>, string][] = [
  [
    new RegExp(
      `^/subscriptions/${SEGMENT}/resourceGroups/${SEGMENT}/providers/Microsoft\\.MachineLearningServices/workspaces/${SEGMENT}/${SEGMENT}(/|$)`,
      'i',
    ),
    WORKSPACE_FAMILIES,
    'the workspace family',
  ],
  [
    new RegExp(
      `^/subscriptions/${SEGMENT}/resourceGroups/${SEGMENT}/providers/Microsoft\\.MachineLearningServices/${SEGMENT}(/|$)`,
      'i',
    ),
    NAMESPACE_FAMILIES,
    'the resource family',
  ],
  [
    new RegExp(
      `^/subscriptions/${SEGMENT}/providers/Microsoft\\.MachineLearningServices/locations/${SEGMENT}/${SEGMENT}(/|$)`,
      'i',
    ),
    LOCATION_FAMILIES,
    'the location family',
  ],
];

/**
 * For a request no route served: the Azure Machine Learning family it belongs to when that family
 * (or that operation of it) is not built here — the edge answers 501 naming it instead of 404.
 * Built families have routes of their own, which Fastify matches first, so building one needs no
 * change here; a name that is no Azure family keeps the plain 404. `served`: the families that
 * have routes (`servedFamilies`): an unknown operation or method of a built family is a plain 404,
 * not "not built".
 */
export function unbuiltFamily(
  method: string,
  url: string,
  served: ReadonlySet<string> = new Set(),
): NotImplemented | undefined {
  const path = url.split('?')[0]!;
  for (const [re, families, what] of PATTERNS) {
    const m = re.exec(path);
    const family = m?.[m.length - 2];
    if (family && families.has(family.toLowerCase()) && !served.has(family.toLowerCase()))
      return new NotImplemented(
        `${what} '${family}' of Azure Machine Learning is not served by Atelier (${method} ${path})`,
        { code: 'NOT_IMPLEMENTED' },
      );
  }
  return undefined;
}

/** The Azure families (lower case) that some registered route serves, from the routes' URLs. */
export function servedFamilies(routeUrls: Iterable<string>): Set<string> {
  const served = new Set<string>();
  for (const url of routeUrls)
    for (const [re, families] of PATTERNS) {
      const m = re.exec(url);
      const family = m?.[m.length - 2]?.toLowerCase();
      if (family && families.has(family)) served.add(family);
    }
  return served;
}
