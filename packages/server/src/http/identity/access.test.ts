import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startTestServer, testDialects, type TestServer } from '../../testing/harness.js';
import { V, createWorkspace, groupPath, wsPath } from '../arm/arm-test-helpers.js';

const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';

for (const dialect of testDialects()) {
  describe(`principals, role assignments and audit (${dialect})`, () => {
    let t: TestServer;
    const signIn = async (username: string, password: string) => {
      const res = await fetch(`${t.url}/common/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'password',
          username,
          password,
          scope: 'https://management.azure.com/.default',
        }),
      });
      const b = (await res.json()) as { access_token?: string };
      assert.ok(b.access_token, JSON.stringify(b));
      return b.access_token!;
    };
    const assignmentPath = (scope: string, name: string) =>
      `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}?${V}`;
    let alice: { id: string; token: string };
    let bob: { id: string; token: string };
    let ws: { id: string };

    before(async () => {
      t = await startTestServer(dialect);
      ws = await createWorkspace(t, 'team-a', 'alpha');
      await createWorkspace(t, 'team-a', 'beta');
      for (const name of ['alice', 'bob']) {
        const r = await t.request('POST', '/identity/users', {
          name,
          password: `${name}-password-1`,
          displayName: name.toUpperCase(),
        });
        assert.equal(r.status, 201, r.text);
      }
      alice = {
        id: (await t.request('GET', '/identity/principals/alice')).body.id,
        token: await signIn('alice', 'alice-password-1'),
      };
      bob = {
        id: (await t.request('GET', '/identity/principals/BOB')).body.id,
        token: await signIn('bob', 'bob-password-1'),
      };
    });
    after(async () => {
      await t?.close();
    });

    it('manages users: validation, duplicates, no hashes in lists, admin only', async () => {
      for (const [body, target] of [
        [{ name: 'bad name', password: 'long-enough-1' }, 'name'],
        [{ name: 'carol', password: 'short' }, 'password'],
        [{ name: 'carol', password: 'long-enough-1', admin: true }, 'body'],
        [{ name: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635', password: 'long-enough-1' }, 'name'],
      ] as const) {
        const r = await t.request('POST', '/identity/users', body);
        assert.equal(r.status, 400, r.text);
        assert.ok(r.body.error.message.length > 10);
        assert.ok(JSON.stringify(r.body).includes(target), r.text);
      }
      assert.equal(
        (await t.request('POST', '/identity/users', { name: 'ALICE', password: 'long-enough-1' })).status,
        409,
      );
      const list = await t.request('GET', '/identity/users?$top=2');
      assert.equal(list.status, 200);
      assert.equal(list.body.value.length, 2);
      assert.ok(list.body.nextLink);
      const next = await t.request('GET', list.body.nextLink);
      assert.ok(next.body.value.some((u: { name: string }) => u.name === 'bob'));
      assert.ok(!/scrypt|password_hash|passwordHash/.test(list.text + next.text));
      assert.equal((await t.request('GET', '/identity/users', undefined, { token: alice.token })).status, 403);
      assert.equal(
        (
          await t.request(
            'POST',
            '/identity/users',
            { name: 'mallory', password: 'long-enough-1' },
            { token: alice.token },
          )
        ).status,
        403,
      );
      const self = (await t.request('GET', '/identity/me')).body.id;
      assert.equal((await t.request('DELETE', `/identity/users/${self}`)).status, 409);
      assert.equal((await t.request('DELETE', '/identity/users/nobody')).status, 404);
    });

    it('disabling a user stops its tokens; enabling brings them back; deleting removes it', async () => {
      await t.request('POST', '/identity/users', { name: 'dave', password: 'dave-password-1' });
      const token = await signIn('dave', 'dave-password-1');
      assert.equal((await t.request('GET', '/identity/me', undefined, { token })).status, 200);
      const r = await t.request('PATCH', '/identity/users/dave', { enabled: false });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.enabled, false);
      assert.equal((await t.request('GET', '/identity/me', undefined, { token })).status, 401);
      await t.request('PATCH', '/identity/users/dave', { enabled: true });
      assert.equal((await t.request('GET', '/identity/me', undefined, { token })).status, 200);
      assert.equal((await t.request('DELETE', '/identity/users/dave')).status, 204);
      assert.equal((await t.request('GET', '/identity/me', undefined, { token })).status, 401);
      assert.equal((await t.request('GET', '/identity/users/dave')).status, 404);
    });

    it('service principals: the secret is shown once; reset replaces it; expired or deleted secrets fail', async () => {
      const r = await t.request('POST', '/identity/servicePrincipals', { displayName: 'deployer', expiresInDays: 30 });
      assert.equal(r.status, 201, r.text);
      const { appId, secret } = r.body;
      assert.match(appId, /^[0-9a-f-]{36}$/);
      assert.ok(secret.value.length > 30);
      const cc = async (s: string) =>
        (
          await fetch(`${t.url}/common/oauth2/v2.0/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              grant_type: 'client_credentials',
              client_id: appId,
              client_secret: s,
              scope: 'https://management.azure.com/.default',
            }),
          })
        ).status;
      assert.equal(await cc(secret.value), 200);
      const listed = await t.request('GET', '/identity/servicePrincipals');
      const got = await t.request('GET', `/identity/servicePrincipals/${appId}`);
      assert.equal(got.body.secrets.length, 1);
      assert.equal(got.body.secrets[0].hint, secret.value.slice(0, 3));
      for (const text of [listed.text, got.text]) assert.equal(text.includes(secret.value), false);
      const reset = await t.request('POST', `/identity/servicePrincipals/${appId}/secrets`, { replace: true });
      assert.equal(reset.status, 201);
      assert.equal(await cc(secret.value), 401);
      assert.equal(await cc(reset.body.secret.value), 200);
      const second = await t.request('POST', `/identity/servicePrincipals/${appId}/secrets`, {
        secretName: 'second',
        expiresInDays: 1,
      });
      assert.equal(
        (await t.request('DELETE', `/identity/servicePrincipals/${appId}/secrets/${second.body.secret.keyId}`)).status,
        204,
      );
      assert.equal(await cc(second.body.secret.value), 401);
      assert.equal(
        (await t.request('POST', `/identity/servicePrincipals/${appId}/secrets`, { expiresInDays: 0 })).status,
        400,
      );
      // An expired secret does not work.
      await t.server.ctx.db
        .updateTable('principal_secrets')
        .set({ expires_at: Date.now() - 1000 })
        .execute();
      assert.equal(await cc(reset.body.secret.value), 401);
      assert.equal((await t.request('DELETE', `/identity/servicePrincipals/${appId}`)).status, 204);
    });

    it("a managed identity's principal gets no secret and never signs in with one (Azure's rule)", async () => {
      const id = `${groupPath(t, 'team-a')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi-no-secret`;
      const made = await t.request('PUT', `${id}?${V}`, { location: 'local' });
      assert.equal(made.status, 201, made.text);
      const { clientId, principalId } = made.body.properties;
      const shown = await t.request('GET', `/identity/servicePrincipals/${clientId}`);
      assert.equal(shown.body.managedIdentity.toLowerCase(), id.toLowerCase());
      assert.deepEqual(shown.body.secrets, []);
      for (const body of [{}, { replace: true }]) {
        const r = await t.request('POST', `/identity/servicePrincipals/${clientId}/secrets`, body);
        assert.equal(r.status, 400, r.text);
        assert.match(r.text, /managed identity has no secrets[^"]*managed identity endpoint/);
      }
      assert.deepEqual((await t.request('GET', `/identity/servicePrincipals/${principalId}`)).body.secrets, []);
      // A secret stored before this rule (migration 0280 removes those) still does not sign it in.
      const value = 'abc8Q~a-secret-from-before-the-rule-000000000';
      await t.server.ctx.db
        .insertInto('principal_secrets')
        .values({
          key_id: crypto.randomUUID(),
          principal_id: principalId,
          hash: crypto.createHash('sha256').update(value).digest('hex'),
          hint: 'abc',
          display_name: 'old',
          created_at: Date.now(),
          expires_at: Date.now() + 86_400_000,
        })
        .execute();
      const res = await fetch(`${t.url}/common/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: clientId,
          client_secret: value,
          scope: 'https://management.azure.com/.default',
        }),
      });
      const b = (await res.json()) as { error: string; error_description: string };
      assert.equal(res.status, 401);
      assert.equal(b.error, 'invalid_client');
      assert.match(b.error_description, /managed identity endpoint only/);
      assert.equal(b.error_description.includes(id.split('/')[2]), false, 'names no subscription');
      assert.equal((await t.request('DELETE', `${id}?${V}`)).status, 200);
    });

    it('role assignments (ARM): a Reader reads but cannot write; others see nothing (404, not in lists)', async () => {
      // Nobody but admin sees anything yet.
      let r = await t.request('GET', `${wsPath(t, 'team-a', 'alpha')}?${V}`, undefined, { token: alice.token });
      assert.equal(r.status, 404);
      const missing = await t.request('GET', `${wsPath(t, 'team-a', 'no-such-ws')}?${V}`, undefined, {
        token: alice.token,
      });
      assert.equal(missing.status, 404);
      assert.equal(r.body.error.code, missing.body.error.code, 'existing and missing look the same');

      const name = '3f1e2d4c-1111-4222-8333-944445555666';
      r = await t.request('PUT', assignmentPath(ws.id, name), {
        properties: {
          roleDefinitionId: `/subscriptions/${t.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${READER}`,
          principalId: alice.id,
          principalType: 'User',
        },
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.id, `${ws.id}/providers/Microsoft.Authorization/roleAssignments/${name}`);
      assert.equal(r.body.properties.principalType, 'User');
      assert.equal(r.body.properties.scope, ws.id);
      r = await t.request('PUT', assignmentPath(ws.id, name), {
        properties: {
          roleDefinitionId: `/subscriptions/${t.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${READER}`,
          principalId: alice.id,
        },
      });
      assert.equal(r.status, 200, 'idempotent');
      r = await t.request('PUT', assignmentPath(ws.id, crypto.randomUUID()), {
        properties: { roleDefinitionId: READER, principalId: alice.id },
      });
      assert.equal(r.status, 409);
      assert.equal(r.body.error.code, 'RoleAssignmentExists');

      r = await t.request('GET', `${wsPath(t, 'team-a', 'alpha')}?${V}`, undefined, { token: alice.token });
      assert.equal(r.status, 200);
      r = await t.request(
        'PATCH',
        `${wsPath(t, 'team-a', 'alpha')}?${V}`,
        { tags: { x: 'y' } },
        { token: alice.token },
      );
      assert.equal(r.status, 403);
      r = await t.request(
        'GET',
        `${groupPath(t, 'team-a')}/providers/Microsoft.MachineLearningServices/workspaces?${V}`,
        undefined,
        { token: alice.token },
      );
      assert.deepEqual(
        r.body.value.map((w: { name: string }) => w.name),
        ['alpha'],
      );
      assert.equal(
        (await t.request('GET', `${wsPath(t, 'team-a', 'beta')}?${V}`, undefined, { token: alice.token })).status,
        404,
      );
      // A Reader may not assign roles.
      r = await t.request(
        'PUT',
        assignmentPath(ws.id, crypto.randomUUID()),
        { properties: { roleDefinitionId: OWNER, principalId: alice.id } },
        { token: alice.token },
      );
      assert.equal(r.status, 403);
      // Bob sees nothing at all.
      r = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/providers/Microsoft.MachineLearningServices/workspaces?${V}`,
        undefined,
        { token: bob.token },
      );
      // Not even the subscription: a principal with no role in it is told it does not exist.
      assert.equal(r.status, 404, r.text);
      assert.equal(r.body.error.code, 'SubscriptionNotFound');
      for (const w of ['alpha', 'beta', 'gamma'])
        assert.equal(
          (await t.request('GET', `${wsPath(t, 'team-a', w)}?${V}`, undefined, { token: bob.token })).status,
          404,
        );
      assert.equal((await t.request('GET', assignmentPath(ws.id, name), undefined, { token: bob.token })).status, 404);

      // Lists and filters.
      r = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/providers/Microsoft.Authorization/roleAssignments?${V}&$filter=${encodeURIComponent(`principalId eq '${alice.id}'`)}`,
      );
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(
        r.body.value.map((a: { name: string }) => a.name),
        [name],
      );
      r = await t.request('GET', `${ws.id}/providers/Microsoft.Authorization/roleAssignments?${V}&$filter=atScope()`);
      assert.ok(r.body.value.some((a: { name: string }) => a.name === name));
      assert.ok(
        r.body.value.some((a: { properties: { scope: string } }) => a.properties.scope === '/'),
        'inherited root Owner shown',
      );
      r = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions?${V}&$filter=${encodeURIComponent("roleName eq 'AzureML Data Scientist'")}`,
      );
      assert.equal(r.body.value.length, 1);
      assert.equal(r.body.value[0].properties.roleName, 'AzureML Data Scientist');

      // Bad input changes nothing.
      for (const [path, body, status] of [
        [assignmentPath(ws.id, 'not-a-guid'), { properties: { roleDefinitionId: READER, principalId: bob.id } }, 400],
        [
          assignmentPath(ws.id, crypto.randomUUID()),
          { properties: { roleDefinitionId: '00000000-0000-0000-0000-000000000000', principalId: bob.id } },
          400,
        ],
        [
          assignmentPath(ws.id, crypto.randomUUID()),
          { properties: { roleDefinitionId: READER, principalId: '00000000-0000-0000-0000-000000000000' } },
          400,
        ],
        [
          assignmentPath(ws.id, crypto.randomUUID()),
          { properties: { roleDefinitionId: READER, principalId: bob.id, condition: 'x' } },
          400,
        ],
        [
          assignmentPath(
            `${groupPath(t, 'team-a')}/providers/Microsoft.MachineLearningServices/workspaces/nope`,
            crypto.randomUUID(),
          ),
          { properties: { roleDefinitionId: READER, principalId: bob.id } },
          404,
        ],
      ] as const) {
        const res = await t.request('PUT', path, body);
        assert.equal(res.status, status, `${path}: ${res.text}`);
      }
      assert.equal(
        (
          await t.request(
            'GET',
            `/providers/Microsoft.Authorization/roleAssignments?${V}&$filter=${encodeURIComponent(`principalId eq '${bob.id}'`)}`,
          )
        ).body.value.length,
        0,
      );

      r = await t.request('DELETE', assignmentPath(ws.id, name));
      assert.equal(r.status, 200);
      assert.equal((await t.request('DELETE', assignmentPath(ws.id, name))).status, 204);
      assert.equal(
        (await t.request('GET', `${wsPath(t, 'team-a', 'alpha')}?${V}`, undefined, { token: alice.token })).status,
        404,
      );
    });

    it('keeps the last root Owner', async () => {
      const r = await t.request('GET', `/providers/Microsoft.Authorization/roleAssignments?${V}&$filter=atScope()`);
      const owners = r.body.value.filter(
        (a: { properties: { scope: string; roleDefinitionId: string } }) =>
          a.properties.scope === '/' && a.properties.roleDefinitionId.endsWith(OWNER),
      );
      assert.equal(owners.length, 1);
      const del = await t.request(
        'DELETE',
        `/providers/Microsoft.Authorization/roleAssignments/${owners[0].name}?${V}`,
      );
      assert.equal(del.status, 409);
      assert.equal(del.body.error.code, 'LastOwner');
    });

    it('audits changes (who, what, status) for Owners only, without bodies or secrets', async () => {
      const sp = await t.request('POST', '/identity/servicePrincipals', { displayName: 'audited' });
      await t.request('PUT', `${groupPath(t, 'audit-rg')}?${V}`, {
        location: 'local',
        tags: { secretish: 'tag-value-xyz' },
      });
      // The audit log is written once the answer has gone (onResponse): wait for both changes' events.
      let r: Awaited<ReturnType<TestServer['request']>> | undefined;
      for (const end = Date.now() + 30_000; Date.now() < end;) {
        r = await t.request('GET', `/providers/Microsoft.Insights/eventtypes/management/values?${V}`);
        const seen = (r.body.value ?? []) as { resourceId: string; httpRequest: { method: string } }[];
        if (
          seen.some((e) => e.resourceId.endsWith('/audit-rg')) &&
          seen.some((e) => e.resourceId === '/identity/servicePrincipals' && e.httpRequest.method === 'POST')
        )
          break;
        await new Promise((res) => setTimeout(res, 20));
      }
      assert.equal(r!.status, 200, r!.text);
      const events = r!.body.value as any[];
      const rgEvent = events.find((e) => e.resourceId.endsWith('/audit-rg'));
      assert.ok(rgEvent);
      assert.equal(rgEvent.caller, 'admin');
      assert.equal(rgEvent.httpRequest.method, 'PUT');
      assert.equal(rgEvent.properties.statusCode, '201');
      assert.equal(rgEvent.subscriptionId, t.subscriptionId);
      assert.ok(events.some((e) => e.resourceId === '/identity/servicePrincipals' && e.httpRequest.method === 'POST'));
      assert.ok(!r!.text.includes(sp.body.secret.value));
      assert.ok(!r!.text.includes('tag-value-xyz'));
      assert.ok(!events.some((e) => e.httpRequest.method === 'GET'));
      // Subscription-scoped with a filter.
      r = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/providers/Microsoft.Insights/eventtypes/management/values?${V}&$filter=${encodeURIComponent("resourceGroupName eq 'audit-rg' and eventTimestamp ge '2020-01-01T00:00:00Z'")}`,
      );
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(
        r.body.value.map((e: { resourceId: string }) => e.resourceId.split('/').pop()),
        ['audit-rg'],
      );
      r = await t.request(
        'GET',
        `/subscriptions/${t.subscriptionId}/providers/Microsoft.Insights/eventtypes/management/values?${V}&$filter=${encodeURIComponent('foo eq 1')}`,
      );
      assert.equal(r.status, 400);
      assert.equal(
        (
          await t.request('GET', `/providers/Microsoft.Insights/eventtypes/management/values?${V}`, undefined, {
            token: alice.token,
          })
        ).status,
        404,
      );
    });

    it('two Owners disabling or deleting each other at the same moment leave one administrator', async () => {
      const s = await startTestServer(dialect);
      try {
        const owner = async (name: string) => {
          const p = await s.server.ctx.principals.createUser(name, `pw-${name}-0123456789`);
          await s.server.ctx.access.assign(p.id, '/', 'Owner', null);
          const res = await fetch(`${s.url}/common/oauth2/v2.0/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              grant_type: 'password',
              username: name,
              password: `pw-${name}-0123456789`,
              scope: 'https://management.azure.com/.default',
            }),
          });
          return { id: p.id, token: ((await res.json()) as { access_token: string }).access_token };
        };
        const enabledRootOwners = async () => {
          const rows = await s.server.ctx.db
            .selectFrom('role_assignments')
            .innerJoin('principals', 'principals.id', 'role_assignments.principal_id')
            .select('principals.name')
            .where('role_assignments.scope_key', '=', '/')
            .where('role_assignments.role', '=', 'Owner')
            .where('principals.enabled', '=', 1)
            .execute();
          return rows.map((r) => r.name).sort();
        };
        const o1 = await owner('owner-one');
        const o2 = await owner('owner-two');
        const admin = (await s.request('GET', '/identity/me')).body.id as string;
        // The admin is deleted by o1: o1 and o2 are the only administrators left.
        assert.equal(
          (await s.request('DELETE', `/identity/users/${admin}`, undefined, { token: o1.token })).status,
          204,
        );
        assert.deepEqual(await enabledRootOwners(), ['owner-one', 'owner-two']);
        const [a, b] = await Promise.all([
          s.request('PATCH', `/identity/users/${o2.id}`, { enabled: false }, { token: o1.token }),
          s.request('PATCH', `/identity/users/${o1.id}`, { enabled: false }, { token: o2.token }),
        ]);
        // The loser is refused: 409 LastOwner, or 401 when its own account was already disabled.
        assert.equal([a.status, b.status].filter((x) => x === 200).length, 1, `${a.text} ${b.text}`);
        const refused = a.status === 200 ? b : a;
        assert.ok(
          refused.status === 409 ? refused.body.error.code === 'LastOwner' : refused.status === 401,
          refused.text,
        );
        assert.equal((await enabledRootOwners()).length, 1);
        // Enable the other again, then both delete each other at once.
        const survivor = a.status === 200 ? o1 : o2;
        const other = survivor === o1 ? o2 : o1;
        assert.equal(
          (await s.request('PATCH', `/identity/users/${other.id}`, { enabled: true }, { token: survivor.token }))
            .status,
          200,
        );
        const [c, d] = await Promise.all([
          s.request('DELETE', `/identity/users/${other.id}`, undefined, { token: survivor.token }),
          s.request('DELETE', `/identity/users/${survivor.id}`, undefined, { token: other.token }),
        ]);
        assert.equal(
          [c.status, d.status].filter((x) => x === 204).length,
          1,
          `${c.status} ${c.text} ${d.status} ${d.text}`,
        );
        assert.equal((await enabledRootOwners()).length, 1);
        // The same race inside the server, where both changes are already past authentication.
        const third = await owner('owner-three');
        const last = (await enabledRootOwners())[0] === 'owner-one' ? o1 : o2;
        const outcomes = await Promise.allSettled([
          s.server.ctx.principals.update(third.id, { enabled: false }),
          s.server.ctx.principals.update(last.id, { enabled: false }),
        ]);
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, JSON.stringify(outcomes));
        const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
        assert.equal(lost.reason.code, 'LAST_OWNER');
        assert.equal((await enabledRootOwners()).length, 1);
        const both = await Promise.allSettled([
          s.server.ctx.principals.delete(third.id),
          s.server.ctx.principals.delete(last.id),
        ]);
        assert.ok(both.filter((o) => o.status === 'fulfilled').length <= 1, JSON.stringify(both));
        assert.equal((await enabledRootOwners()).length, 1);
      } finally {
        await s.close();
      }
    });
  });
}
