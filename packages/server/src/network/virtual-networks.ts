import crypto from 'node:crypto';
import type { AppContext } from '../context.js';
import type { Tx } from '../store/database.js';
import type { Principal } from '../identity/principals.js';
import type { ResourceDefinition, ResourceEngine, StoredResource } from '../resources/engine.js';
import { normaliseLocation, type ResourceGroupService } from '../resources/resource-groups.js';
import { parseResourceId, resourceId, sameType } from '../resources/resource-ids.js';
import { Conflict, InvalidInput, NotFound, PreconditionFailed } from '../errors.js';
import { bool, invalid, obj, onlyKeys, str, stringMap, type Obj } from '../assets/validate.js';
import { checkDisjoint, overlap, parseNetwork, prefixesOf, within, type Network } from './cidrs.js';

export const VIRTUAL_NETWORK = 'Microsoft.Network/virtualNetworks';
export const SUBNET = 'Microsoft.Network/virtualNetworks/subnets';

/** Azure's rule for network resource names: letters, digits, '_', '.', '-'; starts with a letter or digit, ends with one or '_'. */
export function networkName(label: string, max: number): (name: string) => void {
  const re = new RegExp(`^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,${max - 2}}[a-zA-Z0-9_])?$`);
  return (name) => {
    if (!re.test(name))
      throw new InvalidInput(
        `${label} name '${name}' is invalid: use 1–${max} letters, digits, '_', '.', '-', starting with a letter or digit and ending with a letter, digit or '_'`,
        { code: 'INVALID_RESOURCE_NAME', target: 'name' },
      );
  };
}

export const virtualNetworkDef: ResourceDefinition = {
  type: VIRTUAL_NETWORK,
  checkName: networkName('virtual network', 64),
};
export const subnetDef: ResourceDefinition = { type: SUBNET, checkName: networkName('subnet', 80) };

const POLICIES = ['Enabled', 'Disabled', 'NetworkSecurityGroupEnabled', 'RouteTableEnabled'] as const;

/** A subnet as the virtual network's row keeps it (subnets live in their network's row, as in its ARM body). */
interface SubnetRecord {
  name: string;
  addressPrefix?: string;
  addressPrefixes?: string[];
  privateEndpointNetworkPolicies: string;
  privateLinkServiceNetworkPolicies: string;
}

/**
 * Who uses a subnet or virtual network (their ids): deleting it, or changing its range, is refused
 * naming them. Read in `tx` (the delete's or change's, which holds the network's row); whoever comes
 * to use a network or subnet holds that row FOR SHARE while it writes (`hold`, `holdSubnet`).
 */
export type NetworkUsers = (id: string, tx: Pick<Tx, 'db'>) => Promise<string[]>;

const subnetNetworks = (s: SubnetRecord): Network[] =>
  [...(s.addressPrefix ? [s.addressPrefix] : []), ...(s.addressPrefixes ?? [])].map((t) => parseNetwork(t, 'stored'));

/** The same set of networks. */
const sameNets = (a: Network[], b: Network[]) =>
  a
    .map((n) => n.text)
    .sort()
    .join(',') ===
  b
    .map((n) => n.text)
    .sort()
    .join(',');

/**
 * Virtual networks (`Microsoft.Network/virtualNetworks`) and their subnets: address spaces and
 * subnet ranges, checked as Azure checks them (valid CIDRs at their network's start, subnets inside
 * the address space, no two overlapping). Atelier routes no packets: a subnet's range is what a
 * private endpoint in it admits to its workspace (assets/private-endpoints.ts). The subnets are kept
 * in their network's row, so every change of a network's layout is one etag-checked write (two
 * requests at once cannot both add overlapping subnets).
 */
