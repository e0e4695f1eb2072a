import { Type } from '@sinclair/typebox';
import * as C from '@atelier/contracts';
import type { Principal } from '../identity/principals.js';
import type { StoredResource } from '../resources/engine.js';
import { parseResourceId } from '../resources/resource-ids.js';
import {
  workspaceOf,
  type ResourceTypeDeclaration,
  type ResourceTypeRegistry,
  type TemplateSupport,
} from '../resources/registry.js';
import { WORKSPACE } from '../resources/workspaces.js';
import { NotFound } from '../errors.js';
import { PRIVATE_ENDPOINT_TYPE, type PrivateEndpointService } from '../assets/private-endpoints.js';
import { subnetDef, virtualNetworkDef, type VirtualNetworkService } from './virtual-networks.js';
import { dnsZoneGroupDef, privateDnsZoneDef, virtualNetworkLinkDef, type PrivateDnsService } from './private-dns.js';

const NETWORK = { read: 'control/read', write: 'control/write', delete: 'control/write' } as const;
const Name = (max: number) => Type.String({ maxLength: max });

/** The names in a resource id from its top-level resource down: `[vnet, subnet]`. */
function names(id: string): { sub: string; rg: string; path: string[] } {
  const p = parseResourceId(id);
  const rest = id
    .slice(id.toLowerCase().indexOf('/providers/') + '/providers/'.length)
    .split('/')
    .slice(1);
  return { sub: p.subscriptionId, rg: p.resourceGroup, path: rest.filter((_, i) => i % 2 === 1) };
}

/** Template keys that are not part of the resource's ARM body. */
const TEMPLATE_ONLY = [
  'apiVersion',
  'name',
  'type',
  'dependsOn',
  'resources',
  'condition',
  'copy',
  'comments',
  'subscriptionId',
  'resourceGroup',
  'scope',
];

/** Template support over a type's PUT and DELETE (the body is what the template evaluated). */
function deployVia(
  put: (
    sub: string,
    rg: string,
    path: string[],
    body: Record<string, unknown>,
    by: Principal,
  ) => Promise<{ resource: StoredResource; created: boolean }>,
  toBody: (r: StoredResource) => Promise<Record<string, unknown>> | Record<string, unknown>,
  remove: (sub: string, rg: string, path: string[]) => Promise<unknown>,
): TemplateSupport {
  return {
    async deploy(t, by) {
      const n = names(t.id);
      const body = Object.fromEntries(
        Object.entries(t.body).filter(([k, v]) => v !== undefined && !TEMPLATE_ONLY.includes(k)),
      );
      const out = await put(n.sub, t.resourceGroup.name, n.path, body, by);
      return { body: await toBody(out.resource), created: out.created };
    },
    async undo(id) {
      const n = names(id);
      await remove(n.sub, n.rg, n.path);
    },
  };
}

function virtualNetworkTypes(vnets: VirtualNetworkService): ResourceTypeDeclaration[] {
  return [
    {
      ...virtualNetworkDef,
      param: 'name',
      nameSchema: Name(64),
      label: 'virtual network',
      tag: 'Virtual networks',
      access: NETWORK,
      lists: { group: true, subscription: true },
      schema: { put: C.NetworkResourceBody, one: C.NetworkResource, list: C.NetworkResourceList },
      summaries: {
        put: 'Create or replace a virtual network: its address space and all its subnets',
        get: 'Get a virtual network with its subnets',
        delete: 'Delete a virtual network (409 while a private endpoint or DNS zone link uses it)',
        listGroup: 'List the virtual networks of a resource group (paged)',
        listSubscription: 'List the virtual networks of a subscription (paged)',
      },
      handlers: {
        list: (scope, page) =>
          vnets.list(scope.subscriptionId, scope.resourceGroup || undefined, {
            after: page.after,
            top: page.top,
            visible: page.visible,
          }),
        get: (scope, name) => vnets.get(scope.subscriptionId, scope.resourceGroup, name),
        put: (scope, name, body, by, pre) =>
          vnets.put(scope.subscriptionId, scope.resourceGroup, name, body, by, pre.ifMatch),
        delete: (scope, name) => vnets.delete(scope.subscriptionId, scope.resourceGroup, name),
        toBody: (r, { detail }) => vnets.toBody(r, detail === true),
      },
      template: deployVia(
        (sub, rg, [name], body, by) => vnets.put(sub, rg, name!, body, by),
        (r) => vnets.toBody(r, false),
        (sub, rg, [name]) => vnets.delete(sub, rg, name!),
      ),
    },
    {
      ...subnetDef,
      parent: virtualNetworkDef.type,
      param: 'subnetName',
      nameSchema: Name(80),
      label: 'subnet',
      tag: 'Virtual networks',
      access: NETWORK,
      schema: { put: C.NetworkChildBody, one: C.NetworkResource, list: C.NetworkResourceList },
      summaries: {
        put: 'Create or replace a subnet (its range inside the address space, overlapping no other subnet)',
        get: 'Get a subnet (with the private endpoints in it)',
        delete: 'Delete a subnet (409 while a private endpoint uses it)',
        list: 'List the subnets of a virtual network (paged)',
      },
      handlers: {
        list: (scope, page) =>
          vnets.listSubnets(scope.subscriptionId, scope.resourceGroup, scope.parents[0]!, {
            after: page.after,
            top: page.top,
          }),
        get: (scope, name) => vnets.getSubnet(scope.subscriptionId, scope.resourceGroup, scope.parents[0]!, name),
        put: (scope, name, body, by) =>
          vnets.putSubnet(scope.subscriptionId, scope.resourceGroup, scope.parents[0]!, name, body, by),
        delete: (scope, name, by) =>
          vnets.deleteSubnet(scope.subscriptionId, scope.resourceGroup, scope.parents[0]!, name, by),
        toBody: (r, { detail }) => vnets.subnetBody(r, detail === true),
      },
      template: deployVia(
        (sub, rg, [vnet, name], body, by) => vnets.putSubnet(sub, rg, vnet!, name!, body, by),
        (r) => vnets.subnetBody(r, false),
        // A subnet a failed deployment made is removed again (nobody uses it yet).
        (sub, rg, [vnet, name]) => vnets.deleteSubnet(sub, rg, vnet!, name!, 'system'),
      ),
    },
  ];
}

