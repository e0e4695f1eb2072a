import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, testDialects, type TestServer } from '../testing/harness.js';
import { V, createWorkspace, groupPath, userWithRole, waitForOperation, wsPath } from '../http/arm/arm-test-helpers.js';
import { gate, startBehind } from '../testing/write-race.js';

for (const dialect of testDialects()) {
  describe(`virtual networks, subnets and private DNS zones (${dialect})`, () => {
    let t: TestServer;
    let W: string;
    const NET = () => `${groupPath(t, 'vnet-rg')}/providers/Microsoft.Network`;
    const vnet = (name: string) => `${NET()}/virtualNetworks/${name}`;
    const subnet = (v: string, name: string) => `${vnet(v)}/subnets/${name}`;
    const pe = (name: string) => `${NET()}/privateEndpoints/${name}`;
    const zone = (name: string) => `${NET()}/privateDnsZones/${name}`;
    const peBody = (subnetId: string, extra: Record<string, unknown> = {}) => ({
      location: 'local',
      properties: {
        subnet: { id: subnetId, ...extra },
        privateLinkServiceConnections: [
          { name: 'c', properties: { privateLinkServiceId: W, groupIds: ['amlworkspace'] } },
        ],
      },
    });
    before(async () => {
      t = await startTestServer(dialect);
      await createWorkspace(t, 'vnet-rg', 'vnet-ws');
      W = wsPath(t, 'vnet-rg', 'vnet-ws');
    });
    after(async () => t?.close());

    it('a virtual network keeps its address space and subnets; bad layouts are 400s naming the subnet', async () => {
      const put = await t.request('PUT', `${vnet('net1')}?${V}`, {
        location: 'local',
        properties: {
          addressSpace: { addressPrefixes: ['10.0.0.0/16'] },
          subnets: [{ name: 'default', properties: { addressPrefix: '10.0.0.0/24' } }],
        },
      });
      assert.equal(put.status, 201, put.text);
      assert.deepEqual(put.body.properties.addressSpace.addressPrefixes, ['10.0.0.0/16']);
      assert.equal(put.body.properties.subnets[0].name, 'default');
      assert.equal(put.body.properties.subnets[0].properties.addressPrefix, '10.0.0.0/24');
      assert.equal(put.body.properties.subnets[0].properties.privateEndpointNetworkPolicies, 'Disabled');
      // A subnet of its own (PUT …/subnets/{name}), listed and read.
      const s2 = await t.request('PUT', `${subnet('net1', 'second')}?${V}`, {
        properties: { addressPrefixes: ['10.0.1.0/24'], privateEndpointNetworkPolicies: 'Enabled' },
      });
      assert.equal(s2.status, 201, s2.text);
      assert.equal(s2.body.type, 'Microsoft.Network/virtualNetworks/subnets');
      const list = await t.request('GET', `${vnet('net1')}/subnets?${V}`);
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(
        list.body.value.map((x: { name: string }) => x.name),
        ['default', 'second'],
      );
      const one = await t.request('GET', `${subnet('net1', 'SECOND')}?${V}`);
      assert.equal(one.status, 200, one.text);
      assert.deepEqual(one.body.properties.addressPrefixes, ['10.0.1.0/24']);
      assert.deepEqual(one.body.properties.privateEndpoints, []);
      // Bad input: each a 400 naming what to change, nothing changed.
      const bad = [
        [{ addressPrefix: '10.0.0.128/25' }, /overlaps subnet 'default'/],
        [{ addressPrefix: '10.1.0.0/24' }, /not inside the virtual network's address space/],
        [{ addressPrefix: '10.0.2.5/24' }, /not the start of its network; use 10\.0\.2\.0\/24/],
        [{ addressPrefix: 'ten' }, /not a network/],
        [{}, /give addressPrefix/],
        [{ addressPrefix: '10.0.3.0/24', privateEndpointNetworkPolicies: 'Sometimes' }, /must be one of/],
        [{ addressPrefix: '10.0.3.0/24', networkSecurityGroup: { id: 'x' } }, /networkSecurityGroup: unknown property/],
      ] as const;
      for (const [props, message] of bad) {
        const r = await t.request('PUT', `${subnet('net1', 'bad')}?${V}`, { properties: props });
        assert.equal(r.status, 400, `${JSON.stringify(props)}: ${r.text}`);
        assert.match(r.body.error.message, message);
      }
      assert.equal((await t.request('GET', `${subnet('net1', 'bad')}?${V}`)).status, 404);
      // Shrinking the address space below a subnet, or two overlapping subnets in one PUT.
      const shrink = await t.request('PUT', `${vnet('net1')}?${V}`, {
        location: 'local',
        properties: {
          addressSpace: { addressPrefixes: ['10.0.0.0/24'] },
          subnets: [
            { name: 'default', properties: { addressPrefix: '10.0.0.0/24' } },
            { name: 'second', properties: { addressPrefix: '10.0.1.0/24' } },
          ],
        },
      });
      assert.equal(shrink.status, 400, shrink.text);
      assert.equal(shrink.body.error.code, 'NetcfgSubnetRangeOutsideVnet');
      const twice = await t.request('PUT', `${vnet('net2')}?${V}`, {
        properties: {
          addressSpace: { addressPrefixes: ['192.168.0.0/16'] },
          subnets: [
            { name: 'a', properties: { addressPrefix: '192.168.0.0/20' } },
            { name: 'b', properties: { addressPrefix: '192.168.8.0/24' } },
          ],
        },
      });
      assert.equal(twice.status, 400, twice.text);
      assert.equal(twice.body.error.code, 'NetcfgSubnetRangesOverlap');
      assert.match(twice.body.error.message, /subnet 'b' \(192\.168\.8\.0\/24\) overlaps subnet 'a'/);
      assert.equal((await t.request('GET', `${vnet('net2')}?${V}`)).status, 404);
      const peering = await t.request('PUT', `${vnet('net2')}?${V}`, {
        properties: { addressSpace: { addressPrefixes: ['192.168.0.0/16'] }, enableDdosProtection: true },
      });
      assert.equal(peering.status, 400);
      assert.match(peering.body.error.message, /enableDdosProtection/);
      // Listed per group and per subscription.
      const inGroup = await t.request('GET', `${NET()}/virtualNetworks?${V}`);
      assert.deepEqual(
        inGroup.body.value.map((x: { name: string }) => x.name),
        ['net1'],
      );
      const inSub = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/providers/Microsoft.Network/virtualNetworks?${V}`,
      );
      assert.equal(inSub.status, 200, inSub.text);
      assert.equal(inSub.body.value.length, 1);
    });

    it("a private endpoint in a subnet admits the subnet's range; the subnet and network in use cannot go", async () => {
      const net = await t.request('PUT', `${vnet('loop')}?${V}`, {
        properties: {
          addressSpace: { addressPrefixes: ['127.0.0.0/8'] },
          subnets: [{ name: 'peers', properties: { addressPrefix: '127.0.0.0/30' } }],
        },
      });
      assert.equal(net.status, 201, net.text);
      const subnetId = subnet('loop', 'peers');
      const made = await t.request('PUT', `${pe('pe-net')}?${V}`, peBody(subnetId));
      assert.equal(made.status, 201, made.text);
      assert.deepEqual(made.body.properties.subnet.properties.addressPrefixes, ['127.0.0.0/30']);
      const conns = await t.request('GET', `${W}/privateEndpointConnections?${V}`);
      assert.deepEqual(conns.body.value[0].properties.privateEndpoint.addressPrefixes, ['127.0.0.0/30']);
      // The subnet lists its endpoint.
      const s = await t.request('GET', `${subnetId}?${V}`);
      assert.deepEqual(
        s.body.properties.privateEndpoints.map((x: { id: string }) => x.id.toLowerCase()),
        [pe('pe-net').toLowerCase()],
      );
      // Inline networks that differ from the subnet's: 400; a subnet that does not exist: 400.
      const differ = await t.request(
        'PUT',
        `${pe('pe-x')}?${V}`,
        peBody(subnetId, { properties: { addressPrefixes: ['10.9.0.0/24'] } }),
      );
      assert.equal(differ.status, 400, differ.text);
      assert.match(differ.body.error.message, /has the networks 127\.0\.0\.0\/30/);
      const missing = await t.request('PUT', `${pe('pe-x')}?${V}`, peBody(subnet('loop', 'nope')));
      assert.equal(missing.status, 400, missing.text);
      assert.match(missing.body.error.message, /could not be found: create the virtual network and subnet first/);
      // The inline form still works.
      const inline = await t.request(
        'PUT',
        `${pe('pe-inline')}?${V}`,
        peBody(subnet('elsewhere', 'x'), { properties: { addressPrefixes: ['127.0.0.9/32'] } }),
      );
      assert.equal(inline.status, 201, inline.text);
      // In use: deleting or re-ranging the subnet, or deleting the network, is a 409 naming the endpoint.
      const del = await t.request('DELETE', `${subnetId}?${V}`);
      assert.equal(del.status, 409, del.text);
      assert.match(del.body.error.message, /private endpoint 'pe-net'/);
      const rerange = await t.request('PUT', `${subnetId}?${V}`, { properties: { addressPrefix: '127.0.1.0/24' } });
      assert.equal(rerange.status, 409, rerange.text);
      const delNet = await t.request('DELETE', `${vnet('loop')}?${V}`);
      assert.equal(delNet.status, 409, delNet.text);
      assert.match(delNet.body.error.message, /private endpoint 'pe-net'/);
      // Same range again (e.g. policies changed) is fine.
      const same = await t.request('PUT', `${subnetId}?${V}`, {
        properties: { addressPrefix: '127.0.0.0/30', privateEndpointNetworkPolicies: 'Enabled' },
      });
      assert.equal(same.status, 200, same.text);
      // Once the endpoint is gone, the subnet and network go.
      assert.equal((await t.request('DELETE', `${pe('pe-net')}?${V}`)).status, 200);
      assert.equal((await t.request('DELETE', `${pe('pe-inline')}?${V}`)).status, 200);
      assert.equal((await t.request('DELETE', `${subnetId}?${V}`)).status, 200);
      assert.equal((await t.request('DELETE', `${subnetId}?${V}`)).status, 204);
      assert.equal((await t.request('DELETE', `${vnet('loop')}?${V}`)).status, 200);
    });

    it('private DNS zones, virtual network links and DNS zone groups are checked records', async () => {
      await t.request('PUT', `${vnet('dnsnet')}?${V}`, {
        properties: {
          addressSpace: { addressPrefixes: ['10.8.0.0/16'] },
          subnets: [{ name: 's', properties: { addressPrefix: '10.8.0.0/24' } }],
        },
      });
      const z = await t.request('PUT', `${zone('privatelink.api.azureml.ms')}?${V}`, { location: 'global' });
      assert.equal(z.status, 201, z.text);
      assert.equal(z.body.location, 'global');
      assert.equal((await t.request('PUT', `${zone('bad_zone')}?${V}`, { location: 'global' })).status, 400);
      const notGlobal = await t.request('PUT', `${zone('a.example')}?${V}`, { location: 'local' });
      assert.equal(notGlobal.status, 400);
      assert.match(notGlobal.body.error.message, /global/);
      const link = `${zone('privatelink.api.azureml.ms')}/virtualNetworkLinks/l1`;
      const noNet = await t.request('PUT', `${link}?${V}`, {
        location: 'global',
        properties: { virtualNetwork: { id: vnet('ghost') }, registrationEnabled: false },
      });
      assert.equal(noNet.status, 400, noNet.text);
      assert.match(noNet.body.error.message, /could not be found; create it first/);
      const l = await t.request('PUT', `${link}?${V}`, {
        location: 'global',
        properties: { virtualNetwork: { id: vnet('dnsnet') }, registrationEnabled: false },
      });
      assert.equal(l.status, 201, l.text);
      assert.equal(l.body.properties.virtualNetworkLinkState, 'Completed');
      const dup = await t.request('PUT', `${zone('privatelink.api.azureml.ms')}/virtualNetworkLinks/l2?${V}`, {
        location: 'global',
        properties: { virtualNetwork: { id: vnet('dnsnet') } },
      });
      assert.equal(dup.status, 409, dup.text);
      const zoneNow = await t.request('GET', `${zone('privatelink.api.azureml.ms')}?${V}`);
      assert.equal(zoneNow.body.properties.numberOfVirtualNetworkLinks, 1);
      // A linked network is in use.
      const delNet = await t.request('DELETE', `${vnet('dnsnet')}?${V}`);
      assert.equal(delNet.status, 409, delNet.text);
      assert.match(delNet.body.error.message, /virtual network link 'l1'/);
      // A zone group on an endpoint names existing zones.
      const made = await t.request('PUT', `${pe('pe-dns')}?${V}`, peBody(subnet('dnsnet', 's')));
      assert.equal(made.status, 201, made.text);
      const group = `${pe('pe-dns')}/privateDnsZoneGroups/default`;
      const noZone = await t.request('PUT', `${group}?${V}`, {
        properties: {
          privateDnsZoneConfigs: [{ name: 'x', properties: { privateDnsZoneId: zone('missing.example') } }],
        },
      });
      assert.equal(noZone.status, 400, noZone.text);
      const g = await t.request('PUT', `${group}?${V}`, {
        properties: {
          privateDnsZoneConfigs: [
            { name: 'api', properties: { privateDnsZoneId: zone('privatelink.api.azureml.ms') } },
          ],
        },
      });
      assert.equal(g.status, 201, g.text);
      const groups = await t.request('GET', `${pe('pe-dns')}/privateDnsZoneGroups?${V}`);
      assert.deepEqual(
        groups.body.value.map((x: { name: string }) => x.name),
        ['default'],
      );
      // The zone is in use by the link and the group.
      const delZone = await t.request('DELETE', `${zone('privatelink.api.azureml.ms')}?${V}`);
      assert.equal(delZone.status, 409, delZone.text);
      assert.match(delZone.body.error.message, /virtual network link 'l1'.*private endpoint 'pe-dns'/);
      // Deleting the endpoint takes its zone group along; then the link, zone and network go.
      assert.equal((await t.request('DELETE', `${pe('pe-dns')}?${V}`)).status, 200);
      assert.equal((await t.request('DELETE', `${link}?${V}`)).status, 200);
      assert.equal((await t.request('DELETE', `${zone('privatelink.api.azureml.ms')}?${V}`)).status, 200);
      assert.equal((await t.request('DELETE', `${vnet('dnsnet')}?${V}`)).status, 200);
    });

    it("the workspace's private link resources name its group and DNS zones", async () => {
      const r = await t.request('GET', `${W}/privateLinkResources?${V}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.value[0].properties.groupId, 'amlworkspace');
      assert.deepEqual(r.body.value[0].properties.requiredZoneNames, [
        'privatelink.api.azureml.ms',
        'privatelink.notebooks.azure.net',
      ]);
      assert.equal((await t.request('GET', `${W}/privateLinkResources/amlworkspace?${V}`)).status, 200);
      assert.equal((await t.request('GET', `${W}/privateLinkResources/other?${V}`)).status, 404);
    });

    it('a template deploys a network, an endpoint in its subnet, a DNS zone, its link and zone group; a failure leaves nothing', async () => {
      const template = (zoneName: string) => ({
        $schema: 'https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#',
        contentVersion: '1.0.0.0',
        resources: [
          {
            type: 'Microsoft.Network/virtualNetworks',
            apiVersion: '2023-09-01',
            name: 'tnet',
            location: 'local',
            properties: {
              addressSpace: { addressPrefixes: ['10.20.0.0/16'] },
              subnets: [{ name: 'pe', properties: { addressPrefix: '10.20.1.0/24' } }],
            },
          },
          {
            type: 'Microsoft.Network/privateEndpoints',
            apiVersion: '2019-04-01',
            name: 'tpe',
            location: 'local',
            dependsOn: ['tnet'],
            properties: {
              subnet: { id: "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'tnet', 'pe')]" },
              privateLinkServiceConnections: [
                { name: 'tpe', properties: { privateLinkServiceId: W, groupIds: ['amlworkspace'] } },
              ],
            },
          },
          {
            type: 'Microsoft.Resources/deployments',
            apiVersion: '2017-05-10',
            name: 'dns',
            dependsOn: ['tpe'],
            properties: {
              mode: 'Incremental',
              template: {
                resources: [
                  {
                    type: 'Microsoft.Network/privateDnsZones',
                    apiVersion: '2018-09-01',
                    name: zoneName,
                    location: 'global',
                    properties: {},
                  },
                  {
                    type: 'Microsoft.Network/privateDnsZones/virtualNetworkLinks',
                    apiVersion: '2018-09-01',
                    name: `[concat('${zoneName}', '/', uniqueString('tnet'))]`,
                    location: 'global',
                    dependsOn: [zoneName],
                    properties: {
                      virtualNetwork: { id: "[resourceId('Microsoft.Network/virtualNetworks', 'tnet')]" },
                      registrationEnabled: false,
                    },
                  },
                  {
                    type: 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups',
                    apiVersion: '2020-03-01',
                    name: 'tpe/default',
                    location: 'local',
                    dependsOn: [zoneName],
                    properties: {
                      privateDnsZoneConfigs: [
                        {
                          name: 'z',
                          properties: {
                            privateDnsZoneId: `[resourceId('Microsoft.Network/privateDnsZones', '${zoneName}')]`,
                          },
                        },
                      ],
                    },
                  },
                ],
              },
            },
          },
        ],
      });
      const deploy = async (name: string, zoneName: string) => {
        const put = await t.request(
          'PUT',
          `${groupPath(t, 'vnet-rg')}/providers/Microsoft.Resources/deployments/${name}?${V}`,
          {
            properties: { mode: 'Incremental', template: template(zoneName) },
          },
        );
        assert.equal(put.status, 201, put.text);
        await waitForOperation(t, put.headers.get('azure-asyncoperation')!);
        // The deployment's own state is written when its run ends (the operation's, after it).
        for (let i = 0; ; i++) {
          const d = await t.request(
            'GET',
            `${groupPath(t, 'vnet-rg')}/providers/Microsoft.Resources/deployments/${name}?${V}`,
          );
          if (!['Accepted', 'Running'].includes(d.body.properties.provisioningState) || i > 200) return d.body;
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      // A zone name that is not a DNS name fails the last resource: what was made is removed again.
      const failed = await deploy('net-bad', 'not_a_zone.example');
      assert.equal(failed.properties.provisioningState, 'Failed', JSON.stringify(failed));
      assert.match(JSON.stringify(failed.properties.error), /private DNS zone name 'not_a_zone\.example' is invalid/);
      assert.equal((await t.request('GET', `${vnet('tnet')}?${V}`)).status, 404);
      assert.equal((await t.request('GET', `${pe('tpe')}?${V}`)).status, 404);
      const ok = await deploy('net-ok', 'privatelink.example.test');
      assert.equal(ok.properties.provisioningState, 'Succeeded', JSON.stringify(ok));
      const made = await t.request('GET', `${pe('tpe')}?${V}`);
      assert.deepEqual(made.body.properties.subnet.properties.addressPrefixes, ['10.20.1.0/24']);
      const g = await t.request('GET', `${pe('tpe')}/privateDnsZoneGroups/default?${V}`);
      assert.equal(g.status, 200, g.text);
      const links = await t.request('GET', `${zone('privatelink.example.test')}/virtualNetworkLinks?${V}`);
      assert.equal(links.body.value.length, 1);
    });

    it('two overlapping subnets asked for at once: one is made, the other refused', async () => {
      const net = await t.request('PUT', `${vnet('race')}?${V}`, {
        properties: { addressSpace: { addressPrefixes: ['172.16.0.0/16'] } },
      });
      assert.equal(net.status, 201, net.text);
      for (let round = 0; round < 5; round++) {
        const [a, b] = await Promise.all(
          ['a', 'b'].map((n) =>
            t.request('PUT', `${subnet('race', `${n}${round}`)}?${V}`, {
              properties: { addressPrefix: `172.16.${round}.0/24` },
            }),
          ),
        );
        const statuses = [a!.status, b!.status].sort();
        assert.equal(statuses[0], 201, `${a!.text} ${b!.text}`);
        // The loser saw the winner's subnet (400 overlap) or lost the write (409, retry).
        assert.ok([400, 409].includes(statuses[1]!), `${a!.text} ${b!.text}`);
      }
      const list = await t.request('GET', `${vnet('race')}/subnets?${V}`);
      assert.equal(list.body.value.length, 5);
    });

    it('a private endpoint joining a subnet while it is deleted: never an endpoint in a missing subnet', async () => {
      for (let round = 0; round < 6; round++) {
        const sn = subnet('race', `gone${round}`);
        const made = await t.request('PUT', `${sn}?${V}`, {
          properties: { addressPrefix: `172.16.${100 + round}.0/24` },
        });
        assert.equal(made.status, 201, made.text);
        const [joined, deleted] = await Promise.all([
          t.request('PUT', `${pe(`pe-race${round}`)}?${V}`, peBody(sn)),
          t.request('DELETE', `${sn}?${V}`),
        ]);
        assert.ok([201, 400, 409].includes(joined.status), joined.text);
        assert.ok([200, 409].includes(deleted.status), deleted.text);
        const endpoint = await t.request('GET', `${pe(`pe-race${round}`)}?${V}`);
        const left = await t.request('GET', `${sn}?${V}`);
        if (endpoint.status === 200) {
          assert.equal(left.status, 200, `endpoint ${round} in a deleted subnet`);
          assert.equal((await t.request('DELETE', `${pe(`pe-race${round}`)}?${V}`)).status, 200);
        }
      }
    });

    // The in-use checks of a network's, subnet's or zone's delete run in the delete's write
    // transaction holding its row; whoever comes to use it holds that row FOR SHARE while it writes.
    // Each race is run in both orders, the order fixed by a gate (no sleeps).
    const netWithSubnet = async (name: string, third: number) => {
      const r = await t.request('PUT', `${vnet(name)}?${V}`, {
        properties: {
          addressSpace: { addressPrefixes: [`10.${third}.0.0/16`] },
          subnets: [{ name: 's', properties: { addressPrefix: `10.${third}.0.0/24` } }],
        },
      });
      assert.equal(r.status, 201, r.text);
    };
    const linkBody = (net: string) => ({ location: 'global', properties: { virtualNetwork: { id: vnet(net) } } });

    it('a network or subnet delete that checked first wins: the endpoint or link waiting behind it is refused and not made', async () => {
      const { vnets } = t.server.services.network;
      for (const [i, what] of (['network', 'subnet', 'link'] as const).entries()) {
        await netWithSubnet(`first-${what}`, 60 + i);
        if (what === 'link')
          assert.equal((await t.request('PUT', `${zone(`first.example`)}?${V}`, { location: 'global' })).status, 201);
        const g = gate();
        vnets.testHooks.inUseChecked = g.hook;
        const del = t.request(
          'DELETE',
          what === 'subnet' ? `${subnet(`first-${what}`, 's')}?${V}` : `${vnet(`first-${what}`)}?${V}`,
        );
        await g.reached;
        vnets.testHooks.inUseChecked = undefined;
        const user = what === 'link' ? `${zone('first.example')}/virtualNetworkLinks/behind` : pe(`behind-${what}`);
        const { outcome } = await startBehind(t.server.ctx.database, () =>
          t.request(
            'PUT',
            `${user}?${V}`,
            what === 'link' ? linkBody(`first-${what}`) : peBody(subnet(`first-${what}`, 's')),
          ),
        );
        g.open();
        assert.equal((await del).status, 200, what);
        const put = await outcome;
        assert.ok(put.ok);
        // SQLite: the put's checks read after the delete's commit (400: not found); PostgreSQL: it
        // waited for the network's row in its write and found it gone (400 link, 409 endpoint).
        assert.ok([400, 409].includes(put.value.status), `${what}: ${put.value.text}`);
        assert.equal((await t.request('GET', `${user}?${V}`)).status, 404, `no ${what} user was written`);
      }
      assert.equal((await t.request('DELETE', `${zone('first.example')}?${V}`)).status, 200);
    });

    it('an endpoint or link that holds the network first wins: the delete waiting behind it sees it and answers 409', async () => {
      const { dns } = t.server.services.network;
      const endpoints = t.server.services.assets.endpoints;
      for (const [i, what] of (['network', 'subnet', 'link'] as const).entries()) {
        await netWithSubnet(`held-${what}`, 70 + i);
        if (what === 'link')
          assert.equal((await t.request('PUT', `${zone('held.example')}?${V}`, { location: 'global' })).status, 201);
        const g = gate();
        if (what === 'link') dns.testHooks.held = g.hook;
        else endpoints.testHooks.subnetHeld = g.hook;
        const user = what === 'link' ? `${zone('held.example')}/virtualNetworkLinks/ahead` : pe(`ahead-${what}`);
        const put = t.request(
          'PUT',
          `${user}?${V}`,
          what === 'link' ? linkBody(`held-${what}`) : peBody(subnet(`held-${what}`, 's')),
        );
        await g.reached;
        dns.testHooks.held = endpoints.testHooks.subnetHeld = undefined;
        const { outcome } = await startBehind(t.server.ctx.database, () =>
          t.request(
            'DELETE',
            what === 'subnet' ? `${subnet(`held-${what}`, 's')}?${V}` : `${vnet(`held-${what}`)}?${V}`,
          ),
        );
        g.open();
        assert.equal((await put).status, 201, what);
        const del = await outcome;
        assert.ok(del.ok);
        assert.equal(del.value.status, 409, `${what}: ${del.value.text}`);
        assert.match(
          del.value.body.error.message,
          what === 'link' ? /virtual network link 'ahead'/ : /private endpoint 'ahead-/,
        );
        assert.equal((await t.request('GET', `${subnet(`held-${what}`, 's')}?${V}`)).status, 200);
        // Once the user is gone, so can the network be.
        assert.equal((await t.request('DELETE', `${user}?${V}`)).status, 200);
        assert.equal((await t.request('DELETE', `${vnet(`held-${what}`)}?${V}`)).status, 200);
      }
      assert.equal((await t.request('DELETE', `${zone('held.example')}?${V}`)).status, 200);
    });

    it('a private DNS zone delete races a link or a zone group in both orders: one always loses', async () => {
      const { dns } = t.server.services.network;
      await netWithSubnet('zone-net', 80);
      assert.equal((await t.request('PUT', `${pe('zone-pe')}?${V}`, peBody(subnet('zone-net', 's')))).status, 201);
      const groupBody = (z: string) => ({
        properties: { privateDnsZoneConfigs: [{ name: 'z', properties: { privateDnsZoneId: zone(z) } }] },
      });
      for (const what of ['link', 'group'] as const) {
        const userOf = (z: string) =>
          what === 'link' ? `${zone(z)}/virtualNetworkLinks/l` : `${pe('zone-pe')}/privateDnsZoneGroups/default`;
        const bodyOf = (z: string) => (what === 'link' ? linkBody('zone-net') : groupBody(z));
        // The delete checked first: the user waiting behind it is refused and not written.
        const z1 = `first-${what}.example`;
        assert.equal((await t.request('PUT', `${zone(z1)}?${V}`, { location: 'global' })).status, 201);
        const g1 = gate();
        dns.testHooks.inUseChecked = g1.hook;
        const del = t.request('DELETE', `${zone(z1)}?${V}`);
        await g1.reached;
        dns.testHooks.inUseChecked = undefined;
        const behind = await startBehind(t.server.ctx.database, () =>
          t.request('PUT', `${userOf(z1)}?${V}`, bodyOf(z1)),
        );
        g1.open();
        assert.equal((await del).status, 200, what);
        const put = await behind.outcome;
        assert.ok(put.ok);
        assert.ok([400, 404].includes(put.value.status), `${what}: ${put.value.text}`);
        assert.equal((await t.request('GET', `${userOf(z1)}?${V}`)).status, 404, `no ${what} was written`);
        // The user held the zone first: the delete waiting behind it sees it and answers 409.
        const z2 = `held-${what}.example`;
        assert.equal((await t.request('PUT', `${zone(z2)}?${V}`, { location: 'global' })).status, 201);
        const g2 = gate();
        dns.testHooks.held = g2.hook;
        const made = t.request('PUT', `${userOf(z2)}?${V}`, bodyOf(z2));
        await g2.reached;
        dns.testHooks.held = undefined;
        const behindDel = await startBehind(t.server.ctx.database, () => t.request('DELETE', `${zone(z2)}?${V}`));
        g2.open();
        assert.equal((await made).status, 201, what);
        const refused = await behindDel.outcome;
        assert.ok(refused.ok);
        assert.equal(refused.value.status, 409, `${what}: ${refused.value.text}`);
        assert.equal((await t.request('GET', `${zone(z2)}?${V}`)).status, 200);
        assert.equal((await t.request('DELETE', `${userOf(z2)}?${V}`)).status, 200);
        assert.equal((await t.request('DELETE', `${zone(z2)}?${V}`)).status, 200);
      }
    });

    it('a resource group whose network an endpoint in another group uses is not deleted', async () => {
      const other = `/subscriptions/${t.subscriptionId}/resourceGroups/vnet-other`;
      assert.equal((await t.request('PUT', `${other}?${V}`, { location: 'local' })).status, 201);
      const net = await t.request('PUT', `${other}/providers/Microsoft.Network/virtualNetworks/shared?${V}`, {
        properties: {
          addressSpace: { addressPrefixes: ['10.50.0.0/16'] },
          subnets: [{ name: 's', properties: { addressPrefix: '10.50.0.0/24' } }],
        },
      });
      assert.equal(net.status, 201, net.text);
      const made = await t.request(
        'PUT',
        `${pe('pe-cross')}?${V}`,
        peBody(`${other}/providers/Microsoft.Network/virtualNetworks/shared/subnets/s`),
      );
      assert.equal(made.status, 201, made.text);
      const del = await t.request('DELETE', `${other}?${V}`);
      assert.equal(del.status, 409, del.text);
      assert.match(del.body.error.message, /private endpoint 'pe-cross'/);
      assert.equal(
        (await t.request('GET', `${other}/providers/Microsoft.Network/virtualNetworks/shared?${V}`)).status,
        200,
      );
      assert.equal((await t.request('DELETE', `${pe('pe-cross')}?${V}`)).status, 200);
      assert.equal((await t.request('DELETE', `${other}?${V}`)).status, 200);
    });

    it('a Reader cannot make networks, and one without a role sees none', async () => {
      const reader = await userWithRole(t, 'vnet-reader', 'Reader', groupPath(t, 'vnet-rg'));
      const put = await t.request(
        'PUT',
        `${vnet('r')}?${V}`,
        { properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] } } },
        { token: reader.token },
      );
      assert.equal(put.status, 403, put.text);
      const nobody = await userWithRole(t, 'vnet-nobody', null);
      const get = await t.request('GET', `${vnet('tnet')}?${V}`, undefined, { token: nobody.token });
      assert.equal(get.status, 404, get.text);
      const subnets = await t.request('GET', `${vnet('tnet')}/subnets?${V}`, undefined, { token: nobody.token });
      assert.equal(subnets.status, 404, subnets.text);
    });
  });
}