export class VirtualNetworkService {
  /** Who uses a subnet or network (private endpoints in a subnet, DNS zone links to a network). */
  readonly users: NetworkUsers[] = [];
  /** Test-only: called inside a delete's or change's transaction after the in-use check, before the write. */
  testHooks: { inUseChecked?: () => Promise<void> } = {};

  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
    private readonly groups: ResourceGroupService,
  ) {}

  id(sub: string, rg: string, name: string): string {
    return resourceId(sub, rg, VIRTUAL_NETWORK, name);
  }

  async get(sub: string, rg: string, name: string): Promise<StoredResource> {
    const r = await this.engine.get(this.id(sub, rg, name));
    if (!r || !sameType(r.type, VIRTUAL_NETWORK))
      throw new NotFound(`virtual network '${name}' could not be found in resource group '${rg}'`);
    return r;
  }

  async list(
    sub: string,
    group: string | undefined,
    opts: { after?: string; top: number; visible?: (r: StoredResource) => Promise<boolean> },
  ) {
    return this.engine.listInSubscription(VIRTUAL_NETWORK, sub, group, opts);
  }

  /** ARM PUT of a network: its address space and (all of) its subnets. */
  async put(
    sub: string,
    rg: string,
    name: string,
    body: Obj,
    by: Principal,
    ifMatch?: string,
  ): Promise<{ resource: StoredResource; created: boolean }> {
    virtualNetworkDef.checkName(name);
    const group = await this.groups.require(sub, rg);
    const id = this.id(sub, rg, name);
    const existing = await this.engine.get(id);
    onlyKeys(body, ['location', 'tags', 'properties', 'id', 'name', 'type', 'etag', 'systemData'], 'body');
    const p = obj(body.properties, 'properties')!;
    onlyKeys(
      p,
      [
        'addressSpace',
        'subnets',
        'dhcpOptions',
        'enableDdosProtection',
        'enableVmProtection',
        'provisioningState',
        'resourceGuid',
        'virtualNetworkPeerings',
      ],
      'properties',
    );
    for (const k of ['enableDdosProtection', 'enableVmProtection'])
      if (bool(p, k, 'properties'))
        throw invalid(`properties.${k}`, 'is not supported here (Atelier routes no traffic); leave it out or false');
    if (Array.isArray(p.virtualNetworkPeerings) && p.virtualNetworkPeerings.length)
      throw invalid('properties.virtualNetworkPeerings', 'peerings are not supported; leave the list out or empty');
    const spaceObj = obj(p.addressSpace, 'properties.addressSpace')!;
    onlyKeys(spaceObj, ['addressPrefixes'], 'properties.addressSpace');
    if (
      !Array.isArray(spaceObj.addressPrefixes) ||
      spaceObj.addressPrefixes.length === 0 ||
      spaceObj.addressPrefixes.length > 100
    )
      throw invalid('properties.addressSpace.addressPrefixes', 'list 1–100 networks, e.g. ["10.0.0.0/16"]');
    const space = (spaceObj.addressPrefixes as unknown[]).map((t, i) =>
      parseNetwork(t, `properties.addressSpace.addressPrefixes[${i}]`),
    );
    checkDisjoint(space, 'properties.addressSpace.addressPrefixes');
    const dhcp = this.dhcpOptions(p.dhcpOptions);
    if (p.subnets !== undefined && p.subnets !== null && !Array.isArray(p.subnets))
      throw invalid('properties.subnets', 'must be a list of {name, properties: {addressPrefix}}');
    const subnets: SubnetRecord[] = ((p.subnets as unknown[] | undefined) ?? []).map((s, i) => {
      const so = obj(s, `properties.subnets[${i}]`)!;
      onlyKeys(so, ['name', 'id', 'type', 'etag', 'properties'], `properties.subnets[${i}]`);
      const n = str(so, 'name', `properties.subnets[${i}]`, { required: true })!;
      subnetDef.checkName(n);
      return this.subnetRecord(
        n,
        obj(so.properties, `properties.subnets[${i}].properties`)!,
        `properties.subnets[${i}].properties`,
      );
    });
    const names = new Set<string>();
    for (const s of subnets) {
      if (names.has(s.name.toLowerCase())) throw invalid('properties.subnets', `subnet '${s.name}' is listed twice`);
      names.add(s.name.toLowerCase());
    }
    this.checkLayout(space, subnets);
    const location = normaliseLocation(
      typeof body.location === 'string' && body.location ? body.location : (existing?.location ?? group.location),
    );
    if (existing && existing.location && location !== existing.location)
      throw invalid('location', `cannot change: the virtual network is in '${existing.location}'`);
    const props: Obj = {
      provisioningState: 'Succeeded',
      resourceGuid: (existing?.properties.resourceGuid as string | undefined) ?? crypto.randomUUID(),
      addressSpace: { addressPrefixes: space.map((n) => n.text) },
      ...(dhcp ? { dhcpOptions: dhcp } : {}),
      subnets,
    };
    const tags = stringMap(body, 'tags', 'body') ?? {};
    const out = await this.write(
      id,
      { location, tags, properties: props },
      by,
      existing ? (ifMatch ?? existing.etag) : undefined,
      !existing,
      existing,
    );
    return { resource: out, created: !existing };
  }

  private dhcpOptions(v: unknown): Obj | undefined {
    const d = obj(v, 'properties.dhcpOptions', false);
    if (!d) return undefined;
    onlyKeys(d, ['dnsServers'], 'properties.dhcpOptions');
    const servers = d.dnsServers ?? [];
    if (!Array.isArray(servers) || servers.length > 20 || servers.some((x) => typeof x !== 'string'))
      throw invalid('properties.dhcpOptions.dnsServers', 'must be a list of up to 20 IP addresses');
    for (const [i, s] of (servers as string[]).entries()) {
      try {
        parseNetwork(`${s}/${s.includes(':') ? 128 : 32}`, 'x');
      } catch {
        throw invalid(`properties.dhcpOptions.dnsServers[${i}]`, `'${s}' is not an IP address`);
      }
    }
    return { dnsServers: servers };
  }

  /** A subnet's properties, checked (its range is checked against the network by `checkLayout`). */
  private subnetRecord(name: string, p: Obj, target: string): SubnetRecord {
    onlyKeys(
      p,
      [
        'addressPrefix',
        'addressPrefixes',
        'privateEndpointNetworkPolicies',
        'privateLinkServiceNetworkPolicies',
        'provisioningState',
        'privateEndpoints',
        'delegations',
        'serviceEndpoints',
        'defaultOutboundAccess',
      ],
      target,
    );
    for (const k of ['delegations', 'serviceEndpoints'])
      if (Array.isArray(p[k]) && (p[k] as unknown[]).length)
        throw invalid(`${target}.${k}`, 'is not supported here; leave the list out or empty');
    bool(p, 'defaultOutboundAccess', target);
    const nets = prefixesOf(p, target);
    const policies = str(p, 'privateEndpointNetworkPolicies', target, { oneOf: POLICIES }) ?? 'Disabled';
    const linkPolicies =
      str(p, 'privateLinkServiceNetworkPolicies', target, { oneOf: ['Enabled', 'Disabled'] }) ?? 'Enabled';
    return {
      name,
      ...(typeof p.addressPrefix === 'string' && p.addressPrefixes === undefined
        ? { addressPrefix: nets[0]!.text }
        : { addressPrefixes: nets.map((n) => n.text) }),
      privateEndpointNetworkPolicies: policies,
      privateLinkServiceNetworkPolicies: linkPolicies,
    };
  }

  /** Every subnet inside the address space, no two overlapping; errors name the subnets. */
  private checkLayout(space: Network[], subnets: SubnetRecord[]): void {
    const placed: { name: string; net: Network }[] = [];
    for (const s of subnets) {
      for (const n of subnetNetworks(s)) {
        if (!space.some((a) => within(n, a)))
          throw new InvalidInput(
            `subnet '${s.name}': ${n.text} is not inside the virtual network's address space (${space.map((a) => a.text).join(', ')}); widen properties.addressSpace.addressPrefixes or pick a range inside it`,
            { code: 'SUBNET_OUTSIDE_ADDRESS_SPACE', target: s.name },
          );
        const clash = placed.find((x) => overlap(x.net, n));
        if (clash)
          throw new InvalidInput(
            clash.name.toLowerCase() === s.name.toLowerCase()
              ? `subnet '${s.name}': its networks ${clash.net.text} and ${n.text} overlap`
              : `subnet '${s.name}' (${n.text}) overlaps subnet '${clash.name}' (${clash.net.text}); pick a range that is free`,
            { code: 'SUBNET_RANGES_OVERLAP', target: s.name },
          );
        placed.push({ name: s.name, net: n });
      }
    }
  }

  /** A subnet in use keeps its range and stays; the message names who uses it. */
  private async checkChanges(existing: StoredResource, next: SubnetRecord[], tx: Pick<Tx, 'db'>): Promise<void> {
    for (const s of (existing.properties.subnets as SubnetRecord[] | undefined) ?? []) {
      const n = next.find((x) => x.name.toLowerCase() === s.name.toLowerCase());
      if (n && sameNets(subnetNetworks(n), subnetNetworks(s))) continue;
      const users = await this.usersOf(`${existing.id}/subnets/${s.name}`, tx);
      if (users.length)
        throw new Conflict(
          `subnet '${s.name}' is in use by ${users.map(describe).join(', ')}: it cannot be ${n ? 'given another range' : 'removed'}; delete ${users.length > 1 ? 'them' : 'it'} first`,
          { code: 'NETWORK_IN_USE', target: s.name },
        );
    }
  }

  private async usersOf(id: string, tx: Pick<Tx, 'db'> = this.ctx): Promise<string[]> {
    const out: string[] = [];
    for (const u of this.users) out.push(...(await u(id, tx)));
    return out;
  }

  /**
   * Writes the network's row; a concurrent change of the same network is a 409 to retry (nothing
   * half-made). An update (`before`) is one write transaction holding the row (FOR UPDATE on
   * PostgreSQL) that first checks the subnets it removes or re-ranges for users: a private endpoint
   * or DNS link that comes to use the network holds the same row FOR SHARE while it writes, so of the
   * two one waits for the other and then sees its result.
   */
  private async write(
    id: string,
    input: { location?: string; tags: Record<string, string>; properties: Obj },
    by: Principal | string,
    ifMatch: string | undefined,
    create: boolean,
    before?: StoredResource,
  ): Promise<StoredResource> {
    try {
      return await this.ctx.database.write(async (tx) => {
        if (before) {
          const held = await this.engine.lock(tx, id, 'update');
          await this.checkChanges(held ?? before, (input.properties.subnets as SubnetRecord[] | undefined) ?? [], tx);
          await this.testHooks.inUseChecked?.();
        }
        return (
          await this.engine.put(virtualNetworkDef, id, input, by, create ? { ifNoneMatch: '*' } : { ifMatch }, tx)
        ).resource;
      });
    } catch (e) {
      if (e instanceof PreconditionFailed || (e instanceof Conflict && e.code === 'CONCURRENT_UPDATE'))
        throw new Conflict(
          `virtual network '${parseResourceId(id).name}' was changed by another request at the same time; retry`,
          { code: 'CONCURRENT_UPDATE' },
        );
      throw e;
    }
  }

  /**
   * Deletes a network whose subnets nobody uses (409 naming the users otherwise): the check and the
   * delete are one write transaction holding the network's row (see `write`).
   */
  async delete(sub: string, rg: string, name: string): Promise<boolean> {
    const id = this.id(sub, rg, name);
    return this.ctx.database.write(async (tx) => {
      const r = await this.engine.lock(tx, id, 'update');
      if (!r) return false;
      const users = await this.usersOf(r.id, tx);
      for (const s of (r.properties.subnets as SubnetRecord[] | undefined) ?? [])
        users.push(...(await this.usersOf(`${r.id}/subnets/${s.name}`, tx)));
      if (users.length)
        throw new Conflict(
          `virtual network '${r.name}' is in use by ${users.map(describe).join(', ')}; delete ${users.length > 1 ? 'them' : 'it'} first`,
          { code: 'NETWORK_IN_USE' },
        );
      await this.testHooks.inUseChecked?.();
      return this.engine.deleteIn(tx, r.id);
    });
  }

  /**
   * Holds a network in a write transaction that comes to use it (a DNS zone link): its row locked
   * FOR SHARE until the transaction ends, so a delete or change waits and then sees the new user.
   * Undefined when it is gone.
   */
  async hold(tx: Tx, id: string): Promise<StoredResource | undefined> {
    const r = await this.engine.lock(tx, id, 'share');
    return r && sameType(r.type, VIRTUAL_NETWORK) ? r : undefined;
  }

  /** As `hold`, for a subnet (a private endpoint joining it): its networks now, undefined when it is gone. */
  async holdSubnet(tx: Tx, id: string): Promise<string[] | undefined> {
    const p = parseResourceId(id, 'properties.subnet.id');
    if (!p.parentId) return undefined;
    const vnet = await this.hold(tx, p.parentId);
    const s = vnet && this.subnetsOf(vnet).find((x) => x.name.toLowerCase() === p.name.toLowerCase());
    return s ? subnetNetworks(s.properties as unknown as SubnetRecord).map((n) => n.text) : undefined;
  }

  /** Refuses (409 naming them) when resources outside the resource group `groupKey` use one of its networks. */
  async requireUnusedOutside(groupKey: string): Promise<void> {
    const inside = (id: string) => id.toLowerCase().startsWith(`${groupKey.toLowerCase()}/`);
    const users: string[] = [];
    for (const r of await this.engine.scan({ type: VIRTUAL_NETWORK, groupKey })) {
      users.push(...(await this.usersOf(r.id)));
      for (const s of (r.properties.subnets as SubnetRecord[] | undefined) ?? [])
        users.push(...(await this.usersOf(`${r.id}/subnets/${s.name}`)));
    }
    const outside = users.filter((u) => !inside(u));
    if (outside.length)
      throw new Conflict(
        `the resource group's virtual networks are in use by ${outside.map(describe).join(', ')}, outside the group; delete ${outside.length > 1 ? 'them' : 'it'} first`,
        { code: 'NETWORK_IN_USE' },
      );
  }

  // ---- subnets (child resources kept in their network's row) ----

  /** The subnets of a network, as resources. */
  subnetsOf(vnet: StoredResource): StoredResource[] {
    return ((vnet.properties.subnets as SubnetRecord[] | undefined) ?? []).map((s) => this.subnetResource(vnet, s));
  }

  private subnetResource(vnet: StoredResource, s: SubnetRecord): StoredResource {
    const { name, ...rest } = s;
    return {
      ...vnet,
      id: `${vnet.id}/subnets/${name}`,
      name,
      type: SUBNET,
      parentId: vnet.id,
      location: undefined,
      tags: {},
      properties: { provisioningState: 'Succeeded', ...rest },
    };
  }

  async getSubnet(sub: string, rg: string, vnetName: string, name: string): Promise<StoredResource> {
    const vnet = await this.get(sub, rg, vnetName);
    const s = this.subnetsOf(vnet).find((x) => x.name.toLowerCase() === name.toLowerCase());
    if (!s) throw new NotFound(`subnet '${name}' could not be found in virtual network '${vnet.name}'`);
    return s;
  }

  async listSubnets(sub: string, rg: string, vnetName: string, opts: { after?: string; top: number }) {
    const all = this.subnetsOf(await this.get(sub, rg, vnetName)).sort((a, b) =>
      a.id.toLowerCase() < b.id.toLowerCase() ? -1 : 1,
    );
    const rest = opts.after ? all.filter((s) => s.id.toLowerCase() > opts.after!) : all;
    const value = rest.slice(0, opts.top);
    return { value, hasMore: rest.length > opts.top, lastKey: value.at(-1)?.id.toLowerCase() };
  }

  /** ARM PUT of one subnet: added to (or replaced in) its network in one write. */
  async putSubnet(
    sub: string,
    rg: string,
    vnetName: string,
    name: string,
    body: Obj,
    by: Principal,
  ): Promise<{ resource: StoredResource; created: boolean }> {
    subnetDef.checkName(name);
    onlyKeys(body, ['properties', 'id', 'name', 'type', 'etag', 'systemData'], 'body');
    const record = this.subnetRecord(name, obj(body.properties, 'properties')!, 'properties');
    const vnet = await this.get(sub, rg, vnetName);
    const current = (vnet.properties.subnets as SubnetRecord[] | undefined) ?? [];
    const before = current.find((x) => x.name.toLowerCase() === name.toLowerCase());
    if (before) record.name = before.name;
    const next = before ? current.map((x) => (x === before ? record : x)) : [...current, record];
    const space = ((vnet.properties.addressSpace as { addressPrefixes: string[] }).addressPrefixes ?? []).map((t) =>
      parseNetwork(t, 'stored'),
    );
    this.checkLayout(space, next);
    const out = await this.write(
      vnet.id,
      { location: vnet.location, tags: vnet.tags, properties: { ...vnet.properties, subnets: next } },
      by,
      vnet.etag,
      false,
      vnet,
    );
    return { resource: this.subnetResource(out, record), created: !before };
  }

  async deleteSubnet(
    sub: string,
    rg: string,
    vnetName: string,
    name: string,
    by: Principal | string,
  ): Promise<boolean> {
    const vnet = await this.engine.get(this.id(sub, rg, vnetName));
    if (!vnet) return false;
    const current = (vnet.properties.subnets as SubnetRecord[] | undefined) ?? [];
    const next = current.filter((x) => x.name.toLowerCase() !== name.toLowerCase());
    if (next.length === current.length) return false;
    await this.write(
      vnet.id,
      { location: vnet.location, tags: vnet.tags, properties: { ...vnet.properties, subnets: next } },
      by,
      vnet.etag,
      false,
      vnet,
    );
    return true;
  }

  /**
   * The subnet an ARM id names, with its networks, when it exists and `by` may join it (control/write
   * on it): what a private endpoint in it admits. Undefined when there is no such subnet.
   */
  async resolveSubnet(
    id: string,
    by: Principal,
    target: string,
  ): Promise<{ id: string; prefixes: string[] } | undefined> {
    const p = parseResourceId(id, target);
    if (!sameType(p.type, SUBNET) || !p.parentId)
      throw invalid(target, `must be the id of a subnet (${SUBNET}), got a ${p.type}`);
    const vnet = await this.engine.get(p.parentId);
    const s = vnet ? this.subnetsOf(vnet).find((x) => x.name.toLowerCase() === p.name.toLowerCase()) : undefined;
    if (!s || !(await this.ctx.access.canSee(by.id, s.id))) return undefined;
    await this.ctx.access.require(by.id, s.id, 'control/write', `subnet '${p.name}' could not be found`);
    return { id: s.id, prefixes: subnetNetworks(s.properties as unknown as SubnetRecord).map((n) => n.text) };
  }

  // ---- bodies ----

  async subnetBody(r: StoredResource, detail: boolean): Promise<Obj> {
    const { provisioningState, ...rest } = r.properties;
    const users = detail ? await this.usersOf(r.id) : [];
    return {
      id: r.id,
      name: r.name,
      type: SUBNET,
      etag: r.etag,
      properties: {
        provisioningState,
        ...rest,
        ...(detail
          ? {
              privateEndpoints: users
                .filter((u) => /\/providers\/microsoft\.network\/privateendpoints\/[^/]+$/i.test(u))
                .map((id) => ({ id })),
            }
          : {}),
      },
    };
  }

  async toBody(r: StoredResource, detail: boolean): Promise<Obj> {
    const subnets = [];
    for (const s of this.subnetsOf(r)) subnets.push(await this.subnetBody(s, detail));
    return {
      id: r.id,
      name: r.name,
      type: VIRTUAL_NETWORK,
      location: r.location,
      tags: r.tags,
      etag: r.etag,
      properties: { ...r.properties, subnets, virtualNetworkPeerings: [], enableDdosProtection: false },
    };
  }
}

/** `…/providers/Microsoft.Network/privateEndpoints/pe1` → "private endpoint 'pe1' (resource group 'rg')". */
function describe(id: string): string {
  try {
    const p = parseResourceId(id);
    const kind = p.type
      .split('/')
      .pop()!
      .replace(/([a-z])([A-Z])/g, '$1 $2')
      .toLowerCase()
      .replace(/s$/, '');
    return `${kind} '${p.name}' (resource group '${p.resourceGroup}')`;
  } catch {
    return `'${id}'`;
  }
}
