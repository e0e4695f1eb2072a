import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import vm from 'node:vm';
import { isBuiltin } from 'node:module';
import * as esbuild from 'esbuild';
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../../server/src/testing/harness.js';

type Sdk = typeof import('./browser.js');

/**
 * Bundles the browser entry the way a web app's bundler would (platform `browser`) and records every
 * import of a Node module (`node:fs`, `fs`, …) reachable from it, marking it external so the list
 * is complete instead of stopping at the first one.
 */
async function bundleBrowserEntry(): Promise<{ code: string; nodeImports: string[] }> {
  const nodeImports: string[] = [];
  try {
    const r = await esbuild.build({
      entryPoints: [path.join(import.meta.dirname, 'browser.ts')],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      globalName: 'AtelierSdk',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
      plugins: [
        {
          name: 'refuse-node-modules',
          setup(b) {
            b.onResolve({ filter: /.*/ }, (args) => {
              if (!isBuiltin(args.path)) return undefined;
              nodeImports.push(`${args.path} (imported by ${path.relative(import.meta.dirname, args.importer)})`);
              return { path: args.path, external: true };
            });
          },
        },
      ],
    });
    return { code: r.outputFiles[0]!.text, nodeImports };
  } finally {
    await esbuild.stop();
  }
}

describe('@atelier/sdk/browser', () => {
  let t: TestServer;
  let sdk: Sdk;
  before(async () => {
    const { code, nodeImports } = await bundleBrowserEntry();
    assert.deepEqual(nodeImports, [], 'the browser entry must not reach any Node module');
    // Run the bundle where only web APIs exist: no process, Buffer, require or Node modules.
    const web = {
      fetch,
      Headers,
      Request,
      Response,
      URL,
      URLSearchParams,
      AbortController,
      AbortSignal,
      TextEncoder,
      TextDecoder,
      atob,
      btoa,
      crypto: globalThis.crypto,
      console,
      setTimeout,
      clearTimeout,
    };
    const context = vm.createContext({ ...web });
    vm.runInContext(`${code}\nglobalThis.AtelierSdk = AtelierSdk;`, context, { filename: 'atelier-sdk-browser.js' });
    sdk = (context as { AtelierSdk: Sdk }).AtelierSdk;
    assert.equal(
      vm.runInContext('typeof process + typeof Buffer + typeof require', context),
      'undefinedundefinedundefined',
    );
    t = await startTestServer('sqlite');
  });
  after(async () => {
    await t?.close();
  });

  it('signs in with a password grant and manages a workspace with web APIs only', async () => {
    const grant = await sdk.passwordGrant(t.url, 'common', 'admin', ADMIN_PASSWORD);
    const auth = new sdk.TokenAuthentication(grant.accessToken);
    // jwtClaims decodes the token without Buffer.
    assert.equal(sdk.jwtClaims(grant.accessToken).upn ?? sdk.jwtClaims(grant.accessToken).preferred_username, 'admin');
    assert.ok(sdk.jwtExpiry(grant.accessToken) > Date.now());
    const lines: string[] = [];
    const ws = await sdk.Workspace.create({
      endpoint: t.url,
      auth,
      name: 'browserws',
      resourceGroup: 'browser-rg',
      createResourceGroup: true,
      location: 'local',
      output: (l) => lines.push(l),
    });
    assert.equal(ws.provisioningState, 'Succeeded');
    assert.ok(
      lines.some((l) => l.includes("'browserws'")),
      lines.join('\n'),
    );
    const all = await sdk.Workspace.list({ endpoint: t.url, auth });
    assert.deepEqual([...all.keys()], ['browserws']);
    const details = await ws.getDetails();
    assert.equal(details.name, 'browserws');
    assert.equal(ws.subscriptionId, t.subscriptionId);
    assert.ok(details.id.endsWith('/workspaces/browserws'), details.id);
    const groups = await sdk.listResourceGroups(sdk.createClient({ endpoint: t.url, auth }), t.subscriptionId);
    assert.deepEqual(
      [...groups].map((g) => g.name), // spread: an array of the host's realm
      ['browser-rg'],
    );
    await ws.delete({ deleteDependentResources: true });
    await assert.rejects(
      sdk.Workspace.get('browserws', { endpoint: t.url, auth, resourceGroup: 'browser-rg' }),
      (e: Error) => e instanceof sdk.NotFoundError,
    );
  });

  it('needs the endpoint and auth: there is no environment, profile or config file', async () => {
    assert.throws(
      () => sdk.resolveConnection({}),
      (e: Error) =>
        e instanceof sdk.ConfigurationError && (e as InstanceType<Sdk['ConfigurationError']>).code === 'NoEndpoint',
    );
    assert.throws(
      () => sdk.resolveConnection({ endpoint: t.url }),
      (e: Error) =>
        e instanceof sdk.ConfigurationError &&
        (e as InstanceType<Sdk['ConfigurationError']>).code === 'NoAuthentication',
    );
    await assert.rejects(
      sdk.Workspace.fromConfig({ endpoint: t.url, auth: new sdk.TokenAuthentication(t.adminToken) }),
      (e: Error) =>
        e instanceof sdk.ConfigurationError &&
        (e as InstanceType<Sdk['ConfigurationError']>).code === 'ConfigFilesUnsupported',
    );
    // A device-code sign-in needs a prompt callback here (nobody reads a console).
    const interactive = new sdk.InteractiveLoginAuthentication();
    await assert.rejects(
      interactive.getToken({ endpoint: t.url, audience: sdk.MANAGEMENT_AUDIENCE }),
      (e: Error) => e instanceof sdk.ConfigurationError,
    );
  });
});
