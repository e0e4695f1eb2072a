import type { AppContext } from '../context.js';
import type { ControlPlaneServices } from '../resources/control-plane.js';
import type { AssetServices } from '../assets/services.js';
import { PRIVATE_ENDPOINT_TYPE } from '../assets/private-endpoints.js';
import { VirtualNetworkService } from './virtual-networks.js';
import { PrivateDnsService } from './private-dns.js';
import { registerNetworkTypes } from './types.js';

/** Virtual networks and subnets, private DNS zones and their links, private endpoints' DNS zone groups. */
export interface NetworkServices {
  vnets: VirtualNetworkService;
  dns: PrivateDnsService;
}

/**
 * Builds the network services and plugs them in: a private endpoint whose `subnet.id` names a
 * subnet kept here admits that subnet's range, and a subnet (or network) a private endpoint or a
 * DNS zone link uses cannot be deleted or given another range.
 */
export function createNetworkServices(
  ctx: AppContext,
  cp: ControlPlaneServices,
  assets: AssetServices,
): NetworkServices {
  const vnets = new VirtualNetworkService(ctx, cp.resources, cp.groups);
  const dns = new PrivateDnsService(ctx, cp.resources, cp.groups, vnets);
  assets.endpoints.subnets = vnets;
  vnets.users.push(async (id, tx) => {
    const key = id.toLowerCase();
    return (await cp.resources.scan({ type: PRIVATE_ENDPOINT_TYPE }, tx))
      .filter((pe) => String((pe.properties.subnet as { id?: string } | undefined)?.id ?? '').toLowerCase() === key)
      .map((pe) => pe.id);
  });
  vnets.users.push((id, tx) => dns.linksTo(id, tx));
  // A group whose network something outside the group uses is not deleted (as Azure refuses to delete
  // the network): checked before the group's other delete hooks remove anything.
  cp.groups.deleteHooks.unshift(async (groupKey) => vnets.requireUnusedOutside(groupKey));
  registerNetworkTypes(cp.types, { vnets, dns, endpoints: assets.endpoints });
  return { vnets, dns };
}
