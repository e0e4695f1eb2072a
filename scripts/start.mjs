#!/usr/bin/env node
// `npm start`: runs the server from one bundled file (dist/server.mjs), rebuilt with esbuild when any
// server source is newer. Loading one pre-transpiled file starts in a fraction of the time that
// transpiling every module on the fly takes. Dependencies stay external (native modules, pg, …).
//
// Nothing started here outlives start-up: the bundle is built by a short-lived child process (so the
// server never loads esbuild), and esbuild's service process is stopped as soon as the bundle is
// written. Source maps are written beside the bundle but not loaded by default (loading
// them costs ~35 MB resident for the server's whole life); `NODE_OPTIONS=--enable-source-maps
// npm start` loads them when stack traces should name the TypeScript files.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const src = path.join(root, 'packages/server/src');
const contracts = path.join(root, 'packages/contracts/src');
const dist = path.join(root, 'dist');
const out = path.join(dist, 'server.mjs');

function newestMtime(dir) {
  let newest = 0;
  for (const rel of fs.readdirSync(dir, { recursive: true })) {
    const f = path.join(dir, String(rel));
    if (!f.endsWith('.ts') || f.endsWith('.test.ts')) continue;
    newest = Math.max(newest, fs.statSync(f).mtimeMs);
  }
  return newest;
}

function upToDate() {
  return fs.existsSync(out) && fs.statSync(out).mtimeMs > Math.max(newestMtime(src), newestMtime(contracts));
}

export async function buildServer({ force = false } = {}) {
  if (!force && upToDate()) return out;
  const esbuild = await import('esbuild');
  // Built into a private folder, then renamed into place: a process reading the bundle while
  // another one rebuilds it never sees a half-written file.
  const tmp = path.join(dist, `.build-${process.pid}`);
  try {
    await esbuild.build({
      entryPoints: [path.join(src, 'main.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Pure-JS dependencies are bundled too: one file to read instead of hundreds of small modules
      // (their resolution and loading was most of the start time). Native and lazily loaded ones stay
      // external, and CommonJS code inside the bundle gets a real `require`.
      external: ['better-sqlite3', 'pg-native', '@aws-sdk/*', '@peculiar/x509', 'esbuild', 'undici', 'yazl'],
      banner: {
        js: "import { createRequire as __atelierCreateRequire } from 'node:module'; const require = __atelierCreateRequire(import.meta.url);",
      },
      // Whitespace and syntax only (names are kept: error classes and logs read them). V8 keeps every
      // loaded script's source in memory; a smaller bundle is a smaller idle server.
      minifyWhitespace: true,
      minifySyntax: true,
      sourcemap: true,
      outfile: path.join(tmp, 'server.mjs'),
      logLevel: 'warning',
    });
    fs.renameSync(path.join(tmp, 'server.mjs.map'), `${out}.map`);
    fs.renameSync(path.join(tmp, 'server.mjs'), out);
  } finally {
    // esbuild keeps a service process (~170 MB) alive until told to stop.
    await esbuild.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const force = process.argv.includes('--rebuild');
  if (process.argv.includes('--build-only')) {
    await buildServer({ force });
    process.exit(0);
  }
  // The studio (packages/studio) is built by `npm install`; a checkout without its bundle gets it here, once.
  if (!fs.existsSync(path.join(root, 'packages/studio/dist/index.html'))) {
    process.stderr.write('atelier: building the studio (packages/studio) once\n');
    const r = spawnSync('npm', ['run', 'build', '-w', '@atelier/studio'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) process.stderr.write('atelier: the studio did not build; the server starts without it\n');
  }
  if (force || !upToDate()) {
    const r = spawnSync(
      process.execPath,
      [fileURLToPath(import.meta.url), '--build-only', ...(force ? ['--rebuild'] : [])],
      { stdio: 'inherit' },
    );
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  const { main } = await import(pathToFileURL(out).href);
  await main(process.argv.slice(2).filter((a) => a !== '--rebuild')).catch((e) => {
    process.stderr.write(`atelier: ${e.message}\n`);
    process.exit(1);
  });
}
