#!/usr/bin/env node
// The `atelier` command. Runs one bundled file (dist/cli.mjs at the repository root), rebuilt with
// esbuild whenever a source of the CLI, SDK or server is newer: loading one pre-transpiled file starts
// several times faster than transpiling each module on the fly. Where esbuild is not installed it
// falls back to tsx, which runs the TypeScript sources as they are.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const packages = path.resolve(here, '../..');
const dist = path.resolve(packages, '../dist');
const out = path.join(dist, 'cli.mjs');
const serverLib = path.join(dist, 'cli-server.mjs');
const sources = ['cli/src', 'sdk/src', 'server/src', 'contracts/src'].map((d) => path.join(packages, d));

function newestSource() {
  // This file counts too: a change to how the bundle is made rebuilds it.
  let newest = fs.statSync(fileURLToPath(import.meta.url)).mtimeMs;
  for (const dir of sources) {
    for (const rel of fs.readdirSync(dir, { recursive: true })) {
      const f = String(rel);
      if (f.endsWith('.ts') && !f.endsWith('.test.ts')) newest = Math.max(newest, fs.statSync(path.join(dir, f)).mtimeMs);
    }
  }
  return newest;
}

async function bundle() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return undefined;
  }
  const built = fs.existsSync(out) && fs.existsSync(serverLib) ? Math.min(fs.statSync(out).mtimeMs, fs.statSync(serverLib).mtimeMs) : 0;
  if (built > newestSource()) return out;
  // Our own packages are bundled; every npm dependency stays external (native modules among them).
  // The server is a bundle of its own, loaded only by `atelier server start`, so other commands
  // do not load the server's dependencies.
  const externals = (serverExternal) => ({
    name: 'npm-externals',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (serverExternal && args.path === '@atelier/server') return { path: './cli-server.mjs', external: true };
        return args.path.startsWith('@atelier/') ? undefined : { path: args.path, external: true };
      });
    },
  });
  // Build to private files and rename: concurrent first runs never read a half-written bundle.
  const build = async (entry, file, serverExternal) => {
    const tmp = `${file}.${process.pid}.tmp`;
    await esbuild.build({
      entryPoints: [path.join(packages, entry)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      plugins: [externals(serverExternal)],
      outfile: tmp,
      logLevel: 'error',
    });
    return () => fs.renameSync(tmp, file);
  };
  try {
    const done = await Promise.all([build('server/src/index.ts', serverLib, false), build('cli/src/main.ts', out, true)]);
    for (const rename of done) rename();
  } finally {
    // esbuild's service process would otherwise live as long as this one (`atelier server start`).
    await esbuild.stop();
  }
  return out;
}

const file = await bundle();
if (file) {
  await import(pathToFileURL(file).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
