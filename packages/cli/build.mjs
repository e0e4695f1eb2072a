#!/usr/bin/env node
// Builds the `atelier` command into JavaScript with esbuild. Two shapes:
//  - `node build.mjs` (npm install / npm pack): dist/atelier.mjs, the CLI of the npm package. Only the
//    CLI's own modules are bundled; the SDK (`@atelier/sdk`), commander, … are its dependencies,
//    imported at run time, and `@atelier/server` is loaded only by `atelier server start` when it is
//    installed.
//  - checkoutBundle() (bin/atelier.js in a checkout of Atelier): dist/cli.mjs at the repository root,
//    with the SDK bundled from its TypeScript sources and the CLI's npm dependencies bundled too, and
//    the server as a bundle of its own (dist/cli-server.mjs, its npm dependencies external, loaded
//    only by `atelier server start`); rebuilt when a source is newer.
// esbuild's service process is stopped after each build, so nothing outlives it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cliRoot = path.dirname(fileURLToPath(import.meta.url));
const packages = path.resolve(cliRoot, '..');
const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'error' };

async function withEsbuild(fn) {
  const esbuild = await import('esbuild');
  try {
    return await fn(esbuild);
  } finally {
    await esbuild.stop();
  }
}

/** Builds into a private file, then renames: a concurrent reader never sees a half-written bundle. */
async function buildTo(esbuild, options, file) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const { metafile } = await esbuild.build({ ...common, ...options, outfile: tmp, metafile: true });
  return { metafile, rename: () => fs.renameSync(tmp, file) };
}

/** The CLI of the npm package: every bare import stays external. */
export async function buildPackage() {
  const out = path.join(cliRoot, 'dist', 'atelier.mjs');
  await withEsbuild(async (esbuild) => {
    const { rename } = await buildTo(
      esbuild,
      { entryPoints: [path.join(cliRoot, 'src/main.ts')], packages: 'external' },
      out,
    );
    rename();
  });
  return out;
}

/**
 * Whether the checkout's bundles are older than what they were built from. The manifest beside them
 * lists every file esbuild read for them (esbuild's metafile: our sources and the npm modules bundled
 * in) and when that build started; the bundles are fresh while none of those files, the build scripts
 * and the packages' package.json (exports) changed since. Only the bundles' own inputs are checked, so
 * that every `atelier` command stats a few hundred known files instead of walking every package's
 * sources (a recursive readdir cost ~0.1 s of CPU per command). A source that is added is read only
 * through an import, whose file changes with it.
 */
function stale(files, manifestFile) {
  let manifest;
  try {
    for (const f of files) fs.statSync(f);
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  } catch {
    return true;
  }
  if (typeof manifest?.builtFrom !== 'number' || !Array.isArray(manifest.inputs)) return true;
  const root = path.dirname(manifestFile);
  const watched = [
    fileURLToPath(import.meta.url),
    path.join(cliRoot, 'bin/atelier.js'),
    ...fs
      .readdirSync(packages)
      .map((d) => path.join(packages, d, 'package.json'))
      .filter((f) => fs.existsSync(f)),
    ...manifest.inputs.map((f) => path.resolve(root, f)),
  ];
  for (const f of watched) {
    // An input that is gone makes the bundles stale too.
    const st = fs.statSync(f, { throwIfNoEntry: false });
    if (st === undefined || st.mtimeMs >= manifest.builtFrom) return true;
  }
  return false;
}

/** The CLI of a checkout: our packages bundled from their sources, npm dependencies external. */
export async function checkoutBundle() {
  const dist = path.resolve(packages, '../dist');
  const out = path.join(dist, 'cli.mjs');
  const serverLib = path.join(dist, 'cli-server.mjs');
  const manifestFile = path.join(dist, 'cli-inputs.json');
  if (!stale([out, serverLib], manifestFile)) return out;
  const builtFrom = Date.now();
  // The server bundle keeps its npm dependencies external (native modules such as better-sqlite3,
  // pg's optional ones). The CLI bundle takes its npm dependencies in (commander, yaml, cli-table3, …:
  // pure JavaScript), so one command loads one file instead of resolving and reading a few hundred
  // modules: ~0.1 s of CPU less per command, which the CLI's tests run hundreds of times. Their
  // CommonJS modules `require()` Node's built-ins, hence the `require` of the banner.
  const externals = (cli) => ({
    name: 'npm-externals',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (cli && args.path === '@atelier/server') return { path: './cli-server.mjs', external: true };
        if (cli || args.path.startsWith('@atelier/')) return undefined;
        return { path: args.path, external: true };
      });
    },
  });
  // `atelier-source`: our packages' exports point at their TypeScript sources under this condition.
  const options = (entry, cli) => ({
    entryPoints: [path.join(packages, entry)],
    plugins: [externals(cli)],
    conditions: ['atelier-source'],
    ...(cli
      ? {
          banner: {
            js: "import { createRequire as atelierCreateRequire } from 'node:module'; const require = atelierCreateRequire(import.meta.url);",
          },
        }
      : {}),
  });
  await withEsbuild(async (esbuild) => {
    const done = await Promise.all([
      buildTo(esbuild, options('server/src/index.ts', false), serverLib),
      buildTo(esbuild, options('cli/src/main.ts', true), out),
    ]);
    const inputs = new Set();
    for (const { metafile } of done)
      for (const input of Object.keys(metafile.inputs))
        if (!/^[a-z-]+:/.test(input)) inputs.add(path.relative(dist, path.resolve(input)));
    const tmp = `${manifestFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify({ builtFrom, inputs: [...inputs].sort() })}\n`);
    for (const { rename } of done) rename();
    fs.renameSync(tmp, manifestFile);
  });
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildPackage();
}
