import crypto from 'node:crypto';
import type { AppContext } from '../context.js';
import type { Tx } from '../store/database.js';
import type { Principal } from '../identity/principals.js';
import type { ResourceDefinition, ResourceEngine, StoredResource } from '../resources/engine.js';
import type { ResourceGroupService } from '../resources/resource-groups.js';
import { parseResourceId, resourceId, sameType } from '../resources/resource-ids.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';
import { bool, invalid, obj, onlyKeys, str, stringMap, type Obj } from '../assets/validate.js';
import { PRIVATE_ENDPOINT_TYPE } from '../assets/private-endpoints.js';
import { networkName, VIRTUAL_NETWORK, type VirtualNetworkService } from './virtual-networks.js';

export const PRIVATE_DNS_ZONE = 'Microsoft.Network/privateDnsZones';
export const VIRTUAL_NETWORK_LINK = 'Microsoft.Network/privateDnsZones/virtualNetworkLinks';
export const DNS_ZONE_GROUP = 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
export const privateDnsZoneDef: ResourceDefinition = {
  type: PRIVATE_DNS_ZONE,
  checkName(name) {
    const labels = name.split('.');
    if (name.length > 253 || labels.length < 2 || labels.some((l) => !LABEL.test(l)))
      throw new InvalidInput(
        `private DNS zone name '${name}' is invalid: use a DNS name of at least two labels (e.g. privatelink.example.com), each 1–63 letters, digits or '-'`,
        { code: 'INVALID_RESOURCE_NAME', target: 'name' },
      );
  },
};
export const virtualNetworkLinkDef: ResourceDefinition = {
  type: VIRTUAL_NETWORK_LINK,
  checkName: networkName('virtual network link', 80),
};
export const dnsZoneGroupDef: ResourceDefinition = {
  type: DNS_ZONE_GROUP,
  checkName: networkName('private DNS zone group', 80),
};

/** Private DNS zones are global resources (Azure answers location 'global'). */
function globalLocation(body: Obj): string {
  const l = body.location;
  if (l !== undefined && l !== null && (typeof l !== 'string' || l.toLowerCase() !== 'global'))
    throw invalid('location', `private DNS resources are global: give location 'global' or leave it out`);
  return 'global';
}

/**
 * Private DNS zones (`Microsoft.Network/privateDnsZones`), their virtual network links
 * (`…/virtualNetworkLinks`) and private endpoints' DNS zone groups
 * (`Microsoft.Network/privateEndpoints/privateDnsZoneGroups`): records Atelier keeps and answers,
 * checked as Azure checks them (a link names an existing virtual network, at most one link per
 * network and zone; a zone group names existing zones; a zone in use cannot be deleted). Atelier
 * runs no DNS server: clients reach the workspace at the server's own address, and a private
 * endpoint's subnet range (not a DNS record) is what admits them.
 */
