import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientDialects } from '../testing/harness.js';
import { clientPython, httpsJson } from '../testing/tls-clients.js';
import { startAzureClientServer, type AzureClientServer, type Steps } from '../testing/azure-client-server.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const V = 'api-version=2025-09-01';

// Issue 11: Workspace.add_private_endpoint and Workspace.create(private_endpoint_config=…) through
// the real azureml-core 1.61: its network lookups, its ARM template (endpoint, private DNS zones,
// links, zone group in nested deployments), its polling; then the subnets decide who gets in.
const py = clientPython();
for (const dialect of clientDialects('sqlite')) {
  describe(
    `azureml-core private endpoints over virtual networks (${dialect})`,
    {
      skip: !py && 'no Python with azureml-core (set ATELIER_TEST_PYTHON)',
    },
    () => {
      let s: AzureClientServer;
      let out: Steps;
      const ok = (k: string) => out.ok(k);
      const err = (k: string) => out.err(k);
      const get = (p: string) => httpsJson('GET', `${s.server.url}${p}`, s.ca, s.token);
      let NET: string;
      before(async () => {
        s = await startAzureClientServer(dialect, 'pe');
        await s.workspace('pe-ws');
        const ctx = s.server.ctx;
        const vnetGroup = `/subscriptions/${ctx.defaultSubscriptionId}/resourcegroups/pe-net`;
        const rg = await httpsJson('PUT', `${s.server.url}${vnetGroup}?${V}`, s.ca, s.token, { location: 'local' });
        assert.equal(rg.status, 201, JSON.stringify(rg.body));
        NET = `${vnetGroup}/providers/Microsoft.Network`;
        // Automatic approval needs a role that may approve connections (Owner) on the workspaces.
        const sp = await ctx.principals.findByName(s.env.AZURE_CLIENT_ID!);
        await ctx.access.assign(sp!.id, `/subscriptions/${ctx.defaultSubscriptionId}/resourceGroups/pe`, 'Owner', null);
      });
      after(async () => s?.close());

      it('add_private_endpoint deploys the endpoint, DNS zones, links and zone group in the network group', async () => {
        out = await s.steps(py!, path.join(HERE, 'azureml_core_private_endpoints.py'), {
          WORKSPACE: 'pe-ws',
          NEW_WORKSPACE: 'pe-ws-2',
          VNET_GROUP: 'pe-net',
        });
        assert.deepEqual(ok('virtual network (ARM)'), ['default', 'far']);
        assert.match(err('add_private_endpoint (missing subnet)'), /vnet and subnet was not found/);
        assert.deepEqual(ok('PrivateEndPoint ids'), ['pe-near', 'privateEndpointConnections']);
        assert.deepEqual(ok('ws.private_endpoints'), ['pe-near']);
        assert.equal(ok('connection state'), 'Approved');
        const details = ok('PrivateEndPoint.get_details') as { provisioning_state: string; subnet_id: string };
        assert.equal(details.provisioning_state, 'Succeeded');
        assert.match(details.subnet_id, /virtualNetworks\/pe-vnet\/subnets\/default$/);
        // The endpoint admits its subnet's range (its connection was deleted at the end of the script).
        const pe = await get(`${NET}/privateEndpoints/pe-near?${V}`);
        assert.equal(pe.status, 200, JSON.stringify(pe.body));
        assert.deepEqual(pe.body.properties.subnet.properties.addressPrefixes, ['127.0.0.0/30']);
        assert.equal(
          pe.body.properties.privateLinkServiceConnections[0].properties.privateLinkServiceConnectionState.status,
          'Disconnected',
        );
        // What the template's nested deployments made: both zones the workspace asks for, each linked
        // to the network, and the endpoint's zone group naming them.
        for (const zone of ['privatelink.api.azureml.ms', 'privatelink.notebooks.azure.net']) {
          const z = await get(`${NET}/privateDnsZones/${zone}?${V}`);
          assert.equal(z.status, 200, `${zone}: ${JSON.stringify(z.body)}`);
          const links = await get(`${NET}/privateDnsZones/${zone}/virtualNetworkLinks?${V}`);
          assert.equal(links.body.value.length, 1, JSON.stringify(links.body));
          assert.match(links.body.value[0].properties.virtualNetwork.id, /virtualNetworks\/pe-vnet$/);
        }
        const group = await get(`${NET}/privateEndpoints/pe-near/privateDnsZoneGroups/default?${V}`);
        assert.equal(group.status, 200, JSON.stringify(group.body));
        assert.deepEqual(group.body.properties.privateDnsZoneConfigs.map((c: { name: string }) => c.name).sort(), [
          'privatelink-api-azureml-ms',
          'privatelink-notebooks-azure-net',
        ]);
        const subnet = await get(`${NET}/virtualNetworks/pe-vnet/subnets/default?${V}`);
        assert.deepEqual(
          subnet.body.properties.privateEndpoints.map((e: { id: string }) => e.id.split('/').pop()).sort(),
          ['pe-manual', 'pe-near'],
        );
      });

      it('manual approval leaves the connection Pending; Workspace.create(private_endpoint_config) takes the same path', async () => {
        assert.ok(out, 'the azureml-core process did not run');
        ok('add_private_endpoint (manual approval)');
        assert.equal(ok('manual connection state'), 'Pending');
        assert.equal(ok('Workspace.create(private_endpoint_config)'), 'pe-ws-2');
        assert.deepEqual(ok('Workspace.create: private_endpoints'), ['pe-far']);
        const far = await get(`${NET}/privateEndpoints/pe-far?${V}`);
        assert.deepEqual(far.body.properties.subnet.properties.addressPrefixes, ['127.0.1.0/24']);
      });

      it("with public access disabled, each workspace admits its endpoints' subnets only", async () => {
        assert.ok(out, 'the azureml-core process did not run');
        ok('disable public network access');
        assert.ok((ok("datastores through pe-near's subnet") as string[]).includes('workspaceblobstore'));
        assert.match(ok('datastores of the workspace behind pe-far') as string, /public network access disabled/);
        ok('delete_private_endpoint_connection');
        assert.match(ok('datastores after the connection is deleted') as string, /public network access disabled/);
        // A subnet an endpoint uses cannot be deleted; the answer names the endpoint.
        const del = await httpsJson(
          'DELETE',
          `${s.server.url}${NET}/virtualNetworks/pe-vnet/subnets/far?${V}`,
          s.ca,
          s.token,
        );
        assert.equal(del.status, 409, JSON.stringify(del.body));
        assert.match(del.body.error.message, /private endpoint 'pe-far'/);
      });
    },
  );
}
