import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { Value } from '@sinclair/typebox/value';
import * as C from './index.js';

const run = promisify(execFile);
const PKG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('@atelier/contracts', () => {
  it('bundles for a browser: no Node.js module, nothing of the server', async () => {
    const out = await esbuild.build({
      entryPoints: [path.join(PKG, 'src/index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(out.metafile.inputs);
    assert.deepEqual(
      inputs.filter(
        (f) =>
          !f.includes('node_modules/@sinclair/typebox/') &&
          !f.startsWith('packages/contracts/src/') &&
          !f.startsWith('src/'),
      ),
      [],
    );
  });

  it('builds to ESM JavaScript and .d.ts that plain node imports', async () => {
    // Inside the package, so that the build finds @sinclair/typebox as an installed package would.
    const outDir = fs.mkdtempSync(path.join(PKG, '.build-test-'));
    try {
      await run(
        process.execPath,
        [
          path.join(PKG, '../../node_modules/typescript/bin/tsc'),
          '-p',
          path.join(PKG, 'tsconfig.build.json'),
          '--outDir',
          outDir,
        ],
        { cwd: PKG },
      );
      assert.ok(fs.existsSync(path.join(outDir, 'index.d.ts')));
      // A child without tsx: only the built JavaScript can load.
      const script = `const m = await import(${JSON.stringify(pathToFileURL(path.join(outDir, 'index.js')).href)}); console.log(Object.keys(m.RunResponse.properties).join(','));`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: PKG });
      assert.equal(stdout.trim(), 'run');
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  });

  it('checks MLflow messages as the server does', () => {
    assert.ok(
      Value.Check(C.CreateRunRequest, {
        experiment_id: '0',
        start_time: '1700000000000',
        tags: [{ key: 'k', value: 'v' }],
        unknown_new_field: 1,
      }),
    );
    assert.ok(!Value.Check(C.CreateRunRequest, { experiment_id: '0', start_time: 'soon' }));
    assert.ok(
      !Value.Check(C.CreateRegisteredModelRequest, { name: 'm', unknown: 1 }),
      'registry requests refuse unknown fields',
    );
    assert.ok(Value.Check(C.Metric, { key: 'loss', value: 'NaN', timestamp: 1, step: 0 }));
  });
});
