import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { loadConfig } from '../../config.js';
import { createContext } from '../../context.js';
import { createServices } from '../../services.js';
import { buildApp } from '../../app.js';
import { WORKSPACE } from '../../resources/workspaces.js';
import { toArmBody } from '../../resources/engine.js';
import { InvalidInput, NotFound } from '../../errors.js';
import type { ResourceTypeDeclaration } from '../../resources/registry.js';
import { ADMIN_PASSWORD, migratedPostgres, testDialects } from '../../testing/harness.js';

const NOTES = 'Microsoft.MachineLearningServices/workspaces/notes';

/**
 * Adding a resource type is one declaration plus its service: a type the code base does not have
 * (workspace notes, stored by the resource engine) is declared, and the generic router serves its
 * PUT/GET/PATCH/DELETE/list/actions with ARM status codes, paging and access checks; the resource
 * provider lists it.
 */
for (const dialect of testDialects()) {
  describe(`generic ARM router (${dialect})`, () => {
    it('serves a newly declared type end to end', async () => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-router-'));
      const pg = dialect === 'postgres' ? await migratedPostgres() : undefined;
      const ctx = await createContext(
        loadConfig({}, { home, databaseUrl: pg?.url, logLevel: 'silent', adminPassword: ADMIN_PASSWORD }),
      );
      const services = createServices(ctx);
      const engine = services.resources;
      const def = {
        type: NOTES,
        checkName(name: string) {
          if (!/^[a-z][a-z0-9-]{0,30}$/.test(name))
            throw new InvalidInput(`note name '${name}' is invalid: use a-z, 0-9 and '-'`, {
              code: 'INVALID_RESOURCE_NAME',
              target: 'name',
            });
        },
        immutable: ['topic'],
      };
      const notes: ResourceTypeDeclaration = {
        ...def,
        parent: WORKSPACE,
        param: 'name',
        label: 'note',
        tag: 'Notes',
        access: { read: 'control/read', write: 'assets/write', delete: 'assets/write' },
        schema: {
          put: Type.Object(
            {
              properties: Type.Object(
                { topic: Type.String(), text: Type.Optional(Type.String()) },
                { additionalProperties: false },
              ),
            },
            { additionalProperties: false },
          ),
        },
        handlers: {
          list: (scope, page) =>
            engine.list({ type: NOTES, parentId: scope.workspace!.id, after: page.after, top: page.top }),
          get: async (scope, name) => {
            const r = await engine.get(`${scope.workspace!.id}/notes/${name}`);
            if (!r) throw new NotFound(`note '${name}' could not be found`, { code: 'NOT_FOUND' });
            return r;
          },
          put: (scope, name, body, by, pre) =>
            engine.put(
              def,
              `${scope.workspace!.id}/notes/${name}`,
              { properties: (body as { properties: Record<string, unknown> }).properties },
              by,
              pre,
            ),
          patch: (_scope, r, body, by) =>
            engine.patch(def, r.id, { properties: (body as { properties?: Record<string, unknown> }).properties }, by),
          delete: (scope, name) => engine.delete(`${scope.workspace!.id}/notes/${name}`),
          toBody: (r) => toArmBody(r),
        },
        actions: [
          {
            name: 'shout',
            access: ['control/read'],
            run: async (_s, _n, _b, _by, r) => ({ text: String(r!.properties.text ?? '').toUpperCase() }),
          },
        ],
      };
      services.types.register(notes);
      const app = await buildApp(ctx, services, { logger: false });
      try {
        const login = async (username: string, password: string) =>
          (
            (
              await app.inject({
                method: 'POST',
                url: '/common/oauth2/v2.0/token',
                payload: { grant_type: 'password', username, password },
              })
            ).json() as { access_token: string }
          ).access_token;
        const token = await login('admin', ADMIN_PASSWORD);
        const call = (
          method: 'GET' | 'PUT' | 'PATCH' | 'DELETE' | 'POST',
          url: string,
          payload?: unknown,
          auth = token,
        ) =>
          app.inject({
            method,
            url: `${url}${url.includes('?') ? '&' : '?'}api-version=2025-09-01`,
            headers: { authorization: `Bearer ${auth}` },
            ...(payload === undefined ? {} : { payload: payload as object }),
          });
        const sub = ctx.defaultSubscriptionId;
        assert.equal(
          (await call('PUT', `/subscriptions/${sub}/resourceGroups/notes`, { location: 'local' })).statusCode,
          201,
        );
        const W = `/subscriptions/${sub}/resourceGroups/notes/providers/Microsoft.MachineLearningServices/workspaces/ws-notes`;
        assert.equal((await call('PUT', W, { location: 'local' })).statusCode, 201);
        await services.operations.drain();

        const put = await call('PUT', `${W}/notes/first`, { properties: { topic: 'a', text: 'hello' } });
        assert.equal(put.statusCode, 201);
        assert.equal(put.json().id, `${W}/notes/first`);
        assert.equal(
          (await call('PUT', `${W}/notes/first`, { properties: { topic: 'a', text: 'again' } })).statusCode,
          200,
        );
        assert.equal(
          (await call('PUT', `${W}/notes/first`, { properties: { topic: 'b' } })).json().error.code,
          'CannotChangeImmutableProperty',
        );
        assert.equal(
          (await call('PUT', `${W}/notes/first`, { properties: { topic: 'a', extra: 1 } })).statusCode,
          400,
          'the declared schema is enforced',
        );
        assert.equal(
          (await call('PUT', `${W}/notes/Bad_Name`, { properties: { topic: 'a' } })).json().error.code,
          'InvalidResourceName',
        );
        await call('PUT', `${W}/notes/second`, { properties: { topic: 'c' } });
        assert.equal((await call('GET', `${W}/notes/first`)).json().properties.text, 'again');
        assert.equal(
          (await call('PATCH', `${W}/notes/first`, { properties: { text: 'patched' } })).json().properties.text,
          'patched',
        );
        assert.deepEqual((await call('POST', `${W}/notes/first/shout`)).json(), { text: 'PATCHED' });

        const page1 = (await call('GET', `${W}/notes?$top=1`)).json();
        assert.deepEqual(
          page1.value.map((n: { name: string }) => n.name),
          ['first'],
        );
        const page2 = (
          await app.inject({
            method: 'GET',
            url: page1.nextLink.replace(ctx.config.publicUrl, ''),
            headers: { authorization: `Bearer ${token}` },
          })
        ).json();
        assert.deepEqual(
          page2.value.map((n: { name: string }) => n.name),
          ['second'],
        );

        // A caller without a role on the workspace does not learn that it exists.
        await ctx.principals.createUser('nobody', 'nobody-password-1');
        const nobodyToken = await login('nobody', 'nobody-password-1');
        assert.ok(nobodyToken);
        assert.equal((await call('GET', `${W}/notes/first`, undefined, nobodyToken)).statusCode, 404);

        const providers = (
          await call('GET', `/subscriptions/${sub}/providers/Microsoft.MachineLearningServices`)
        ).json();
        assert.ok(providers.resourceTypes.some((r: { resourceType: string }) => r.resourceType === 'workspaces/notes'));

        assert.equal((await call('DELETE', `${W}/notes/first`)).statusCode, 200);
        assert.equal((await call('DELETE', `${W}/notes/first`)).statusCode, 204);
        assert.equal((await call('GET', `${W}/notes/first`)).statusCode, 404);
      } finally {
        await app.close();
        for (const f of ctx.onClose.reverse()) await f();
        await ctx.database.close();
        await pg?.drop();
        fs.rmSync(home, { recursive: true, force: true });
      }
    });

    it('serves an extension type below any scope from one declaration', async () => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-router-ext-'));
      const pg = dialect === 'postgres' ? await migratedPostgres() : undefined;
      const ctx = await createContext(
        loadConfig({}, { home, databaseUrl: pg?.url, logLevel: 'silent', adminPassword: ADMIN_PASSWORD }),
      );
      const services = createServices(ctx);
      // Labels on anything (an extension resource kept by its own service: here a map).
      interface Label {
        id: string;
        scope: string;
        name: string;
        text: string;
      }
      const labels = new Map<string, Label>();
      const key = (scope: string | undefined, name: string) => `${(scope ?? '/').toLowerCase()}|${name}`;
      const LABELS = 'Microsoft.AtelierTest/labels';
      const missing = (name: string) => new NotFound(`label '${name}' could not be found`, { code: 'NOT_FOUND' });
      services.types.register<Label>({
        type: LABELS,
        checkName: (name) => {
          if (!/^[a-z0-9]{1,20}$/.test(name))
            throw new InvalidInput(`label name '${name}' is invalid`, {
              code: 'INVALID_RESOURCE_NAME',
              target: 'name',
            });
        },
        placement: 'extension',
        param: 'labelName',
        label: 'label',
        tag: 'Labels',
        access: { read: 'control/read', write: 'control/write', delete: 'control/write' },
        head: true,
        handlers: {
          list: async (scope) => ({
            value: [...labels.values()].filter((l) => l.scope.toLowerCase() === (scope.scopeId ?? '/').toLowerCase()),
            hasMore: false,
          }),
          get: async (scope, name) => {
            const l = labels.get(key(scope.scopeId, name));
            if (!l) throw missing(name);
            return l;
          },
          put: async (scope, name, body) => {
            const prefix = scope.scopeId === '/' ? '' : scope.scopeId;
            const l = {
              id: `${prefix}/providers/${LABELS}/${name}`,
              scope: scope.scopeId!,
              name,
              text: String(body.text),
            };
            const created = !labels.has(key(scope.scopeId, name));
            labels.set(key(scope.scopeId, name), l);
            return { resource: l, created };
          },
          delete: async (scope, name) => {
            const l = labels.get(key(scope.scopeId, name));
            if (!l) return false;
            labels.delete(key(scope.scopeId, name));
            return { deleted: l };
          },
          toBody: (l) => ({ id: l.id, name: l.name, type: LABELS, properties: { text: l.text, scope: l.scope } }),
        },
        views: [
          {
            path: 'words/:word',
            access: 'control/read',
            run: async (scope, l, params) => ({ scope: scope.scopeId, has: l.text.split(' ').includes(params.word!) }),
          },
        ],
      });
      const app = await buildApp(ctx, services, { logger: false });
      try {
        const login = async (username: string, password: string) =>
          (
            (
              await app.inject({
                method: 'POST',
                url: '/common/oauth2/v2.0/token',
                payload: { grant_type: 'password', username, password },
              })
            ).json() as { access_token: string }
          ).access_token;
        const token = await login('admin', ADMIN_PASSWORD);
        const call = (method: 'GET' | 'PUT' | 'DELETE' | 'HEAD', url: string, payload?: unknown, auth = token) =>
          app.inject({
            method,
            url: `${url}?api-version=2025-09-01`,
            headers: { authorization: `Bearer ${auth}` },
            ...(payload === undefined ? {} : { payload: payload as object }),
          });
        const sub = ctx.defaultSubscriptionId;
        const G = `/subscriptions/${sub}/resourceGroups/labelled`;
        assert.equal((await call('PUT', G, { location: 'local' })).statusCode, 201);
        const R = `${G}/providers/Microsoft.Storage/storageAccounts/anything`;
        const at = (scope: string, name = '') => `${scope}/providers/${LABELS}${name ? `/${name}` : ''}`;

        for (const scope of ['', `/subscriptions/${sub}`, G, R, `${R}/blobServices/default`]) {
          const put = await call('PUT', at(scope, 'one'), { text: `on ${scope || 'root'}` });
          assert.equal(put.statusCode, 201, `PUT at '${scope}'`);
          assert.equal(put.json().id, at(scope, 'one'));
          assert.equal(put.json().properties.scope, scope || '/');
          assert.equal((await call('PUT', at(scope, 'one'), { text: 'again here' })).statusCode, 200);
        }
        assert.equal((await call('GET', at(G, 'one'))).json().properties.scope, G);
        assert.equal((await call('PUT', at(G, 'Bad_Name'), { text: 'x' })).statusCode, 400, 'the name rule');
        const list = (await call('GET', at(R))).json();
        assert.deepEqual(
          list.value.map((l: { id: string }) => l.id),
          [at(R, 'one')],
          'a list holds its own scope only',
        );
        assert.deepEqual((await call('GET', `${at(R, 'one')}/words/here`)).json(), { scope: R, has: true });
        assert.equal((await call('HEAD', at(G, 'one'))).statusCode, 204);
        assert.equal((await call('HEAD', at(G, 'two'))).statusCode, 404);

        // Checked on the scope: a caller without a role there does not learn of it.
        await ctx.principals.createUser('nobody', 'nobody-password-1');
        const nobody = await login('nobody', 'nobody-password-1');
        assert.equal((await call('GET', at(G, 'one'), undefined, nobody)).statusCode, 404);
        assert.equal((await call('PUT', at(G, 'two'), { text: 'x' }, nobody)).statusCode, 404);

        const del = await call('DELETE', at(G, 'one'));
        assert.equal(del.statusCode, 200);
        assert.equal(del.json().properties.text, 'again here', 'the DELETE answers what it deleted');
        assert.equal((await call('DELETE', at(G, 'one'))).statusCode, 204);
        assert.equal((await call('GET', at(G, 'one'))).statusCode, 404);
      } finally {
        await app.close();
        for (const f of ctx.onClose.reverse()) await f();
        await ctx.database.close();
        await pg?.drop();
        fs.rmSync(home, { recursive: true, force: true });
      }
    });
  });
}
