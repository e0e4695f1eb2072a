import crypto from 'node:crypto';
import net from 'node:net';
import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import type { Tx } from '../store/database.js';
import { toArmBody, type ResourceEngine, type ResourceDefinition, type StoredResource } from '../resources/engine.js';
import { resolveWorkspaceById, WORKSPACE, type WorkspaceInfo } from '../resources/workspaces.js';
import { parseResourceId, resourceId, sameType } from '../resources/resource-ids.js';
import { normaliseLocation } from '../resources/resource-groups.js';
import type { DependentKind, ResourceTypeRegistry } from '../resources/registry.js';
import { Conflict, Forbidden, InvalidInput, NotFound } from '../errors.js';
import { invalid, obj, onlyKeys, str, stringMap, type Obj } from './validate.js';

export const PRIVATE_ENDPOINT_TYPE = 'Microsoft.Network/privateEndpoints';
export const PE_CONNECTION_TYPE = 'Microsoft.MachineLearningServices/workspaces/privateEndpointConnections';
export const PE_STATES = ['Approved', 'Pending', 'Rejected', 'Disconnected'] as const;

export const privateEndpointDefinition: ResourceDefinition = {
  type: PRIVATE_ENDPOINT_TYPE,
  checkName(name: string) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,78}[a-zA-Z0-9_]$|^[a-zA-Z0-9]$/.test(name)) {
      throw new InvalidInput(
        `private endpoint name '${name}' is invalid: use 1–80 letters, digits, '_', '.', '-', starting with a letter or digit and ending with a letter, digit or '_'`,
        { code: 'INVALID_RESOURCE_NAME', target: 'name' },
      );
    }
  },
};
export const peConnectionDefinition: ResourceDefinition = {
  type: PE_CONNECTION_TYPE,
  checkName(name: string) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(name))
      throw new InvalidInput(`private endpoint connection name '${name}' is invalid`, {
        code: 'INVALID_RESOURCE_NAME',
        target: 'name',
      });
  },
};