export class PrivateDnsService {
  /** Test-only: `inUseChecked` inside a zone's delete after its in-use check; `held` inside a link's or zone group's write once it holds what it uses. */
  testHooks: { inUseChecked?: () => Promise<void>; held?: () => Promise<void> } = {};

  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
    private readonly groups: ResourceGroupService,
    private readonly vnets: Pick<VirtualNetworkService, 'hold'>,
  ) {}

  zoneId(sub: string, rg: string, name: string): string {
    return resourceId(sub, rg, PRIVATE_DNS_ZONE, name);
  }

  async getZone(sub: string, rg: string, name: string): Promise<StoredResource> {
    const r = await this.engine.get(this.zoneId(sub, rg, name));
    if (!r || !sameType(r.type, PRIVATE_DNS_ZONE))
      throw new NotFound(`private DNS zone '${name}' could not be found in resource group '${rg}'`);
    return r;
  }

  async listZones(
    sub: string,
    group: string | undefined,
    opts: { after?: string; top: number; visible?: (r: StoredResource) => Promise<boolean> },
  ) {
    return this.engine.listInSubscription(PRIVATE_DNS_ZONE, sub, group, opts);
  }

  async putZone(sub: string, rg: string, name: string, body: Obj, by: Principal) {
    privateDnsZoneDef.checkName(name);
    await this.groups.require(sub, rg);
    onlyKeys(body, ['location', 'tags', 'properties', 'id', 'name', 'type', 'etag', 'systemData'], 'body');
    const location = globalLocation(body);
    const p = obj(body.properties, 'properties', false) ?? {};
    // Everything a zone's properties hold is computed (counts, limits, state).
    onlyKeys(
      p,
      [
        'provisioningState',
        'internalId',
        'numberOfRecordSets',
        'maxNumberOfRecordSets',
        'numberOfVirtualNetworkLinks',
        'maxNumberOfVirtualNetworkLinks',
        'numberOfVirtualNetworkLinksWithRegistration',
        'maxNumberOfVirtualNetworkLinksWithRegistration',
      ],
      'properties',
    );
    const id = this.zoneId(sub, rg, name);
    const existing = await this.engine.get(id);
    const tags = stringMap(body, 'tags', 'body') ?? {};
    const out = await this.engine.put(
      privateDnsZoneDef,
      id,
      {
        location,
        tags,
        properties: {
          provisioningState: 'Succeeded',
          internalId: (existing?.properties.internalId as string | undefined) ?? crypto.randomUUID(),
        },
      },
      by,
    );
    return out;
  }

  /**
   * Deletes a zone no link nor zone group uses (409 naming them otherwise). The check and the delete
   * are one write transaction holding the zone's row (FOR UPDATE on PostgreSQL); a link or zone group
   * is written holding the zones it names FOR SHARE, so of a delete and such a write one always loses.
   */
  async deleteZone(sub: string, rg: string, name: string): Promise<boolean> {
    const id = this.zoneId(sub, rg, name);
    return this.ctx.database.write(async (tx) => {
      const r = await this.engine.lock(tx, id, 'update');
      if (!r) return false;
      const links = await this.engine.scan({ type: VIRTUAL_NETWORK_LINK, parentId: r.id }, tx);
      const groups = await this.zoneGroupsUsing(r.id, tx);
      const users = [
        ...links.slice(0, 20).map((l) => `virtual network link '${l.name}'`),
        ...groups.map((g) => `the DNS zone group of private endpoint '${parseResourceId(g.parentId!).name}'`),
      ];
      if (users.length)
        throw new Conflict(
          `private DNS zone '${r.name}' is in use by ${users.join(', ')}; delete ${users.length > 1 ? 'them' : 'it'} first`,
          { code: 'NETWORK_IN_USE' },
        );
      await this.testHooks.inUseChecked?.();
      return this.engine.deleteIn(tx, r.id);
    });
  }

  private async zoneGroupsUsing(zoneId: string, tx: Pick<Tx, 'db'>): Promise<StoredResource[]> {
    const key = zoneId.toLowerCase();
    return (await this.engine.scan({ type: DNS_ZONE_GROUP }, tx)).filter((g) =>
      ((g.properties.privateDnsZoneConfigs as { properties: { privateDnsZoneId: string } }[]) ?? []).some(
        (c) => c.properties.privateDnsZoneId.toLowerCase() === key,
      ),
    );
  }

  /** A zone held FOR SHARE in `tx` (a write that comes to use it); NotFound-style InvalidInput when gone. */
  private async holdZone(tx: Tx, zoneId: string, target: string): Promise<void> {
    const z = await this.engine.lock(tx, zoneId, 'share');
    if (!z || !sameType(z.type, PRIVATE_DNS_ZONE))
      throw invalid(target, `private DNS zone '${zoneId}' was deleted meanwhile; create it again first`);
  }

  async zoneBody(r: StoredResource): Promise<Obj> {
    const links = await this.engine.scan({ type: VIRTUAL_NETWORK_LINK, subscriptionId: r.subscriptionId });
    const mine = links.filter((l) => l.parentId?.toLowerCase() === r.id.toLowerCase());
    return {
      id: r.id,
      name: r.name,
      type: PRIVATE_DNS_ZONE,
      location: 'global',
      tags: r.tags,
      etag: r.etag,
      properties: {
        provisioningState: r.properties.provisioningState,
        internalId: r.properties.internalId,
        // The SOA record every zone has; Atelier keeps no other record sets.
        numberOfRecordSets: 1,
        maxNumberOfRecordSets: 25000,
        numberOfVirtualNetworkLinks: mine.length,
        maxNumberOfVirtualNetworkLinks: 1000,
        numberOfVirtualNetworkLinksWithRegistration: mine.filter((l) => l.properties.registrationEnabled === true)
          .length,
        maxNumberOfVirtualNetworkLinksWithRegistration: 100,
      },
    };
  }

  // ---- virtual network links ----

  linkId(sub: string, rg: string, zone: string, name: string): string {
    return `${this.zoneId(sub, rg, zone)}/virtualNetworkLinks/${name}`;
  }

  async getLink(sub: string, rg: string, zone: string, name: string): Promise<StoredResource> {
    const r = await this.engine.get(this.linkId(sub, rg, zone, name));
    if (!r) throw new NotFound(`virtual network link '${name}' could not be found in private DNS zone '${zone}'`);
    return r;
  }

  async listLinks(sub: string, rg: string, zone: string, opts: { after?: string; top: number }) {
    const z = await this.getZone(sub, rg, zone);
    return this.engine.list({ type: VIRTUAL_NETWORK_LINK, parentId: z.id, after: opts.after, top: opts.top });
  }

  async putLink(sub: string, rg: string, zone: string, name: string, body: Obj, by: Principal) {
    virtualNetworkLinkDef.checkName(name);
    onlyKeys(body, ['location', 'tags', 'properties', 'id', 'name', 'type', 'etag', 'systemData'], 'body');
    const location = globalLocation(body);
    const z = await this.getZone(sub, rg, zone);
    const p = obj(body.properties, 'properties')!;
    onlyKeys(
      p,
      ['virtualNetwork', 'registrationEnabled', 'resolutionPolicy', 'virtualNetworkLinkState', 'provisioningState'],
      'properties',
    );
    const vn = obj(p.virtualNetwork, 'properties.virtualNetwork')!;
    onlyKeys(vn, ['id'], 'properties.virtualNetwork');
    const vnetId = str(vn, 'id', 'properties.virtualNetwork', { required: true, max: 800 })!;
    const parsed = parseResourceId(vnetId, 'properties.virtualNetwork.id');
    if (!sameType(parsed.type, VIRTUAL_NETWORK))
      throw invalid('properties.virtualNetwork.id', `must be the id of a ${VIRTUAL_NETWORK}, got a ${parsed.type}`);
    const vnet = await this.engine.get(vnetId);
    if (!vnet || !(await this.ctx.access.canSee(by.id, vnet.id)))
      throw invalid(
        'properties.virtualNetwork.id',
        `virtual network '${vnetId}' could not be found; create it first (PUT …/providers/Microsoft.Network/virtualNetworks/{name})`,
      );
    const registrationEnabled = bool(p, 'registrationEnabled', 'properties') ?? false;
    const resolutionPolicy = str(p, 'resolutionPolicy', 'properties', { oneOf: ['Default', 'NxDomainRedirect'] });
    const id = `${z.id}/virtualNetworkLinks/${name}`;
    // One link per network and zone, as Azure has it.
    const other = (await this.engine.list({ type: VIRTUAL_NETWORK_LINK, parentId: z.id, top: 1000 })).value.find(
      (l) =>
        l.id.toLowerCase() !== id.toLowerCase() &&
        String((l.properties.virtualNetwork as { id?: string })?.id).toLowerCase() === vnet.id.toLowerCase(),
    );
    if (other)
      throw new Conflict(
        `virtual network '${vnet.name}' is already linked to private DNS zone '${z.name}' by link '${other.name}'`,
        { code: 'CONFLICT', target: 'properties.virtualNetwork.id' },
      );
    const tags = stringMap(body, 'tags', 'body') ?? {};
    // Written holding the zone and the network FOR SHARE: their deletes wait and then see the link.
    return this.ctx.database.write(async (tx) => {
      await this.holdZone(tx, z.id, 'name');
      if (!(await this.vnets.hold(tx, vnet.id)))
        throw invalid(
          'properties.virtualNetwork.id',
          `virtual network '${vnetId}' was deleted meanwhile; create it first`,
        );
      await this.testHooks.held?.();
      return this.engine.put(
        virtualNetworkLinkDef,
        id,
        {
          location,
          tags,
          properties: {
            provisioningState: 'Succeeded',
            virtualNetworkLinkState: 'Completed',
            virtualNetwork: { id: vnet.id },
            registrationEnabled,
            ...(resolutionPolicy ? { resolutionPolicy } : {}),
          },
        },
        by,
        {},
        tx,
      );
    });
  }

  async deleteLink(sub: string, rg: string, zone: string, name: string): Promise<boolean> {
    return this.engine.delete(this.linkId(sub, rg, zone, name));
  }

  /** The links to a virtual network (its users: a linked network is not deleted). */
  async linksTo(vnetId: string, tx: Pick<Tx, 'db'>): Promise<string[]> {
    const key = vnetId.toLowerCase();
    return (await this.engine.scan({ type: VIRTUAL_NETWORK_LINK }, tx))
      .filter((l) => String((l.properties.virtualNetwork as { id?: string })?.id).toLowerCase() === key)
      .map((l) => l.id);
  }

  // ---- private endpoints' DNS zone groups ----

  groupId(sub: string, rg: string, endpoint: string, name: string): string {
    return `${resourceId(sub, rg, PRIVATE_ENDPOINT_TYPE, endpoint)}/privateDnsZoneGroups/${name}`;
  }

  async getGroup(sub: string, rg: string, endpoint: string, name: string): Promise<StoredResource> {
    const r = await this.engine.get(this.groupId(sub, rg, endpoint, name));
    if (!r) throw new NotFound(`private DNS zone group '${name}' could not be found in private endpoint '${endpoint}'`);
    return r;
  }

  async listGroups(sub: string, rg: string, endpoint: string, opts: { after?: string; top: number }) {
    const pe = await this.engine.get(resourceId(sub, rg, PRIVATE_ENDPOINT_TYPE, endpoint));
    if (!pe) throw new NotFound(`private endpoint '${endpoint}' could not be found in resource group '${rg}'`);
    return this.engine.list({ type: DNS_ZONE_GROUP, parentId: pe.id, after: opts.after, top: opts.top });
  }

  async putGroup(sub: string, rg: string, endpoint: string, name: string, body: Obj, by: Principal) {
    dnsZoneGroupDef.checkName(name);
    onlyKeys(body, ['location', 'properties', 'id', 'name', 'type', 'etag', 'systemData'], 'body');
    const pe = await this.engine.get(resourceId(sub, rg, PRIVATE_ENDPOINT_TYPE, endpoint));
    if (!pe) throw new NotFound(`private endpoint '${endpoint}' could not be found in resource group '${rg}'`);
    const p = obj(body.properties, 'properties')!;
    onlyKeys(p, ['privateDnsZoneConfigs', 'provisioningState'], 'properties');
    const list = p.privateDnsZoneConfigs;
    if (!Array.isArray(list) || list.length === 0 || list.length > 5)
      throw invalid(
        'properties.privateDnsZoneConfigs',
        'list 1–5 zones: [{name, properties: {privateDnsZoneId: …/providers/Microsoft.Network/privateDnsZones/{zone}}}]',
      );
    const configs: Obj[] = [];
    const seen = new Set<string>();
    for (const [i, c] of list.entries()) {
      const where = `properties.privateDnsZoneConfigs[${i}]`;
      const co = obj(c, where)!;
      onlyKeys(co, ['name', 'properties'], where);
      const cp = obj(co.properties, `${where}.properties`)!;
      onlyKeys(cp, ['privateDnsZoneId', 'recordSets'], `${where}.properties`);
      const zoneId = str(cp, 'privateDnsZoneId', `${where}.properties`, { required: true, max: 800 })!;
      const zp = parseResourceId(zoneId, `${where}.properties.privateDnsZoneId`);
      if (!sameType(zp.type, PRIVATE_DNS_ZONE))
        throw invalid(`${where}.properties.privateDnsZoneId`, `must be the id of a ${PRIVATE_DNS_ZONE}`);
      const zone = await this.engine.get(zoneId);
      if (!zone || !(await this.ctx.access.canSee(by.id, zone.id)))
        throw invalid(
          `${where}.properties.privateDnsZoneId`,
          `private DNS zone '${zoneId}' could not be found; create it first (PUT …/providers/Microsoft.Network/privateDnsZones/{zone})`,
        );
      if (seen.has(zone.id.toLowerCase()))
        throw invalid(`${where}.properties.privateDnsZoneId`, `zone '${zone.name}' is listed twice`);
      seen.add(zone.id.toLowerCase());
      const configName = str(co, 'name', where, { max: 80 }) ?? zone.name.replace(/\./g, '-');
      configs.push({ name: configName, properties: { privateDnsZoneId: zone.id, recordSets: [] } });
    }
    // Written holding its zones FOR SHARE: their deletes wait and then see the group.
    return this.ctx.database.write(async (tx) => {
      for (const [i, c] of configs.entries())
        await this.holdZone(
          tx,
          (c.properties as { privateDnsZoneId: string }).privateDnsZoneId,
          `properties.privateDnsZoneConfigs[${i}].properties.privateDnsZoneId`,
        );
      await this.testHooks.held?.();
      return this.engine.put(
        dnsZoneGroupDef,
        `${pe.id}/privateDnsZoneGroups/${name}`,
        { properties: { provisioningState: 'Succeeded', privateDnsZoneConfigs: configs } },
        by,
        {},
        tx,
      );
    });
  }

  async deleteGroup(sub: string, rg: string, endpoint: string, name: string): Promise<boolean> {
    return this.engine.delete(this.groupId(sub, rg, endpoint, name));
  }

  childBody(r: StoredResource): Obj {
    return {
      id: r.id,
      name: r.name,
      type: r.type,
      etag: r.etag,
      ...(sameType(r.type, VIRTUAL_NETWORK_LINK) ? { location: 'global', tags: r.tags } : {}),
      properties: r.properties,
    };
  }
}
