import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ModelSource } from './model-source.js';
import type { RegistryService } from '../tracking/registry/registry.js';
import type { ArtifactService } from '../tracking/artifacts/artifacts.js';
import type { WorkspaceInfo } from '../resources/workspace-info.js';

// The model cache's folder handling, with the registry and the artifact store stood in for by a
// few files in memory (what they answer is not under test here; the folders are).
const ws = { workspaceId: 'ws-1', storageAccountId: undefined, id: '/w', name: 'w' } as unknown as WorkspaceInfo;
const FILES: Record<string, string> = { MLmodel: 'flavors: {}\n', 'data/model.pkl': 'weights' };

function source(opts: { failFirst?: boolean; empty?: boolean } = {}) {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-model-cache-'));
  const counts = { lists: 0, downloads: 0 };
  let fail = opts.failFirst === true;
  const registry = {
    getDownloadUri: async (_ws: unknown, name: string, version: string) =>
      `mlflow-artifacts:/models/${name}/${version}`,
  } as unknown as RegistryService;
  const artifacts = {
    listRecursive: async () => {
      counts.lists++;
      return Object.entries(opts.empty ? {} : FILES).map(([p, v]) => ({ path: p, size: v.length }));
    },
    stat: async () => undefined,
    download: async (_ws: unknown, at: string) => {
      counts.downloads++;
      // A turn of the event loop per file, so fills started together overlap.
      await new Promise((r) => setImmediate(r));
      if (fail) {
        fail = false;
        throw new Error('the artifact store is unreachable');
      }
      return { stream: Readable.from([FILES[at.replace(/^models\/m\/1\//, '')]!]) };
    },
  } as unknown as ArtifactService;
  return { models: new ModelSource(cache, registry, artifacts), cache, counts };
}

const whole = (dir: string, marked = true) => {
  assert.equal(fs.readFileSync(path.join(dir, 'MLmodel'), 'utf8'), FILES.MLmodel);
  assert.equal(fs.readFileSync(path.join(dir, 'data', 'model.pkl'), 'utf8'), FILES['data/model.pkl']);
  assert.equal(fs.existsSync(path.join(dir, '.complete')), marked);
};
/** What the cache folder holds besides the finished model folders (temporary or set-aside copies). */
const leftovers = (cache: string) => fs.readdirSync(cache).filter((f) => f.includes('.'));

describe('model cache folders (ModelSource)', () => {
  it('deployments of one model started together download it once and share the folder', async () => {
    const { models, cache, counts } = source();
    try {
      const dirs = await Promise.all(Array.from({ length: 5 }, () => models.fetch(ws, { name: 'm', version: '1' })));
      assert.equal(new Set(dirs).size, 1);
      whole(dirs[0]!);
      assert.equal(counts.lists, 1, 'listed once');
      assert.equal(counts.downloads, 2, 'each of the two files once');
      // Once complete, a later fetch downloads nothing.
      assert.equal(await models.fetch(ws, { name: 'm', version: '1' }), dirs[0]);
      assert.equal(counts.downloads, 2);
      assert.deepEqual(leftovers(cache), []);
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('replaces a folder in the way that no fill completed, leaving nothing beside it', async () => {
    const { models, cache } = source();
    try {
      const first = await models.fetch(ws, { name: 'm', version: '1' });
      // A partial folder (no marker) where the model's folder goes, e.g. left by hand.
      fs.rmSync(first, { recursive: true });
      fs.mkdirSync(path.join(first, 'data'), { recursive: true });
      fs.writeFileSync(path.join(first, 'data', 'stale.bin'), 'stale');
      const dir = await models.fetch(ws, { name: 'm', version: '1' });
      assert.equal(dir, first);
      whole(dir);
      assert.ok(!fs.existsSync(path.join(dir, 'data', 'stale.bin')));
      assert.deepEqual(leftovers(cache), []);
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('a fill that fails answers every caller that joined it, leaves nothing, and the next fetch fills', async () => {
    const { models, cache } = source({ failFirst: true });
    try {
      const tries = await Promise.allSettled([
        models.fetch(ws, { name: 'm', version: '1' }),
        models.fetch(ws, { name: 'm', version: '1' }),
      ]);
      for (const t of tries) {
        assert.equal(t.status, 'rejected');
        assert.match(String((t as PromiseRejectedResult).reason), /unreachable/);
      }
      assert.deepEqual(fs.readdirSync(cache), []);
      whole(await models.fetch(ws, { name: 'm', version: '1' }));
      assert.deepEqual(leftovers(cache), []);
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('a model with no files is refused (MODEL_SOURCE_UNAVAILABLE) and leaves nothing', async () => {
    const { models, cache } = source({ empty: true });
    try {
      await assert.rejects(models.fetch(ws, { name: 'm', version: '1' }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'MODEL_SOURCE_UNAVAILABLE');
        assert.match(e.message, /model 'm' version 1 has no files at 'models\/m\/1'/);
        return true;
      });
      assert.deepEqual(fs.readdirSync(cache), []);
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it("a folder of several models is made once from the models' own folders", async () => {
    const { models, cache, counts } = source();
    try {
      const refs = [{ name: 'm', version: '1' }];
      const [a, b] = await Promise.all([models.fetchAll(ws, refs), models.fetchAll(ws, refs)]);
      assert.equal(a, b);
      assert.ok(fs.existsSync(path.join(a!, '.complete')));
      whole(path.join(a!, 'm', '1'), false);
      assert.equal(counts.downloads, 2);
      assert.deepEqual(leftovers(cache), []);
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});
