// A node:test reporter beside `spec` (scripts/test.mjs adds it): one JSON line per finished test file,
// {"file": <path relative to the repository>, "ms": <its duration>}, which test.mjs merges into
// scripts/test-durations.json when ATELIER_TEST_RECORD_DURATIONS=1. Node 20 reports each file as a
// test named by its path (nesting 0); where a runner does not, the file's top-level tests are summed.
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
// Files run from the transpiled test tree (scripts/test-build.mjs) are named by their sources.
const tree = process.env.ATELIER_TEST_TREE;
const sourceOf = (file) =>
  tree && !path.relative(tree, file).startsWith('..')
    ? path.relative(tree, file).replace(/\.js$/, '.ts')
    : path.relative(root, file);

export default async function* durations(source) {
  const topLevel = new Map(); // file -> summed top-level test durations (fallback)
  const done = new Set();
  for await (const event of source) {
    if (event.type !== 'test:complete' && event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { file, name, nesting, details } = event.data ?? {};
    if (!file || nesting !== 0 || typeof details?.duration_ms !== 'number') continue;
    const rel = sourceOf(file);
    if (name === file) {
      if (done.has(rel)) continue;
      done.add(rel);
      yield `${JSON.stringify({ file: rel, ms: Math.round(details.duration_ms) })}\n`;
    } else if (event.type === 'test:complete') {
      topLevel.set(rel, (topLevel.get(rel) ?? 0) + details.duration_ms);
    }
  }
  for (const [rel, ms] of topLevel) {
    if (!done.has(rel)) yield `${JSON.stringify({ file: rel, ms: Math.round(ms) })}\n`;
  }
}
