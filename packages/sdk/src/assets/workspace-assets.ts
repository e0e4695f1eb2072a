import { NotFoundError, ValidationError } from '../errors.js';
import { Workspace } from '../workspace/workspace.js';
import { Datastore } from './datastore.js';
import { Dataset, type FileDataset, type TabularDataset } from './dataset.js';
import { Environment } from './environment.js';
import { Keyvault } from './keyvault.js';
import { linkOf } from './link.js';
import type * as C from '@atelier/contracts';

/** A connection as get/list return it (secret parts are never returned). */
export type WorkspaceConnection = C.Connection;

/**
 * The seed's `PrivateEndPointConfig`: the endpoint sits in `vnetSubnetName` of `vnetName` (a virtual
 * network the server keeps; it admits that subnet's range), or admits `addressPrefixes` given here.
 */
export interface PrivateEndpointConfig {
  name: string;
  /** Networks (CIDRs) the endpoint admits, e.g. ['10.1.0.0/24']; leave out to take the subnet's (`vnetName`). */
  addressPrefixes?: string[];
  vnetName?: string;
  vnetSubnetName?: string;
  vnetResourceGroup?: string;
  vnetSubscriptionId?: string;
}

export interface PrivateEndpointConnectionInfo {
  name: string;
  id: string;
  privateEndpointId: string;
  status: 'Approved' | 'Pending' | 'Rejected' | 'Disconnected' | string;
  description?: string;
}

export type DiagnoseResult = C.DiagnoseResult;
export type DiagnoseReport = C.DiagnoseReport;

// Workspace methods of the assets feature, attached to the SDK's Workspace class.
declare module '../workspace/workspace.js' {
  interface Workspace {
    datastores(): Promise<Map<string, Datastore>>;
    getDefaultDatastore(): Promise<Datastore>;
    setDefaultDatastore(name: string): Promise<void>;
    datasets(): Promise<Map<string, FileDataset | TabularDataset>>;
    environments(): Promise<Map<string, Environment>>;
    getDefaultKeyvault(): Keyvault;
    /** Another key vault (by ARM id) through this workspace's server, e.g. the one holding a customer-managed key. */
    getKeyvault(armId: string): Keyvault;
    setConnection(
      name: string,
      category: string,
      target: string,
      authType: string,
      value: string,
    ): Promise<WorkspaceConnection>;
    getConnection(name: string): Promise<WorkspaceConnection>;
    listConnections(category?: string, target?: string): Promise<WorkspaceConnection[]>;
    deleteConnection(name: string): Promise<void>;
    addPrivateEndpoint(opts: {
      privateEndpointConfig: PrivateEndpointConfig;
      privateEndpointAutoApproval?: boolean;
      location?: string;
      tags?: Record<string, string>;
      showOutput?: boolean;
    }): Promise<PrivateEndpointConnectionInfo>;
    deletePrivateEndpointConnection(name: string): Promise<void>;
    privateEndpoints(): Promise<Map<string, PrivateEndpointConnectionInfo>>;
    diagnoseWorkspace(params?: Record<string, Record<string, unknown>>): Promise<DiagnoseReport>;
    linkedServices(): Promise<Map<string, C.LinkedService>>;
  }
}

type Conn = WorkspaceConnection;
const W = Workspace.prototype;

W.datastores = function () {
  return Datastore.list(this);
};
W.getDefaultDatastore = async function () {
  const link = linkOf(this);
  for await (const d of link.client.list<ConstructorParameters<typeof Datastore>[1]>(`${link.id}/datastores`, {
    query: { isDefault: 'true' },
    what: 'get the default datastore',
  }))
    return new Datastore(link, d);
  throw new NotFoundError(`workspace '${this.name}' has no default datastore; set one with setDefaultDatastore`);
};
W.setDefaultDatastore = async function (name: string) {
  const ds = await Datastore.get(this, name);
  await Datastore.register(this, name, { ...ds.properties, isDefault: true });
};
W.datasets = function () {
  return Dataset.list(this);
};
W.environments = function () {
  return Environment.list(this);
};
W.getDefaultKeyvault = function () {
  const id = this.armResource.properties?.keyVault;
  if (!id) throw new NotFoundError(`workspace '${this.name}' has no key vault`);
  return new Keyvault(linkOf(this), id);
};
W.getKeyvault = function (armId: string) {
  if (
    typeof armId !== 'string' ||
    !/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+$/i.test(armId)
  ) {
    throw new ValidationError(
      `'${String(armId)}' is not a key vault id: /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}`,
      { target: 'armId' },
    );
  }
  return new Keyvault(linkOf(this), armId);
};
W.setConnection = async function (name, category, target, authType, value) {
  const link = linkOf(this);
  const r = await link.client.request<Conn>('PUT', `${link.id}/connections/${encodeURIComponent(name)}`, {
    body: { properties: { category, target, authType, value, valueFormat: 'JSON' } },
    what: `set connection '${name}'`,
  });
  return r.body;
};
W.getConnection = async function (name) {
  const link = linkOf(this);
  return (
    await link.client.request<Conn>('GET', `${link.id}/connections/${encodeURIComponent(name)}`, {
      what: `get connection '${name}'`,
    })
  ).body;
};
W.listConnections = async function (category?: string, target?: string) {
  const link = linkOf(this);
  const out: Conn[] = [];
  for await (const c of link.client.list<Conn>(`${link.id}/connections`, {
    query: { category, target },
    what: 'list connections',
  }))
    out.push(c);
  return out;
};
W.deleteConnection = async function (name) {
  const link = linkOf(this);
  await link.client.request('DELETE', `${link.id}/connections/${encodeURIComponent(name)}`, {
    what: `delete connection '${name}'`,
  });
};

