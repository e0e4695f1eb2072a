#!/usr/bin/env node
// `npm test`: runs every *.test.ts below packages/, examples/, bench/ and scripts/ with node's test runner
// (TypeScript through tsx). Node 20's --test takes no globs, so the files are listed here.
// Usage: npm test [-- <substring filter of file paths>...]
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const filters = process.argv.slice(2);
const files = [];
for (const top of ['packages', 'examples', 'bench', 'scripts']) {
  const dir = path.join(root, top);
  if (!fs.existsSync(dir)) continue;
  for (const rel of fs.readdirSync(dir, { recursive: true })) {
    const f = String(rel);
    if (f.includes('node_modules')) continue;
    if (!/\.test\.ts$/.test(f)) continue;
    const full = path.join(top, f);
    if (filters.length && !filters.some((x) => full.includes(x))) continue;
    files.push(full);
  }
}
files.sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.ATELIER_TEST_CONCURRENCY ?? '2';
// `atelier-source`: our packages' exports point at their TypeScript sources, not their built dist/.
const args = [
  '--conditions=atelier-source',
  '--import',
  'tsx',
  '--test',
  `--test-concurrency=${concurrency}`,
  '--test-reporter=spec',
  ...files,
];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env: process.env });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
