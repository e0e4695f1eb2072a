#!/usr/bin/env node
// `npm test`: runs every *.test.ts below packages/, examples/, bench/ and scripts/ with node's test runner.
// Node 20's --test takes no globs, so the files are listed here.
// Usage: npm test [-- <substring filter of file paths>...]
// The files run as JavaScript transpiled beforehand (scripts/test-build.mjs says how and why: ~2.8 s of
// CPU less per test file than tsx's loader hooks); ATELIER_TEST_TSX=1 runs the TypeScript through tsx.
// Files start longest first, by scripts/test-durations.json (a file not in it counts as 10 s), so a
// long file does not start last and stretch the run's tail. ATELIER_TEST_RECORD_DURATIONS=1 npm test
// [-- …] measures the files it runs and writes their durations into that file (entries of files that
// no longer exist are dropped; those not run are kept).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { buildTestTree } from './test-build.mjs';

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
const durationsFile = path.join(root, 'scripts', 'test-durations.json');
const known = fs.existsSync(durationsFile) ? JSON.parse(fs.readFileSync(durationsFile, 'utf8')) : {};
const rank = (f) => known[f.split(path.sep).join('/')] ?? 10_000;
files.sort((a, b) => rank(b) - rank(a) || (a < b ? -1 : a > b ? 1 : 0));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const record = process.env.ATELIER_TEST_RECORD_DURATIONS === '1';
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-test-'));
const measured = path.join(runDir, 'durations.ndjson');
// The tests' temporary files (and those of every process they start: servers, Python clients such as
// MLflow's, which leaves downloaded models in temporary folders) go under this run's folder, removed
// when the run ends: a run leaves nothing behind in the system's temporary folder.
const tmp = path.join(runDir, 'tmp');
fs.mkdirSync(tmp);
const concurrency = process.env.ATELIER_TEST_CONCURRENCY ?? '2';
const viaTsx = process.env.ATELIER_TEST_TSX === '1';
let runFiles = files;
let loader = ['--import', 'tsx'];
if (!viaTsx) {
  const started = Date.now();
  const tree = await buildTestTree(root);
  console.log(`test tree: ${tree.built} of ${tree.total} files transpiled in ${Date.now() - started} ms`);
  runFiles = files.map((f) => path.join(path.relative(root, tree.out), f.replace(/\.tsx?$/, '.js')));
  loader = ['--enable-source-maps'];
  process.env.ATELIER_TEST_TREE = tree.out;
}
// `atelier-source`: our packages' exports point at their sources (TypeScript, or their transpiled copies
// in the test tree), not their built dist/.
const args = [
  '--conditions=atelier-source',
  ...loader,
  '--test',
  `--test-concurrency=${concurrency}`,
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  `--test-reporter=${path.join(root, 'scripts', 'test-durations-reporter.mjs')}`,
  `--test-reporter-destination=${measured}`,
  ...runFiles,
];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, TMPDIR: tmp } });
child.on('exit', (code, signal) => {
  if (record && fs.existsSync(measured)) {
    const next = {};
    for (const [f, ms] of Object.entries(known)) if (fs.existsSync(path.join(root, f))) next[f] = ms;
    for (const line of fs.readFileSync(measured, 'utf8').split('\n').filter(Boolean)) {
      const { file, ms } = JSON.parse(line);
      next[file.split(path.sep).join('/')] = ms;
    }
    // Longest first, to read; test.mjs sorts by the numbers anyway.
    const sorted = Object.fromEntries(Object.entries(next).sort(([, a], [, b]) => b - a));
    fs.writeFileSync(durationsFile, `${JSON.stringify(sorted, null, 2)}\n`);
    console.log(
      `durations of ${fs.readFileSync(measured, 'utf8').split('\n').filter(Boolean).length} files written to ${path.relative(root, durationsFile)}`,
    );
  }
  fs.rmSync(runDir, { recursive: true, force: true });
  process.exit(signal ? 1 : (code ?? 1));
});