function privateDnsTypes(dns: PrivateDnsService): ResourceTypeDeclaration[] {
  return [
    {
      ...privateDnsZoneDef,
      param: 'name',
      nameSchema: Name(253),
      label: 'private DNS zone',
      tag: 'Private DNS zones',
      access: NETWORK,
      lists: { group: true, subscription: true },
      schema: { put: C.NetworkResourceBody, one: C.NetworkResource, list: C.NetworkResourceList },
      summaries: {
        put: 'Create a private DNS zone (a record Atelier keeps; it runs no DNS server)',
        get: 'Get a private DNS zone',
        delete: 'Delete a private DNS zone (409 while links or zone groups use it)',
        listGroup: 'List the private DNS zones of a resource group (paged)',
        listSubscription: 'List the private DNS zones of a subscription (paged)',
      },
      handlers: {
        list: (scope, page) =>
          dns.listZones(scope.subscriptionId, scope.resourceGroup || undefined, {
            after: page.after,
            top: page.top,
            visible: page.visible,
          }),
        get: (scope, name) => dns.getZone(scope.subscriptionId, scope.resourceGroup, name),
        put: (scope, name, body, by) => dns.putZone(scope.subscriptionId, scope.resourceGroup, name, body, by),
        delete: (scope, name) => dns.deleteZone(scope.subscriptionId, scope.resourceGroup, name),
        toBody: (r) => dns.zoneBody(r),
      },
      template: deployVia(
        (sub, rg, [name], body, by) => dns.putZone(sub, rg, name!, body, by),
        (r) => dns.zoneBody(r),
        (sub, rg, [name]) => dns.deleteZone(sub, rg, name!),
      ),
    },
    {
      ...virtualNetworkLinkDef,
      parent: privateDnsZoneDef.type,
      param: 'virtualNetworkLinkName',
      nameSchema: Name(80),
      label: 'virtual network link',
      tag: 'Private DNS zones',
      access: NETWORK,
      schema: { put: C.NetworkResourceBody, one: C.NetworkResource, list: C.NetworkResourceList },
      summaries: {
        put: 'Link a virtual network to a private DNS zone',
        get: 'Get a virtual network link',
        delete: 'Delete a virtual network link',
        list: 'List the virtual network links of a private DNS zone (paged)',
      },
      handlers: {
        list: (scope, page) =>
          dns.listLinks(scope.subscriptionId, scope.resourceGroup, scope.parents[0]!, {
            after: page.after,
            top: page.top,
          }),
        get: (scope, name) => dns.getLink(scope.subscriptionId, scope.resourceGroup, scope.parents[0]!, name),
        put: (scope, name, body, by) =>
          dns.putLink(scope.subscriptionId, scope.resourceGroup, scope.parents[0]!, name, body, by),
        delete: (scope, name) => dns.deleteLink(scope.subscriptionId, scope.resourceGroup, scope.parents[0]!, name),
        toBody: (r) => dns.childBody(r),
      },
      template: deployVia(
        (sub, rg, [zone, name], body, by) => dns.putLink(sub, rg, zone!, name!, body, by),
        (r) => dns.childBody(r),
        (sub, rg, [zone, name]) => dns.deleteLink(sub, rg, zone!, name!),
      ),
    },
    {
      ...dnsZoneGroupDef,
      parent: PRIVATE_ENDPOINT_TYPE,
      param: 'privateDnsZoneGroupName',
      nameSchema: Name(80),
      label: 'private DNS zone group',
      tag: 'Private endpoints',
      access: NETWORK,
      schema: { put: C.NetworkChildBody, one: C.NetworkResource, list: C.NetworkResourceList },
      summaries: {
        put: "Set a private endpoint's DNS zone group (the private DNS zones it is registered in)",
        get: "Get a private endpoint's DNS zone group",
        delete: "Delete a private endpoint's DNS zone group",
        list: 'List the DNS zone groups of a private endpoint (paged)',
      },
      handlers: {
        list: (scope, page) =>
          dns.listGroups(scope.subscriptionId, scope.resourceGroup, scope.parents[0]!, {
            after: page.after,
            top: page.top,
          }),
        get: (scope, name) => dns.getGroup(scope.subscriptionId, scope.resourceGroup, scope.parents[0]!, name),
        put: (scope, name, body, by) =>
          dns.putGroup(scope.subscriptionId, scope.resourceGroup, scope.parents[0]!, name, body, by),
        delete: (scope, name) => dns.deleteGroup(scope.subscriptionId, scope.resourceGroup, scope.parents[0]!, name),
        toBody: (r) => dns.childBody(r),
      },
      template: deployVia(
        (sub, rg, [pe, name], body, by) => dns.putGroup(sub, rg, pe!, name!, body, by),
        (r) => dns.childBody(r),
        (sub, rg, [pe, name]) => dns.deleteGroup(sub, rg, pe!, name!),
      ),
    },
  ];
}

