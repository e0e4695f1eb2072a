import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { isBuiltin } from 'node:module';
import * as esbuild from 'esbuild';
import { startTestServer, type TestServer } from '../packages/server/src/testing/harness.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');

/**
 * Node 22 and 24 beside the machine's Node: `bash .ci/node-versions.sh` (run by .ci/run) keeps them
 * in .ci/.node/<major>/bin/node. Missing ones are skipped with a note (ATELIER_TEST_STRICT=1: fail).
 */
function otherNodes(): { major: string; node: string }[] {
  const found: { major: string; node: string }[] = [];
  for (const major of ['22', '24']) {
    const node = path.join(root, '.ci', '.node', major, 'bin', 'node');
    if (fs.existsSync(node)) {
      found.push({ major, node });
      continue;
    }
    const why = `no Node ${major} in .ci/.node/${major} (bash .ci/node-versions.sh fetches it)`;
    if (process.env.ATELIER_TEST_STRICT === '1') throw new Error(why);
    process.stderr.write(`note: ${why}; the packed SDK is tried with the other versions only\n`);
  }
  return found;
}

/**
 * The environment of a user outside this repository: no NODE_OPTIONS (our test runner's source
 * condition), no npm_* variables of `npm test`; npm's cache stays where it is, so installs need the
 * network only for what the cache lacks.
 */
function outsideEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^npm_/i.test(k) && k !== 'NODE_OPTIONS' && k !== 'INIT_CWD') env[k] = v;
  return { ...env, ...extra };
}

const npmFlags = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

