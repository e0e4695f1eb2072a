import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestServer, testDialects, type TestServer } from '../../../testing/harness.js';
import { V, createWorkspace, groupPath, userWithRole, wsPath } from '../arm-test-helpers.js';

/** A GET from a given loopback source address (127.0.0.x), as a client on another network would be. */
function getFrom(
  t: TestServer,
  localAddress: string,
  path: string,
  token = t.adminToken,
): Promise<{ status: number; body: any }> {
  return requestFrom(t, localAddress, 'GET', path, undefined, token);
}

/** A request from a given loopback source address, with an optional JSON body. */
function requestFrom(
  t: TestServer,
  localAddress: string,
  method: string,
  path: string,
  json?: unknown,
  token: string | null = t.adminToken,
  extra: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, t.url);
    const payload = json === undefined ? undefined : JSON.stringify(json);
    const headers: Record<string, string> = {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(payload ? { 'content-type': 'application/json' } : {}),
      ...extra,
    };
    const req = http.request(
      { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method, localAddress, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Polls until `from` gets `status` (the network state is cached for a second). */
async function eventually(
  t: TestServer,
  from: string,
  path: string,
  status: number,
): Promise<{ status: number; body: any }> {
  let last: { status: number; body: any } = { status: 0, body: undefined };
  for (let i = 0; i < 40; i++) {
    last = await getFrom(t, from, path);
    if (last.status === status) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${from} ${path}: expected ${status}, got ${last.status} ${JSON.stringify(last.body)}`);
}

for (const dialect of testDialects()) {
  describe(`private endpoints and network access (${dialect})`, () => {
    let t: TestServer;
    let W: string;
    const pe = (name: string) => `${groupPath(t, 'net-rg')}/providers/Microsoft.Network/privateEndpoints/${name}?${V}`;
    before(async () => {
      t = await startTestServer(dialect);
      await createWorkspace(t, 'net-rg', 'net-ws');
      W = wsPath(t, 'net-rg', 'net-ws');
    });
    after(async () => t?.close());

    it('an Owner asking for automatic approval gets an Approved connection', async () => {
      const put = await t.request('PUT', pe('pe-a'), {
        location: 'local',
        properties: {
          subnet: { properties: { addressPrefixes: ['127.0.0.2/32'] } },
          privateLinkServiceConnections: [
            { name: 'pe-a', properties: { privateLinkServiceId: W, groupIds: ['amlworkspace'] } },
          ],
        },
      });
      assert.equal(put.status, 201, put.text);
      assert.equal(
        put.body.properties.privateLinkServiceConnections[0].properties.privateLinkServiceConnectionState.status,
        'Approved',
      );
      const conns = await t.request('GET', `${W}/privateEndpointConnections?${V}`);
      assert.equal(conns.body.value.length, 1);
      assert.equal(conns.body.value[0].properties.privateLinkServiceConnectionState.status, 'Approved');
      assert.equal(
        conns.body.value[0].properties.privateEndpoint.id.toLowerCase(),
        pe('pe-a').split('?')[0]!.toLowerCase(),
      );
      // Listed per resource group and per subscription (the generic router's lists of a top-level type).
      const inGroup = await t.request('GET', pe('').replace('/?', '?'));
      assert.deepEqual(
        inGroup.body.value.map((x: { name: string }) => x.name),
        ['pe-a'],
      );
      const inSub = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/providers/Microsoft.Network/privateEndpoints?${V}`,
      );
      assert.equal(inSub.status, 200, inSub.text);
      assert.ok(inSub.body.value.some((x: { id: string }) => x.id === put.body.id));
    });

    it('with public access disabled, only approved endpoint networks reach the workspace (control and MLflow planes)', async () => {
      const patch = await t.request('PATCH', `${W}?${V}`, { properties: { publicNetworkAccess: 'Disabled' } });
      assert.equal(patch.status, 200, patch.text);
      const refused = await eventually(t, '127.0.0.1', `${W}/datastores?${V}`, 403);
      assert.equal(refused.body.error.code, 'PublicNetworkAccessDisabled');
      assert.match(refused.body.error.message, /127\.0\.0\.1 is not in any/);
      const mlflow = `/mlflow/v1.0${W}/api/2.0/mlflow/experiments/search?max_results=5`;
      const mlRefused = await getFrom(t, '127.0.0.1', mlflow);
      assert.equal(mlRefused.status, 403, JSON.stringify(mlRefused.body));
      // The workspace resource itself stays manageable.
      assert.equal((await getFrom(t, '127.0.0.1', `${W}?${V}`)).status, 200);
      assert.equal((await getFrom(t, '127.0.0.2', `${W}/datastores?${V}`)).status, 200);
      assert.equal((await getFrom(t, '127.0.0.2', mlflow)).status, 200);
      // Encoded or oddly-cased spellings of the URL are the same workspace.
      assert.equal(
        (
          await getFrom(
            t,
            '127.0.0.1',
            `${W.replace('workspaces/net-ws', 'workspaces/NET%2Dws').toUpperCase().replace('/SUBSCRIPTIONS/', '/subscriptions/')}/datastores?${V}`,
          )
        ).status,
        403,
      );
    });

    it('a manual request stays Pending until an Owner approves; deleting the connection cuts access', async () => {
      const contributor = await userWithRole(t, `net-contrib-${dialect}`, 'Contributor', groupPath(t, 'net-rg'));
      const put = await t.request(
        'PUT',
        pe('pe-b'),
        {
          location: 'local',
          properties: {
            subnet: { properties: { addressPrefix: '127.0.0.3/32' } },
            manualPrivateLinkServiceConnections: [
              { name: 'pe-b', properties: { privateLinkServiceId: W, requestMessage: 'please' } },
            ],
          },
        },
        { token: contributor.token },
      );
      assert.equal(put.status, 201, put.text);
      const conns = (await t.request('GET', `${W}/privateEndpointConnections?${V}`)).body.value;
      const pending = conns.find((c: any) => c.properties.privateLinkServiceConnectionState.status === 'Pending');
      assert.ok(pending, JSON.stringify(conns));
      assert.equal((await getFrom(t, '127.0.0.3', `${W}/datastores?${V}`)).status, 403);
      const approve = { properties: { privateLinkServiceConnectionState: { status: 'Approved', description: 'ok' } } };
      assert.equal(
        (
          await t.request('PUT', `${W}/privateEndpointConnections/${pending.name}?${V}`, approve, {
            token: contributor.token,
          })
        ).status,
        403,
      );
      const ok = await t.request('PUT', `${W}/privateEndpointConnections/${pending.name}?${V}`, approve);
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await getFrom(t, '127.0.0.3', `${W}/datastores?${V}`)).status, 200);
      const peBody = await t.request('GET', pe('pe-b'));
      assert.equal(
        peBody.body.properties.manualPrivateLinkServiceConnections[0].properties.privateLinkServiceConnectionState
          .status,
        'Approved',
      );

      const first = conns.find((c: any) => c.name.startsWith('pe-a.'));
      assert.equal((await t.request('DELETE', `${W}/privateEndpointConnections/${first.name}?${V}`)).status, 200);
      assert.equal((await getFrom(t, '127.0.0.2', `${W}/datastores?${V}`)).status, 403);
      assert.equal(
        (await t.request('GET', pe('pe-a'))).body.properties.privateLinkServiceConnections[0].properties
          .privateLinkServiceConnectionState.status,
        'Disconnected',
      );
      assert.equal((await t.request('DELETE', pe('pe-b'))).status, 200);
      assert.equal((await t.request('GET', `${W}/privateEndpointConnections?${V}`)).body.value.length, 0);
      assert.equal((await getFrom(t, '127.0.0.3', `${W}/datastores?${V}`)).status, 403);

      assert.equal(
        (await t.request('PATCH', `${W}?${V}`, { properties: { publicNetworkAccess: 'Enabled' } })).status,
        200,
      );
      await eventually(t, '127.0.0.1', `${W}/datastores?${V}`, 200);
    });

    it('validates private endpoints', async () => {
      for (const props of [
        {
          subnet: { properties: { addressPrefixes: ['not-a-net'] } },
          privateLinkServiceConnections: [{ properties: { privateLinkServiceId: W } }],
        },
        {
          subnet: { properties: { addressPrefixes: ['10.0.0.0/33'] } },
          privateLinkServiceConnections: [{ properties: { privateLinkServiceId: W } }],
        },
        { subnet: { properties: {} }, privateLinkServiceConnections: [{ properties: { privateLinkServiceId: W } }] },
        { subnet: { properties: { addressPrefixes: ['10.0.0.0/24'] } }, privateLinkServiceConnections: [] },
        {
          subnet: { properties: { addressPrefixes: ['10.0.0.0/24'] } },
          privateLinkServiceConnections: [{ properties: { privateLinkServiceId: `${W}x` } }],
        },
        {
          subnet: { properties: { addressPrefixes: ['10.0.0.0/24'] } },
          privateLinkServiceConnections: [
            {
              properties: {
                privateLinkServiceId: `${groupPath(t, 'net-rg')}/providers/Microsoft.Storage/storageAccounts/x`,
              },
            },
          ],
        },
      ]) {
        const r = await t.request('PUT', pe('bad'), { location: 'local', properties: props });
        assert.equal(r.status, 400, `${JSON.stringify(props)}: ${r.text}`);
      }
      assert.equal((await t.request('GET', pe('bad'))).status, 404);
    });

    it("the workspace's key vault (secrets and keys) follows the workspace's network access", async () => {
      const ws = await createWorkspace(t, 'net-rg', 'net-kv');
      const KW = wsPath(t, 'net-rg', 'net-kv');
      const vault = ws.properties.keyVault as string;
      const secret = `${vault}/secrets/conn-pw?api-version=7.4`;
      assert.equal((await t.request('PUT', secret, { value: 's3cret' })).status, 200);
      assert.equal((await t.request('POST', `${vault}/keys/k1/create?api-version=7.4`, { kty: 'RSA' })).status, 200);
      assert.equal(
        (await t.request('PATCH', `${KW}?${V}`, { properties: { publicNetworkAccess: 'Disabled' } })).status,
        200,
      );
      await eventually(t, '127.0.0.1', `${KW}/datastores?${V}`, 403);
      const read = await getFrom(t, '127.0.0.1', secret);
      assert.equal(read.status, 403, JSON.stringify(read.body));
      assert.equal(read.body.error.code, 'PublicNetworkAccessDisabled');
      assert.doesNotMatch(JSON.stringify(read.body), /s3cret/);
      assert.equal((await requestFrom(t, '127.0.0.1', 'PUT', secret, { value: 'overwritten' })).status, 403);
      assert.equal((await getFrom(t, '127.0.0.1', `${vault}/secrets?api-version=7.4`)).status, 403);
      assert.equal((await getFrom(t, '127.0.0.1', `${vault}/keys?api-version=7.4`)).status, 403);
      assert.equal(
        (await requestFrom(t, '127.0.0.1', 'POST', `${vault}/keys/k2/create?api-version=7.4`, { kty: 'RSA' })).status,
        403,
      );
      // An oddly-cased spelling of the vault's URL is the same vault.
      assert.equal(
        (
          await getFrom(
            t,
            '127.0.0.1',
            secret.replace('/providers/Microsoft.KeyVault/vaults/', '/PROVIDERS/microsoft.keyvault/VAULTS/'),
          )
        ).status,
        403,
      );
      // From an approved endpoint's network the vault answers, and the refused write changed nothing.
      const put = await t.request('PUT', pe('pe-kv'), {
        location: 'local',
        properties: {
          subnet: { properties: { addressPrefixes: ['127.0.0.4/32'] } },
          privateLinkServiceConnections: [{ name: 'pe-kv', properties: { privateLinkServiceId: KW } }],
        },
      });
      assert.equal(put.status, 201, put.text);
      const ok = await eventually(t, '127.0.0.4', secret, 200);
      assert.equal(ok.body.value, 's3cret');
      // The vault resource itself stays readable (as the workspace resource does).
      assert.equal((await getFrom(t, '127.0.0.1', `${vault}?${V}`)).status, 200);
    });

    it("the workspace's storage account keys (listKeys, regenerateKey) follow the workspace's network access", async () => {
      const ws = await createWorkspace(t, 'net-rg', 'net-st');
      const SW = wsPath(t, 'net-rg', 'net-st');
      const account = ws.properties.storageAccount as string;
      const listKeys = `${account}/listKeys?${V}`;
      const before = await requestFrom(t, '127.0.0.1', 'POST', listKeys);
      assert.equal(before.status, 200, JSON.stringify(before.body));
      const key = before.body.keys[0].value as string;
      assert.equal(
        (await t.request('PATCH', `${SW}?${V}`, { properties: { publicNetworkAccess: 'Disabled' } })).status,
        200,
      );
      await eventually(t, '127.0.0.1', `${SW}/datastores?${V}`, 403);
      const refused = await requestFrom(t, '127.0.0.1', 'POST', listKeys);
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'PublicNetworkAccessDisabled');
      assert.doesNotMatch(JSON.stringify(refused.body), new RegExp(key.replace(/[^A-Za-z0-9]/g, '.')));
      const regen = await requestFrom(t, '127.0.0.1', 'POST', `${account}/regenerateKey?${V}`, { keyName: 'key1' });
      assert.equal(regen.status, 403, JSON.stringify(regen.body));
      // The account resource itself stays readable (as the workspace resource does).
      assert.equal((await getFrom(t, '127.0.0.1', `${account}?${V}`)).status, 200);
      // From an approved endpoint's network the keys are listed, and the refused regenerate changed nothing.
      const put = await t.request('PUT', pe('pe-st'), {
        location: 'local',
        properties: {
          subnet: { properties: { addressPrefixes: ['127.0.0.5/32'] } },
          privateLinkServiceConnections: [{ name: 'pe-st', properties: { privateLinkServiceId: SW } }],
        },
      });
      assert.equal(put.status, 201, put.text);
      let ok = { status: 0, body: undefined as any };
      for (let i = 0; i < 40 && ok.status !== 200; i++) {
        ok = await requestFrom(t, '127.0.0.5', 'POST', listKeys);
        if (ok.status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.keys[0].value, key);
    });

    it("widening an approved endpoint's networks sends its connection back to Pending; the Owner sees the networks when approving", async () => {
      await createWorkspace(t, 'net-rg', 'net-widen');
      const WW = wsPath(t, 'net-rg', 'net-widen');
      assert.equal(
        (await t.request('PATCH', `${WW}?${V}`, { properties: { publicNetworkAccess: 'Disabled' } })).status,
        200,
      );
      // A Reader of the workspace who owns another resource group, where the endpoint lives.
      assert.equal((await t.request('PUT', `${groupPath(t, 'pe-user-rg')}?${V}`, { location: 'local' })).status, 201);
      const user = await userWithRole(t, `pe-widener-${dialect}`, 'Reader', WW);
      await t.server.ctx.access.assign(user.id, groupPath(t, 'pe-user-rg'), 'Owner', null);
      const url = `${groupPath(t, 'pe-user-rg')}/providers/Microsoft.Network/privateEndpoints/pe-w?${V}`;
      const body = (prefixes: string[]) => ({
        location: 'local',
        properties: {
          subnet: { properties: { addressPrefixes: prefixes } },
          manualPrivateLinkServiceConnections: [{ name: 'pe-w', properties: { privateLinkServiceId: WW } }],
        },
      });
      assert.equal((await t.request('PUT', url, body(['127.0.0.6/32']), { token: user.token })).status, 201);
      const conn = (await t.request('GET', `${WW}/privateEndpointConnections?${V}`)).body.value[0];
      assert.deepEqual(
        conn.properties.privateEndpoint.addressPrefixes,
        ['127.0.0.6/32'],
        'the Owner sees the networks asked for',
      );
      const approve = (prefixes?: string[]) =>
        t.request('PUT', `${WW}/privateEndpointConnections/${conn.name}?${V}`, {
          properties: {
            ...(prefixes
              ? { privateEndpoint: { id: conn.properties.privateEndpoint.id, addressPrefixes: prefixes } }
              : {}),
            privateLinkServiceConnectionState: { status: 'Approved', description: 'ok' },
          },
        });
      assert.equal((await approve(['127.0.0.6/32'])).status, 200);
      await eventually(t, '127.0.0.6', `${WW}/datastores?${V}`, 200);
      assert.equal((await getFrom(t, '127.0.0.7', `${WW}/datastores?${V}`)).status, 403);

      // Widening to everything: the connection is Pending again and the new networks get nowhere.
      const wide = await t.request('PUT', url, body(['0.0.0.0/0']), { token: user.token });
      assert.equal(wide.status, 200, wide.text);
      assert.equal(
        wide.body.properties.manualPrivateLinkServiceConnections[0].properties.privateLinkServiceConnectionState.status,
        'Pending',
      );
      const after = (await t.request('GET', `${WW}/privateEndpointConnections/${conn.name}?${V}`)).body;
      assert.equal(after.properties.privateLinkServiceConnectionState.status, 'Pending');
      assert.match(after.properties.privateLinkServiceConnectionState.description, /networks changed/);
      assert.deepEqual(after.properties.privateEndpoint.addressPrefixes, ['0.0.0.0/0']);
      await eventually(t, '127.0.0.7', `${WW}/datastores?${V}`, 403);
      assert.equal((await getFrom(t, '127.0.0.6', `${WW}/datastores?${V}`)).status, 403);
      // An approval naming the networks it saw is refused when they are no longer the endpoint's.
      const stale = await approve(['127.0.0.6/32']);
      assert.equal(stale.status, 409, stale.text);
      assert.equal(
        (await t.request('GET', `${WW}/privateEndpointConnections/${conn.name}?${V}`)).body.properties
          .privateLinkServiceConnectionState.status,
        'Pending',
      );
      // The same networks again (reordered, or unchanged) do not need a new approval.
      assert.equal((await approve(['0.0.0.0/0'])).status, 200);
      const same = await t.request('PUT', url, body(['0.0.0.0/0']), { token: user.token });
      assert.equal(
        same.body.properties.manualPrivateLinkServiceConnections[0].properties.privateLinkServiceConnectionState.status,
        'Approved',
      );
    });

    it("multipart artifact parts (sent without a bearer token) follow the workspace's network access", async () => {
      await createWorkspace(t, 'net-rg', 'net-mpu');
      const MW = wsPath(t, 'net-rg', 'net-mpu');
      const tracking = `/mlflow/v1.0${MW}`;
      const created = await t.request('POST', `${tracking}/api/2.0/mlflow-artifacts/mpu/create/big`, {
        path: 'model.bin',
        num_parts: 2,
      });
      assert.equal(created.status, 200, created.text);
      const [p1, p2] = created.body.credentials as { url: string; headers: Record<string, string> }[];
      assert.equal(
        (
          await t.request('PUT', `${groupPath(t, 'net-rg')}/providers/Microsoft.Network/privateEndpoints/pe-mpu?${V}`, {
            location: 'local',
            properties: {
              subnet: { properties: { addressPrefixes: ['127.0.0.8/32'] } },
              privateLinkServiceConnections: [{ name: 'pe-mpu', properties: { privateLinkServiceId: MW } }],
            },
          })
        ).status,
        201,
      );
      assert.equal(
        (await t.request('PATCH', `${MW}?${V}`, { properties: { publicNetworkAccess: 'Disabled' } })).status,
        200,
      );
      await eventually(t, '127.0.0.1', `${tracking}/api/2.0/mlflow/experiments/search?max_results=1`, 403);
      const refused = await requestFrom(
        t,
        '127.0.0.1',
        'PUT',
        new URL(p1!.url).pathname,
        'part one',
        null,
        p1!.headers,
      );
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.match(JSON.stringify(refused.body), /public network access disabled/);
      const parts = await t.server.ctx.db.selectFrom('mlflow_artifact_upload_parts').selectAll().execute();
      assert.equal(parts.filter((x) => x.upload_id === created.body.upload_id).length, 0, 'nothing stored');
      const ok = await requestFrom(t, '127.0.0.8', 'PUT', new URL(p2!.url).pathname, 'part two', null, p2!.headers);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    });
  });
}