/** What a private endpoint to a workspace connects to (Azure's one group, `amlworkspace`). */
const AML_GROUP = {
  groupId: 'amlworkspace',
  requiredMembers: ['api', 'notebook'],
  requiredZoneNames: ['privatelink.api.azureml.ms', 'privatelink.notebooks.azure.net'],
};
export const PRIVATE_LINK_RESOURCE = `${WORKSPACE}/privateLinkResources`;

/** `W/privateLinkResources` (read only): azureml-core reads the DNS zone names its template deploys here. */
function privateLinkResourceType(): ResourceTypeDeclaration {
  const resource = (ws: StoredResource | { id: string; location?: string }): StoredResource =>
    ({
      id: `${ws.id}/privateLinkResources/${AML_GROUP.groupId}`,
      name: AML_GROUP.groupId,
      type: PRIVATE_LINK_RESOURCE,
      location: ws.location,
      tags: {},
      properties: { ...AML_GROUP },
    }) as unknown as StoredResource;
  return {
    type: PRIVATE_LINK_RESOURCE,
    checkName: () => {},
    parent: WORKSPACE,
    param: 'name',
    nameSchema: Name(80),
    label: 'private link resource',
    tag: 'Private endpoints',
    access: { read: 'control/read', write: 'control/write', delete: 'control/write' },
    schema: { one: C.PrivateLinkResource, list: C.PrivateLinkResourceList },
    summaries: {
      get: 'Get a private link resource of the workspace',
      list: "List the workspace's private link resources (the group a private endpoint connects to, its DNS zone names)",
    },
    handlers: {
      list: async (scope) => ({ value: [resource(workspaceOf(scope))], hasMore: false }),
      get: async (scope, name) => {
        const ws = workspaceOf(scope);
        if (name.toLowerCase() !== AML_GROUP.groupId)
          throw new NotFound(
            `private link resource '${name}' could not be found in workspace '${ws.name}'; it has '${AML_GROUP.groupId}'`,
          );
        return resource(ws);
      },
      toBody: (r) => ({ id: r.id, name: r.name, type: r.type, location: r.location, properties: r.properties }),
    },
  };
}

/** The network module's resource types, registered from network/services.ts (after the assets' private endpoints). */
export function registerNetworkTypes(
  registry: ResourceTypeRegistry,
  s: { vnets: VirtualNetworkService; dns: PrivateDnsService; endpoints: PrivateEndpointService },
): void {
  for (const t of virtualNetworkTypes(s.vnets)) registry.register(t);
  for (const t of privateDnsTypes(s.dns)) registry.register(t);
  registry.register(privateLinkResourceType());
  // Private endpoints (declared by the assets) become deployable by templates, as azureml-core's
  // add_private_endpoint deploys them.
  const pe = registry.require(PRIVATE_ENDPOINT_TYPE);
  pe.template = deployVia(
    (sub, rg, [name], body, by) => s.endpoints.put(sub, rg, name!, body, by),
    (r) => s.endpoints.toBody(r),
    (sub, rg, [name]) => s.endpoints.deleteEndpoint(sub, rg, name!),
  );
}