/** Parses 'a.b.c.d/n' or an IPv6 CIDR (a bare address is one host). Throws naming `target`. */
export function parseCidr(cidr: string, target: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [addr, bits] = cidr.split('/');
  const v = net.isIP(addr ?? '');
  if (!v) throw invalid(target, `'${cidr}' is not a network: use CIDR notation like 10.0.0.0/24 or 127.0.0.2/32`);
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) throw invalid(target, `'${cidr}' has an invalid prefix length (0–${max})`);
  return { address: addr!, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** The networks a private endpoint admits: `properties.subnet.properties.addressPrefix(es)`. */
function subnetPrefixes(pe: StoredResource): string[] {
  const subnet = pe.properties.subnet as
    { properties?: { addressPrefixes?: string[]; addressPrefix?: string } } | undefined;
  return [
    ...(subnet?.properties?.addressPrefixes ?? []),
    ...(subnet?.properties?.addressPrefix ? [subnet.properties.addressPrefix] : []),
  ];
}

/** The same networks, in any order. */
function sameNetworks(a: string[], b: string[]): boolean {
  const norm = (x: string[]) => [...new Set(x.map((c) => c.trim().toLowerCase()))].sort().join(',');
  return norm(a) === norm(b);
}

/** IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are compared as IPv4. */
export function normaliseAddress(ip: string): string {
  return ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

interface NetworkState {
  at: number;
  disabled: boolean;
  name: string;
  allowed?: net.BlockList;
}

/**
 * Private endpoints (`Microsoft.Network/privateEndpoints`, the networks they admit as their
 * subnet's address prefixes) and the workspace side, `W/privateEndpointConnections/{name}`:
 * Approved at once when the requester may approve on the workspace (Owner) and asked for automatic
 * approval, Pending otherwise until an Owner approves. A workspace with publicNetworkAccess
 * Disabled admits requests only from its approved endpoints' networks (see `check`).
 */
export class PrivateEndpointService {
  private readonly cache = new Map<string, NetworkState>();
  /** Workspaces using a key vault or storage account, by `property:id`. */
  private readonly dependentUsers = new Map<string, { at: number; workspaces: string[] }>();
  static readonly CACHE_MS = 1000;
  /** Test-only: called inside an endpoint's write once it holds its subnet's network, before the write. */
  testHooks: { subnetHeld?: () => Promise<void> } = {};
  private guarded?: { route: RegExp; type: string; param: string; property: DependentKind; paths: string[] }[];
  /**
   * Resolves `properties.subnet.id` to a subnet Atelier keeps (network/services.ts sets it): its
   * networks are what the endpoint admits. Undefined: no such subnet (or the caller may not join it).
   */
  subnets?: {
    resolveSubnet(id: string, by: Principal, target: string): Promise<{ id: string; prefixes: string[] } | undefined>;
    /** Holds the subnet's network FOR SHARE in `tx` (the endpoint's write): its networks now, undefined when gone. */
    holdSubnet(tx: Tx, id: string): Promise<string[] | undefined>;
  };
  /** One per server process (services.ts), shared by the routes and the app-wide network hook (one cache). */
  constructor(
    private readonly ctx: AppContext,
    private readonly engine: ResourceEngine,
    private readonly types: ResourceTypeRegistry,
  ) {}

  endpointId(sub: string, rg: string, name: string): string {
    return resourceId(sub, rg, PRIVATE_ENDPOINT_TYPE, name);
  }

  /** ARM PUT of a private endpoint: validates, records it and makes its connection on the workspace. */
  async put(
    sub: string,
    rg: string,
    name: string,
    body: Obj,
    by: Principal,
  ): Promise<{ resource: StoredResource; created: boolean }> {
    privateEndpointDefinition.checkName(name);
    const id = this.endpointId(sub, rg, name);
    const existing = await this.engine.get(id);
    const p = obj(body.properties, 'properties')!;
    onlyKeys(
      p,
      [
        'subnet',
        'privateLinkServiceConnections',
        'manualPrivateLinkServiceConnections',
        'customNetworkInterfaceName',
        'ipConfigurations',
        'customDnsConfigs',
        'applicationSecurityGroups',
        'provisioningState',
        'networkInterfaces',
      ],
      'properties',
    );
    const subnet = obj(p.subnet, 'properties.subnet')!;
    onlyKeys(subnet, ['id', 'name', 'properties'], 'properties.subnet');
    const sp = obj(subnet.properties, 'properties.subnet.properties', false) ?? {};
    const prefixes: string[] = [];
    if (typeof sp.addressPrefix === 'string') prefixes.push(sp.addressPrefix);
    if (sp.addressPrefixes !== undefined) {
      if (!Array.isArray(sp.addressPrefixes) || sp.addressPrefixes.some((x) => typeof x !== 'string'))
        throw invalid('properties.subnet.properties.addressPrefixes', 'must be a list of CIDRs');
      prefixes.push(...(sp.addressPrefixes as string[]));
    }
    // A subnet Atelier keeps (Microsoft.Network/virtualNetworks/…/subnets/…) gives its range.
    const real =
      typeof subnet.id === 'string' && this.subnets
        ? await this.subnets.resolveSubnet(subnet.id, by, 'properties.subnet.id')
        : undefined;
    if (real) {
      if (prefixes.length && !sameNetworks(prefixes, real.prefixes))
        throw invalid(
          'properties.subnet.properties.addressPrefixes',
          `subnet '${real.id}' has the networks ${real.prefixes.join(', ')}; leave addressPrefixes out (the subnet's are used) or give the same`,
        );
      prefixes.splice(0, prefixes.length, ...real.prefixes);
    } else if (prefixes.length === 0 && typeof subnet.id === 'string')
      throw invalid(
        'properties.subnet.id',
        `subnet '${subnet.id}' could not be found: create the virtual network and subnet first (PUT …/providers/Microsoft.Network/virtualNetworks/{name} with properties.subnets), or give the networks in properties.subnet.properties.addressPrefixes`,
      );
    if (prefixes.length === 0 || prefixes.length > 50)
      throw invalid(
        'properties.subnet.properties.addressPrefixes',
        'list 1–50 networks (CIDRs) this endpoint admits, e.g. ["10.1.0.0/24"], or name a subnet in properties.subnet.id',
      );
    prefixes.forEach((c, i) => parseCidr(c, `properties.subnet.properties.addressPrefixes[${i}]`));
    const auto = Array.isArray(p.privateLinkServiceConnections) ? p.privateLinkServiceConnections : [];
    const manual = Array.isArray(p.manualPrivateLinkServiceConnections) ? p.manualPrivateLinkServiceConnections : [];
    if (auto.length + manual.length !== 1)
      throw invalid(
        'properties',
        'give exactly one entry in privateLinkServiceConnections (automatic approval) or manualPrivateLinkServiceConnections (approval by an Owner of the workspace)',
      );
    const isManual = manual.length === 1;
    const where = isManual
      ? 'properties.manualPrivateLinkServiceConnections[0]'
      : 'properties.privateLinkServiceConnections[0]';
    const link = obj((isManual ? manual : auto)[0], where)!;
    onlyKeys(link, ['name', 'id', 'properties'], where);
    const lp = obj(link.properties, `${where}.properties`)!;
    onlyKeys(
      lp,
      ['privateLinkServiceId', 'groupIds', 'requestMessage', 'privateLinkServiceConnectionState'],
      `${where}.properties`,
    );
    const target = str(lp, 'privateLinkServiceId', `${where}.properties`, { required: true, max: 800 })!;
    const parsed = parseResourceId(target, `${where}.properties.privateLinkServiceId`);
    if (!sameType(parsed.type, WORKSPACE))
      throw invalid(
        `${where}.properties.privateLinkServiceId`,
        'must be the ARM id of a Microsoft.MachineLearningServices/workspaces',
      );
    if (
      lp.groupIds !== undefined &&
      (!Array.isArray(lp.groupIds) || lp.groupIds.some((g) => String(g).toLowerCase() !== 'amlworkspace'))
    )
      throw invalid(`${where}.properties.groupIds`, "must be ['amlworkspace']");
    const requestMessage = str(lp, 'requestMessage', `${where}.properties`, { max: 140 });
    // The requester must be able to see the workspace; it cannot learn of others' workspaces here.
    if (!(await this.ctx.access.canSee(by.id, target)))
      throw invalid(`${where}.properties.privateLinkServiceId`, `workspace '${target}' could not be found`);
    let ws: WorkspaceInfo;
    try {
      ws = await resolveWorkspaceById(this.ctx, target);
    } catch {
      throw invalid(`${where}.properties.privateLinkServiceId`, `workspace '${target}' could not be found`);
    }
    if (existing) {
      const before = existing.properties.privateLinkServiceId as string;
      if (before.toLowerCase() !== ws.id.toLowerCase())
        throw invalid(
          `${where}.properties.privateLinkServiceId`,
          'cannot change; delete the private endpoint and create a new one',
        );
    }
    const canApprove = await this.ctx.access.can(by.id, ws.id, 'access/write');
    const status = !isManual && canApprove ? 'Approved' : 'Pending';
    const description =
      status === 'Approved'
        ? 'Auto-approved'
        : isManual
          ? (requestMessage ?? 'Awaiting approval by an Owner of the workspace')
          : 'Awaiting approval: the requester may not approve connections on the workspace';
    const location = normaliseLocation(typeof body.location === 'string' ? body.location : ws.location);
    const connectionName =
      (existing?.properties.connectionName as string | undefined) ?? `${name}.${crypto.randomUUID()}`;
    const connId = `${ws.id}/privateEndpointConnections/${connectionName}`;
    const linkName = typeof link.name === 'string' && link.name ? link.name : name;
    let state = (await this.engine.get(connId))?.properties.privateLinkServiceConnectionState as Obj | undefined;
    // New networks need a new approval: an Approved connection goes back to Pending unless the
    // requester may approve it and asked for automatic approval.
    const before = existing ? subnetPrefixes(existing) : [];
    const networksChanged = existing !== undefined && !sameNetworks(before, prefixes);
    const reapprove = networksChanged && state?.status === 'Approved';
    if (reapprove) {
      state =
        status === 'Approved'
          ? { status, description: 'Auto-approved (networks changed)', actionsRequired: 'None' }
          : {
              status: 'Pending',
              description: `The private endpoint's networks changed (${before.join(', ')} → ${prefixes.join(', ')}); awaiting approval by an Owner of the workspace`,
              actionsRequired: 'None',
            };
    }
    const linkBody = {
      name: linkName,
      id: `${id}/${isManual ? 'manualPrivateLinkServiceConnections' : 'privateLinkServiceConnections'}/${linkName}`,
      properties: {
        privateLinkServiceId: ws.id,
        groupIds: ['amlworkspace'],
        ...(requestMessage ? { requestMessage } : {}),
        privateLinkServiceConnectionState: state ?? { status, description, actionsRequired: 'None' },
      },
    };
    const props: Obj = {
      provisioningState: 'Succeeded',
      subnet: {
        ...(real ? { id: real.id } : typeof subnet.id === 'string' ? { id: subnet.id } : {}),
        properties: { addressPrefixes: prefixes },
      },
      privateLinkServiceConnections: isManual ? [] : [linkBody],
      manualPrivateLinkServiceConnections: isManual ? [linkBody] : [],
      networkInterfaces: [],
      customDnsConfigs: [],
      privateLinkServiceId: ws.id,
      connectionName,
    };
    const tags = stringMap(body, 'tags', 'body') ?? {};
    // Written holding the subnet's network FOR SHARE: a delete or re-range of the subnet waits for
    // this write and then sees the endpoint, or this waits for it and then finds the subnet changed.
    const out = await this.ctx.database.write(async (tx) => {
      if (real) {
        const now = await this.subnets!.holdSubnet(tx, real.id);
        if (!now || !sameNetworks(now, real.prefixes))
          throw new Conflict(`subnet '${real.id}' was deleted or changed while the endpoint was made; retry`, {
            code: 'CONCURRENT_UPDATE',
          });
        await this.testHooks.subnetHeld?.();
      }
      return this.engine.put(privateEndpointDefinition, id, { location, tags, properties: props }, by, {}, tx);
    });
    try {
      // The connection shows the networks the endpoint asks for, so an Owner sees them when approving.
      const privateEndpoint = { id: out.resource.id, addressPrefixes: prefixes };
      if (!state) {
        await this.engine.put(
          peConnectionDefinition,
          connId,
          {
            properties: {
              privateEndpoint,
              privateLinkServiceConnectionState: { status, description, actionsRequired: 'None' },
              groupIds: ['amlworkspace'],
              provisioningState: 'Succeeded',
            },
          },
          by,
        );
      } else {
        await this.engine.setProperties(connId, {
          privateEndpoint,
          ...(reapprove ? { privateLinkServiceConnectionState: state } : {}),
        });
      }
    } catch (e) {
      if (out.created) await this.engine.delete(id);
      throw e;
    }
    this.cache.delete(ws.id.toLowerCase());
    return { resource: (await this.engine.get(id))!, created: out.created };
  }

  async getEndpoint(sub: string, rg: string, name: string): Promise<StoredResource> {
    const r = await this.engine.get(this.endpointId(sub, rg, name));
    if (!r || !sameType(r.type, PRIVATE_ENDPOINT_TYPE))
      throw new NotFound(`private endpoint '${name}' could not be found in resource group '${rg}'`, {
        code: 'NOT_FOUND',
      });
    return r;
  }

  /** The endpoints of a subscription, or of one of its resource groups (`group`: its name). */
  async listEndpoints(
    sub: string,
    group: string | undefined,
    opts: { after?: string; top: number; visible?: (r: StoredResource) => Promise<boolean> },
  ) {
    return this.engine.listInSubscription(PRIVATE_ENDPOINT_TYPE, sub, group, opts);
  }

  /** Deletes the endpoint and its connection on the workspace. */
  async deleteEndpoint(sub: string, rg: string, name: string): Promise<boolean> {
    const r = await this.engine.get(this.endpointId(sub, rg, name));
    if (!r) return false;
    const wsId = r.properties.privateLinkServiceId as string;
    await this.engine.delete(`${wsId}/privateEndpointConnections/${r.properties.connectionName as string}`);
    this.cache.delete(wsId.toLowerCase());
    return this.engine.delete(r.id);
  }

  async listConnections(ws: WorkspaceInfo, opts: { after?: string; top: number }) {
    return this.engine.list({ type: PE_CONNECTION_TYPE, parentId: ws.id, after: opts.after, top: opts.top });
  }

  async getConnection(ws: WorkspaceInfo, name: string): Promise<StoredResource> {
    const r = await this.engine.get(`${ws.id}/privateEndpointConnections/${name}`);
    if (!r)
      throw new NotFound(`private endpoint connection '${name}' could not be found in workspace '${ws.name}'`, {
        code: 'NOT_FOUND',
      });
    return r;
  }

  /** An Owner approves, rejects or disconnects a connection (PUT with privateLinkServiceConnectionState). */
  async setConnectionState(ws: WorkspaceInfo, name: string, body: Obj, by: Principal): Promise<StoredResource> {
    const conn = await this.getConnection(ws, name);
    const p = obj(body.properties, 'properties')!;
    onlyKeys(
      p,
      ['privateLinkServiceConnectionState', 'privateEndpoint', 'provisioningState', 'groupIds'],
      'properties',
    );
    const st = obj(p.privateLinkServiceConnectionState, 'properties.privateLinkServiceConnectionState')!;
    onlyKeys(st, ['status', 'description', 'actionsRequired'], 'properties.privateLinkServiceConnectionState');
    const status = str(st, 'status', 'properties.privateLinkServiceConnectionState', {
      required: true,
      oneOf: PE_STATES,
    })!;
    const before = (conn.properties.privateLinkServiceConnectionState as { status: string }).status;
    if ((before === 'Rejected' || before === 'Disconnected') && status === 'Approved')
      throw new Conflict(`connection '${name}' is ${before}; the private endpoint must be created again`, {
        code: 'INVALID_PRIVATE_ENDPOINT_CONNECTION_STATE',
      });
    const peNow = await this.engine.get((conn.properties.privateEndpoint as { id: string }).id);
    const current = peNow ? subnetPrefixes(peNow) : [];
    // An approval that names the networks it saw is refused when the endpoint asks for others now.
    const seen =
      p.privateEndpoint !== undefined
        ? (obj(p.privateEndpoint, 'properties.privateEndpoint')!.addressPrefixes as unknown)
        : undefined;
    if (seen !== undefined) {
      if (!Array.isArray(seen) || seen.some((x) => typeof x !== 'string'))
        throw invalid(
          'properties.privateEndpoint.addressPrefixes',
          'must be a list of CIDRs (the networks shown on the connection)',
        );
      if (status === 'Approved' && !sameNetworks(seen as string[], current)) {
        throw new Conflict(
          `the private endpoint's networks are now ${current.join(', ') || 'none'}, not ${(seen as string[]).join(', ')}; look at the connection again before approving`,
          { code: 'PRIVATE_ENDPOINT_NETWORKS_CHANGED' },
        );
      }
    }
    const state = {
      status,
      description:
        str(st, 'description', 'properties.privateLinkServiceConnectionState', { max: 140 }) ??
        `${status} by ${by.name}`,
      actionsRequired: 'None',
    };
    await this.engine.setProperties(conn.id, {
      privateLinkServiceConnectionState: state,
      ...(peNow ? { privateEndpoint: { id: peNow.id, addressPrefixes: current } } : {}),
    });
    // The endpoint shows the same state on its side.
    const pe = peNow;
    if (pe) {
      const fix = (links: unknown) =>
        (links as Obj[]).map((l) => ({
          ...l,
          properties: { ...(l.properties as Obj), privateLinkServiceConnectionState: state },
        }));
      await this.engine.setProperties(pe.id, {
        privateLinkServiceConnections: fix(pe.properties.privateLinkServiceConnections),
        manualPrivateLinkServiceConnections: fix(pe.properties.manualPrivateLinkServiceConnections),
      });
    }
    this.cache.delete(ws.id.toLowerCase());
    return (await this.engine.get(conn.id))!;
  }

  /** Removes the connection; the endpoint stays, Disconnected. */
  async deleteConnection(ws: WorkspaceInfo, name: string): Promise<boolean> {
    const conn = await this.engine.get(`${ws.id}/privateEndpointConnections/${name}`);
    if (!conn) return false;
    const pe = await this.engine.get((conn.properties.privateEndpoint as { id: string }).id);
    const state = {
      status: 'Disconnected',
      description: 'The connection was deleted on the workspace',
      actionsRequired: 'None',
    };
    if (pe) {
      const fix = (links: unknown) =>
        (links as Obj[]).map((l) => ({
          ...l,
          properties: { ...(l.properties as Obj), privateLinkServiceConnectionState: state },
        }));
      await this.engine.setProperties(pe.id, {
        privateLinkServiceConnections: fix(pe.properties.privateLinkServiceConnections),
        manualPrivateLinkServiceConnections: fix(pe.properties.manualPrivateLinkServiceConnections),
      });
    }
    this.cache.delete(ws.id.toLowerCase());
    return this.engine.delete(conn.id);
  }

  /** The networks of the workspace's approved connections, and what is inconsistent (diagnostics). */
  async approvedNetworks(wsId: string): Promise<{ cidrs: string[]; problems: string[] }> {
    const conns = await this.engine.list({ type: PE_CONNECTION_TYPE, parentId: wsId, top: 1000 });
    const cidrs: string[] = [];
    const problems: string[] = [];
    for (const c of conns.value) {
      const st = (c.properties.privateLinkServiceConnectionState as { status?: string })?.status;
      const peId = (c.properties.privateEndpoint as { id?: string })?.id;
      const pe = peId ? await this.engine.get(peId) : undefined;
      if (!pe) {
        problems.push(`connection '${c.name}' refers to private endpoint '${peId ?? '?'}', which no longer exists`);
        continue;
      }
      if ((pe.properties.privateLinkServiceId as string)?.toLowerCase() !== wsId.toLowerCase())
        problems.push(`private endpoint '${pe.name}' does not point back at this workspace`);
      if (st === 'Approved') cidrs.push(...subnetPrefixes(pe));
    }
    return { cidrs, problems };
  }

  private async state(wsIdKey: string): Promise<NetworkState | undefined> {
    const hit = this.cache.get(wsIdKey);
    if (hit && Date.now() - hit.at < PrivateEndpointService.CACHE_MS) return hit;
    const row = await this.engine.get(wsIdKey);
    if (!row) return undefined;
    const disabled = row.properties.publicNetworkAccess === 'Disabled';
    const st: NetworkState = { at: Date.now(), disabled, name: row.name };
    if (disabled) {
      const list = new net.BlockList();
      for (const c of (await this.approvedNetworks(row.id)).cidrs) {
        try {
          const n = parseCidr(c, 'cidr');
          list.addSubnet(n.address, n.prefix, n.family);
        } catch {
          // Stored prefixes were validated when written.
        }
      }
      st.allowed = list;
    }
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(wsIdKey, st);
    return st;
  }

  /**
   * Throws Forbidden when the request's route is under a workspace (control plane under W, or the
   * MLflow data plane under /mlflow/v1.0{W}) whose public network access is disabled and `ip` is in
   * none of its approved private endpoints' networks. Decided on the matched route and its decoded
   * parameters, so no spelling of the URL gets around it. The workspace resource itself, its
   * privateEndpointConnections and diagnose stay reachable, so an Owner can always find out why
   * and manage access.
   */
  async check(route: string | undefined, params: unknown, ip: string): Promise<void> {
    if (!route) return;
    if (await this.checkGuarded(route, params, ip)) return;
    const m = WORKSPACE_ROUTE.exec(route);
    if (!m) return;
    const rest = (m[1] ?? '').toLowerCase();
    if (rest === '' || rest === '/' || rest.startsWith('/privateendpointconnections') || rest.startsWith('/diagnose'))
      return;
    const p = params as { subscriptionId?: string; resourceGroupName?: string; workspaceName?: string };
    if (!p?.subscriptionId || !p.resourceGroupName || !p.workspaceName) return;
    await this.admit(resourceId(p.subscriptionId, p.resourceGroupName, WORKSPACE, p.workspaceName).toLowerCase(), ip);
  }

  /**
   * The guarded paths of a dependent type (`guarded` in its declaration: a key vault's data plane,
   * a storage account's key actions) open what its workspaces keep secret, so they are reachable
   * only from where every workspace using the resource is. The resource itself (GET, tags) stays
   * reachable, as the workspace resource does. Matched on the route, so no spelling gets around it.
   */
  private async checkGuarded(route: string, params: unknown, ip: string): Promise<boolean> {
    for (const g of this.guards()) {
      const m = g.route.exec(route);
      if (!m) continue;
      const rest = (m[1] ?? '').toLowerCase();
      if (!g.paths.some((x) => rest === x || rest.startsWith(`${x}/`))) return true;
      const p = (params ?? {}) as Record<string, string | undefined>;
      const name = p[g.param];
      if (!p.subscriptionId || !p.resourceGroupName || !name) return true;
      for (const ws of await this.workspacesUsing(
        g.property,
        p.subscriptionId.toLowerCase(),
        resourceId(p.subscriptionId, p.resourceGroupName, g.type, name).toLowerCase(),
      ))
        await this.admit(ws, ip);
      return true;
    }
    return false;
  }

  /** The route patterns of the types with guarded paths (read from the registry once every module registered). */
  private guards(): { route: RegExp; type: string; param: string; property: DependentKind; paths: string[] }[] {
    this.guarded ??= this.types
      .all()
      .filter((t) => t.guarded && t.workspaceProperty && !t.parent)
      .map((t) => ({
        route: new RegExp(
          `^/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName/providers/${escapeRegExp(t.type)}/:${t.param}(/.*)?$`,
          'i',
        ),
        type: t.type,
        param: t.param,
        property: t.workspaceProperty!,
        paths: t.guarded!.map((x) => `/${x.toLowerCase()}`),
      }));
    return this.guarded;
  }

  /** The id keys of the workspaces whose `property` (a dependent's ARM id) is `idKey` (cached as the network state is). */
  private async workspacesUsing(property: DependentKind, sub: string, idKey: string): Promise<string[]> {
    const cacheKey = `${property}:${idKey}`;
    const hit = this.dependentUsers.get(cacheKey);
    if (hit && Date.now() - hit.at < PrivateEndpointService.CACHE_MS) return hit.workspaces;
    const rows = await this.engine.scan({ type: WORKSPACE, subscriptionId: sub });
    const workspaces = rows
      .filter((w) => String(w.properties[property] ?? '').toLowerCase() === idKey)
      .map((w) => w.id.toLowerCase());
    if (this.dependentUsers.size > 10_000) this.dependentUsers.clear();
    this.dependentUsers.set(cacheKey, { at: Date.now(), workspaces });
    return workspaces;
  }

  /**
   * For requests that reach a workspace's data by another route than its own (e.g. multipart
   * artifact parts, whose URL names an upload): the same rule as `check`.
   */
  async checkWorkspace(workspaceArmId: string, ip: string): Promise<void> {
    await this.admit(workspaceArmId.toLowerCase(), ip);
  }

  /** Throws Forbidden when the workspace has public network access disabled and `ip` is in none of its approved networks. */
  private async admit(wsIdKey: string, ip: string): Promise<void> {
    const st = await this.state(wsIdKey);
    if (!st?.disabled) return;
    const addr = normaliseAddress(ip);
    const family = net.isIPv4(addr) ? 'ipv4' : 'ipv6';
    if (st.allowed?.check(addr, family)) return;
    throw new Forbidden(
      `workspace '${st.name}' has public network access disabled: requests must come from the network of one of its approved private endpoints, and ${addr} is not in any. Use an approved private endpoint, or ask an Owner to approve one or to enable public network access.`,
      { code: 'PUBLIC_NETWORK_ACCESS_DISABLED' },
    );
  }

  forget(wsId: string): void {
    this.cache.delete(wsId.toLowerCase());
  }

  toBody(r: StoredResource): Record<string, unknown> {
    const p = { ...r.properties };
    delete p.privateLinkServiceId;
    delete p.connectionName;
    const body = toArmBody(r, p);
    if (sameType(r.type, PE_CONNECTION_TYPE)) delete body.tags;
    return body;
  }
}

/** `s` as a regular expression matching itself. */
function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
/**
 * A route pattern under a workspace; group 1 is what follows W. W is reached through ARM, the MLflow
 * data plane (`/mlflow/v1.0{W}`) and azureml-core's v1 services (`/history/v1.0{W}`,
 * `/datastore/v1.0{W}`, `/rp/workspaces{W}`, …): all of them are the workspace's data.
 */
const WORKSPACE_ROUTE =
  /^(?:\/[a-z]+\/v\d+\.\d+|\/rp\/workspaces)?\/subscriptions\/:subscriptionId\/resourcegroups\/:resourceGroupName\/providers\/microsoft\.machinelearningservices\/workspaces\/:workspaceName(\/.*)?$/i;