function connectionInfo(c: C.PrivateEndpointConnection): PrivateEndpointConnectionInfo {
  return {
    name: c.name,
    id: c.id,
    privateEndpointId: c.properties.privateEndpoint?.id ?? '',
    status: c.properties.privateLinkServiceConnectionState?.status ?? 'Unknown',
    description: c.properties.privateLinkServiceConnectionState?.description,
  };
}

W.addPrivateEndpoint = async function (opts) {
  const cfg = opts.privateEndpointConfig;
  if (!cfg?.name)
    throw new ValidationError('privateEndpointConfig.name is required', { target: 'privateEndpointConfig.name' });
  if (
    cfg.addressPrefixes === undefined
      ? !cfg.vnetName
      : !Array.isArray(cfg.addressPrefixes) || cfg.addressPrefixes.length === 0
  )
    throw new ValidationError(
      'privateEndpointConfig.addressPrefixes must list the networks (CIDRs) the endpoint admits, unless vnetName names a virtual network whose subnet gives them',
      { target: 'privateEndpointConfig.addressPrefixes' },
    );
  const link = linkOf(this);
  const sub = cfg.vnetSubscriptionId ?? this.subscriptionId;
  const rg = cfg.vnetResourceGroup ?? this.resourceGroup;
  const peId = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/privateEndpoints/${encodeURIComponent(cfg.name)}`;
  const connection = { name: cfg.name, properties: { privateLinkServiceId: this.id, groupIds: ['amlworkspace'] } };
  const auto = opts.privateEndpointAutoApproval ?? true;
  const subnetId = cfg.vnetName
    ? `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/virtualNetworks/${cfg.vnetName}/subnets/${cfg.vnetSubnetName ?? 'default'}`
    : undefined;
  const body = {
    location: opts.location ?? this.location,
    tags: opts.tags ?? {},
    properties: {
      subnet: {
        ...(subnetId ? { id: subnetId } : {}),
        ...(cfg.addressPrefixes ? { properties: { addressPrefixes: cfg.addressPrefixes } } : {}),
      },
      [auto ? 'privateLinkServiceConnections' : 'manualPrivateLinkServiceConnections']: [connection],
    },
  };
  await link.client.request('PUT', peId, { body, what: `create private endpoint '${cfg.name}'` });
  const mine = [...(await this.privateEndpoints()).values()].find(
    (c) => c.privateEndpointId.toLowerCase() === peId.toLowerCase(),
  );
  if (!mine)
    throw new NotFoundError(`private endpoint '${cfg.name}' was made but its connection on the workspace is missing`);
  if (opts.showOutput ?? true)
    process.stdout.write(`Private endpoint '${cfg.name}': connection ${mine.name} is ${mine.status}\n`);
  return mine;
};
W.deletePrivateEndpointConnection = async function (name) {
  const link = linkOf(this);
  await link.client.request('DELETE', `${link.id}/privateEndpointConnections/${encodeURIComponent(name)}`, {
    what: `delete private endpoint connection '${name}'`,
  });
};
W.privateEndpoints = async function () {
  const link = linkOf(this);
  const out = new Map<string, PrivateEndpointConnectionInfo>();
  for await (const c of link.client.list<C.PrivateEndpointConnection>(`${link.id}/privateEndpointConnections`, {
    what: 'list private endpoint connections',
  }))
    out.set(c.name, connectionInfo(c));
  return out;
};
W.diagnoseWorkspace = async function (params = {}) {
  const link = linkOf(this);
  const initial = await link.client.request('POST', `${link.id}/diagnose`, {
    body: { value: params },
    what: `diagnose workspace '${this.name}'`,
  });
  const final = await link.client.waitFor(initial, 'POST', link.id, { what: `diagnose workspace '${this.name}'` });
  return (final?.body as C.DiagnoseResponse).value;
};
W.linkedServices = async function () {
  const link = linkOf(this);
  const r = await link.client.request<C.LinkedServiceList>('GET', `${link.id}/linkedServices`, {
    what: 'list linked services',
  });
  return new Map(r.body.value.map((l) => [l.name, l]));
};
