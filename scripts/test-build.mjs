// The JavaScript tree `npm test` runs (scripts/test.mjs): every TypeScript file below packages/*/ (not
// dist/ or node_modules/), examples/, bench/ and scripts/ transpiled by esbuild, file by file, into
// node_modules/.cache/atelier-tests/ at the same relative path (x.ts -> x.js).
//
// Why by hand: loading the server through tsx's loader hooks costs ~4.8 s of CPU per test process on
// Node 20 (its hooks run on a separate thread, and every resolve and load of ~800 modules crosses it),
// plain JavaScript ~2 s; with ~160 test files that is a sixth of CI's CPU. No library prebuilds a test
// tree while keeping each file's own location: `tsc` would emit it but types-checks too (tens of seconds),
// and bundling would merge modules the tests import one by one.
//
// The transform is the one tsx applies (esbuild, one file at a time), with one addition:
// import.meta.url / .dirname / .filename are the source file's own, so every path a test computes from
// them (its fixtures, the Python drivers, the repository root, a `tsx main.ts` it spawns) is in the
// source tree, where the assets are. Relative imports resolve inside this tree (the sources already
// import `./x.js`); bare ones reach the repository's node_modules by walking up, except our own
// packages (`@atelier/*`), linked to their copies here with `package.json` exports pointing at .js.
// Inline source maps with --enable-source-maps make stack traces name the .ts lines.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const TOPS = ['packages', 'examples', 'bench', 'scripts'];
const SKIP_DIRS = new Set(['node_modules', 'dist', 'test-output', '.work', '__pycache__']);

function sources(root) {
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.')) walk(path.join(dir, entry.name));
      } else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        found.push(path.join(dir, entry.name));
      }
    }
  };
  for (const top of TOPS) if (fs.existsSync(path.join(root, top))) walk(path.join(root, top));
  return found;
}

/** A package.json for the copy of a package: its `.ts` export targets become `.js`. */
function jsExports(value) {
  if (typeof value === 'string') return value.replace(/\.tsx?$/, '.js');
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsExports(v)]));
  }
  return value;
}

function writeAtomic(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** A symbolic link at `at` to `to`, replaced in one rename (two test runs may build at once). */
function link(to, at) {
  // Relative, so a copy of node_modules (e.g. into another checkout) does not point back at this one.
  const target = path.relative(path.dirname(at), to);
  try {
    if (fs.readlinkSync(at) === target) return;
  } catch {
    // Missing (or not a link): made below.
  }
  const tmp = `${at}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(target, tmp, 'dir');
  fs.renameSync(tmp, at);
}

/**
 * Builds the tree under `<root>/node_modules/.cache/atelier-tests` and returns its path. Files whose
 * source is unchanged since the last build (same mtime and size) are kept; outputs of removed sources
 * are deleted.
 */
export async function buildTestTree(root) {
  const esbuild = await import('esbuild');
  const out = path.join(root, 'node_modules', '.cache', 'atelier-tests');
  const manifestFile = path.join(out, 'manifest.json');
  let before = {};
  try {
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
    // Another esbuild may transpile differently: then every file again.
    if (manifest.esbuild === esbuild.version) before = manifest.files ?? {};
  } catch {
    // No tree yet (or a damaged manifest): every file.
  }
  const files = {};
  const work = [];
  for (const src of sources(root)) {
    const rel = path.relative(root, src);
    const st = fs.statSync(src);
    const stamp = `${st.mtimeMs}:${st.size}`;
    files[rel] = stamp;
    const dest = path.join(out, rel.replace(/\.tsx?$/, '.js'));
    if (before[rel] === stamp && fs.existsSync(dest)) continue;
    work.push(
      fs.promises.readFile(src, 'utf8').then(async (code) => {
        const url = pathToFileURL(src).href;
        const result = await esbuild.transform(code, {
          loader: src.endsWith('.tsx') ? 'tsx' : 'ts',
          jsx: 'automatic',
          format: 'esm',
          platform: 'node',
          target: 'node20',
          sourcemap: 'inline',
          sourcefile: src,
          define: {
            'import.meta.url': JSON.stringify(url),
            'import.meta.dirname': JSON.stringify(path.dirname(src)),
            'import.meta.filename': JSON.stringify(src),
          },
        });
        await fs.promises.mkdir(path.dirname(dest), { recursive: true });
        // Written aside and renamed: a test process of another run may be reading the file.
        const tmp = `${dest}.${process.pid}.tmp`;
        await fs.promises.writeFile(tmp, result.code);
        await fs.promises.rename(tmp, dest);
      }),
    );
  }
  for (const rel of Object.keys(before)) {
    if (!(rel in files)) fs.rmSync(path.join(out, rel.replace(/\.tsx?$/, '.js')), { force: true });
  }
  await Promise.all(work);

  // Module type and our packages: package.json files of the copies, and node_modules/@atelier links.
  fs.mkdirSync(out, { recursive: true });
  writeAtomic(path.join(out, 'package.json'), `${JSON.stringify({ private: true, type: 'module' })}\n`);
  const scope = path.join(out, 'node_modules', '@atelier');
  fs.mkdirSync(scope, { recursive: true });
  for (const name of fs.readdirSync(path.join(root, 'packages'))) {
    const pkgFile = path.join(root, 'packages', name, 'package.json');
    if (!fs.existsSync(pkgFile)) continue;
    const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
    const copy = path.join(out, 'packages', name);
    fs.mkdirSync(copy, { recursive: true });
    const next = { name: pkg.name, type: pkg.type };
    if (pkg.exports) next.exports = jsExports(pkg.exports);
    if (pkg.main) next.main = jsExports(pkg.main);
    writeAtomic(path.join(copy, 'package.json'), `${JSON.stringify(next, null, 2)}\n`);
    // The package's own dependencies (packages/<name>/node_modules) come first, as in the source tree.
    const own = path.join(root, 'packages', name, 'node_modules');
    if (fs.existsSync(own)) link(own, path.join(copy, 'node_modules'));
    if (pkg.name?.startsWith('@atelier/')) link(copy, path.join(scope, pkg.name.slice('@atelier/'.length)));
  }
  writeAtomic(manifestFile, `${JSON.stringify({ esbuild: esbuild.version, files })}\n`);
  return { out, built: work.length, total: Object.keys(files).length };
}