describe('the SDK and CLI as npm packages (npm pack, installed outside the repository)', { timeout: 600_000 }, () => {
  let t: TestServer;
  let tmp: string;
  let contractsTarball: string;
  let sdkTarball: string;
  let cliTarball: string;
  let npmCache: string;
  /** outsideEnv() with npm's cache of this machine (HOME may change in a test). */
  const userEnv = (extra: Record<string, string> = {}) => outsideEnv({ npm_config_cache: npmCache, ...extra });
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-pack-'));
    npmCache = (await run('npm', ['config', 'get', 'cache'], { env: outsideEnv() })).stdout.trim();
    // prepack builds each package (tsc for contracts and the SDK, esbuild for the CLI) before packing.
    // The SDK depends on @atelier/contracts, which is not on the npm registry either: it is packed
    // and installed with it.
    const packed = await run(
      'npm',
      [
        'pack',
        '-w',
        'packages/contracts',
        '-w',
        'packages/sdk',
        '-w',
        'packages/cli',
        '--pack-destination',
        tmp,
        '--json',
        '--loglevel=error',
      ],
      {
        cwd: root,
        env: userEnv(),
        maxBuffer: 16 << 20,
      },
    );
    const files = (JSON.parse(packed.stdout) as { name: string; filename: string; files: { path: string }[] }[]).map(
      (p) => ({ ...p, file: path.join(tmp, p.filename) }),
    );
    const sdk = files.find((p) => p.name === '@atelier/sdk')!;
    const cli = files.find((p) => p.name === '@atelier/cli')!;
    contractsTarball = files.find((p) => p.name === '@atelier/contracts')!.file;
    sdkTarball = sdk.file;
    cliTarball = cli.file;
    // What goes in: built JavaScript and types, no TypeScript sources or tests.
    const sdkFiles = sdk.files.map((f) => f.path);
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/browser.js', 'dist/browser.d.ts', 'package.json'])
      assert.ok(sdkFiles.includes(f), `${f} in the SDK tarball`);
    assert.deepEqual(
      sdkFiles.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
      [],
    );
    assert.deepEqual(cli.files.map((f) => f.path).sort(), ['bin/atelier.js', 'dist/atelier.mjs', 'package.json']);
    t = await startTestServer('sqlite');
    const r = await t.request(
      'PUT',
      `/subscriptions/${t.subscriptionId}/resourcegroups/pack-rg?api-version=2025-09-01`,
      { location: 'local' },
    );
    assert.ok(r.status === 200 || r.status === 201, r.text);
    const ws = await t.request(
      'PUT',
      `/subscriptions/${t.subscriptionId}/resourceGroups/pack-rg/providers/Microsoft.MachineLearningServices/workspaces/packws?api-version=2025-09-01`,
      { location: 'local', properties: {} },
    );
    assert.equal(ws.status, 201, ws.text);
  });
  after(async () => {
    await t?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the SDK tarball installs into an empty project and works from plain node (this Node, 22 and 24): Node and browser entries, types', async () => {
    const proj = path.join(tmp, 'project');
    fs.mkdirSync(proj);
    fs.writeFileSync(
      path.join(proj, 'package.json'),
      JSON.stringify({ name: 'atelier-sdk-user', private: true, type: 'module' }),
    );
    await run('npm', ['install', ...npmFlags, contractsTarball, sdkTarball], { cwd: proj, env: userEnv() });
    fs.writeFileSync(
      path.join(proj, 'check.mjs'),
      `import { Workspace, TokenAuthentication, NotFoundError } from '@atelier/sdk';
import * as browser from '@atelier/sdk/browser';
const auth = new TokenAuthentication(process.env.CHECK_TOKEN);
const all = await Workspace.list({ endpoint: process.env.CHECK_ENDPOINT, auth });
const ws = await browser.Workspace.get('packws', { endpoint: process.env.CHECK_ENDPOINT, auth: new browser.TokenAuthentication(process.env.CHECK_TOKEN), resourceGroup: 'pack-rg' });
let missing = '';
try { await Workspace.get('nope', { endpoint: process.env.CHECK_ENDPOINT, auth, resourceGroup: 'pack-rg' }); } catch (e) { missing = e instanceof NotFoundError ? 'NotFoundError' : String(e); }
console.log(JSON.stringify({ node: process.versions.node, workspaces: [...all.keys()], viaBrowserEntry: ws.name, missing }));
`,
    );
    const nodes = [{ major: process.versions.node.split('.')[0]!, node: process.execPath }, ...otherNodes()];
    for (const { major, node } of nodes) {
      const r = await run(node, ['check.mjs'], {
        cwd: proj,
        env: userEnv({ CHECK_ENDPOINT: t.url, CHECK_TOKEN: t.adminToken }),
      }).catch((e: { stderr?: string }) => {
        throw new Error(`Node ${major}: ${e.stderr}`);
      });
      const out = JSON.parse(r.stdout) as {
        node: string;
        workspaces: string[];
        viaBrowserEntry: string;
        missing: string;
      };
      assert.equal(out.node.split('.')[0], major);
      assert.deepEqual(
        out,
        { node: out.node, workspaces: ['packws'], viaBrowserEntry: 'packws', missing: 'NotFoundError' },
        `Node ${major}`,
      );
    }
    // A web app's bundler takes the installed browser entry without any Node module.
    const nodeImports: string[] = [];
    try {
      await esbuild.build({
        stdin: { contents: "export * from '@atelier/sdk/browser';", resolveDir: proj },
        bundle: true,
        platform: 'browser',
        format: 'esm',
        write: false,
        logLevel: 'silent',
        plugins: [
          {
            name: 'node-modules',
            setup: (b) =>
              b.onResolve({ filter: /.*/ }, (a) =>
                isBuiltin(a.path)
                  ? (nodeImports.push(`${a.path} (${a.importer})`), { path: a.path, external: true })
                  : undefined,
              ),
          },
        ],
      });
    } finally {
      await esbuild.stop();
    }
    assert.deepEqual(nodeImports, [], 'the installed browser entry reaches no Node module');
    // The types are self-contained: a TypeScript user compiles against both entries.
    fs.writeFileSync(
      path.join(proj, 'typed.ts'),
      `import { Workspace, TokenAuthentication, type WorkspaceDetails } from '@atelier/sdk';
import { ArmClient } from '@atelier/sdk/browser';
const client: ArmClient = new ArmClient('http://127.0.0.1:8700', new TokenAuthentication('t'));
export async function details(): Promise<WorkspaceDetails> { void client; return (await Workspace.get('w', { resourceGroup: 'g' })).getDetails(); }
`,
    );
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(
      process.execPath,
      [
        tsc,
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--typeRoots',
        path.join(root, 'node_modules', '@types'),
        '--types',
        'node',
        'typed.ts',
      ],
      { cwd: proj },
    ).catch((e: { stdout?: string }) => {
      throw new Error(`tsc against the installed types: ${e.stdout}`);
    });
  });

  it('the CLI tarball installs globally with the SDK and contracts tarballs (npm i -g) and runs without tsx; `server start` says where the server is', async () => {
    const prefix = path.join(tmp, 'global');
    await run('npm', ['install', '-g', '--prefix', prefix, ...npmFlags, contractsTarball, sdkTarball, cliTarball], {
      cwd: tmp,
      env: userEnv(),
    });
    const atelier = path.join(prefix, 'bin', 'atelier');
    const lib = path.join(prefix, 'lib', 'node_modules');
    assert.equal(
      fs.existsSync(path.join(lib, 'tsx')) || fs.existsSync(path.join(lib, '@atelier', 'cli', 'node_modules', 'tsx')),
      false,
      'tsx is not installed with the CLI',
    );
    const help = await run(atelier, ['--help'], { cwd: tmp, env: userEnv() });
    assert.match(help.stdout, /^Usage: atelier /);
    assert.match(help.stdout, /workspace/);
    const home = path.join(tmp, 'home');
    const env = userEnv({
      HOME: home,
      ATELIER_CONFIG_DIR: path.join(home, '.atelier'),
      ATELIER_ENDPOINT: t.url,
      ATELIER_TOKEN: t.adminToken,
    });
    const list = await run(atelier, ['workspace', 'list'], { cwd: tmp, env });
    assert.deepEqual(
      (JSON.parse(list.stdout) as { name: string }[]).map((w) => w.name),
      ['packws'],
    );
    const server = await run(atelier, ['server', 'start'], { cwd: tmp, env }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(server.code, 1);
    assert.match(server.stderr, /^atelier: `atelier server start` runs the server from a checkout of Atelier/);
  });
});
