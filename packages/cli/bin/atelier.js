#!/usr/bin/env node
// The `atelier` command. Installed from its npm package, it runs dist/atelier.mjs (built JavaScript).
// In a checkout of Atelier (the TypeScript sources beside this file), it runs one bundle of the CLI,
// SDK and server sources instead, rebuilt with esbuild whenever a source is newer (build.mjs): loading
// one pre-transpiled file starts several times faster than transpiling each module on the fly.
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';

if (fs.existsSync(new URL('../src/main.ts', import.meta.url))) {
  const { checkoutBundle } = await import('../build.mjs');
  await import(pathToFileURL(await checkoutBundle()).href);
} else {
  await import('../dist/atelier.mjs');
}
